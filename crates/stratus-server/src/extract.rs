//! Request bodies, read with limits and turned into Cloudify errors (413 for an oversized
//! body, 400 `bad_parameters_error` for malformed JSON or a field of the wrong type).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// The raw body; oversized bodies are refused before handlers run.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(request, state)
            .await
            .map(Body)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::too_large(
                        "request body is larger than this manager accepts (max_body_bytes)",
                    )
                } else {
                    ApiError::bad_parameters(format!("could not read request body: {rejection}"))
                }
            })
    }
}

impl Body {
    /// The body as a JSON object; an empty body is an empty object.
    pub fn object(&self) -> ApiResult<Map<String, Value>> {
        if self.0.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(&self.0) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(other) => Err(ApiError::bad_parameters(format!(
                "request body must be a JSON object, got {}",
                type_name(&other)
            ))),
            Err(error) => Err(ApiError::bad_parameters(format!(
                "request body is not valid JSON: {error}"
            ))),
        }
    }
}

pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a dict",
    }
}

/// Typed access to a JSON object's fields with Cloudify-style errors.
pub trait Fields {
    fn string(&self, name: &str) -> ApiResult<Option<String>>;
    fn required_string(&self, name: &str) -> ApiResult<String>;
    fn object(&self, name: &str) -> ApiResult<Option<Map<String, Value>>>;
    /// A boolean given as a JSON boolean or as a string (`"true"`), as clients send them.
    fn flag(&self, name: &str) -> ApiResult<bool>;
}

impl Fields for Map<String, Value> {
    fn string(&self, name: &str) -> ApiResult<Option<String>> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(ApiError::bad_parameters(format!(
                "{name} must be a string, got {}",
                type_name(other)
            ))),
        }
    }

    fn required_string(&self, name: &str) -> ApiResult<String> {
        self.string(name)?
            .ok_or_else(|| ApiError::bad_parameters(format!("missing required field: {name}")))
    }

    fn object(&self, name: &str) -> ApiResult<Option<Map<String, Value>>> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map.clone())),
            Some(other) => Err(ApiError::bad_parameters(format!(
                "{name} must be a dict, got {}",
                type_name(other)
            ))),
        }
    }

    fn flag(&self, name: &str) -> ApiResult<bool> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) => crate::query::parse_bool(s).ok_or_else(|| {
                ApiError::bad_parameters(format!("{name} must be true or false, got '{s}'"))
            }),
            Some(other) => Err(ApiError::bad_parameters(format!(
                "{name} must be a boolean, got {}",
                type_name(other)
            ))),
        }
    }
}
