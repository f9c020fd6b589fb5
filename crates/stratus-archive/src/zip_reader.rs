//! zip: the central directory is trusted for names and kinds, never for sizes.
//!
//! Each entry is decompressed through [`Budget::read_file`], which stops one byte past what
//! may still be kept, so a header that understates the size (or an overlapping-entry bomb)
//! costs at most the limit. The `zip` crate keeps entries in a map by name and silently drops
//! repeated names, so the central directory is walked here first to report them.

use std::collections::HashSet;
use std::io::{self, Cursor, Read};

use zip::result::ZipError;

use crate::budget::Budget;
use crate::entry::{EntryKind, RawEntry};
use crate::path::{normalize, shown, top_level, MACOS_JUNK, MAX_NAME_BYTES};
use crate::ArchiveError;

const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;

pub(crate) fn read(bytes: &[u8], budget: &mut Budget<'_>) -> Result<Vec<RawEntry>, ArchiveError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zip_error)?;
    // The central directory is already parsed (its size is bounded by the input's): refuse
    // too many entries before decompressing any.
    budget.check_entry_count(archive.len())?;
    if let Some(name) = first_repeated_name(bytes, archive.central_directory_start()) {
        return Err(ArchiveError::DuplicateEntry(name));
    }
    let mut entries = Vec::new();
    for index in 0..archive.len() {
        budget.count_entry()?;
        let mut file = archive.by_index(index).map_err(zip_error)?;
        let path = normalize(file.name().as_bytes())?;
        if top_level(&path) == MACOS_JUNK {
            continue;
        }
        let file_type = file.unix_mode().map_or(0, |mode| mode & S_IFMT);
        let kind = if file.is_dir() || file_type == S_IFDIR {
            EntryKind::Directory
        } else if path.is_empty() {
            return Err(ArchiveError::InvalidName {
                path: shown(file.name()),
                reason: "a file must have a name",
            });
        } else if file_type == S_IFLNK {
            // The entry's data is the link target: a path, charged like any data.
            let target = budget.read_file(
                (&mut file).take(MAX_NAME_BYTES as u64 + 1),
                &path,
                0,
                |error| read_error(&path, error),
            )?;
            if target.len() > MAX_NAME_BYTES {
                return Err(ArchiveError::InvalidName {
                    path: shown(&path),
                    reason: "its link target is longer than 4096 bytes",
                });
            }
            EntryKind::SymbolicLink(String::from_utf8_lossy(&target).into_owned())
        } else {
            // Any other mode (including device bits, which zip tools should never write) is
            // read as plain data: nothing but regular files is ever created from a zip.
            let declared = file.size();
            budget.check_declared(&path, declared)?;
            let data =
                budget.read_file(&mut file, &path, declared, |error| read_error(&path, error))?;
            EntryKind::File(data)
        };
        if !path.is_empty() {
            entries.push(RawEntry { path, kind });
        }
    }
    Ok(entries)
}

/// Walks the central directory's file headers and returns the first name seen twice.
fn first_repeated_name(bytes: &[u8], directory_start: u64) -> Option<String> {
    const SIGNATURE: &[u8] = b"PK\x01\x02";
    const FIXED: usize = 46;
    let u16_at = |header: &[u8], offset: usize| {
        usize::from(u16::from_le_bytes([header[offset], header[offset + 1]]))
    };
    let mut position = usize::try_from(directory_start).ok()?;
    let mut seen = HashSet::new();
    loop {
        let header = bytes.get(position..position.checked_add(FIXED)?)?;
        if !header.starts_with(SIGNATURE) {
            return None;
        }
        let name_len = u16_at(header, 28);
        let extra_len = u16_at(header, 30);
        let comment_len = u16_at(header, 32);
        let name_start = position + FIXED;
        let name = bytes.get(name_start..name_start.checked_add(name_len)?)?;
        if !seen.insert(name) {
            return Some(shown(&String::from_utf8_lossy(name)));
        }
        position = name_start + name_len + extra_len + comment_len;
    }
}

fn read_error(path: &str, error: io::Error) -> ArchiveError {
    ArchiveError::Corrupt(format!("zip: reading `{}`: {error}", shown(path)))
}

fn zip_error(error: ZipError) -> ArchiveError {
    match error {
        ZipError::UnsupportedArchive(what) => ArchiveError::Unsupported(format!("zip: {what}")),
        ZipError::InvalidPassword => {
            ArchiveError::Unsupported("zip: encrypted entries cannot be read".to_owned())
        }
        other => ArchiveError::Corrupt(format!("zip: {other}")),
    }
}
