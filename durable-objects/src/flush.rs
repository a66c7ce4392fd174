//! Sending the outbox to the origin from the object's alarm, until it is acknowledged.
//!
//! Rows leave the outbox only when the origin answered 2xx, which it does only once the batch
//! is durable in its spool, or when the origin refused a record on its own for good: such a
//! record moves to the dead letters ([`crate::dead_letters`]), in the same transaction. Which
//! rows make a flush, how answers are read and how a refused batch is split are decided in
//! `attrib_core::outbox_delivery`; this file reads, posts and writes the outcome. Transient
//! failures keep the rows and back off (`attrib_core::journey::timing`).
//!
//! An outbox row holds the records one call wrote, one JSON record per line (records are
//! compact JSON, so they hold no raw newline); rows of older objects hold one record each.

use attrib_core::geo::Placement;
use attrib_core::identity::JourneyKey;
use attrib_core::journey::timing::FlushResult;
use attrib_core::limits::MAX_OUTBOX_RECORDS_PER_BATCH;
use attrib_core::outbox::OUTBOX_PATH;
use attrib_core::outbox_delivery::{rows_per_flush, Delivery, Fate};
use attrib_core::signing::{Direction, Keyring};
use attrib_worker_common::config;
use attrib_worker_common::signed::{keyring, post_signed};
use serde::Deserialize;
use worker::{Date, Env};

use crate::dead_letters;
use crate::meta::Meta;
use crate::store::{int, text, SqlJourneyStore, StoreError};
use crate::tx;

#[derive(Debug, thiserror::Error)]
pub enum FlushError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("origin not configured: {0}")]
    NotConfigured(String),
    #[error("origin did not take the batch (last answer {0:?})")]
    NotTaken(Option<u16>),
    #[error("the dead letters are full: refused records stay in the outbox")]
    DeadLettersFull,
}

#[derive(Deserialize)]
struct RowSize {
    seq: f64,
    records: f64,
    bytes: f64,
}

#[derive(Deserialize)]
struct Row {
    seq: f64,
    body: String,
}

/// One flush; the alarm decides from its result when to come back.
pub async fn flush(store: &SqlJourneyStore, env: &Env) -> FlushResult {
    let meta = Meta::new(store);
    match send(store, env).await {
        Ok(more_waiting) => {
            let _ = meta.set_flush_attempts(0);
            if more_waiting {
                FlushResult::MoreWaiting
            } else {
                FlushResult::Drained
            }
        }
        Err(err) => {
            let attempts = meta.flush_attempts().unwrap_or(0).saturating_add(1);
            let _ = meta.set_flush_attempts(attempts);
            worker::console_warn!("outbox flush attempt {attempts} failed: {err}");
            FlushResult::Failed { attempts }
        }
    }
}

/// Sends the oldest rows (bounded in records and bytes), splitting refused batches; `Ok(true)`
/// when rows still wait afterwards. Configuration is checked before any row is read: an origin
/// that cannot be reached costs no reading of records.
async fn send(store: &SqlJourneyStore, env: &Env) -> Result<bool, FlushError> {
    let meta = Meta::new(store);
    let (Some(key), Some(placement)) = (meta.key()?, meta.placement()?) else {
        return Err(FlushError::NotConfigured("journey has no key yet".into()));
    };
    let origin = config::origin_url(env, placement.origin_region)
        .map_err(|e| FlushError::NotConfigured(e.to_string()))?
        .ok_or_else(|| FlushError::NotConfigured(config::ORIGIN_URLS.into()))?;
    let keys =
        keyring(env, Direction::Outbox).map_err(|e| FlushError::NotConfigured(e.to_string()))?;
    let sizes: Vec<RowSize> = store
        .sql
        .exec(
            "SELECT seq, records, bytes FROM outbox ORDER BY seq LIMIT ?",
            vec![int(MAX_OUTBOX_RECORDS_PER_BATCH as i64)],
        )
        .map_err(StoreError::from)?
        .to_array()
        .map_err(StoreError::from)?;
    let take = rows_per_flush(
        sizes
            .iter()
            .map(|r| (r.records.max(1.0) as usize, r.bytes.max(0.0) as usize)),
    );
    let Some(last) = take.checked_sub(1).and_then(|i| sizes.get(i)) else {
        return Ok(false);
    };
    // Records written while this batch is on its way go to newer rows.
    store.set_flushing_through(Some(last.seq as i64));
    let sent = send_rows(store, &origin, &keys, &key, &placement, last.seq as i64).await;
    store.set_flushing_through(None);
    sent?;
    // Requests may have added rows while the batch was on its way.
    Ok(store.outbox_has_rows()?)
}

/// Sends the rows up to `last_seq` and settles them.
async fn send_rows(
    store: &SqlJourneyStore,
    origin: &str,
    keys: &Keyring,
    key: &JourneyKey,
    placement: &Placement,
    last_seq: i64,
) -> Result<(), FlushError> {
    let rows: Vec<Row> = store
        .sql
        .exec(
            "SELECT seq, body FROM outbox WHERE seq <= ? ORDER BY seq",
            vec![int(last_seq)],
        )
        .map_err(StoreError::from)?
        .to_array()
        .map_err(StoreError::from)?;
    // (row, record) in send order.
    let records: Vec<(usize, &str)> = rows
        .iter()
        .enumerate()
        .flat_map(|(i, row)| row.body.split('\n').map(move |r| (i, r)))
        .collect();
    let mut delivery = Delivery::new(&records.iter().map(|(_, r)| r.len()).collect::<Vec<_>>());
    let envelope = format!(
        "{{\"journey\":{},\"region\":\"{}\",\"records\":[",
        serde_json::to_string(&key.object_name()).map_err(StoreError::from)?,
        placement.origin_region.as_str()
    );
    let mut last_status = None;
    while let Some(batch) = delivery.next_batch() {
        // The rows already hold each record's JSON: splice them rather than decode and
        // re-encode.
        let mut body = String::with_capacity(
            envelope.len()
                + records[batch.clone()]
                    .iter()
                    .map(|(_, r)| r.len() + 1)
                    .sum::<usize>()
                + 2,
        );
        body.push_str(&envelope);
        for (i, (_, record)) in records[batch].iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(record);
        }
        body.push_str("]}");
        last_status = match post_signed(origin, OUTBOX_PATH, keys, &body).await {
            Ok(response) => Some(response.status_code()),
            Err(err) => {
                worker::console_warn!("outbox: origin unreachable: {err}");
                None
            }
        };
        delivery.answered(last_status);
    }
    // Dead letters beyond their bound stay in the outbox, and the flush backs off.
    let mut room = dead_letters::room(store)?;
    let mut full = false;
    let fates: Vec<Fate> = delivery
        .fates()
        .iter()
        .map(|fate| match fate {
            Fate::DeadLettered(_) if room == 0 => {
                full = true;
                Fate::Waiting
            }
            Fate::DeadLettered(_) => {
                room -= 1;
                *fate
            }
            other => *other,
        })
        .collect();
    settle(store, &rows, &records, &fates)?;
    if full {
        return Err(FlushError::DeadLettersFull);
    }
    if delivery.failed() {
        return Err(FlushError::NotTaken(last_status));
    }
    Ok(())
}

/// Writes what became of the records, in one transaction: rows whose records all went (or
/// were dead-lettered) are deleted, rows partly settled keep what is left, refused records
/// move to the dead letters.
fn settle(
    store: &SqlJourneyStore,
    rows: &[Row],
    records: &[(usize, &str)],
    fates: &[Fate],
) -> Result<(), StoreError> {
    let now = now_ms();
    if fates.iter().all(|f| *f == Fate::Delivered) {
        // The usual case: one statement.
        let Some(last) = rows.last() else {
            return Ok(());
        };
        store.sql.exec(
            "DELETE FROM outbox WHERE seq <= ?",
            vec![int(last.seq as i64)],
        )?;
        return Ok(());
    }
    let settled = tx::atomically(
        &store.storage,
        || {
            let mut refused = Vec::new();
            for (i, row) in rows.iter().enumerate() {
                let mine = records
                    .iter()
                    .zip(fates)
                    .filter(|((r, _), _)| *r == i)
                    .map(|((_, record), fate)| (*record, *fate));
                let (mut left, mut settled) = (Vec::new(), 0usize);
                for (record, fate) in mine {
                    match fate {
                        Fate::Waiting => left.push(record),
                        Fate::Delivered => settled += 1,
                        Fate::DeadLettered(status) => {
                            refused.push((record, status));
                            settled += 1;
                        }
                    }
                }
                if settled == 0 {
                    continue;
                }
                if left.is_empty() {
                    store.sql.exec(
                        "DELETE FROM outbox WHERE seq = ?",
                        vec![int(row.seq as i64)],
                    )?;
                } else {
                    let body = left.join("\n");
                    store.sql.exec(
                        "UPDATE outbox SET body = ?, records = ?, bytes = ? WHERE seq = ?",
                        vec![
                            text(&body),
                            int(left.len() as i64),
                            int(body.len() as i64),
                            int(row.seq as i64),
                        ],
                    )?;
                }
            }
            dead_letters::add(store, &refused, now)
        },
        StoreError::Transaction,
    );
    if settled.is_err() {
        // Rolled back: meta values cached during it may not be stored.
        store.forget_meta();
    }
    settled
}

pub fn now_ms() -> i64 {
    Date::now().as_millis() as i64
}
