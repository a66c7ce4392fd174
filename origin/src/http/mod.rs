//! The origin's HTTP API: `POST /v1/outbox` (signed batches from the Journey Durable
//! Objects), `GET /healthz` and `GET /metrics`.

pub mod error;
mod outbox;
// `pub` for the fuzz harness (attrib-fuzz), which feeds the scanner arbitrary bytes.
pub mod scan;

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
    pub secret: Arc<Vec<u8>>,
    pub metrics: Arc<Metrics>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route(OUTBOX_PATH, post(outbox::receive))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
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
