//! `Archive::write_to`: all or nothing, never outside the target, never over existing files.

mod support;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use stratus_archive::{unpack, Archive, Format, Limits};
use support::*;

/// A fresh scratch directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "stratus-archive-test-{}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("scratch");
        Scratch(path)
    }

    fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .expect("list")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn blueprint() -> Archive {
    unpack(
        &gzip(&tar_of("myapp", &blueprint_files())),
        &Limits::default(),
    )
    .expect("unpack")
}

fn read_tree(dir: &Path, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("read")
        .map(|e| e.expect("e"))
        .collect();
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type().expect("type").is_dir() {
            read_tree(&entry.path(), &format!("{name}/"), out);
        } else {
            out.push((name, fs::read(entry.path()).expect("file")));
        }
    }
}

#[test]
fn writes_every_file_and_leaves_no_temporary_directory() {
    let scratch = Scratch::new("writes");
    let archive = blueprint();
    let target = scratch.0.join("blueprints").join("myapp");
    archive.write_to(&target).expect("write");
    let mut written = Vec::new();
    read_tree(&target, "", &mut written);
    let expected: Vec<(String, Vec<u8>)> = archive.files.clone().into_iter().collect();
    assert_eq!(written, expected);
    assert_eq!(scratch.listing(), ["blueprints"]);
    let siblings: Vec<_> = fs::read_dir(scratch.0.join("blueprints"))
        .expect("list")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert_eq!(siblings, ["myapp"]);
}

#[test]
fn an_existing_empty_directory_is_filled() {
    let scratch = Scratch::new("empty");
    let target = scratch.0.join("myapp");
    fs::create_dir(&target).expect("mkdir");
    blueprint().write_to(&target).expect("write");
    assert!(target.join("blueprint.yaml").is_file());
    assert_eq!(scratch.listing(), ["myapp"]);
}

#[test]
fn a_non_empty_directory_is_refused_and_untouched() {
    let scratch = Scratch::new("non-empty");
    let target = scratch.0.join("myapp");
    fs::create_dir(&target).expect("mkdir");
    fs::write(target.join("keep.txt"), b"keep").expect("write");
    let error = blueprint().write_to(&target).expect_err("non-empty");
    assert_eq!(error.kind(), io::ErrorKind::DirectoryNotEmpty);
    assert_eq!(fs::read(target.join("keep.txt")).expect("kept"), b"keep");
    assert_eq!(scratch.listing(), ["myapp"]);
    assert_eq!(fs::read_dir(&target).expect("list").count(), 1);
}

#[test]
fn hand_built_archives_cannot_escape() {
    let scratch = Scratch::new("escape");
    for path in [
        "../evil",
        "/etc/evil",
        "a/../../evil",
        "",
        "./a",
        "a//b",
        "a\\b",
    ] {
        let archive = Archive {
            format: Format::TarGz,
            root: String::new(),
            files: [(path.to_owned(), b"evil".to_vec())].into(),
        };
        let error = archive.write_to(&scratch.0.join("target")).expect_err(path);
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{path}");
    }
    assert!(scratch.listing().is_empty(), "{:?}", scratch.listing());
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let scratch = Scratch::new("failed");
    // `a` as a file and `a/b` below it cannot both be written.
    let archive = Archive {
        format: Format::TarGz,
        root: String::new(),
        files: [
            ("a".to_owned(), b"file".to_vec()),
            ("a/b".to_owned(), b"below".to_vec()),
        ]
        .into(),
    };
    assert!(archive.write_to(&scratch.0.join("target")).is_err());
    assert!(scratch.listing().is_empty(), "{:?}", scratch.listing());
}
