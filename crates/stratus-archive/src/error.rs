//! The one error type of the crate. Every message is written for the person who uploaded the
//! archive: the server puts it verbatim into Cloudify's error JSON `message`.

use std::fmt;

/// Why an archive was refused. Paths in messages are the names as written in the archive
/// (after `./` and empty components are dropped), so the user can find the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    /// The bytes start with none of the magic numbers of zip, tar, gzip or bzip2.
    #[error("the file is not a supported archive (expected zip, tar, tar.gz or tar.bz2)")]
    UnknownFormat,
    /// The data is truncated or damaged (bad checksum, bad header, bad compressed stream).
    #[error("the archive is corrupt: {0}")]
    Corrupt(String),
    /// A well-formed archive using something this reader does not do (encryption, an exotic
    /// zip compression method).
    #[error("the archive uses an unsupported feature: {0}")]
    Unsupported(String),
    /// An entry name with a `..` component.
    #[error("the archive entry `{0}` has a `..` component; paths must stay inside the archive")]
    PathEscapes(String),
    /// An entry name starting with `/` or a Windows drive (`C:`).
    #[error("the archive entry `{0}` has an absolute path; paths must be relative")]
    AbsolutePath(String),
    /// An entry name that cannot be a portable relative path (NUL, backslash, not UTF-8, too
    /// long, empty).
    #[error("the archive entry `{path}` has an invalid name: {reason}")]
    InvalidName { path: String, reason: &'static str },
    /// A symbolic or hard link whose target is absolute or climbs above the archive's root.
    #[error("the link `{path}` points to `{target}`, which is outside the archive")]
    LinkEscapes { path: String, target: String },
    /// A link that stays inside the archive but does not lead to a regular file of it (a
    /// directory, a missing entry, a cycle).
    #[error(
        "the link `{path}` points to `{target}`, which is not a file in the archive \
         (links may only point to files of the archive)"
    )]
    BrokenLink { path: String, target: String },
    /// A device, FIFO, socket or other special entry.
    #[error(
        "the archive entry `{path}` is a {kind}; only files, directories and links are allowed"
    )]
    UnsupportedEntry { path: String, kind: &'static str },
    /// The files together unpack to more than [`Limits::max_total_bytes`](crate::Limits).
    #[error("the archive unpacks to more than {}", Size(*.limit))]
    TooLarge { limit: u64 },
    /// One file unpacks to more than [`Limits::max_entry_bytes`](crate::Limits).
    #[error("the archive entry `{path}` unpacks to more than {}", Size(*.limit))]
    EntryTooLarge { path: String, limit: u64 },
    /// More entries (files, directories, links) than [`Limits::max_entries`](crate::Limits).
    #[error("the archive has more than {limit} entries")]
    TooManyEntries { limit: usize },
    /// The archive expands to more than [`Limits::max_ratio`](crate::Limits) times its own size.
    #[error(
        "the archive expands to more than {max_ratio} times its own size, \
         which is refused as a likely decompression bomb"
    )]
    Bomb { max_ratio: u64 },
    /// The archive holds no entry at all.
    #[error("the archive is empty")]
    Empty,
    /// The only top-level entry is a file (blueprint archives need a directory).
    #[error(
        "the archive must hold a single top-level directory with the files inside it, \
         but its only top-level entry `{0}` is a file"
    )]
    NoTopLevelDirectory(String),
    /// More than one top-level entry (blueprint archives need exactly one directory).
    #[error(
        "the archive must hold a single top-level directory with the files inside it, \
         but it has {} top-level entries: {}",
        .0.len(),
        NameList(.0)
    )]
    MultipleTopLevelEntries(Vec<String>),
    /// The same path twice.
    #[error("the archive holds `{0}` more than once")]
    DuplicateEntry(String),
    /// A path that is a file in one entry and a directory (or a parent of a file) in another.
    #[error("the archive holds `{0}` both as a file and as a directory")]
    FileDirectoryConflict(String),
    /// A reader library panicked on this input. Never expected; caught so that one bad upload
    /// cannot take a worker down, and kept distinct so tests can tell it from `Corrupt`.
    #[error("the archive could not be read (the archive reader failed unexpectedly)")]
    ReaderPanicked,
}

/// A byte count the way people read limits: `512 MiB`, `10 KiB`, `1000 bytes`.
struct Size(u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const KIB: u64 = 1024;
        const MIB: u64 = 1024 * KIB;
        const GIB: u64 = 1024 * MIB;
        match self.0 {
            n if n >= GIB && n % GIB == 0 => write!(f, "{} GiB", n / GIB),
            n if n >= MIB && n % MIB == 0 => write!(f, "{} MiB", n / MIB),
            n if n >= KIB && n % KIB == 0 => write!(f, "{} KiB", n / KIB),
            1 => f.write_str("1 byte"),
            n => write!(f, "{n} bytes"),
        }
    }
}

/// At most ten names, back-quoted, then how many more.
struct NameList<'a>(&'a [String]);

impl fmt::Display for NameList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 10;
        for (index, name) in self.0.iter().take(SHOWN).enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{name}`")?;
        }
        if self.0.len() > SHOWN {
            write!(f, " and {} more", self.0.len() - SHOWN)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_limits() {
        assert_eq!(Size(512 * 1024 * 1024).to_string(), "512 MiB");
        assert_eq!(Size(10 * 1024).to_string(), "10 KiB");
        assert_eq!(Size(1000).to_string(), "1000 bytes");
        assert_eq!(Size(2 << 30).to_string(), "2 GiB");
    }

    #[test]
    fn long_name_lists_are_cut() {
        let names: Vec<String> = (0..12).map(|n| format!("d{n}")).collect();
        let message = ArchiveError::MultipleTopLevelEntries(names).to_string();
        assert!(message.contains("12 top-level entries"), "{message}");
        assert!(message.ends_with("`d9` and 2 more"), "{message}");
    }
}
