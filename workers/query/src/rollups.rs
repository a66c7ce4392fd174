//! `POST /internal/rollups`: the origin replaces whole days of an app's daily stats, conversion
//! paths and fraud counts (the body is documented in [`crate::contract`]).
//!
//! Signed with the edge–origin secret like outbox batches. Each upsert is one transaction in
//! the read store (a D1 batch, or a Turso BEGIN..COMMIT pipeline): the listed (app, day) pairs
//! are deleted and their rows inserted, and each app's stats version is bumped, so readers see
//! a day either before or after, never half, and cached reads of the app turn into misses.

use attrib_core::rollup::ROLLUP_PATH;
use attrib_core::signing::Direction;
use attrib_core::FieldError;
use attrib_worker_common::body::{read_capped, BodyError};
use attrib_worker_common::response;
use attrib_worker_common::signed::{keyring, verify_signed};
use chrono::DateTime;
use worker::{Date, Env, Request, Response};

use crate::contract::{Invalid, UpsertBody};
use crate::error::QueryError;
use crate::limits::MAX_ROLLUP_BYTES;
use crate::store::{ReadStore, SqlStore};
use crate::versions;

pub async fn upsert(mut req: Request, env: &Env) -> Result<Response, QueryError> {
    let keys = keyring(env, Direction::Rollups)?;
    let body = read_capped(&mut req, MAX_ROLLUP_BYTES)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { limit } => QueryError::TooLarge(FieldError::new(
                "body",
                format!("is larger than {limit} bytes"),
            )),
            BodyError::Unreadable(reason) => QueryError::BadField(FieldError::new("body", reason)),
        })?;
    verify_signed(req.headers(), &keys, ROLLUP_PATH, &body)
        .map_err(|e| QueryError::BadSignature(e.to_string()))?;
    let upsert: UpsertBody = serde_json::from_slice(&body)
        .map_err(|e| QueryError::BadField(FieldError::new("body", e.to_string())))?;
    upsert.validate().map_err(|err| match err {
        Invalid::TooLarge(err) => QueryError::TooLarge(err),
        Invalid::Field(err) => QueryError::BadField(err),
    })?;

    let now_iso = DateTime::from_timestamp_millis(Date::now().as_millis() as i64)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default();
    let store = ReadStore::from_env(env)?;
    // A stale upsert (a late retry, or a replayed signed body) must not roll a day back. The
    // check and the batch are two round trips: each region has one pusher, which sends its
    // upserts one at a time, so only a replay racing that pusher's own push could slip
    // between them, and it would be overwritten by the pusher's next push of the day.
    for check in upsert.stale_checks() {
        let newer: Vec<StoredSeq> = store.rows(&check).await?;
        if let Some(n) = newer.first() {
            return Err(QueryError::Stale(FieldError::new(
                "seq",
                format!(
                    "{} {} already has seq {} in region '{}'",
                    n.app_id, n.day, n.seq, upsert.region
                ),
            )));
        }
    }
    store.batch(&upsert.statements(&now_iso)).await?;
    for app in upsert.apps() {
        versions::forget(app);
    }
    Ok(response::json(200, &upsert.applied())?)
}

#[derive(serde::Deserialize)]
struct StoredSeq {
    app_id: String,
    day: String,
    seq: i64,
}
