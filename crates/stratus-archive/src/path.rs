//! Entry names and link targets, checked and normalized before anything else sees them.
//!
//! A name becomes a `/`-joined list of plain components: `./` and empty components are
//! dropped; absolute names, `..` anywhere, Windows drives and backslashes, NUL and non-UTF-8
//! are refused. Normalizing first means the rest of the crate (and [`crate::Archive::write_to`])
//! only ever handles paths that stay inside the directory they are joined to.

use crate::ArchiveError;

/// Longest accepted entry name, in bytes (Linux's `PATH_MAX`).
pub(crate) const MAX_NAME_BYTES: usize = 4096;

/// The first component of archives' macOS resource-fork folder, ignored when unpacking.
pub(crate) const MACOS_JUNK: &str = "__MACOSX";

/// Checks an entry name and returns it normalized: `./a//b/` → `a/b`. The archive root itself
/// (`.`, `./`) normalizes to `""`.
pub(crate) fn normalize(raw: &[u8]) -> Result<String, ArchiveError> {
    let Ok(name) = std::str::from_utf8(raw) else {
        return Err(invalid(
            &String::from_utf8_lossy(raw),
            "it is not valid UTF-8",
        ));
    };
    if name.len() > MAX_NAME_BYTES {
        return Err(invalid(name, "it is longer than 4096 bytes"));
    }
    if name.contains('\0') {
        return Err(invalid(name, "it contains a NUL character"));
    }
    if is_absolute(name) {
        return Err(ArchiveError::AbsolutePath(shown(name)));
    }
    if name.split(['/', '\\']).any(|component| component == "..") {
        return Err(ArchiveError::PathEscapes(shown(name)));
    }
    if name.contains('\\') {
        return Err(invalid(
            name,
            "it contains a backslash (archive paths use `/`)",
        ));
    }
    Ok(components(name).collect::<Vec<_>>().join("/"))
}

/// Resolves a link target lexically. `base` is the normalized directory the target is
/// relative to (the link's parent for a symbolic link, the archive root for a hard link).
/// Returns `None` when the target is absolute or climbs above the archive root.
pub(crate) fn resolve_link(base: &str, target: &str) -> Option<String> {
    if is_absolute(target) {
        return None;
    }
    let mut resolved: Vec<&str> = components(base).collect();
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                resolved.pop()?;
            }
            other => resolved.push(other),
        }
    }
    Some(resolved.join("/"))
}

/// The directory part of a normalized path (`""` for a top-level entry).
pub(crate) fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(parent, _)| parent)
}

/// The first component of a normalized path.
pub(crate) fn top_level(path: &str) -> &str {
    path.split_once('/').map_or(path, |(first, _)| first)
}

/// Every proper ancestor of a normalized path, shortest first: `a/b/c` → `a`, `a/b`.
pub(crate) fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(move |(index, _)| &path[..index])
}

/// Whether `path` is `dir` or lies below it (`dir` normalized, `""` is the archive root).
pub(crate) fn is_within(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn components(name: &str) -> impl Iterator<Item = &str> {
    name.split('/')
        .filter(|component| !component.is_empty() && *component != ".")
}

/// `/x`, `\x`, `C:x`, `C:\x`: anything a Unix or Windows extractor would not keep below the
/// target directory.
fn is_absolute(name: &str) -> bool {
    let bytes = name.as_bytes();
    matches!(bytes.first(), Some(b'/' | b'\\'))
        || (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':')
}

fn invalid(name: &str, reason: &'static str) -> ArchiveError {
    ArchiveError::InvalidName {
        path: shown(name),
        reason,
    }
}

/// A name as quoted in a message: NUL made visible, cut at 200 characters.
pub(crate) fn shown(name: &str) -> String {
    const SHOWN: usize = 200;
    let visible = name.replace('\0', "\\0");
    match visible.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &visible[..cut]),
        None => visible,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        normalize(raw.as_bytes()).unwrap_or_else(|error| panic!("{raw}: {error}"))
    }

    #[test]
    fn plain_names_are_normalized() {
        assert_eq!(ok("myapp/blueprint.yaml"), "myapp/blueprint.yaml");
        assert_eq!(ok("./myapp//scripts/./x.sh"), "myapp/scripts/x.sh");
        assert_eq!(ok("myapp/"), "myapp");
        assert_eq!(ok("./"), "");
        assert_eq!(ok("ab:c/d"), "ab:c/d");
        assert_eq!(ok("..."), "...");
    }

    #[test]
    fn escaping_names_are_refused() {
        let refused = |raw: &[u8]| normalize(raw).err();
        assert!(matches!(
            refused(b"/etc/passwd"),
            Some(ArchiveError::AbsolutePath(_))
        ));
        assert!(matches!(
            refused(b"C:/x"),
            Some(ArchiveError::AbsolutePath(_))
        ));
        assert!(matches!(
            refused(b"c:x"),
            Some(ArchiveError::AbsolutePath(_))
        ));
        assert!(matches!(
            refused(b"\\\\server\\share"),
            Some(ArchiveError::AbsolutePath(_))
        ));
        assert!(matches!(
            refused(b"a/../../x"),
            Some(ArchiveError::PathEscapes(_))
        ));
        assert!(matches!(
            refused(b"a/.."),
            Some(ArchiveError::PathEscapes(_))
        ));
        assert!(matches!(
            refused(b"a\\..\\..\\x"),
            Some(ArchiveError::PathEscapes(_))
        ));
        assert!(matches!(
            refused(b"a\\b"),
            Some(ArchiveError::InvalidName { .. })
        ));
        assert!(matches!(
            refused(b"a\0b"),
            Some(ArchiveError::InvalidName { .. })
        ));
        assert!(matches!(
            refused(b"a\xffb"),
            Some(ArchiveError::InvalidName { .. })
        ));
        assert!(matches!(
            refused("x".repeat(5000).as_bytes()),
            Some(ArchiveError::InvalidName { .. })
        ));
    }

    #[test]
    fn links_resolve_lexically() {
        assert_eq!(
            resolve_link("app/scripts", "../lib/x"),
            Some("app/lib/x".into())
        );
        assert_eq!(resolve_link("app", "./x"), Some("app/x".into()));
        assert_eq!(resolve_link("", "app/x"), Some("app/x".into()));
        assert_eq!(resolve_link("app", "../../etc/passwd"), None);
        assert_eq!(resolve_link("app", "/etc/passwd"), None);
        assert_eq!(resolve_link("app", "C:\\x"), None);
    }

    #[test]
    fn path_helpers() {
        assert_eq!(parent("a/b/c"), "a/b");
        assert_eq!(parent("a"), "");
        assert_eq!(top_level("a/b"), "a");
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
        assert!(is_within("a/b", "a"));
        assert!(!is_within("ab/c", "a"));
        assert!(is_within("x", ""));
        assert_eq!(shown("a\0b"), "a\\0b");
    }
}
