//! `POST /internal/rollups`: the origin replaces whole days of an app's daily stats, conversion
//! paths and fraud counts (the body is documented in [`crate::contract`]).
//!
//! Signed with the edge–origin secret like outbox batches. Each upsert is one transaction in
//! the read store (a D1 batch, or a Turso BEGIN..COMMIT pipeline): the listed (app, day) pairs
//! are deleted and their rows inserted, and each app's stats version is bumped, so readers see
//! a day either before or after, never half, and cached reads of the app turn into misses.

use attrib_core::FieldError;
use attrib_worker_common::body::{read_capped, BodyError};
use attrib_worker_common::config::{self, EDGE_ORIGIN_SECRET};
use attrib_worker_common::signed::verify_signed;
use attrib_worker_common::{response, EdgeError};
use chrono::DateTime;
use worker::{Date, Env, Request, Response};

use crate::contract::{Invalid, UpsertBody};
use crate::error::QueryError;
use crate::limits::MAX_ROLLUP_BYTES;
use crate::store::{ReadStore, SqlStore};
use crate::versions;

pub async fn upsert(mut req: Request, env: &Env) -> Result<Response, QueryError> {
    let secret = config::secret(env, EDGE_ORIGIN_SECRET).ok_or(EdgeError::Config {
        name: EDGE_ORIGIN_SECRET,
        reason: "not set".into(),
    })?;
    let body = read_capped(&mut req, MAX_ROLLUP_BYTES)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { limit } => QueryError::TooLarge(FieldError::new(
                "body",
                format!("is larger than {limit} bytes"),
            )),
            BodyError::Unreadable(reason) => QueryError::BadField(FieldError::new("body", reason)),
        })?;
    verify_signed(req.headers(), &secret, &body)
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
    store.batch(&upsert.statements(&now_iso)).await?;
    for app in upsert.apps() {
        versions::forget(app);
    }
    Ok(response::json(200, &upsert.applied())?)
}
