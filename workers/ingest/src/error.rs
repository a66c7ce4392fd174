//! Every way an ingest request can fail, and the one place they become responses.

use attrib_core::decompress::DecompressError;
use attrib_core::ratelimit::RATE_LIMIT_PERIOD_SECS;
use attrib_core::segment::RequestError;
use attrib_core::FieldError;
use attrib_worker_common::body::BodyError;
use attrib_worker_common::{response, EdgeError};
use worker::Response;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("no such endpoint")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("write key missing")]
    MissingWriteKey,
    #[error("write key not recognised")]
    UnknownWriteKey,
    #[error("body too large")]
    BodyTooLarge(usize),
    #[error("rate limited")]
    RateLimited,
    #[error(transparent)]
    BadRequest(#[from] RequestError),
    #[error(transparent)]
    Encoding(#[from] DecompressError),
    #[error("{0}")]
    BadField(FieldError),
    #[error("unknown tracking link")]
    UnknownLink,
    #[error("a journey is unavailable: {0}")]
    JourneyUnavailable(String),
    #[error(transparent)]
    Edge(#[from] EdgeError),
    #[error(transparent)]
    Runtime(#[from] worker::Error),
}

impl From<BodyError> for IngestError {
    fn from(err: BodyError) -> Self {
        match err {
            BodyError::TooLarge { limit } => IngestError::BodyTooLarge(limit),
            BodyError::Unreadable(reason) => IngestError::BadField(FieldError::new("body", reason)),
        }
    }
}

impl IngestError {
    pub fn into_response(self) -> worker::Result<Response> {
        match self {
            IngestError::NotFound => response::error(404, "not_found", "no such endpoint"),
            IngestError::MethodNotAllowed => {
                response::error(405, "method_not_allowed", "this endpoint takes POST")
            }
            IngestError::MissingWriteKey => response::field_error(
                401,
                "missing_write_key",
                &FieldError::new(
                    "writeKey",
                    "send the write key as the HTTP Basic user name or as writeKey in the body",
                ),
            ),
            IngestError::UnknownWriteKey => response::field_error(
                401,
                "invalid_write_key",
                &FieldError::new("writeKey", "is not a live write key"),
            ),
            IngestError::RateLimited => {
                let mut reply = response::error(
                    429,
                    "rate_limited",
                    format!("too many requests; retry after {RATE_LIMIT_PERIOD_SECS} seconds"),
                )?;
                reply
                    .headers_mut()
                    .set("retry-after", &RATE_LIMIT_PERIOD_SECS.to_string())?;
                Ok(reply)
            }
            IngestError::BodyTooLarge(limit) => response::field_error(
                413,
                "body_too_large",
                &FieldError::new("body", format!("is larger than {limit} bytes")),
            ),
            IngestError::BadRequest(err) => {
                let status = match err {
                    RequestError::BodyTooLarge { .. } => 413,
                    _ => 400,
                };
                response::field_error(status, "invalid_request", &err.field_error())
            }
            IngestError::BadField(err) => response::field_error(400, "invalid_request", &err),
            IngestError::Encoding(err) => {
                let (status, field) = match err {
                    DecompressError::Unsupported(_) => (415, "Content-Encoding"),
                    DecompressError::TooLarge { .. } => (413, "body"),
                    DecompressError::Corrupt(_) | DecompressError::Truncated => (400, "body"),
                };
                let code = if status == 413 {
                    "body_too_large"
                } else {
                    "invalid_encoding"
                };
                response::field_error(status, code, &FieldError::new(field, err.to_string()))
            }
            IngestError::UnknownLink => {
                response::error(404, "unknown_link", "no such tracking link")
            }
            IngestError::JourneyUnavailable(reason) => {
                worker::console_error!("journey unavailable: {reason}");
                response::error(
                    503,
                    "unavailable",
                    "events were not all stored; retry the request",
                )
            }
            IngestError::Edge(err) => response::internal("ingest", &err),
            IngestError::Runtime(err) => response::internal("ingest", &err),
        }
    }
}
