//! The [`Limits`] enforced while bytes are produced, never after.
//!
//! A [`Budget`] is the single place that counts: entries, file bytes kept in memory (including
//! copies made for links) and, for tar formats, the decompressed stream through a
//! [`CappedReader`]. Every read is bounded *before* it happens (`Read::take`), so a bomb costs
//! at most one limit's worth of time and memory, whatever its headers claim.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use crate::{ArchiveError, Limits};

/// Below this many unpacked bytes the expansion ratio is not checked: small archives of
/// repetitive text compress far better than 200:1 and are harmless.
pub const RATIO_FLOOR_BYTES: u64 = 1 << 20;

/// Allowance, per permitted entry, for the tar stream's own bytes (header, padding, long-name
/// and pax records) on top of the file data.
const TAR_OVERHEAD_PER_ENTRY: u64 = 2048;

pub(crate) struct Budget<'a> {
    limits: &'a Limits,
    /// File bytes that may be kept: the total limit or the ratio allowance, the smaller.
    allowed: u64,
    /// Whether `allowed` comes from the ratio (so exceeding it is a [`ArchiveError::Bomb`]).
    ratio_binds: bool,
    used: u64,
    entries: usize,
}

impl<'a> Budget<'a> {
    pub(crate) fn new(limits: &'a Limits, input_len: usize) -> Self {
        let ratio_allowance = match limits.max_ratio {
            0 => u64::MAX,
            ratio => ratio
                .saturating_mul(input_len as u64)
                .max(RATIO_FLOOR_BYTES),
        };
        Budget {
            limits,
            allowed: ratio_allowance.min(limits.max_total_bytes),
            ratio_binds: ratio_allowance < limits.max_total_bytes,
            used: 0,
            entries: 0,
        }
    }

    /// Counts one more entry of any kind.
    pub(crate) fn count_entry(&mut self) -> Result<(), ArchiveError> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                limit: self.limits.max_entries,
            });
        }
        Ok(())
    }

    /// Fails fast when an index (a zip's central directory) already lists too many entries.
    pub(crate) fn check_entry_count(&self, listed: usize) -> Result<(), ArchiveError> {
        if listed > self.limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                limit: self.limits.max_entries,
            });
        }
        Ok(())
    }

    /// Fails fast on an entry whose header already declares more than the entry limit.
    pub(crate) fn check_declared(&self, path: &str, declared: u64) -> Result<(), ArchiveError> {
        if declared > self.limits.max_entry_bytes {
            return Err(self.entry_too_large(path));
        }
        Ok(())
    }

    /// Reads one file's data, refusing it as soon as it passes the entry limit or the rest of
    /// the total/ratio allowance: at most one chunk is read past the limit, and the buffer
    /// never grows beyond it. `size_hint` (from the header, untrusted) only sizes the first
    /// allocation. `io_error` turns the reader's own failures into the caller's error.
    pub(crate) fn read_file(
        &mut self,
        mut reader: impl Read,
        path: &str,
        size_hint: u64,
        io_error: impl FnOnce(io::Error) -> ArchiveError,
    ) -> Result<Vec<u8>, ArchiveError> {
        const CHUNK: usize = 16 << 10;
        const FIRST_ALLOCATION: u64 = 1 << 20;
        let cap = self
            .limits
            .max_entry_bytes
            .min(self.allowed.saturating_sub(self.used));
        let cap_len = usize::try_from(cap).unwrap_or(usize::MAX);
        let first = usize::try_from(size_hint.min(cap).min(FIRST_ALLOCATION)).unwrap_or(0);
        let mut data = Vec::with_capacity(first);
        let mut chunk = [0u8; CHUNK];
        loop {
            let read = match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(io_error(error)),
            };
            let len = data.len() + read;
            if len > cap_len {
                return Err(if len as u64 > self.limits.max_entry_bytes {
                    self.entry_too_large(path)
                } else {
                    self.total_error()
                });
            }
            if data.capacity() < len {
                let grown = data.capacity().saturating_mul(2).clamp(len, cap_len);
                data.reserve_exact(grown - data.len());
            }
            data.extend_from_slice(&chunk[..read]);
        }
        self.used += data.len() as u64;
        Ok(data)
    }

    /// Charges bytes kept without reading (a link's copy of its target).
    pub(crate) fn charge(&mut self, len: u64) -> Result<(), ArchiveError> {
        let used = self.used.saturating_add(len);
        if used > self.allowed {
            return Err(self.total_error());
        }
        self.used = used;
        Ok(())
    }

    /// The error for passing the total allowance: a bomb when the ratio was the tighter bound.
    pub(crate) fn total_error(&self) -> ArchiveError {
        if self.ratio_binds {
            ArchiveError::Bomb {
                max_ratio: self.limits.max_ratio,
            }
        } else {
            ArchiveError::TooLarge {
                limit: self.limits.max_total_bytes,
            }
        }
    }

    /// How many decompressed bytes a tar stream may have: the file allowance plus room for
    /// the tar format's own records.
    pub(crate) fn tar_stream_cap(&self) -> u64 {
        let overhead = (self.limits.max_entries as u64)
            .saturating_add(1)
            .saturating_mul(TAR_OVERHEAD_PER_ENTRY);
        self.allowed.saturating_add(overhead)
    }

    fn entry_too_large(&self, path: &str) -> ArchiveError {
        ArchiveError::EntryTooLarge {
            path: path.to_owned(),
            limit: self.limits.max_entry_bytes,
        }
    }
}

/// What a [`CappedReader`] saw, for its owner to check after an error surfaces (wrapped)
/// from the library that was reading.
#[derive(Debug, Default)]
pub(crate) struct StreamFlags {
    /// More than the cap came through.
    pub(crate) exceeded: Cell<bool>,
    /// The underlying stream ended (a read returned 0 for a non-empty buffer).
    pub(crate) ended: Cell<bool>,
}

/// A reader that fails once more than `remaining` bytes have come through.
pub(crate) struct CappedReader<R> {
    inner: R,
    remaining: u64,
    flags: Rc<StreamFlags>,
}

impl<R: Read> CappedReader<R> {
    pub(crate) fn new(inner: R, cap: u64) -> (Self, Rc<StreamFlags>) {
        let flags = Rc::new(StreamFlags::default());
        let reader = CappedReader {
            inner,
            remaining: cap,
            flags: Rc::clone(&flags),
        };
        (reader, flags)
    }
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let wanted = usize::try_from(self.remaining.saturating_add(1))
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let read = self.inner.read(&mut buf[..wanted])?;
        if read == 0 && wanted > 0 {
            self.flags.ended.set(true);
        }
        if read as u64 > self.remaining {
            self.flags.exceeded.set(true);
            return Err(io::Error::other("archive size limit reached"));
        }
        self.remaining -= read as u64;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: u64, entry: u64, ratio: u64) -> Limits {
        Limits {
            max_total_bytes: total,
            max_entries: 10,
            max_entry_bytes: entry,
            max_ratio: ratio,
        }
    }

    fn corrupt(error: io::Error) -> ArchiveError {
        ArchiveError::Corrupt(error.to_string())
    }

    #[test]
    fn entry_limit_is_exact() {
        let limits = limits(1 << 30, 100, 0);
        let mut budget = Budget::new(&limits, 10);
        assert_eq!(
            budget
                .read_file(&[7u8; 100][..], "a", 100, corrupt)
                .map(|data| data.len()),
            Ok(100)
        );
        assert!(matches!(
            budget.read_file(&[7u8; 101][..], "b", 0, corrupt),
            Err(ArchiveError::EntryTooLarge { .. })
        ));
    }

    #[test]
    fn total_limit_spans_entries() {
        let limits = limits(150, 100, 0);
        let mut budget = Budget::new(&limits, 10);
        assert!(budget.read_file(&[0u8; 100][..], "a", 0, corrupt).is_ok());
        assert_eq!(
            budget.read_file(&[0u8; 51][..], "b", 0, corrupt),
            Err(ArchiveError::TooLarge { limit: 150 })
        );
    }

    #[test]
    fn ratio_applies_above_the_floor_only() {
        let limits = limits(1 << 40, 1 << 40, 10);
        let mut budget = Budget::new(&limits, 1000);
        let floor = vec![0u8; RATIO_FLOOR_BYTES as usize];
        assert!(budget.read_file(&floor[..], "a", 0, corrupt).is_ok());
        assert_eq!(budget.charge(1), Err(ArchiveError::Bomb { max_ratio: 10 }));
    }

    #[test]
    fn capped_reader_flags_the_overrun() {
        let (mut reader, flags) = CappedReader::new(&[1u8; 10][..], 9);
        let mut sink = Vec::new();
        assert!(reader.read_to_end(&mut sink).is_err());
        assert!(flags.exceeded.get());
        let (mut reader, flags) = CappedReader::new(&[1u8; 10][..], 10);
        assert_eq!(reader.read_to_end(&mut sink).ok(), Some(10));
        assert!(!flags.exceeded.get());
        assert!(flags.ended.get());
    }
}
