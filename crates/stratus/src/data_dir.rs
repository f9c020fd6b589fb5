//! The data directory: where state lives, and the rules that keep it from being lost or
//! shared.
//!
//! Chosen in this order: `--data-dir` (flag, `STRATUS_DATA_DIR` or config); a volume mounted at
//! `/cfy-persist` (the original container's persistent-volume path); else `./stratus-data`,
//! with a loud warning when `/cfy-persist` exists but nothing is mounted there (a container
//! run without its volume: state dies with the container).
//!
//! A directory is adopted only if it is empty (ignoring `lost+found`, which a fresh ext4
//! volume carries — the original container mistook it for existing state) or already marked
//! as Stratus's by `stratus-format.json`. Anything else is refused rather than written into.
//! An exclusive lock on `.stratus.lock` keeps a second Stratus off a directory in use.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

/// The layout version this build writes and understands.
pub const FORMAT: u64 = 1;
pub const FORMAT_FILE: &str = "stratus-format.json";
const LOCK_FILE: &str = ".stratus.lock";
pub const PERSIST_MOUNT: &str = "/cfy-persist";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Named by the operator.
    Explicit,
    /// The volume mounted at `/cfy-persist`.
    PersistVolume,
    /// `./stratus-data`.
    Default,
}

/// An adopted, locked data directory.
#[derive(Debug)]
pub struct DataDir {
    pub path: PathBuf,
    pub origin: Origin,
    /// Set when this start created the directory's format marker.
    pub initialized: bool,
    _lock: File,
}

/// Whether `path` is a mount point of this process's mount namespace.
fn is_mount_point(path: &str) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|text| {
        text.lines()
            .filter_map(|line| line.split(' ').nth(4))
            .any(|mount_point| mount_point == path)
    })
}

pub fn choose(explicit: Option<PathBuf>) -> (PathBuf, Origin) {
    match explicit {
        Some(path) => (path, Origin::Explicit),
        None if is_mount_point(PERSIST_MOUNT) => {
            (PathBuf::from(PERSIST_MOUNT), Origin::PersistVolume)
        }
        None => (PathBuf::from("./stratus-data"), Origin::Default),
    }
}

/// The warning to print for a start whose state will not outlive the container, if any.
pub fn ephemeral_warning(origin: Origin) -> Option<String> {
    (origin == Origin::Default && Path::new(PERSIST_MOUNT).is_dir()).then(|| {
        format!(
            "WARNING: no volume is mounted at {PERSIST_MOUNT}: state is kept in ./stratus-data inside \
             the container and is LOST when the container is removed. Mount a volume at {PERSIST_MOUNT} \
             (docker run -v NAME:{PERSIST_MOUNT} …) to keep it."
        )
    })
}

/// Creates (if needed), locks and checks the directory; marks an empty one as Stratus's.
pub fn adopt(path: PathBuf, origin: Origin) -> Result<DataDir> {
    std::fs::create_dir_all(&path)
        .with_context(|| format!("create data directory {}", path.display()))?;
    let lock_path = path.join(LOCK_FILE);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("open {}", lock_path.display()))?;
    match fs4::FileExt::try_lock(&lock) {
        Ok(()) => {}
        Err(fs4::TryLockError::WouldBlock) => bail!(
            "data directory {} is in use by another Stratus (lock {} is held)",
            path.display(),
            lock_path.display()
        ),
        Err(fs4::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("lock {}", lock_path.display()))
        }
    }
    let marker = path.join(FORMAT_FILE);
    let initialized = if marker.exists() {
        check_format(&marker)?;
        false
    } else {
        // Again under the lock: another start may have initialized it meanwhile.
        refuse_foreign(&path)?;
        write_marker(&marker)?;
        true
    };
    Ok(DataDir {
        path,
        origin,
        initialized,
        _lock: lock,
    })
}

/// Fails for a directory that is neither Stratus's (marked) nor empty.
fn refuse_foreign(path: &Path) -> Result<()> {
    if path.join(FORMAT_FILE).exists() {
        return Ok(());
    }
    let others = foreign_entries(path)?;
    if !others.is_empty() {
        bail!(
            "data directory {} is not empty and is not a Stratus data directory (no {FORMAT_FILE}); \
             found: {}. Point --data-dir at an empty directory or a Stratus one.",
            path.display(),
            others.join(", ")
        );
    }
    Ok(())
}

/// Entries other than those a fresh volume or a Stratus start may hold.
fn foreign_entries(path: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(path)
        .with_context(|| format!("list {}", path.display()))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "lost+found" && name != LOCK_FILE)
        .collect();
    names.sort();
    names.truncate(10);
    Ok(names)
}

fn check_format(marker: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(marker).with_context(|| format!("read {}", marker.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", marker.display()))?;
    let format = value
        .get("format")
        .and_then(serde_json::Value::as_u64)
        .with_context(|| format!("{} has no numeric `format`", marker.display()))?;
    if format > FORMAT {
        bail!(
            "data directory format {format} (in {}) was written by a newer Stratus; this one knows up to {FORMAT}",
            marker.display()
        );
    }
    // Older formats would be migrated forward here; format 1 is the first.
    Ok(())
}

fn write_marker(marker: &Path) -> Result<()> {
    let body = serde_json::json!({"format": FORMAT, "created_by": format!("stratus {}", env!("CARGO_PKG_VERSION"))});
    stratus_server::files::write_atomic(marker, body.to_string().as_bytes(), false)
        .with_context(|| format!("write {}", marker.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_dir_or_one_with_only_lost_and_found_is_initialized() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("vol");
        std::fs::create_dir_all(dir.join("lost+found")).unwrap();
        let adopted = adopt(dir.clone(), Origin::Explicit).unwrap();
        assert!(adopted.initialized);
        assert!(dir.join(FORMAT_FILE).exists());
        drop(adopted);
        let again = adopt(dir, Origin::Explicit).unwrap();
        assert!(
            !again.initialized,
            "a marked directory is reused, not re-initialized"
        );
    }

    #[test]
    fn foreign_content_newer_formats_and_a_second_user_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let foreign = root.path().join("foreign");
        std::fs::create_dir_all(foreign.join("opt")).unwrap();
        let error = adopt(foreign, Origin::Explicit).unwrap_err().to_string();
        assert!(
            error.contains("not a Stratus data directory") && error.contains("opt"),
            "{error}"
        );

        let newer = root.path().join("newer");
        std::fs::create_dir_all(&newer).unwrap();
        std::fs::write(newer.join(FORMAT_FILE), r#"{"format": 99}"#).unwrap();
        let error = adopt(newer, Origin::Explicit).unwrap_err().to_string();
        assert!(error.contains("newer Stratus"), "{error}");

        let shared = root.path().join("shared");
        let _first = adopt(shared.clone(), Origin::Explicit).unwrap();
        let error = adopt(shared, Origin::Explicit).unwrap_err().to_string();
        assert!(error.contains("in use by another Stratus"), "{error}");
    }
}
