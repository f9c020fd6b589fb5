//! tar, tar.gz and tar.bz2: one streaming reader over a (decompressed) byte stream.
//!
//! The stream goes through a [`CappedReader`] before the `tar` crate sees it, so the crate's
//! own buffering (long names, pax records, skipped data) is bounded too. After the last entry
//! the rest of the stream is drained through the same cap, which makes the gzip and bzip2
//! decoders verify their checksums: a truncated or damaged archive is `Corrupt`, not
//! silently shorter.

use std::error::Error as _;
use std::io::{self, Cursor, Read};

use crate::budget::{Budget, CappedReader};
use crate::detect::{is_tar_header, BLOCK};
use crate::entry::{EntryKind, RawEntry};
use crate::path::{normalize, shown, top_level, MACOS_JUNK};
use crate::ArchiveError;

/// Reads every entry of a tar stream. `what` names the stream in messages (`tar.gz`).
pub(crate) fn read(
    stream: impl Read,
    what: &str,
    budget: &mut Budget<'_>,
) -> Result<Vec<RawEntry>, ArchiveError> {
    let (mut stream, flags) = CappedReader::new(stream, budget.tar_stream_cap());
    let limit_error = budget.total_error();
    let fail = |error: io::Error, context: &str| -> ArchiveError {
        if flags.exceeded.get() {
            limit_error.clone()
        } else {
            ArchiveError::Corrupt(format!("{what}: {context}{}", describe(&error)))
        }
    };

    let first = read_first_block(&mut stream).map_err(|error| fail(error, ""))?;
    if first.len() < BLOCK {
        return Err(ArchiveError::Corrupt(format!(
            "{what}: the data is not a tar archive (shorter than one tar header)"
        )));
    }
    if !is_tar_header(&first) && first.iter().any(|byte| *byte != 0) {
        return Err(ArchiveError::Corrupt(format!(
            "{what}: the data is not a tar archive"
        )));
    }
    let mut archive = tar::Archive::new(Cursor::new(first).chain(stream));
    let mut entries = Vec::new();
    {
        let iter = archive.entries().map_err(|error| fail(error, ""))?;
        for entry in iter {
            let mut entry = entry.map_err(|error| fail(error, "reading an entry header: "))?;
            budget.count_entry()?;
            let type_byte = entry.header().entry_type().as_byte();
            if type_byte == b'g' {
                // A pax global header (`git archive` writes one): metadata, no file.
                continue;
            }
            let raw_name = entry.path_bytes().into_owned();
            let path = normalize(&raw_name)?;
            if top_level(&path) == MACOS_JUNK {
                continue;
            }
            let kind = match type_byte {
                b'5' => EntryKind::Directory,
                // Pre-POSIX tars mark directories only by the trailing slash.
                b'0' | b'\0' if raw_name.ends_with(b"/") => EntryKind::Directory,
                b'0' | b'\0' | b'7' | b'S' => {
                    if path.is_empty() {
                        return Err(ArchiveError::InvalidName {
                            path: shown(&String::from_utf8_lossy(&raw_name)),
                            reason: "a file must have a name",
                        });
                    }
                    let declared = entry.size();
                    budget.check_declared(&path, declared)?;
                    let context = format!("reading `{}`: ", shown(&path));
                    let data = budget
                        .read_file(&mut entry, &path, declared, |error| fail(error, &context))?;
                    EntryKind::File(data)
                }
                b'1' | b'2' => {
                    if path.is_empty() {
                        return Err(ArchiveError::InvalidName {
                            path: shown(&String::from_utf8_lossy(&raw_name)),
                            reason: "a link must have a name",
                        });
                    }
                    let target = entry
                        .link_name_bytes()
                        .map(|target| String::from_utf8_lossy(&target).into_owned())
                        .unwrap_or_default();
                    if type_byte == b'1' {
                        EntryKind::HardLink(target)
                    } else {
                        EntryKind::SymbolicLink(target)
                    }
                }
                other => {
                    return Err(ArchiveError::UnsupportedEntry {
                        path: shown(&path),
                        kind: special_kind(other),
                    })
                }
            };
            if path.is_empty() {
                // `./` itself: the directory being extracted into.
                continue;
            }
            entries.push(RawEntry { path, kind });
        }
    }
    if flags.ended.get() {
        return Err(ArchiveError::Corrupt(format!(
            "{what}: the archive ends without its end-of-archive blocks (truncated?)"
        )));
    }
    // Drain what follows the end-of-archive blocks so decoders check their trailers.
    io::copy(&mut archive.into_inner(), &mut io::sink())
        .map_err(|error| fail(error, "after the last entry: "))?;
    Ok(entries)
}

/// The first tar block (shorter only at the end of the stream), to tell a tar from other data
/// before the `tar` crate reports a checksum error on, say, a gzipped YAML file.
fn read_first_block(stream: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut first = Vec::with_capacity(BLOCK);
    stream.take(BLOCK as u64).read_to_end(&mut first)?;
    Ok(first)
}

fn special_kind(type_byte: u8) -> &'static str {
    match type_byte {
        b'3' => "character device",
        b'4' => "block device",
        b'6' => "FIFO",
        b'D' => "GNU dump directory",
        b'M' => "multi-volume continuation",
        b'V' => "volume label",
        _ => "special tar entry",
    }
}

/// An I/O error with its chain of causes (the `tar` crate wraps the decoder's error).
fn describe(error: &io::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
