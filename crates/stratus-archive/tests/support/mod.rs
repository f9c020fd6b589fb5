//! Archive builders for the tests: the real writers (`tar`, `zip`, `flate2`, `bzip2`) for
//! honest archives, raw header crafting for the malicious ones the writers refuse to make.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};

use stratus_archive::Limits;

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * KIB;

/// Small limits for tests that want to hit them quickly.
pub fn small_limits() -> Limits {
    Limits {
        max_total_bytes: 10 * MIB,
        max_entries: 100,
        max_entry_bytes: 10 * MIB,
        max_ratio: 0,
    }
}

/// A typical blueprint: `myapp/` with a blueprint, a script in a subdirectory, an empty file.
pub fn blueprint_files() -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([
        (
            "blueprint.yaml".to_owned(),
            b"tosca_definitions_version: cloudify_dsl_1_4\nnode_templates: {}\n".to_vec(),
        ),
        (
            "scripts/create.sh".to_owned(),
            b"#!/bin/sh\necho created\n".repeat(50),
        ),
        ("empty.txt".to_owned(), Vec::new()),
    ])
}

/// `files` under `root/` (with directory entries), written by the `tar` crate.
pub fn tar_of(root: &str, files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let prefix = |path: &str| {
        if root.is_empty() {
            path.to_owned()
        } else {
            format!("{root}/{path}")
        }
    };
    if !root.is_empty() {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        builder
            .append_data(&mut header, format!("{root}/"), &[][..])
            .expect("tar dir");
    }
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        builder
            .append_data(&mut header, prefix(path), &data[..])
            .expect("tar file");
    }
    builder.into_inner().expect("tar finish")
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip finish")
}

pub fn bzip2(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    encoder.write_all(bytes).expect("bzip2");
    encoder.finish().expect("bzip2 finish")
}

/// One zip entry to write.
pub enum ZipEntry<'a> {
    File(&'a str, &'a [u8]),
    Directory(&'a str),
    Symlink(&'a str, &'a str),
}

pub fn zip_of(entries: &[ZipEntry<'_>]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for entry in entries {
        match entry {
            ZipEntry::File(name, data) => {
                writer.start_file(*name, options).expect("zip file");
                writer.write_all(data).expect("zip data");
            }
            ZipEntry::Directory(name) => writer.add_directory(*name, options).expect("zip dir"),
            ZipEntry::Symlink(name, target) => writer
                .add_symlink(*name, *target, options)
                .expect("zip symlink"),
        }
    }
    writer.finish().expect("zip finish").into_inner()
}

/// `files` under `root/` as a deflated zip.
pub fn zip_tree(root: &str, files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let names: Vec<(String, &[u8])> = files
        .iter()
        .map(|(path, data)| (format!("{root}/{path}"), &data[..]))
        .collect();
    let mut entries = vec![];
    let directory = format!("{root}/");
    entries.push(ZipEntry::Directory(&directory));
    entries.extend(names.iter().map(|(name, data)| ZipEntry::File(name, data)));
    zip_of(&entries)
}

/// Replaces every occurrence of `from` by `to` (same length): renames entries after a writer
/// that validates names has written them.
pub fn patch(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut hits = 0;
    let mut index = 0;
    while index + from.len() <= bytes.len() {
        if &bytes[index..index + from.len()] == from {
            bytes[index..index + from.len()].copy_from_slice(to);
            hits += 1;
            index += from.len();
        } else {
            index += 1;
        }
    }
    assert!(hits > 0, "nothing to patch");
}

/// Raw tar writing, for entries the `tar` crate's builder refuses (`..`, absolute names).
#[derive(Default)]
pub struct RawTar {
    bytes: Vec<u8>,
}

/// Tar type flags.
pub const REGULAR: u8 = b'0';
pub const HARD_LINK: u8 = b'1';
pub const SYMLINK: u8 = b'2';
pub const CHAR_DEVICE: u8 = b'3';
pub const DIRECTORY: u8 = b'5';
pub const FIFO: u8 = b'6';
pub const PAX_GLOBAL: u8 = b'g';

impl RawTar {
    pub fn file(self, name: &str, data: &[u8]) -> Self {
        self.entry(name, REGULAR, "", data)
    }

    pub fn dir(self, name: &str) -> Self {
        self.entry(name, DIRECTORY, "", &[])
    }

    pub fn link(self, name: &str, kind: u8, target: &str) -> Self {
        self.entry(name, kind, target, &[])
    }

    /// Any entry: a ustar header (names up to 100 bytes) then the data padded to 512.
    pub fn entry(mut self, name: &str, kind: u8, target: &str, data: &[u8]) -> Self {
        self.bytes
            .extend_from_slice(&header(name, kind, target, data.len() as u64));
        self.bytes.extend_from_slice(data);
        self.pad();
        self
    }

    /// A header alone, declaring `size` bytes of data that the caller appends.
    pub fn header_only(mut self, name: &str, size: u64) -> Self {
        self.bytes
            .extend_from_slice(&header(name, REGULAR, "", size));
        self
    }

    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    fn pad(&mut self) {
        let rest = self.bytes.len() % 512;
        if rest != 0 {
            self.bytes.resize(self.bytes.len() + 512 - rest, 0);
        }
    }

    /// The archive with its two end-of-archive blocks.
    pub fn finish(mut self) -> Vec<u8> {
        self.pad();
        self.bytes.resize(self.bytes.len() + 1024, 0);
        self.bytes
    }
}

pub fn header(name: &str, kind: u8, target: &str, size: u64) -> [u8; 512] {
    let mut block = [0u8; 512];
    assert!(name.len() <= 100 && target.len() <= 100);
    block[..name.len()].copy_from_slice(name.as_bytes());
    block[100..107].copy_from_slice(b"0000644");
    block[108..115].copy_from_slice(b"0000000");
    block[116..123].copy_from_slice(b"0000000");
    if size < 1 << 33 {
        block[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    } else {
        // GNU base-256: high bit set, big-endian in the rest of the field.
        block[124] = 0x80;
        block[128..136].copy_from_slice(&size.to_be_bytes());
    }
    block[136..147].copy_from_slice(b"00000000000");
    block[156] = kind;
    block[157..157 + target.len()].copy_from_slice(target.as_bytes());
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
    block[148..156].copy_from_slice(b"        ");
    let sum: u32 = block.iter().map(|byte| u32::from(*byte)).sum();
    block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    block
}

/// A tar.gz holding `count` files `myapp/zeros<n>` of `size` zeros each, made in milliseconds
/// whatever the size: gzip allows concatenated members, so one compressed MiB of zeros is
/// repeated. Headers are honest; only the compression ratio is hostile.
pub fn zeros_tar_gz(count: u64, size: u64) -> Vec<u8> {
    assert_eq!(size % MIB, 0);
    let mebibyte = gzip(&vec![0u8; MIB as usize]);
    let mut out = Vec::new();
    for n in 0..count {
        out.extend_from_slice(&gzip(&header(
            &format!("myapp/zeros{n}"),
            REGULAR,
            "",
            size,
        )));
        for _ in 0..size / MIB {
            out.extend_from_slice(&mebibyte);
        }
    }
    out.extend_from_slice(&gzip(&[0u8; 1024]));
    out
}

/// A counting sink, for streams too big to keep.
#[derive(Default)]
pub struct Counter(pub u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads a gzip stream fully (to check a generated stream decodes).
pub fn gunzip_len(bytes: &[u8]) -> u64 {
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes);
    let mut counter = Counter::default();
    std::io::copy(&mut decoder.by_ref(), &mut counter).expect("gunzip");
    counter.0
}
