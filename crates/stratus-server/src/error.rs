//! The one place where failures become HTTP: Cloudify's error JSON
//! `{"message", "error_code", "server_traceback"}` with the status clients expect.
//!
//! Handlers return [`ApiError`]; its constructors are named by Cloudify's error codes so a
//! handler reads like the reference's `raise manager_exceptions.NotFoundError(...)`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use stratus_store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found_error", message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict_error", message)
    }
    pub fn bad_parameters(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_parameters_error", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized_error", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden_error", message)
    }
    pub fn invalid_blueprint(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_blueprint_error", message)
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large_error",
            message,
        )
    }
    pub fn unsupported_media(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type_error",
            message,
        )
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            message,
        )
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable_error",
            message,
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, "{}", self.message);
        }
        let body = serde_json::json!({
            "message": self.message,
            "error_code": self.code,
            "server_traceback": null,
        });
        (self.status, axum::Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::Conflict { .. } => ApiError::conflict(error.to_string()),
            StoreError::NotFound { .. } => ApiError::not_found(error.to_string()),
            StoreError::VersionMismatch { .. } => ApiError::conflict(error.to_string()),
            _ => ApiError::internal(format!("store: {error}")),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
