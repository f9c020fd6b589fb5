//! `download-resource` and `download-resource-and-render`: blueprint resources copied to the
//! script's side, and the `{{ expression }}` rendering of templates.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{LiveOperation, Obj};
use crate::context::type_name;
use crate::pyfmt::{py_repr, py_str};
use crate::request::CtxError;
use crate::resources::{has_template_markers, resolve_in_blueprint};

impl LiveOperation {
    pub(super) fn download(
        &mut self,
        resource: &Value,
        target: &Value,
        render: Option<Map<String, Value>>,
    ) -> Result<Value, CtxError> {
        let Value::String(resource_path) = resource else {
            return Err(CtxError::type_error(format!(
                "resource_path must be a string, not {}",
                type_name(resource)
            )));
        };
        let source = self.resolve_resource(resource_path)?;
        let target_path = match target {
            Value::Null => {
                let directory = self.download_directory()?;
                let base = Path::new(resource_path)
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_default();
                directory.join(format!("tmp{}-{base}", crate::proxy::random_token(4)))
            }
            Value::String(path) => {
                let path = PathBuf::from(path);
                match (&self.cwd, path.is_absolute()) {
                    (Some(cwd), false) => cwd.join(path),
                    _ => path,
                }
            }
            other => {
                return Err(CtxError::type_error(format!(
                    "target_path must be a string, not {}",
                    type_name(other)
                )))
            }
        };
        let content = std::fs::read(&source).map_err(|error| {
            CtxError::new(
                "HttpException",
                format!("{resource_path}: cannot read resource: {error}"),
            )
        })?;
        let content = match render {
            Some(variables) if has_template_markers(&content) => {
                let text = String::from_utf8_lossy(&content);
                self.render(&text, &variables)?.into_bytes()
            }
            _ => content,
        };
        std::fs::write(&target_path, content).map_err(|error| {
            CtxError::new(
                "IOError",
                format!("cannot write {}: {error}", target_path.display()),
            )
        })?;
        Ok(Value::String(target_path.to_string_lossy().into_owned()))
    }

    fn download_directory(&mut self) -> Result<PathBuf, CtxError> {
        if let Some(directory) = &self.download_dir {
            return Ok(directory.clone());
        }
        let directory =
            std::env::temp_dir().join(format!("stratus-ctx-{}", crate::proxy::random_token(8)));
        std::fs::create_dir_all(&directory).map_err(|error| {
            CtxError::new(
                "IOError",
                format!("cannot create {}: {error}", directory.display()),
            )
        })?;
        self.download_dir = Some(directory.clone());
        Ok(directory)
    }

    /// A resource path relative to the blueprint directory, refused if it leaves it (by `..`,
    /// an absolute path or a symbolic link).
    pub fn resolve_resource(&self, resource_path: &str) -> Result<PathBuf, CtxError> {
        resolve_in_blueprint(self.ctx.blueprint_dir.as_deref(), resource_path)
    }

    fn render(&self, template: &str, variables: &Map<String, Value>) -> Result<String, CtxError> {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find(['{']) {
            let (before, from) = rest.split_at(start);
            out.push_str(before);
            if let Some(body) = from.strip_prefix("{{") {
                let end = body.find("}}").ok_or_else(|| {
                    CtxError::new(
                        "TemplateSyntaxError",
                        "unexpected end of template, expected '}}'",
                    )
                })?;
                let expression = body[..end].trim();
                out.push_str(&self.render_expression(expression, variables));
                rest = &body[end + 2..];
            } else if let Some(body) = from.strip_prefix("{#") {
                let end = body.find("#}").ok_or_else(|| {
                    CtxError::new("TemplateSyntaxError", "Missing end of comment tag")
                })?;
                rest = &body[end + 2..];
            } else if from.starts_with("{%") {
                return Err(CtxError::new(
                    "TemplateSyntaxError",
                    "Stratus renders {{ expressions }} and {# comments #} only; {% statements %} are not supported",
                ));
            } else {
                out.push('{');
                rest = &from[1..];
            }
        }
        out.push_str(rest);
        Ok(out)
    }

    /// A dotted expression over the template variables and `ctx`; undefined renders as empty,
    /// as jinja2's default `Undefined` does.
    fn render_expression(&self, expression: &str, variables: &Map<String, Value>) -> String {
        let mut parts = expression.split('.').map(str::trim);
        let Some(first) = parts.next() else {
            return String::new();
        };
        let mut current = if first == "ctx" {
            Obj::Ctx
        } else {
            match variables.get(first) {
                Some(value) => Obj::Value(value.clone()),
                None => return String::new(),
            }
        };
        for part in parts {
            let next = match &current {
                Obj::Value(Value::Object(map)) => map.get(part).cloned().map(Obj::Value),
                Obj::Value(Value::Array(items)) => part
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| items.get(i).cloned())
                    .map(Obj::Value),
                Obj::Dict(dict) => self
                    .dict(*dict)
                    .ok()
                    .and_then(|map| map.get(part).cloned())
                    .map(Obj::Value),
                other => self.attr(other, part).ok().flatten(),
            };
            match next {
                Some(next) => current = next,
                None => return String::new(),
            }
        }
        match current {
            Obj::Value(value) => py_str(&value),
            Obj::Dict(dict) => self
                .dict(dict)
                .map(|map| py_repr(&Value::Object(map.clone())))
                .unwrap_or_default(),
            other => format!("<{} object>", other.python_type()),
        }
    }
}
