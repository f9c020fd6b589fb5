//! Uploaded archives (blueprints, plugins) unpacked safely into memory.
//!
//! The REST API accepts archives from users; this crate is the only code that looks inside
//! them. [`unpack`] detects the format from magic bytes ([`detect`]: zip, tar, tar.gz,
//! tar.bz2), reads every entry under [`Limits`], checks every name, and returns an
//! [`Archive`]: plain data (a root directory name and a map of relative paths to bytes) that
//! the rest of the manager can trust. Nothing touches the disk until the caller asks for
//! [`Archive::write_to`], which writes into a sibling temporary directory and renames it into
//! place.
//!
//! Cloudify's rules: a blueprint archive holds exactly one top-level directory (`myapp/…`),
//! which becomes [`Archive::root`] and is stripped from the paths in [`Archive::files`].
//! Plugin archives may also be flat (`plugin.yaml` at the top): use [`unpack_flat`].
//!
//! Policy for what an archive may contain:
//! - Names are normalized (`./` and empty components dropped) and refused when absolute
//!   (`/x`, `C:x`), when any component is `..`, or when they hold a backslash, a NUL or
//!   non-UTF-8 bytes. Two entries with the same normalized path are refused, as is a path that
//!   is both a file and a directory.
//! - Directory entries are accepted and produce no file (empty directories are not kept).
//! - Symbolic and hard links (tar link entries, zip entries with the symlink mode) are
//!   resolved lexically: one whose target is absolute or leaves the root is
//!   [`ArchiveError::LinkEscapes`]; one that leads to a regular file of the archive (possibly
//!   through other links) becomes a copy of that file's bytes, charged to the limits; any
//!   other (to a directory, missing, a cycle) is [`ArchiveError::BrokenLink`]. An [`Archive`]
//!   therefore never holds a link.
//! - Devices, FIFOs and other special tar entries are refused
//!   ([`ArchiveError::UnsupportedEntry`]); pax global headers are skipped. In a zip, mode bits
//!   other than directory and symlink are ignored: every other entry is read as a file.
//! - Entries under a top-level `__MACOSX/` (macOS Finder's resource forks) are ignored after
//!   their names are checked; they neither produce files nor count as a top-level entry.
//!   Other macOS files (`._*`, `.DS_Store`) are kept like any file.
//!
//! *Invariants:*
//! - No panic on any input: reader libraries are additionally fenced with `catch_unwind`
//!   ([`ArchiveError::ReaderPanicked`], which tests assert never happens).
//! - Limits are enforced while bytes are produced: memory and time stay bounded by the limits
//!   whatever the headers claim (see [`Limits`]).
//! - Every path in an [`Archive`] returned by [`unpack`] is relative, `/`-separated, made of
//!   plain components (no `.`, `..`, empty, backslash or NUL) and inside the root.
//! - No I/O except in [`Archive::write_to`].
//!
//! Unpacking is CPU-bound (up to seconds at the default limits): async callers should run it
//! in `tokio::task::spawn_blocking`.

use std::collections::BTreeMap;
use std::fmt;

mod budget;
mod detect;
mod entry;
mod error;
mod pack;
mod path;
mod tar_reader;
mod write;
mod zip_reader;

pub use budget::RATIO_FLOOR_BYTES;
pub use detect::detect;
pub use error::ArchiveError;
pub use pack::pack_tar_gz;

use entry::Layout;

/// What an upload may cost. Every limit is enforced while reading, so a lying header or a
/// decompression bomb is refused after at most the limit's worth of work and memory: beyond
/// the input, memory holds at most `max_total_bytes` of kept data (growing one file's buffer
/// briefly holds its old and new copies) plus the readers' small buffers; a tar long-name or
/// pax record is buffered whole by the `tar` crate but counts against the stream bound below.
/// `tests/memory.rs` measures it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes all files together may unpack to (copies made for links included).
    pub max_total_bytes: u64,
    /// Most entries of any kind (files, directories, links, ignored ones).
    pub max_entries: usize,
    /// Most bytes one file may unpack to.
    pub max_entry_bytes: u64,
    /// Most unpacked bytes per byte of archive, checked once more than [`RATIO_FLOOR_BYTES`]
    /// are unpacked; `0` turns the check off. For tar formats the decompressed stream
    /// (headers included) is held to the same bounds plus 2 KiB per permitted entry.
    pub max_ratio: u64,
}

impl Default for Limits {
    /// 512 MiB in total, 20 000 entries, 256 MiB per file, 200:1 expansion.
    fn default() -> Self {
        Limits {
            max_total_bytes: 512 << 20,
            max_entries: 20_000,
            max_entry_bytes: 256 << 20,
            max_ratio: 200,
        }
    }
}

/// An archive format, as announced by magic bytes (never by a file name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Zip,
    Tar,
    TarGz,
    TarBz2,
}

impl fmt::Display for Format {
    /// The usual file extension without the dot: `zip`, `tar`, `tar.gz`, `tar.bz2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::TarGz => "tar.gz",
            Format::TarBz2 => "tar.bz2",
        })
    }
}

/// An unpacked archive: plain data, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    pub format: Format,
    /// The single top-level directory's name, `""` when the files are at the top level.
    pub root: String,
    /// Every regular file (and every link, as a copy of its target), by path relative to
    /// `root`: `/`-separated, no leading `./`, e.g. `blueprint.yaml`, `scripts/create.sh`.
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Archive {
    /// The bytes of the file at `path` (relative to the root, as in [`Archive::files`]).
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }
}

/// Unpacks a blueprint archive: exactly one top-level directory holding the files.
///
/// Errors with [`ArchiveError::MultipleTopLevelEntries`] or
/// [`ArchiveError::NoTopLevelDirectory`] otherwise; see the crate documentation for every
/// other rule.
pub fn unpack(bytes: &[u8], limits: &Limits) -> Result<Archive, ArchiveError> {
    unpack_with(bytes, limits, Layout::SingleDirectory)
}

/// Unpacks an archive that may be flat (plugin archives: `plugin.yaml` at the top of a zip).
///
/// When every entry lies under one top-level directory, that directory still becomes the
/// root and is stripped (so a wagon's `plugin.yaml` is found either way); otherwise the root
/// is `""` and paths are kept whole.
pub fn unpack_flat(bytes: &[u8], limits: &Limits) -> Result<Archive, ArchiveError> {
    unpack_with(bytes, limits, Layout::Flat)
}

fn unpack_with(bytes: &[u8], limits: &Limits, layout: Layout) -> Result<Archive, ArchiveError> {
    std::panic::catch_unwind(|| read_archive(bytes, limits, layout))
        .unwrap_or(Err(ArchiveError::ReaderPanicked))
}

fn read_archive(bytes: &[u8], limits: &Limits, layout: Layout) -> Result<Archive, ArchiveError> {
    let format = detect(bytes).ok_or(ArchiveError::UnknownFormat)?;
    let mut budget = budget::Budget::new(limits, bytes.len());
    let entries = match format {
        Format::Zip => zip_reader::read(bytes, &mut budget)?,
        Format::Tar => tar_reader::read(bytes, "tar", &mut budget)?,
        Format::TarGz => tar_reader::read(
            flate2::read::MultiGzDecoder::new(bytes),
            "tar.gz",
            &mut budget,
        )?,
        Format::TarBz2 => tar_reader::read(
            bzip2::read::MultiBzDecoder::new(bytes),
            "tar.bz2",
            &mut budget,
        )?,
    };
    entry::assemble(format, entries, layout, &mut budget)
}
