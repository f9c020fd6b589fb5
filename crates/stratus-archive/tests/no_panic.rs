//! Whatever the bytes, `unpack` returns: arbitrary input and mutated valid archives of every
//! format (bounded: 256 cases each, small limits). A reader panic would surface as
//! `ReaderPanicked`, which is asserted never to happen.

mod support;

use proptest::prelude::*;
use stratus_archive::{unpack, unpack_flat, Archive, ArchiveError, Limits};
use support::*;

fn limits() -> Limits {
    Limits {
        max_total_bytes: 4 * MIB,
        max_entries: 1000,
        max_entry_bytes: MIB,
        max_ratio: 200,
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let files = blueprint_files();
    let tar = tar_of("myapp", &files);
    let links = RawTar::default()
        .file("myapp/a", b"data")
        .link("myapp/b", SYMLINK, "a")
        .link("myapp/c", HARD_LINK, "myapp/a")
        .finish();
    vec![
        gzip(&tar),
        bzip2(&tar),
        zip_tree("myapp", &files),
        zip_of(&[
            ZipEntry::File("plugin.yaml", b"p"),
            ZipEntry::Symlink("link", "plugin.yaml"),
        ]),
        tar,
        links,
    ]
}

fn check(bytes: &[u8]) {
    for result in [unpack(bytes, &limits()), unpack_flat(bytes, &limits())] {
        match result {
            Err(ArchiveError::ReaderPanicked) => panic!("a reader panicked"),
            Err(_) => {}
            Ok(archive) => assert_plain(&archive),
        }
    }
}

fn assert_plain(archive: &Archive) {
    assert!(!archive.root.contains(['/', '\\', '\0']));
    for path in archive.files.keys() {
        assert!(
            path.split('/')
                .all(|part| !matches!(part, "" | "." | "..") && !part.contains(['\\', '\0'])),
            "{path:?}"
        );
    }
}

/// One edit to a valid archive.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, xor: u8 },
    Set { at: usize, byte: u8 },
    Truncate { at: usize },
    Insert { at: usize, bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match mutation {
        Mutation::Flip { at, xor } => {
            let at = at % bytes.len();
            bytes[at] ^= xor;
        }
        Mutation::Set { at, byte } => {
            let at = at % bytes.len();
            bytes[at] = *byte;
        }
        Mutation::Truncate { at } => bytes.truncate(at % bytes.len()),
        Mutation::Insert {
            at,
            bytes: inserted,
        } => {
            let at = at % bytes.len();
            bytes.splice(at..at, inserted.iter().copied());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(
        prefix in prop_oneof![
            Just(Vec::new()),
            Just(b"PK\x03\x04".to_vec()),
            Just(b"PK\x05\x06".to_vec()),
            Just(vec![0x1f, 0x8b, 8, 0]),
            Just(b"BZh9".to_vec()),
        ],
        body in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut bytes = prefix;
        bytes.extend_from_slice(&body);
        check(&bytes);
    }

    #[test]
    fn mutated_archives(
        seed in 0..6usize,
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let mut bytes = seeds()[seed].clone();
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        check(&bytes);
    }
}
