//! Sending the outbox to the origin from the object's alarm, until it is acknowledged.
//!
//! Rows leave the outbox only when the origin answered 2xx, which it does only once the batch
//! is durable in its spool. Anything else (no origin configured, network error, 5xx, even a
//! 4xx) keeps the rows and retries with exponential backoff: an event is never dropped here.

use attrib_core::limits::MAX_OUTBOX_RECORDS_PER_BATCH;
use attrib_core::outbox::OUTBOX_PATH;
use attrib_core::signing::Direction;
use attrib_worker_common::config;
use attrib_worker_common::signed::{keyring, post_signed};
use serde::Deserialize;
use worker::{Date, Env, SqlStorageValue};

use crate::meta::Meta;
use crate::store::{SqlJourneyStore, StoreError};

/// Delay between recording and the first flush: lets a burst share one batch.
pub const FLUSH_DELAY_MS: i64 = 50;
pub const FLUSH_BACKOFF_BASE_MS: i64 = 1_000;
pub const FLUSH_BACKOFF_MAX_MS: i64 = 5 * 60 * 1_000;

#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("origin not configured: {0}")]
    NotConfigured(String),
    #[error("origin unreachable: {0}")]
    Unreachable(String),
    #[error("origin answered {0}")]
    Refused(u16),
}

#[derive(Deserialize)]
struct Row {
    seq: f64,
    body: String,
}

/// What the alarm should do next.
pub enum Next {
    Idle,
    /// More rows are waiting, or a retry: set the alarm this many ms from now.
    In(i64),
}

pub async fn flush(store: &SqlJourneyStore, env: &Env) -> Next {
    let meta = Meta::new(store);
    match send_one_batch(store, env).await {
        Ok(sent_all) => {
            let _ = meta.set_flush_attempts(0);
            if sent_all {
                Next::Idle
            } else {
                Next::In(0)
            }
        }
        Err(err) => {
            let attempts = meta.flush_attempts().unwrap_or(0).saturating_add(1);
            let _ = meta.set_flush_attempts(attempts);
            worker::console_warn!("outbox flush attempt {attempts} failed: {err}");
            Next::In(backoff_ms(attempts))
        }
    }
}

pub fn backoff_ms(attempts: u32) -> i64 {
    let exponent = attempts.saturating_sub(1).min(20);
    (FLUSH_BACKOFF_BASE_MS << exponent).min(FLUSH_BACKOFF_MAX_MS)
}

/// Sends the oldest batch; `Ok(true)` when the outbox is empty afterwards. Configuration is checked
/// before any row is read: an origin that cannot be reached costs no reading of records.
async fn send_one_batch(store: &SqlJourneyStore, env: &Env) -> Result<bool, FlushError> {
    let meta = Meta::new(store);
    let (Some(key), Some(placement)) = (meta.key()?, meta.placement()?) else {
        return Err(FlushError::NotConfigured("journey has no key yet".into()));
    };
    let origin = config::origin_url(env, placement.origin_region)
        .map_err(|e| FlushError::NotConfigured(e.to_string()))?
        .ok_or_else(|| FlushError::NotConfigured(config::ORIGIN_URLS.into()))?;
    let keys =
        keyring(env, Direction::Outbox).map_err(|e| FlushError::NotConfigured(e.to_string()))?;
    let rows: Vec<Row> = store
        .sql
        .exec(
            "SELECT seq, body FROM outbox ORDER BY seq LIMIT ?",
            vec![SqlStorageValue::Integer(
                MAX_OUTBOX_RECORDS_PER_BATCH as i64,
            )],
        )
        .map_err(StoreError::from)?
        .to_array()
        .map_err(StoreError::from)?;
    let Some(last) = rows.last() else {
        return Ok(true);
    };
    let last_seq = last.seq as i64;

    // The rows already hold each record's JSON: splice them rather than decode and re-encode.
    let mut body =
        String::with_capacity(rows.iter().map(|r| r.body.len() + 1).sum::<usize>() + 128);
    body.push_str("{\"journey\":");
    body.push_str(&serde_json::to_string(&key.object_name()).map_err(StoreError::from)?);
    body.push_str(",\"region\":\"");
    body.push_str(placement.origin_region.as_str());
    body.push_str("\",\"records\":[");
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&row.body);
    }
    body.push_str("]}");

    let response = post_signed(&origin, OUTBOX_PATH, &keys, &body)
        .await
        .map_err(|e| FlushError::Unreachable(e.to_string()))?;
    let status = response.status_code();
    if !(200..300).contains(&status) {
        return Err(FlushError::Refused(status));
    }
    store
        .sql
        .exec(
            "DELETE FROM outbox WHERE seq <= ?",
            vec![SqlStorageValue::Integer(last_seq)],
        )
        .map_err(StoreError::from)?;
    // Requests may have added rows while the batch was on its way.
    Ok(!store.outbox_has_rows()?)
}

pub fn now_ms() -> i64 {
    Date::now().as_millis() as i64
}
