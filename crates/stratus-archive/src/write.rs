//! [`Archive::write_to`]: the only I/O of the crate.
//!
//! Files are written into a fresh sibling directory (`.NAME.partial-PID-N`), synced, and the
//! directory is renamed onto the target, so a reader of the target sees nothing or
//! everything. The paths are checked again here because [`Archive`]'s fields are public: a
//! hand-built archive must not be able to write outside `dir` either.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::path::normalize;
use crate::Archive;

impl Archive {
    /// Writes every file to `dir/<path>` (regular files and directories only; file modes are
    /// the process defaults). `dir` must not exist or be an empty directory; its parent is
    /// created if missing. On error nothing is left behind and `dir` is unchanged.
    pub fn write_to(&self, dir: &Path) -> io::Result<()> {
        for path in self.files.keys() {
            if normalize(path.as_bytes()).ok().as_deref() != Some(path.as_str()) || path.is_empty()
            {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("refusing to write archive path {path:?}: not a plain relative path"),
                ));
            }
        }
        match fs::read_dir(dir) {
            Ok(mut listing) => {
                if listing.next().is_some() {
                    return Err(io::Error::new(
                        io::ErrorKind::DirectoryNotEmpty,
                        format!("{} is not empty", dir.display()),
                    ));
                }
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        let name = dir.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} has no directory name", dir.display()),
            )
        })?;
        let parent = match dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        fs::create_dir_all(parent)?;
        let temporary = create_temporary_sibling(parent, &name.to_string_lossy())?;
        let result = self
            .write_files(&temporary)
            .and_then(|()| publish(&temporary, dir, parent));
        if result.is_err() {
            // Best effort: the error that matters is the one being returned.
            let _ = fs::remove_dir_all(&temporary);
        }
        result
    }

    fn write_files(&self, into: &Path) -> io::Result<()> {
        for (path, data) in &self.files {
            let target = path
                .split('/')
                .fold(into.to_path_buf(), |mut target, part| {
                    target.push(part);
                    target
                });
            if let Some(directory) = target.parent() {
                fs::create_dir_all(directory)?;
            }
            let mut file = File::create_new(&target)?;
            file.write_all(data)?;
            file.sync_all()?;
        }
        Ok(())
    }
}

fn create_temporary_sibling(parent: &Path, name: &str) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut tries = 0;
    loop {
        let attempt = COUNTER.fetch_add(1, Ordering::Relaxed);
        let candidate = parent.join(format!(".{name}.partial-{}-{attempt}", std::process::id()));
        match fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists && tries < 100 => {
                tries += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Renames the finished directory onto `dir` (replacing it if it is an empty directory, which
/// `rename` does atomically on Unix) and syncs the parent so the rename is durable.
fn publish(temporary: &Path, dir: &Path, parent: &Path) -> io::Result<()> {
    #[cfg(not(unix))]
    if dir.is_dir() {
        fs::remove_dir(dir)?;
    }
    fs::rename(temporary, dir)?;
    #[cfg(unix)]
    File::open(parent)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = parent;
    Ok(())
}
