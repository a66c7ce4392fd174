//! The JSON bodies every endpoint answers with, and the one way errors become responses.

use attrib_core::FieldError;
use serde::Serialize;
use worker::{Headers, Response};

/// The one error body of every surface: `attrib_core::error::ErrorBody`
/// (`{"success": false, "error": {"code", "message", "field"?, "reason"?}}`).
pub use attrib_core::error::ErrorBody;

/// `attrib_core::error::ErrorDetail` borrowed, for bodies that embed the error beside other
/// fields (the ingest reply); serializes exactly like it.
#[derive(Debug, Serialize)]
pub struct ErrorDetail<'a> {
    pub code: &'a str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

pub fn json<T: Serialize>(status: u16, body: &T) -> worker::Result<Response> {
    Ok(Response::from_json(body)?.with_status(status))
}

pub fn error(status: u16, code: &str, message: impl Into<String>) -> worker::Result<Response> {
    json(status, &ErrorBody::new(code, message))
}

pub fn field_error(status: u16, code: &str, err: &FieldError) -> worker::Result<Response> {
    json(status, &ErrorBody::for_field(code, err))
}

/// A response that must never be cached by intermediaries.
pub fn no_store(mut response: Response) -> worker::Result<Response> {
    response.headers_mut().set("cache-control", "no-store")?;
    Ok(response)
}

/// A 500 that names no internals: the details go to the log, not to the client.
pub fn internal(context: &str, err: &dyn std::fmt::Display) -> worker::Result<Response> {
    worker::console_error!("{context}: {err}");
    error(
        500,
        "internal",
        "internal error; the request can be retried",
    )
}

pub fn empty_with_headers(status: u16, headers: Headers) -> Response {
    Response::empty()
        .map(|r| r.with_status(status).with_headers(headers.clone()))
        .unwrap_or_else(|_| Response::builder().with_status(status).empty())
}
