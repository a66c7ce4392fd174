//! The origin's admin API (bearer `ATTRIB_ORIGIN_ADMIN_TOKEN`; off when it is not set):
//!
//! - `GET /admin/dead-letters[?sink=kafka]`: records refused for good, oldest first (at most
//!   `dead_letters::MAX_LISTED`), `{"dead_letters":[{sink, seq, index, id, app_id, kind,
//!   reason, dead_at_ms, record}]}`.
//! - `POST /admin/dead-letters/replay` `{"sink":"kafka","ids":["event:app:m1"]}` (`ids`
//!   optional: all of the sink's): queued to be sent to that sink again, `{"queued":n}`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::AppState;
use crate::dead_letters::DeadLetterError;

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(token) = state.admin_token.as_deref() else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_disabled",
            "the admin API is off: set ATTRIB_ORIGIN_ADMIN_TOKEN",
        ));
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Digests compared, so the comparison's time says nothing about the token.
    if Sha256::digest(given.as_bytes()) == Sha256::digest(token.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "send the admin token as Authorization: Bearer <token>",
        )
        .at("authorization"))
    }
}

fn store_error(err: DeadLetterError) -> ApiError {
    match err {
        DeadLetterError::UnknownSink(sink) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("no sink named {sink}"),
        )
        .at("sink"),
        other => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            other.to_string(),
        ),
    }
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Result<Json<serde_json::Value>, ApiError> {
    authorize(&state, &headers)?;
    // `?sink=<name>`: sink names are plain words, nothing to decode.
    let sink = uri
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("sink="));
    let letters = state.dead_letters.list(sink).map_err(store_error)?;
    Ok(Json(serde_json::json!({ "dead_letters": letters })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    sink: String,
    #[serde(default)]
    ids: Option<Vec<String>>,
}

pub async fn replay(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    authorize(&state, &headers)?;
    let body: ReplayBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.to_string()).at("body")
    })?;
    let queued = state
        .dead_letters
        .queue_replay(&body.sink, body.ids.as_deref())
        .map_err(store_error)?;
    Ok(Json(serde_json::json!({ "queued": queued })))
}
