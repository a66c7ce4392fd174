//! `POST /v1/erase` (issue 12): the edge asks the origin to delete the rows of journeys it
//! erased. Signed like the outbox (outbox keys, this path); the body is checked in full before
//! anything is deleted; the answer is each store's status ([`crate::erasure`]).

use attrib_core::outbox::SIGNATURE_HEADER;
use attrib_core::privacy::erasure::{OriginErasure, OriginErasureReply, ORIGIN_ERASE_PATH};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;

use super::error::ApiError;
use super::AppState;
use crate::erasure::{drained, DRAIN_WAIT};
use crate::limits::RETRY_AFTER_SECS;
use crate::spool::now_ms;

pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<OriginErasureReply>, ApiError> {
    let unauthorized = |message: String| {
        ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", message).at(SIGNATURE_HEADER)
    };
    let header = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized(format!("{SIGNATURE_HEADER} is missing")))?;
    let now = chrono::Utc::now().timestamp();
    state
        .outbox_keys
        .verify(header, "POST", ORIGIN_ERASE_PATH, &body, now)
        .map_err(|e| unauthorized(e.to_string()))?;
    let request: OriginErasure = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.to_string()))?;
    request.check().map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.reason.clone()).at(e.field)
    })?;
    // First, so a batch of these journeys still on its way is dropped from now on.
    state
        .erased
        .remember(&request.app_id, &request.journeys, now_ms())
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "erasure_unrecorded",
                format!("{e}; nothing was erased, retry"),
            )
            .retry_after(RETRY_AFTER_SECS)
        })?;
    if !drained(&state.spool, DRAIN_WAIT).await {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "sinks_behind",
            "the sinks have not delivered what was spooled before the erasure; nothing was \
             erased, retry",
        )
        .retry_after(RETRY_AFTER_SECS));
    }
    let stores = state
        .eraser
        .erase(&state.spool, &state.dead_letters, &request)
        .await;
    tracing::info!(app = %request.app_id, journeys = request.journeys.len(), ?stores, "erasure");
    Ok(Json(OriginErasureReply { stores }))
}
