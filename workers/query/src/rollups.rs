//! `POST /internal/rollups`: the origin replaces whole days of an app's daily stats.
//!
//! Signed with the edge–origin secret like outbox batches. Each upsert is one D1 batch (one
//! transaction): the listed (app, day) pairs are deleted and their rows inserted, so readers
//! see a day either before or after, never half.

use attrib_core::limits::MAX_BATCH_BYTES;
use attrib_core::rollup::RollupUpsert;
use attrib_core::FieldError;
use attrib_worker_common::apps::DB_BINDING;
use attrib_worker_common::body::{read_capped, BodyError};
use attrib_worker_common::config::{self, EDGE_ORIGIN_SECRET};
use attrib_worker_common::signed::verify_signed;
use attrib_worker_common::{response, EdgeError};
use wasm_bindgen::JsValue;
use worker::{D1PreparedStatement, Env, Request, Response};

use crate::error::QueryError;

/// Rows in one upsert; the origin sends larger sets as several upserts, split by day.
pub const MAX_ROLLUP_ROWS: usize = 5_000;
/// Body size of one upsert (a row is well under 1 KB).
pub const MAX_ROLLUP_BYTES: usize = 8 * MAX_BATCH_BYTES;

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
    let upsert: RollupUpsert = serde_json::from_slice(&body)
        .map_err(|e| QueryError::BadField(FieldError::new("body", e.to_string())))?;
    if upsert.rows.len() > MAX_ROLLUP_ROWS {
        return Err(QueryError::TooLarge(FieldError::new(
            "rows",
            format!(
                "has {} rows; the limit is {MAX_ROLLUP_ROWS}",
                upsert.rows.len()
            ),
        )));
    }
    if let Some(stray) = upsert.rows.iter().find(|r| {
        !upsert
            .days
            .iter()
            .any(|d| d.app_id == r.key.app_id && d.day == r.key.day)
    }) {
        return Err(QueryError::BadField(FieldError::new(
            "rows",
            format!(
                "row for {} {} is outside the listed days",
                stray.key.app_id, stray.key.day
            ),
        )));
    }

    let db = env.d1(DB_BINDING)?;
    let mut statements: Vec<D1PreparedStatement> =
        Vec::with_capacity(upsert.days.len() + upsert.rows.len());
    for day in &upsert.days {
        statements.push(
            db.prepare("DELETE FROM daily_stats WHERE app_id = ?1 AND day = ?2")
                .bind(&[day.app_id.as_str().into(), day.day.as_str().into()])?,
        );
    }
    for row in &upsert.rows {
        let k = &row.key;
        let v = &row.values;
        statements.push(
            db.prepare(
                "INSERT INTO daily_stats (app_id, day, source, campaign, model, currency, touches, \
                 conversions, revenue, credited_value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .bind(&[
                k.app_id.as_str().into(),
                k.day.as_str().into(),
                k.source.as_str().into(),
                k.campaign.as_str().into(),
                k.model.as_str().into(),
                k.currency.as_str().into(),
                JsValue::from_f64(v.touches as f64),
                JsValue::from_f64(v.conversions),
                JsValue::from_f64(v.revenue),
                JsValue::from_f64(v.credited_value),
            ])?,
        );
    }
    if !statements.is_empty() {
        db.batch(statements).await?;
    }
    Ok(response::json(
        200,
        &serde_json::json!({"days": upsert.days.len(), "rows": upsert.rows.len()}),
    )?)
}
