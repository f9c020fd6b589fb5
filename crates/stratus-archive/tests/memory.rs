//! Memory stays bounded by the limits, whatever the archive claims. One test in its own
//! binary, so the process's peak resident size (`VmHWM`, Linux) is this test's alone.

mod support;

use stratus_archive::{unpack, ArchiveError, Limits};
use support::*;

fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[test]
fn bombs_cost_at_most_their_limits_in_memory() {
    // 1 GiB of zeros in 64 honest 16 MiB entries (~1 MiB of input), and a zip whose header
    // says 100 bytes for 64 MiB of zeros.
    let tar_bomb = zeros_tar_gz(64, 16 * MIB);
    let mut zip_bomb = zip_of(&[ZipEntry::File(
        "myapp/zeros",
        &vec![0u8; (64 * MIB) as usize],
    )]);
    for signature in [&b"PK\x03\x04"[..], b"PK\x01\x02"] {
        let field = if signature == b"PK\x03\x04" { 22 } else { 24 };
        let at = zip_bomb
            .windows(4)
            .position(|window| window == signature)
            .expect("header");
        zip_bomb[at + field..at + field + 4].copy_from_slice(&100u32.to_le_bytes());
    }
    let Some(before) = peak_resident_bytes() else {
        eprintln!("no /proc/self/status: memory bound not measured");
        return;
    };
    let limits = Limits {
        max_total_bytes: 16 * MIB,
        max_entry_bytes: 16 * MIB,
        max_entries: 100,
        max_ratio: 0,
    };
    assert_eq!(
        unpack(&tar_bomb, &limits),
        Err(ArchiveError::TooLarge { limit: 16 * MIB })
    );
    assert!(matches!(
        unpack(&zip_bomb, &limits),
        Err(ArchiveError::EntryTooLarge { .. } | ArchiveError::Corrupt(_))
    ));
    let after = peak_resident_bytes().unwrap_or(u64::MAX);
    let growth = after.saturating_sub(before);
    eprintln!("peak grew by {} KiB", growth / 1024);
    assert!(
        growth < 40 * MIB,
        "peak resident size grew by {} MiB for 16 MiB limits",
        growth / MIB
    );
}
