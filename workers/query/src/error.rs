//! Every way a query can fail, and the one place they become responses.
//!
//! Client mistakes are 4xx with the JSON error shape of `attrib_worker_common::response`
//! (naming the field and the reason); store outages are 503 (retry); configuration and
//! runtime faults are 500 with the details in the log only.

use attrib_core::FieldError;
use attrib_worker_common::{response, EdgeError};
use worker::Response;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("no such endpoint")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("read token missing")]
    MissingToken,
    #[error("read token not recognised")]
    UnknownToken,
    #[error("signature rejected: {0}")]
    BadSignature(String),
    #[error("{0}")]
    BadField(FieldError),
    #[error("too large: {0}")]
    TooLarge(FieldError),
    /// A rollup computed from older facts than the stored one (issue 13, finding 3/9).
    #[error("stale: {0}")]
    Stale(FieldError),
    /// Well-formed, but the data cannot answer it (e.g. a Markov order too high for the
    /// number of channels).
    #[error("cannot answer: {0}")]
    Unanswerable(FieldError),
    /// Management API: no or unknown credentials.
    #[error("not authenticated: {0}")]
    AdminUnauthenticated(FieldError),
    /// Authenticated, but this credential may not do this.
    #[error("forbidden: {0}")]
    Forbidden(FieldError),
    /// Compare-and-set lost, or an id is taken.
    #[error("conflict: {0}")]
    Conflict(FieldError),
    /// A management resource that does not exist (or not in this app).
    #[error("{0}")]
    Missing(String),
    #[error("no journey {0}")]
    NoJourney(String),
    #[error("the journey is unavailable: {0}")]
    JourneyUnavailable(String),
    #[error("read store failed: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Edge(#[from] EdgeError),
    #[error(transparent)]
    Runtime(#[from] worker::Error),
}

impl QueryError {
    pub fn into_response(self) -> worker::Result<Response> {
        match self {
            QueryError::NotFound => response::error(404, "not_found", "no such endpoint"),
            QueryError::MethodNotAllowed => response::error(
                405,
                "method_not_allowed",
                "this endpoint does not take this method",
            ),
            QueryError::MissingToken => response::field_error(
                401,
                "missing_token",
                &FieldError::new(
                    "authorization",
                    "send the read token as Authorization: Bearer <token>",
                ),
            ),
            QueryError::UnknownToken => response::field_error(
                401,
                "invalid_token",
                &FieldError::new("authorization", "is not a live read token"),
            ),
            QueryError::BadSignature(reason) => response::error(401, "invalid_signature", reason),
            QueryError::BadField(err) => response::field_error(400, "invalid_request", &err),
            QueryError::TooLarge(err) => response::field_error(413, "too_large", &err),
            QueryError::Stale(err) => response::field_error(409, "stale_rollup", &err),
            QueryError::Unanswerable(err) => response::field_error(422, "unanswerable", &err),
            QueryError::AdminUnauthenticated(err) => {
                response::field_error(401, "invalid_token", &err)
            }
            QueryError::Forbidden(err) => response::field_error(403, "forbidden", &err),
            QueryError::Conflict(err) => response::field_error(409, "conflict", &err),
            QueryError::Missing(message) => response::error(404, "not_found", message),
            QueryError::NoJourney(id) => response::error(
                404,
                "no_journey",
                format!("no journey for {id} in this app"),
            ),
            QueryError::JourneyUnavailable(reason) => {
                worker::console_error!("journey unavailable: {reason}");
                response::error(503, "unavailable", "the journey could not be read; retry")
            }
            QueryError::Store(StoreError::Edge(err)) => response::internal("query", &err),
            QueryError::Store(err) => {
                worker::console_error!("read store: {err}");
                response::error(
                    503,
                    "store_unavailable",
                    "the stats store could not be read; retry",
                )
            }
            QueryError::Edge(err) => response::internal("query", &err),
            QueryError::Runtime(err) => response::internal("query", &err),
        }
    }
}
