//! The `ctx` command put first on the scripts' `PATH`.

use std::path::{Path, PathBuf};

use super::ScriptError;

/// A directory whose `ctx` is the ctx client, put first on the scripts' `PATH`.
pub struct CtxCommand {
    directory: PathBuf,
    owned: bool,
}

impl CtxCommand {
    /// From the path of an executable that acts as `ctx` when invoked under that name (the
    /// `stratus` binary, or a dedicated `ctx`). When its file name is not `ctx`, a private
    /// directory with a `ctx` symbolic link to it is created (and removed on drop).
    pub fn new(executable: &Path) -> Result<CtxCommand, ScriptError> {
        let executable = executable.canonicalize().map_err(ScriptError::CtxCommand)?;
        if executable.file_name().is_some_and(|name| name == "ctx") {
            if let Some(parent) = executable.parent() {
                return Ok(CtxCommand {
                    directory: parent.to_path_buf(),
                    owned: false,
                });
            }
        }
        let directory =
            std::env::temp_dir().join(format!("stratus-ctx-bin-{}", crate::proxy::random_token(8)));
        std::fs::create_dir_all(&directory).map_err(ScriptError::CtxCommand)?;
        std::os::unix::fs::symlink(&executable, directory.join("ctx"))
            .map_err(ScriptError::CtxCommand)?;
        Ok(CtxCommand {
            directory,
            owned: true,
        })
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }
}

impl Drop for CtxCommand {
    fn drop(&mut self) {
        if self.owned {
            let _ = std::fs::remove_dir_all(&self.directory);
        }
    }
}
