//! The origin's HTTP API: `POST /v1/outbox` (signed batches from the Journey Durable
//! Objects), `GET /healthz`, `GET /metrics`, and the admin API (`admin.rs`).

mod admin;
mod erase;
pub mod error;
mod outbox;
// `pub` for the fuzz harness (attrib-fuzz), which feeds the scanner arbitrary bytes.
pub mod scan;
mod serve;

pub use serve::serve;

use std::sync::Arc;

use attrib_core::outbox::OUTBOX_PATH;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::metrics::Metrics;
use crate::spool::Spool;

#[derive(Clone)]
pub struct AppState {
    pub spool: Spool,
    /// Verifies outbox batches (`attrib_core::signing`).
    pub outbox_keys: Arc<attrib_core::signing::Keyring>,
    pub metrics: Arc<Metrics>,
    /// One permit per outbox request being handled (`limits::DEFAULT_MAX_IN_FLIGHT`).
    pub in_flight: Arc<tokio::sync::Semaphore>,
    /// Longest a request body may take to arrive.
    pub request_timeout: std::time::Duration,
    pub dead_letters: crate::dead_letters::DeadLetters,
    /// `ATTRIB_ORIGIN_ADMIN_TOKEN`; the admin API is off without it.
    pub admin_token: Option<Arc<String>>,
    /// The stores `POST /v1/erase` reaches (issue 12).
    pub eraser: Arc<crate::erasure::Eraser>,
    /// Journeys erased lately: their late outbox batches are dropped.
    pub erased: crate::erased_journeys::ErasedJourneys,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(OUTBOX_PATH, post(outbox::receive))
        .route(
            attrib_core::privacy::erasure::ORIGIN_ERASE_PATH,
            post(erase::receive),
        )
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/admin/dead-letters", get(admin::list))
        .route("/admin/dead-letters/replay", post(admin::replay))
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let stats = state.spool.stats();
    let lag: serde_json::Map<String, serde_json::Value> = stats
        .cursors
        .iter()
        .map(|(sink, cursor)| (sink.clone(), stats.next_seq.saturating_sub(*cursor).into()))
        .collect();
    if state.spool.is_healthy() {
        (
            StatusCode::OK,
            Json(serde_json::json!({"status": "ok", "sink_lag_entries": lag})),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "spool_failed", "sink_lag_entries": lag})),
        )
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&state.spool.stats()),
    )
}
