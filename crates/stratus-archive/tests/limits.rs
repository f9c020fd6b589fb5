//! Limits: bombs, lying headers, entry counts. Every bomb here is refused after at most the
//! limit's worth of decompression (see `memory.rs` for the memory bound).

mod support;

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use stratus_archive::{unpack, ArchiveError, Limits, RATIO_FLOOR_BYTES};
use support::*;

#[test]
fn gzip_bomb_stops_at_the_total_limit() {
    let bomb = zeros_tar_gz(10, 10 * MIB);
    assert_eq!(gunzip_len(&bomb), 10 * (512 + 10 * MIB) + 1024);
    assert!(bomb.len() < (200 * KIB) as usize, "{}", bomb.len());
    assert_eq!(
        unpack(&bomb, &small_limits()),
        Err(ArchiveError::TooLarge { limit: 10 * MIB })
    );
    // Under generous size limits the ratio catches it: 200 times ~100 KiB of input.
    let limits = Limits {
        max_total_bytes: 1 << 30,
        max_entry_bytes: 1 << 30,
        max_ratio: 200,
        ..small_limits()
    };
    assert_eq!(
        unpack(&bomb, &limits),
        Err(ArchiveError::Bomb { max_ratio: 200 })
    );
}

#[test]
fn a_declared_size_over_the_entry_limit_fails_before_reading() {
    let bomb = zeros_tar_gz(1, 100 * MIB);
    assert_eq!(
        unpack(&bomb, &small_limits()),
        Err(ArchiveError::EntryTooLarge {
            path: "myapp/zeros0".into(),
            limit: 10 * MIB
        })
    );
}

#[test]
fn single_stream_gzip_bomb_is_a_bomb_by_ratio() {
    // A real single-member gzip stream (what `tar czf` writes), compressed on the fly.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(&header("myapp/zeros", REGULAR, "", 32 * MIB))
        .expect("header");
    io::copy(&mut io::repeat(0).take(32 * MIB + 1024), &mut encoder).expect("zeros");
    let bomb = encoder.finish().expect("finish");
    let limits = Limits::default();
    assert!(200 * bomb.len() as u64 > RATIO_FLOOR_BYTES);
    assert_eq!(
        unpack(&bomb, &limits),
        Err(ArchiveError::Bomb { max_ratio: 200 })
    );
}

#[test]
fn ten_gib_bomb_with_default_limits() {
    // ~10 MiB of input holding 40 files of 256 MiB of zeros (each within the entry limit):
    // refused when the total limit is reached, after 512 MiB of decompression.
    let bomb = zeros_tar_gz(40, 256 * MIB);
    assert!(bomb.len() < (12 * MIB) as usize, "{}", bomb.len());
    let started = Instant::now();
    let result = unpack(&bomb, &Limits::default());
    assert_eq!(result, Err(ArchiveError::TooLarge { limit: 512 * MIB }));
    assert!(started.elapsed() < Duration::from_secs(120));
}

#[test]
fn total_limit_spans_files() {
    let data = vec![7u8; (400 * KIB) as usize];
    let tar = RawTar::default()
        .file("myapp/a", &data)
        .file("myapp/b", &data)
        .file("myapp/c", &data)
        .finish();
    let limits = Limits {
        max_total_bytes: MIB,
        ..small_limits()
    };
    assert_eq!(
        unpack(&tar, &limits),
        Err(ArchiveError::TooLarge { limit: MIB })
    );
    let zip = zip_of(&[
        ZipEntry::File("myapp/a", &data),
        ZipEntry::File("myapp/b", &data),
        ZipEntry::File("myapp/c", &data),
    ]);
    assert_eq!(
        unpack(&zip, &limits),
        Err(ArchiveError::TooLarge { limit: MIB })
    );
}

#[test]
fn link_copies_count_against_the_total() {
    let data = vec![7u8; (600 * KIB) as usize];
    let tar = RawTar::default()
        .file("myapp/a", &data)
        .link("myapp/b", HARD_LINK, "myapp/a")
        .finish();
    let limits = Limits {
        max_total_bytes: MIB,
        ..small_limits()
    };
    assert_eq!(
        unpack(&tar, &limits),
        Err(ArchiveError::TooLarge { limit: MIB })
    );
}

#[test]
fn zip_with_many_small_bombs_is_a_bomb() {
    let zeros = vec![0u8; MIB as usize];
    let names: Vec<String> = (0..40).map(|n| format!("myapp/zeros{n}")).collect();
    let entries: Vec<ZipEntry<'_>> = names
        .iter()
        .map(|name| ZipEntry::File(name, &zeros))
        .collect();
    let zip = zip_of(&entries);
    assert_eq!(
        unpack(&zip, &Limits::default()),
        Err(ArchiveError::Bomb { max_ratio: 200 })
    );
}

/// Patches the uncompressed size of every entry (local and central headers) to `size`.
fn lie_about_sizes(zip: &mut [u8], size: u32) {
    let positions = |zip: &[u8], signature: &[u8]| -> Vec<usize> {
        zip.windows(4)
            .enumerate()
            .filter(|(_, window)| *window == signature)
            .map(|(index, _)| index)
            .collect()
    };
    for local in positions(zip, b"PK\x03\x04") {
        zip[local + 22..local + 26].copy_from_slice(&size.to_le_bytes());
    }
    for central in positions(zip, b"PK\x01\x02") {
        zip[central + 24..central + 28].copy_from_slice(&size.to_le_bytes());
    }
}

#[test]
fn zip_whose_header_understates_the_size_is_refused() {
    let zeros = vec![0u8; (20 * MIB) as usize];
    let mut zip = zip_of(&[ZipEntry::File("myapp/zeros", &zeros)]);
    lie_about_sizes(&mut zip, 100);
    let limits = Limits {
        max_entry_bytes: MIB,
        ..small_limits()
    };
    let result = unpack(&zip, &limits);
    // Either the zip crate stops at the declared size (and the checksum fails) or the data
    // runs into the limit: never a 20 MiB file.
    assert!(
        matches!(
            result,
            Err(ArchiveError::EntryTooLarge { .. } | ArchiveError::Corrupt(_))
        ),
        "{result:?}"
    );
}

#[test]
fn zip_whose_header_overstates_the_size_is_refused_early() {
    let mut zip = zip_of(&[ZipEntry::File("myapp/a", b"small")]);
    lie_about_sizes(&mut zip, u32::MAX - 1);
    assert_eq!(
        unpack(&zip, &Limits::default()),
        Err(ArchiveError::EntryTooLarge {
            path: "myapp/a".into(),
            limit: 256 * MIB
        })
    );
}

#[test]
fn too_many_entries() {
    let limits = small_limits();
    let mut tar = RawTar::default().dir("myapp/");
    for n in 0..limits.max_entries {
        tar = tar.file(&format!("myapp/f{n}"), b"");
    }
    assert_eq!(
        unpack(&tar.finish(), &limits),
        Err(ArchiveError::TooManyEntries { limit: 100 })
    );
    let names: Vec<String> = (0..=limits.max_entries)
        .map(|n| format!("myapp/f{n}"))
        .collect();
    let entries: Vec<ZipEntry<'_>> = names.iter().map(|name| ZipEntry::File(name, b"")).collect();
    assert_eq!(
        unpack(&zip_of(&entries), &limits),
        Err(ArchiveError::TooManyEntries { limit: 100 })
    );
    // Exactly the limit is fine.
    let entries: Vec<ZipEntry<'_>> = names[..limits.max_entries]
        .iter()
        .map(|name| ZipEntry::File(name, b""))
        .collect();
    assert!(unpack(&zip_of(&entries), &limits).is_ok());
}

#[test]
fn huge_long_name_records_are_bounded() {
    // A GNU long-name record the `tar` crate would buffer whole: the stream cap stops it.
    let record = 64 * MIB;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut long_name = header("././@LongLink", b'L', "", record);
    long_name[257..265].copy_from_slice(b"ustar  \0");
    long_name[148..156].copy_from_slice(b"        ");
    let sum: u32 = long_name.iter().map(|byte| u32::from(*byte)).sum();
    long_name[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    encoder.write_all(&long_name).expect("header");
    io::copy(&mut io::repeat(b'a').take(record), &mut encoder).expect("name");
    let bomb = encoder.finish().expect("finish");
    let limits = small_limits();
    assert_eq!(
        unpack(&bomb, &limits),
        Err(ArchiveError::TooLarge { limit: 10 * MIB })
    );
}

#[test]
fn limits_allow_what_they_say() {
    let data = vec![1u8; (2 * MIB) as usize];
    let tar = RawTar::default().file("myapp/a", &data).finish();
    let limits = Limits {
        max_total_bytes: 2 * MIB,
        max_entry_bytes: 2 * MIB,
        max_entries: 1,
        max_ratio: 1,
    };
    let archive = unpack(&tar, &limits).expect("at the limits");
    assert_eq!(archive.file("a").map(<[u8]>::len), Some(data.len()));
}
