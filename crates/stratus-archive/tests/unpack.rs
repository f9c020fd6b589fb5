//! Unpacking rules: formats, the top-level directory rule, names, links, corruption.

mod support;

use std::collections::BTreeMap;

use stratus_archive::{
    detect, pack_tar_gz, unpack, unpack_flat, Archive, ArchiveError, Format, Limits,
};
use support::*;

fn unpack_default(bytes: &[u8]) -> Result<Archive, ArchiveError> {
    unpack(bytes, &Limits::default())
}

fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    pairs
        .iter()
        .map(|(path, data)| ((*path).to_owned(), data.as_bytes().to_vec()))
        .collect()
}

#[test]
fn every_format_round_trips() {
    let files = blueprint_files();
    let tar = tar_of("myapp", &files);
    let packed = pack_tar_gz("myapp", &files).expect("pack");
    let cases = [
        (Format::Tar, tar.clone()),
        (Format::TarGz, gzip(&tar)),
        (Format::TarBz2, bzip2(&tar)),
        (Format::Zip, zip_tree("myapp", &files)),
        (Format::TarGz, packed),
    ];
    for (format, bytes) in cases {
        assert_eq!(detect(&bytes), Some(format));
        let archive = unpack_default(&bytes).unwrap_or_else(|error| panic!("{format}: {error}"));
        assert_eq!(archive.format, format);
        assert_eq!(archive.root, "myapp");
        assert_eq!(archive.files, files, "{format}");
        assert_eq!(
            archive.file("blueprint.yaml"),
            Some(&files["blueprint.yaml"][..])
        );
        assert_eq!(archive.file("myapp/blueprint.yaml"), None);
    }
}

#[test]
fn pack_tar_gz_is_deterministic_and_flat_capable() {
    let files = blueprint_files();
    assert_eq!(
        pack_tar_gz("myapp", &files).ok(),
        pack_tar_gz("myapp", &files).ok()
    );
    let flat = pack_tar_gz("", &files).expect("pack flat");
    let archive = unpack_flat(&flat, &Limits::default()).expect("unpack flat");
    assert_eq!((archive.root.as_str(), &archive.files), ("", &files));
    assert!(matches!(
        pack_tar_gz("../x", &files),
        Err(ArchiveError::PathEscapes(_))
    ));
    assert!(matches!(
        pack_tar_gz("a/b", &files),
        Err(ArchiveError::InvalidName { .. })
    ));
    let escaping = BTreeMap::from([("../evil".to_owned(), vec![])]);
    assert!(matches!(
        pack_tar_gz("myapp", &escaping),
        Err(ArchiveError::PathEscapes(_))
    ));
    let conflicting = BTreeMap::from([("a".to_owned(), vec![]), ("a/b".to_owned(), vec![])]);
    assert!(matches!(
        pack_tar_gz("myapp", &conflicting),
        Err(ArchiveError::FileDirectoryConflict(_))
    ));
}

#[test]
fn dot_slash_prefixes_and_root_entries_are_normalized() {
    // What `tar czf app.tgz -C parent .` writes.
    let tar = RawTar::default()
        .dir("./")
        .dir("./work/")
        .file("./work/blueprint.yaml", b"a")
        .file("./work//inputs/./x.yaml", b"b")
        .finish();
    let archive = unpack_default(&gzip(&tar)).expect("unpack");
    assert_eq!(archive.root, "work");
    assert_eq!(
        archive.files,
        files(&[("blueprint.yaml", "a"), ("inputs/x.yaml", "b")])
    );
}

#[test]
fn blueprints_need_exactly_one_top_level_directory() {
    let flat = RawTar::default().file("blueprint.yaml", b"x").finish();
    assert_eq!(
        unpack_default(&flat),
        Err(ArchiveError::NoTopLevelDirectory("blueprint.yaml".into()))
    );

    let two = RawTar::default()
        .file("a/blueprint.yaml", b"x")
        .file("b/blueprint.yaml", b"y")
        .file("README", b"z")
        .finish();
    let error = unpack_default(&two).expect_err("two tops");
    assert_eq!(
        error,
        ArchiveError::MultipleTopLevelEntries(vec!["README".into(), "a".into(), "b".into()])
    );
    assert!(error
        .to_string()
        .contains("3 top-level entries: `README`, `a`, `b`"));

    let zip_flat = zip_of(&[ZipEntry::File("blueprint.yaml", b"x")]);
    assert!(matches!(
        unpack_default(&zip_flat),
        Err(ArchiveError::NoTopLevelDirectory(_))
    ));

    // A directory entry alone is a root with no files (the caller reports the missing
    // blueprint); nothing at all is empty.
    let only_dir = RawTar::default().dir("myapp/").finish();
    let archive = unpack_default(&only_dir).expect("only dir");
    assert_eq!((archive.root.as_str(), archive.files.len()), ("myapp", 0));
    assert_eq!(
        unpack_default(&RawTar::default().dir("./").finish()),
        Err(ArchiveError::Empty)
    );
    assert_eq!(unpack_default(&zip_of(&[])), Err(ArchiveError::Empty));
}

#[test]
fn plugin_archives_may_be_flat() {
    let limits = Limits::default();
    let flat = zip_of(&[
        ZipEntry::File("plugin.yaml", b"plugins: {}"),
        ZipEntry::File("lib/x.py", b"pass"),
    ]);
    let archive = unpack_flat(&flat, &limits).expect("flat zip");
    assert_eq!(archive.root, "");
    assert_eq!(
        archive.files,
        files(&[("lib/x.py", "pass"), ("plugin.yaml", "plugins: {}")])
    );

    let single_file = zip_of(&[ZipEntry::File("plugin.yaml", b"p")]);
    let archive = unpack_flat(&single_file, &limits).expect("single file");
    assert_eq!(
        (archive.root.as_str(), archive.file("plugin.yaml")),
        ("", Some(&b"p"[..]))
    );

    // A wagon: one directory, stripped either way.
    let wagon = gzip(&tar_of(
        "cloudify-foo-plugin",
        &files(&[("plugin.yaml", "p")]),
    ));
    let archive = unpack_flat(&wagon, &limits).expect("wagon");
    assert_eq!(archive.root, "cloudify-foo-plugin");
    assert_eq!(archive.file("plugin.yaml"), Some(&b"p"[..]));
}

#[test]
fn macos_resource_forks_are_ignored() {
    let zip = zip_of(&[
        ZipEntry::Directory("myapp/"),
        ZipEntry::File("myapp/blueprint.yaml", b"x"),
        ZipEntry::File("myapp/._blueprint.yaml", b"fork"),
        ZipEntry::Directory("__MACOSX/"),
        ZipEntry::File("__MACOSX/myapp/._blueprint.yaml", b"fork"),
    ]);
    let archive = unpack_default(&zip).expect("macos zip");
    assert_eq!(archive.root, "myapp");
    assert_eq!(
        archive.files,
        files(&[("._blueprint.yaml", "fork"), ("blueprint.yaml", "x")])
    );
    // Ignored entries' names are still checked.
    let evil = RawTar::default()
        .file("myapp/a", b"x")
        .file("__MACOSX/../../evil", b"x")
        .finish();
    assert!(matches!(
        unpack_default(&evil),
        Err(ArchiveError::PathEscapes(_))
    ));
}

#[test]
fn escaping_names_are_refused_in_tar() {
    type Expected = fn(&ArchiveError) -> bool;
    let cases: [(&str, Expected); 6] = [
        ("myapp/../../evil", |error| {
            matches!(error, ArchiveError::PathEscapes(_))
        }),
        ("../evil", |error| {
            matches!(error, ArchiveError::PathEscapes(_))
        }),
        ("myapp/a/..", |error| {
            matches!(error, ArchiveError::PathEscapes(_))
        }),
        ("/etc/cron.d/evil", |error| {
            matches!(error, ArchiveError::AbsolutePath(_))
        }),
        ("C:\\Windows\\evil", |error| {
            matches!(error, ArchiveError::AbsolutePath(_))
        }),
        ("myapp\\evil", |error| {
            matches!(error, ArchiveError::InvalidName { .. })
        }),
    ];
    for (name, expected) in cases {
        let tar = RawTar::default()
            .file("myapp/blueprint.yaml", b"x")
            .file(name, b"evil")
            .finish();
        for bytes in [tar.clone(), gzip(&tar), bzip2(&tar)] {
            let result = unpack_default(&bytes);
            assert!(result.as_ref().is_err_and(expected), "{name}: {result:?}");
        }
    }
    let message = unpack_default(&RawTar::default().file("../evil", b"").finish())
        .expect_err("escape")
        .to_string();
    assert_eq!(
        message,
        "the archive entry `../evil` has a `..` component; paths must stay inside the archive"
    );
}

#[test]
fn escaping_names_are_refused_in_zip() {
    // The zip writer refuses nothing, but write a same-length name and patch it anyway so the
    // test does not depend on that.
    let mut zip = zip_of(&[
        ZipEntry::File("myapp/blueprint.yaml", b"x"),
        ZipEntry::File("myapp/XX/XX/evil", b"evil"),
    ]);
    patch(&mut zip, b"myapp/XX/XX/evil", b"myapp/../../evil");
    assert_eq!(
        unpack_default(&zip),
        Err(ArchiveError::PathEscapes("myapp/../../evil".into()))
    );

    let mut zip = zip_of(&[ZipEntry::File("Xetc/passwd", b"evil")]);
    patch(&mut zip, b"Xetc/passwd", b"/etc/passwd");
    assert!(matches!(
        unpack_default(&zip),
        Err(ArchiveError::AbsolutePath(_))
    ));

    let mut zip = zip_of(&[ZipEntry::File("myapp/aXb", b"x")]);
    patch(&mut zip, b"myapp/aXb", b"myapp/a\0b");
    assert!(matches!(
        unpack_default(&zip),
        Err(ArchiveError::InvalidName { .. })
    ));

    let mut zip = zip_of(&[ZipEntry::File("myapp/XX/XX/evil", b"x")]);
    patch(&mut zip, b"myapp/XX/XX/evil", b"myapp\\..\\..\\evil");
    assert!(matches!(
        unpack_default(&zip),
        Err(ArchiveError::PathEscapes(_))
    ));
}

#[test]
fn escaping_links_are_refused() {
    let link_cases = [
        (SYMLINK, "myapp/passwd", "../../etc/passwd"),
        (SYMLINK, "myapp/passwd", "/etc/passwd"),
        (SYMLINK, "myapp/sub/x", "../../outside"),
        (HARD_LINK, "myapp/passwd", "../../etc/passwd"),
        (HARD_LINK, "myapp/passwd", "/etc/passwd"),
        // Hard link targets are relative to the archive root: this one leaves `myapp`.
        (HARD_LINK, "myapp/x", "other/file"),
    ];
    for (kind, name, target) in link_cases {
        let tar = RawTar::default()
            .file("myapp/blueprint.yaml", b"x")
            .link(name, kind, target)
            .finish();
        assert_eq!(
            unpack_default(&gzip(&tar)),
            Err(ArchiveError::LinkEscapes {
                path: name.into(),
                target: target.into()
            }),
            "{name} -> {target}"
        );
    }
    let zip = zip_of(&[
        ZipEntry::File("myapp/blueprint.yaml", b"x"),
        ZipEntry::Symlink("myapp/passwd", "../../etc/passwd"),
    ]);
    assert!(matches!(
        unpack_default(&zip),
        Err(ArchiveError::LinkEscapes { .. })
    ));
}

#[test]
fn links_inside_the_root_become_copies() {
    let tar = RawTar::default()
        .dir("myapp/")
        .file("myapp/scripts/common.sh", b"common")
        .link("myapp/scripts/create.sh", SYMLINK, "common.sh")
        .link("myapp/bin/start.sh", SYMLINK, "../scripts/./create.sh")
        .link("myapp/hard.sh", HARD_LINK, "./myapp/scripts/common.sh")
        .finish();
    let archive = unpack_default(&tar).expect("links");
    assert_eq!(
        archive.files,
        files(&[
            ("bin/start.sh", "common"),
            ("hard.sh", "common"),
            ("scripts/common.sh", "common"),
            ("scripts/create.sh", "common"),
        ])
    );

    let zip = zip_of(&[
        ZipEntry::File("myapp/a.yaml", b"a"),
        ZipEntry::Symlink("myapp/b.yaml", "a.yaml"),
    ]);
    let archive = unpack_default(&zip).expect("zip link");
    assert_eq!(archive.file("b.yaml"), Some(&b"a"[..]));
}

#[test]
fn links_to_nothing_or_directories_are_broken() {
    let cases = [
        ("myapp/l", SYMLINK, "missing"),
        ("myapp/l", SYMLINK, "."),
        ("myapp/l", SYMLINK, "sub"),
        ("myapp/l", SYMLINK, ""),
        ("myapp/l", SYMLINK, "l"),
        ("myapp/l", HARD_LINK, "myapp/sub"),
    ];
    for (name, kind, target) in cases {
        let tar = RawTar::default()
            .file("myapp/sub/file", b"x")
            .link(name, kind, target)
            .finish();
        assert!(
            matches!(unpack_default(&tar), Err(ArchiveError::BrokenLink { .. })),
            "{name} -> {target:?}: {:?}",
            unpack_default(&tar)
        );
    }
    let cycle = RawTar::default()
        .file("myapp/file", b"x")
        .link("myapp/a", SYMLINK, "b")
        .link("myapp/b", SYMLINK, "a")
        .finish();
    assert!(matches!(
        unpack_default(&cycle),
        Err(ArchiveError::BrokenLink { .. })
    ));
}

#[test]
fn special_entries_are_refused_and_pax_globals_skipped() {
    for (kind, what) in [(CHAR_DEVICE, "character device"), (FIFO, "FIFO")] {
        let tar = RawTar::default()
            .file("myapp/a", b"x")
            .entry("myapp/dev", kind, "", &[])
            .finish();
        assert_eq!(
            unpack_default(&tar),
            Err(ArchiveError::UnsupportedEntry {
                path: "myapp/dev".into(),
                kind: what
            })
        );
    }
    let git_archive = RawTar::default()
        .entry(
            "pax_global_header",
            PAX_GLOBAL,
            "",
            b"52 comment=0123456789012345678901234567890123456789\n",
        )
        .file("myapp/a", b"x")
        .finish();
    let archive = unpack_default(&git_archive).expect("git archive");
    assert_eq!(archive.files, files(&[("a", "x")]));
}

#[test]
fn duplicates_and_conflicts_are_refused() {
    let twice = RawTar::default()
        .file("myapp/a", b"1")
        .file("./myapp//a", b"2")
        .finish();
    assert_eq!(
        unpack_default(&twice),
        Err(ArchiveError::DuplicateEntry("myapp/a".into()))
    );
    let conflict = RawTar::default()
        .file("myapp/a", b"1")
        .file("myapp/a/b", b"2")
        .finish();
    assert_eq!(
        unpack_default(&conflict),
        Err(ArchiveError::FileDirectoryConflict("myapp/a".into()))
    );
    let conflict = RawTar::default()
        .file("myapp/a", b"1")
        .dir("myapp/a/")
        .finish();
    assert!(matches!(
        unpack_default(&conflict),
        Err(ArchiveError::FileDirectoryConflict(_))
    ));
    // Repeated directory entries are harmless.
    let dirs = RawTar::default()
        .dir("myapp/")
        .dir("myapp/")
        .file("myapp/a", b"1")
        .finish();
    assert!(unpack_default(&dirs).is_ok());

    // The zip crate keeps one entry per name; the repeat must still be reported.
    let mut zip = zip_of(&[
        ZipEntry::File("myapp/aaa", b"1"),
        ZipEntry::File("myapp/bbb", b"2"),
    ]);
    patch(&mut zip, b"myapp/bbb", b"myapp/aaa");
    assert_eq!(
        unpack_default(&zip),
        Err(ArchiveError::DuplicateEntry("myapp/aaa".into()))
    );
}

#[test]
fn encrypted_zip_entries_are_unsupported() {
    let mut zip = zip_of(&[ZipEntry::File("myapp/secret", b"data")]);
    // Set the "encrypted" general-purpose flag in the local and central headers.
    let local = 0;
    zip[local + 6] |= 1;
    let central = zip
        .windows(4)
        .position(|window| window == b"PK\x01\x02")
        .expect("central header");
    zip[central + 8] |= 1;
    assert!(matches!(
        unpack_default(&zip),
        Err(ArchiveError::Unsupported(_))
    ));
}

#[test]
fn empty_and_unknown_input() {
    assert_eq!(unpack_default(b""), Err(ArchiveError::UnknownFormat));
    assert_eq!(
        unpack_default(b"tosca_definitions_version: cloudify_dsl_1_4\n"),
        Err(ArchiveError::UnknownFormat)
    );
    assert_eq!(
        unpack_default(&[0u8; 4096]),
        Err(ArchiveError::UnknownFormat)
    );
    let yaml_gz = gzip(&b"tosca_definitions_version: cloudify_dsl_1_4\n".repeat(20));
    assert_eq!(
        unpack_default(&yaml_gz),
        Err(ArchiveError::Corrupt(
            "tar.gz: the data is not a tar archive".into()
        ))
    );
    let short = bzip2(b"hello");
    assert_eq!(
        unpack_default(&short),
        Err(ArchiveError::Corrupt(
            "tar.bz2: the data is not a tar archive (shorter than one tar header)".into()
        ))
    );
    assert!(matches!(
        unpack_default(&gzip(b"")),
        Err(ArchiveError::Corrupt(_))
    ));
}

#[test]
fn truncated_or_damaged_archives_are_corrupt() {
    let files = blueprint_files();
    let tar = tar_of("myapp", &files);
    let archives = [
        ("tar", tar.clone()),
        ("tar.gz", gzip(&tar)),
        ("tar.bz2", bzip2(&tar)),
        ("zip", zip_tree("myapp", &files)),
    ];
    for (what, bytes) in &archives {
        // Every truncation point in the first blocks, then a spread over the rest. A tar is
        // recognizable from its magic at offset 257.
        // recognizable from its magic at offset 257, and complete once its first end block is.
        let (first, last) = if *what == "tar" {
            (262, bytes.len() - 512)
        } else {
            (4, bytes.len())
        };
        let cuts = (first..last.min(1100)).chain((1100..last).step_by(97));
        for cut in cuts {
            let result = unpack_default(&bytes[..cut]).map(|archive| archive.files.len());
            assert!(
                matches!(result, Err(ArchiveError::Corrupt(_))),
                "{what} cut at {cut} of {}: {result:?}",
                bytes.len()
            );
        }
        // Damage: flip one byte at a spread of places; any error but a panic is fine, and
        // an Ok must still obey the path rules.
        for index in (0..bytes.len()).step_by(13) {
            let mut damaged = bytes.clone();
            damaged[index] ^= 0x5a;
            match unpack_default(&damaged) {
                Err(ArchiveError::ReaderPanicked) => panic!("{what} flipped at {index}"),
                Err(_) => {}
                Ok(archive) => assert_plain_paths(&archive),
            }
        }
    }
}

#[test]
fn plain_tar_without_end_blocks_is_truncated() {
    let mut tar = RawTar::default().file("myapp/a", b"x").finish();
    tar.truncate(1024);
    assert!(matches!(
        unpack_default(&tar),
        Err(ArchiveError::Corrupt(message)) if message.contains("end-of-archive")
    ));
}

#[test]
fn messages_read_well() {
    let limits = Limits::default();
    let cases: Vec<(ArchiveError, &str)> = vec![
        (
            ArchiveError::TooLarge {
                limit: limits.max_total_bytes,
            },
            "the archive unpacks to more than 512 MiB",
        ),
        (
            ArchiveError::EntryTooLarge {
                path: "myapp/disk.img".into(),
                limit: limits.max_entry_bytes,
            },
            "the archive entry `myapp/disk.img` unpacks to more than 256 MiB",
        ),
        (
            ArchiveError::LinkEscapes {
                path: "myapp/passwd".into(),
                target: "/etc/passwd".into(),
            },
            "the link `myapp/passwd` points to `/etc/passwd`, which is outside the archive",
        ),
        (
            ArchiveError::NoTopLevelDirectory("blueprint.yaml".into()),
            "the archive must hold a single top-level directory with the files inside it, \
             but its only top-level entry `blueprint.yaml` is a file",
        ),
    ];
    for (error, message) in cases {
        assert_eq!(error.to_string(), message);
    }
}

fn assert_plain_paths(archive: &Archive) {
    for path in archive.files.keys() {
        assert!(!path.is_empty() && !path.starts_with('/'), "{path:?}");
        assert!(
            path.split('/')
                .all(|part| !matches!(part, "" | "." | "..") && !part.contains(['\\', '\0'])),
            "{path:?}"
        );
    }
}
