//! The OpenAPI document of the endpoints Stratus serves, for clients and for fuzzing the
//! handlers (schemathesis reads it). Written by hand from the routes in `app.rs`.

use axum::response::{IntoResponse, Response};

pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn handle_document() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        DOCUMENT,
    )
        .into_response()
}
