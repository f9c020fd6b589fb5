//! Blueprint resources for ctx: paths resolved inside the blueprint's directory only
//! (scripts, `download-resource`, `download-resource-and-render`).

use std::path::{Component, Path, PathBuf};

use crate::request::CtxError;

/// Resolves `resource_path` inside `blueprint_dir`; used for scripts and `download-resource`.
pub(crate) fn resolve_in_blueprint(
    blueprint_dir: Option<&Path>,
    resource_path: &str,
) -> Result<PathBuf, CtxError> {
    let Some(root) = blueprint_dir else {
        return Err(CtxError::non_recoverable(
            "this operation has no blueprint directory to download resources from",
        ));
    };
    let relative = Path::new(resource_path);
    let escapes = resource_path.is_empty()
        || resource_path.contains('\0')
        || relative
            .components()
            .any(|component| !matches!(component, Component::Normal(_) | Component::CurDir));
    if escapes {
        return Err(CtxError::non_recoverable(format!(
            "resource path is not inside the blueprint directory: {resource_path}"
        )));
    }
    let root = root.canonicalize().map_err(|error| {
        CtxError::new(
            "HttpException",
            format!("blueprint directory unavailable: {error}"),
        )
    })?;
    let resolved = root.join(relative).canonicalize().map_err(|_| {
        CtxError::new(
            "HttpException",
            format!("{resource_path}: 404 resource not found in the blueprint"),
        )
    })?;
    if !resolved.starts_with(&root) {
        return Err(CtxError::non_recoverable(format!(
            "resource path is not inside the blueprint directory: {resource_path}"
        )));
    }
    if !resolved.is_file() {
        return Err(CtxError::new(
            "HttpException",
            format!("{resource_path}: 404 resource not found in the blueprint"),
        ));
    }
    Ok(resolved)
}

pub(crate) fn has_template_markers(content: &[u8]) -> bool {
    content
        .windows(2)
        .any(|pair| matches!(pair, b"{{" | b"{#" | b"{%"))
}
