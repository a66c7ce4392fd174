//! `GET /v1/postbacks`: the postback attempt log of the token's app, newest first.
//!
//! Every attempt a Journey object makes is copied to D1's `postback_attempts` (status code,
//! time, error, outcome). Filters: `conversion_id`, `network`, `key` (the idempotency key),
//! `outcome` (`delivered`, `retry`, `failed`), `since` (Unix ms); `limit` up to
//! [`MAX_POSTBACK_ROWS`] (default [`DEFAULT_POSTBACK_ROWS`]).

use attrib_core::limits::MAX_ID_CHARS;
use attrib_core::FieldError;
use attrib_worker_common::apps::DB_BINDING;
use attrib_worker_common::response;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use worker::{Env, Request, Response};

use crate::auth;
use crate::error::QueryError;

pub const DEFAULT_POSTBACK_ROWS: usize = 100;
pub const MAX_POSTBACK_ROWS: usize = 1_000;

#[derive(Debug, Serialize, Deserialize)]
struct AttemptRow {
    postback_key: String,
    attempt: f64,
    network: String,
    conversion_id: String,
    event_name: String,
    journey: String,
    method: String,
    url: String,
    status_code: Option<f64>,
    error: Option<String>,
    outcome: String,
    attempted_at_ms: f64,
    duration_ms: f64,
}

#[derive(Serialize)]
struct Attempt {
    key: String,
    attempt: u32,
    network: String,
    conversion_id: String,
    event_name: String,
    journey: String,
    method: String,
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    outcome: String,
    attempted_at_ms: i64,
    attempted_at: String,
    duration_ms: i64,
}

#[derive(Serialize)]
struct Reply {
    app_id: String,
    attempts: Vec<Attempt>,
}

pub async fn list(req: Request, env: &Env) -> Result<Response, QueryError> {
    let app = auth::app_of(&req, env).await?;
    list_for(env, app.app_id, &req.url()?).await
}

/// The attempt log of `app_id` with the filters of `url` (also the management API's
/// `/admin/v1/apps/{app}/postback-attempts`).
pub async fn list_for(env: &Env, app_id: String, url: &url::Url) -> Result<Response, QueryError> {
    let mut clauses = vec!["app_id = ?1".to_owned()];
    let mut binds: Vec<JsValue> = vec![app_id.as_str().into()];
    let mut limit = DEFAULT_POSTBACK_ROWS;
    for (name, value) in url.query_pairs() {
        let value = value.into_owned();
        let bad = |reason: &str| QueryError::BadField(FieldError::new(name.as_ref(), reason));
        let column = match name.as_ref() {
            "conversion_id" | "network" | "key" => {
                if value.is_empty() || value.chars().count() > MAX_ID_CHARS {
                    return Err(bad(&format!("must be 1 to {MAX_ID_CHARS} characters")));
                }
                match name.as_ref() {
                    "key" => "postback_key = ?",
                    "network" => "network = ?",
                    _ => "conversion_id = ?",
                }
            }
            "outcome" => {
                if !matches!(value.as_str(), "delivered" | "retry" | "failed") {
                    return Err(bad("must be delivered, retry or failed"));
                }
                "outcome = ?"
            }
            "since" => {
                let ms: i64 = value
                    .parse()
                    .map_err(|_| bad("must be Unix milliseconds"))?;
                binds.push(JsValue::from_f64(ms as f64));
                clauses.push(format!("attempted_at_ms >= ?{}", binds.len()));
                continue;
            }
            "limit" => {
                limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_POSTBACK_ROWS).contains(n))
                    .ok_or_else(|| bad(&format!("must be 1 to {MAX_POSTBACK_ROWS}")))?;
                continue;
            }
            _ => return Err(bad("is not a filter of this endpoint")),
        };
        binds.push(value.as_str().into());
        clauses.push(column.replace('?', &format!("?{}", binds.len())));
    }
    let query = format!(
        "SELECT postback_key, attempt, network, conversion_id, event_name, journey, method, url, \
         status_code, error, outcome, attempted_at_ms, duration_ms FROM postback_attempts \
         WHERE {} ORDER BY attempted_at_ms DESC, postback_key, attempt DESC LIMIT {limit}",
        clauses.join(" AND ")
    );
    let rows: Vec<AttemptRow> = env
        .d1(DB_BINDING)?
        .prepare(&query)
        .bind(&binds)?
        .all()
        .await?
        .results()?;
    let attempts = rows
        .into_iter()
        .map(|r| Attempt {
            key: r.postback_key,
            attempt: r.attempt as u32,
            network: r.network,
            conversion_id: r.conversion_id,
            event_name: r.event_name,
            journey: r.journey,
            method: r.method,
            url: r.url,
            status: r.status_code.map(|s| s as u16),
            error: r.error,
            outcome: r.outcome,
            attempted_at_ms: r.attempted_at_ms as i64,
            attempted_at: attrib_core::time::format_millis(r.attempted_at_ms as i64),
            duration_ms: r.duration_ms as i64,
        })
        .collect();
    Ok(response::json(200, &Reply { app_id, attempts })?)
}
