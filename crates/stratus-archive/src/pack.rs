//! [`pack_tar_gz`]: the way back, for archive downloads and tests.
//!
//! Output is deterministic (sorted entries, mtime 0, owner 0, modes 0755/0644) and always
//! unpacks with [`crate::unpack_flat`] (and with [`crate::unpack`] when `root` is set) to
//! the same root and files.

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::path::{ancestors, normalize, shown};
use crate::ArchiveError;

/// Packs `files` (paths relative to `root`, as in [`crate::Archive::files`]) into a tar.gz
/// whose entries lie under `root/` (or at the top level when `root` is `""`).
///
/// Errors when a path or the root is not a plain relative path ([`ArchiveError::PathEscapes`],
/// [`ArchiveError::AbsolutePath`], [`ArchiveError::InvalidName`]), when `root` has more than
/// one component, or when a path is also another path's directory
/// ([`ArchiveError::FileDirectoryConflict`]).
pub fn pack_tar_gz(root: &str, files: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, ArchiveError> {
    check_plain(root, true)?;
    if root.contains('/') {
        return Err(ArchiveError::InvalidName {
            path: shown(root),
            reason: "the root must be a single directory name",
        });
    }
    let mut directories = BTreeSet::new();
    for path in files.keys() {
        check_plain(path, false)?;
        for ancestor in ancestors(path) {
            if files.contains_key(ancestor) {
                return Err(ArchiveError::FileDirectoryConflict(shown(ancestor)));
            }
            directories.insert(ancestor);
        }
    }
    let full = |path: &str| match root {
        "" => path.to_owned(),
        root => format!("{root}/{path}"),
    };

    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    let written: io::Result<Vec<u8>> = (|| {
        if !root.is_empty() {
            append(&mut builder, root, tar::EntryType::Directory, &[])?;
        }
        for directory in &directories {
            append(
                &mut builder,
                &full(directory),
                tar::EntryType::Directory,
                &[],
            )?;
        }
        for (path, data) in files {
            append(&mut builder, &full(path), tar::EntryType::Regular, data)?;
        }
        builder.into_inner()?.finish()
    })();
    // Writing into memory fails only on names the `tar` crate refuses, which were checked.
    written.map_err(|error| ArchiveError::InvalidName {
        path: error.to_string(),
        reason: "it cannot be written to a tar archive",
    })
}

fn append<W: io::Write>(
    builder: &mut tar::Builder<W>,
    path: &str,
    entry_type: tar::EntryType,
    data: &[u8],
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(entry_type);
    header.set_size(data.len() as u64);
    header.set_mode(if entry_type.is_dir() { 0o755 } else { 0o644 });
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    let name = if entry_type.is_dir() {
        format!("{path}/")
    } else {
        path.to_owned()
    };
    builder.append_data(&mut header, name, data)
}

/// Whether `path` is already a normalized relative path (empty allowed only for the root).
fn check_plain(path: &str, empty_allowed: bool) -> Result<(), ArchiveError> {
    let normalized = normalize(path.as_bytes())?;
    if normalized != path || (path.is_empty() && !empty_allowed) {
        return Err(ArchiveError::InvalidName {
            path: shown(path),
            reason: "it must be a relative path without `.` or empty components",
        });
    }
    Ok(())
}
