//! `multipart/form-data` bodies, as `cfy` 7 sends blueprint and plugin uploads. The body is
//! already in memory (bounded by the body limit), so parts are read whole.

use std::convert::Infallible;

use axum::body::Bytes;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// Every part as `(name, bytes)`, in order.
pub async fn parts(content_type: &str, body: Bytes) -> ApiResult<Vec<(String, Bytes)>> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| ApiError::bad_parameters(format!("malformed multipart Content-Type: {e}")))?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut out = Vec::new();
    let malformed =
        |e: multer::Error| ApiError::bad_parameters(format!("malformed multipart body: {e}"));
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_string();
        let bytes = field.bytes().await.map_err(malformed)?;
        out.push((name, bytes));
    }
    Ok(out)
}

/// A blueprint upload: the `params` part (JSON object) and the `blueprint_archive` part.
pub async fn blueprint_parts(
    content_type: &str,
    body: Bytes,
) -> ApiResult<(Map<String, Value>, Option<Bytes>)> {
    let mut params = Map::new();
    let mut archive = None;
    for (name, bytes) in parts(content_type, body).await? {
        match name.as_str() {
            "params" => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => params = map,
                _ => {
                    return Err(ApiError::bad_parameters(
                        "the multipart 'params' part must be a JSON object",
                    ))
                }
            },
            "blueprint_archive" => archive = Some(bytes),
            _ => {}
        }
    }
    Ok((params, archive))
}
