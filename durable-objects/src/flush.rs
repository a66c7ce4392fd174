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
use attrib_core::journey::unsent::{settled_through, WaitingEvent};
use attrib_core::limits::MAX_OUTBOX_RECORDS_PER_BATCH;
use attrib_core::outbox::stored::{event_row_lines, Owner};
use attrib_core::outbox::OUTBOX_PATH;
use attrib_core::outbox_delivery::{rows_per_flush, Delivery, Fate};
use attrib_core::signing::{Direction, Keyring};
use attrib_worker_common::config;
use attrib_worker_common::signed::{keyring, post_signed};
use serde::Deserialize;
use std::borrow::Cow;
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

/// Sends the oldest records (bounded in records and bytes): outbox rows first, then events
/// keeping their records in their rows; splits refused batches. `Ok(true)` when records still
/// wait afterwards. Configuration is checked before anything is read: an origin that cannot
/// be reached costs no reading of records.
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
    let sizes: Vec<RowSize> = if store.outbox_has_rows()? {
        store
            .sql
            .exec(
                "SELECT seq, records, bytes FROM outbox ORDER BY seq LIMIT ?",
                vec![int(MAX_OUTBOX_RECORDS_PER_BATCH as i64)],
            )
            .map_err(StoreError::from)?
            .to_array()
            .map_err(StoreError::from)?
    } else {
        Vec::new()
    };
    let waiting = store.unsent();
    let take = rows_per_flush(
        sizes
            .iter()
            .map(|r| (r.records.max(1.0) as usize, r.bytes.max(0.0) as usize))
            .chain(waiting.iter().map(|w| (w.records, w.bytes))),
    );
    let rows_taken = take.min(sizes.len());
    let events = &waiting[..take - rows_taken];
    let last_row = rows_taken
        .checked_sub(1)
        .and_then(|i| sizes.get(i))
        .map(|r| r.seq as i64);
    if last_row.is_none() && events.is_empty() {
        return Ok(false);
    }
    // Records written while this batch is on its way go to newer rows.
    store.set_flushing_through(last_row);
    let batch = Outgoing {
        key: &key,
        placement: &placement,
        last_row,
        events,
    };
    let sent = send_batch(store, &origin, &keys, &batch).await;
    store.set_flushing_through(None);
    sent?;
    // Requests may have added records while the batch was on its way.
    Ok(store.outbox_has_rows()? || store.has_unsent())
}

/// What one flush takes: outbox rows up to `last_row`, then `events`.
struct Outgoing<'a> {
    key: &'a JourneyKey,
    placement: &'a Placement,
    last_row: Option<i64>,
    events: &'a [WaitingEvent],
}

/// Where a record of a flush comes from: an outbox row, or an event's row (by its place in
/// [`Outgoing::events`]).
#[derive(Clone, Copy, PartialEq)]
enum Source {
    Row(usize),
    Event(usize),
}

/// Sends the batch's records and settles them.
async fn send_batch(
    store: &SqlJourneyStore,
    origin: &str,
    keys: &Keyring,
    batch: &Outgoing<'_>,
) -> Result<(), FlushError> {
    let rows: Vec<Row> = match batch.last_row {
        Some(last) => store
            .sql
            .exec(
                "SELECT seq, body FROM outbox WHERE seq <= ? ORDER BY seq",
                vec![int(last)],
            )
            .map_err(StoreError::from)?
            .to_array()
            .map_err(StoreError::from)?,
        None => Vec::new(),
    };
    let ids: Vec<&str> = batch.events.iter().map(|e| e.message_id.as_str()).collect();
    let mut event_rows = if ids.is_empty() {
        Vec::new()
    } else {
        store.event_rows(&ids)?
    };
    let attributions = store.named_attributions(&event_rows)?;
    let journey = batch.key.object_name();
    let owner = Owner {
        app_id: &batch.key.app_id,
        journey: &journey,
    };
    // (source, record) in send order: the outbox rows' records, then each event's.
    let mut records: Vec<(Source, Cow<'_, str>)> = rows
        .iter()
        .enumerate()
        .flat_map(|(i, row)| {
            row.body
                .split('\n')
                .map(move |r| (Source::Row(i), r.into()))
        })
        .collect();
    let rows_records = records.len();
    for (i, waiting) in batch.events.iter().enumerate() {
        if let Some(at) = event_rows
            .iter()
            .position(|r| r.message_id == waiting.message_id)
        {
            let row = event_rows.swap_remove(at);
            let lines = event_row_lines(&row.body, &row.out, owner, |named| {
                let found = attributions.get(&(named.ts_ms, named.conversion_id.clone()));
                if found.is_none() {
                    worker::console_warn!(
                        "outbox: the attribution of {} is no longer stored",
                        named.conversion_id
                    );
                }
                found.map(String::as_str)
            });
            records.extend(
                lines
                    .into_iter()
                    .map(|line| (Source::Event(i), line.into())),
            );
        }
    }
    let mut delivery = Delivery::new(&records.iter().map(|(_, r)| r.len()).collect::<Vec<_>>());
    let envelope = format!(
        "{{\"journey\":{},\"region\":\"{}\",\"records\":[",
        serde_json::to_string(&journey).map_err(StoreError::from)?,
        batch.placement.origin_region.as_str()
    );
    let mut last_status = None;
    while let Some(range) = delivery.next_batch() {
        // The rows already hold each record's JSON: splice them rather than decode and
        // re-encode.
        let mut body = String::with_capacity(
            envelope.len()
                + records[range.clone()]
                    .iter()
                    .map(|(_, r)| r.len() + 1)
                    .sum::<usize>()
                + 2,
        );
        body.push_str(&envelope);
        for (i, (_, record)) in records[range].iter().enumerate() {
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
    let row_records: Vec<(usize, &str)> = records[..rows_records]
        .iter()
        .map(|(source, record)| match source {
            Source::Row(i) | Source::Event(i) => (*i, record.as_ref()),
        })
        .collect();
    settle(store, &rows, &row_records, &fates[..rows_records])?;
    settle_events(
        store,
        batch.events,
        &records[rows_records..],
        &fates[rows_records..],
    )?;
    if full {
        return Err(FlushError::DeadLettersFull);
    }
    if delivery.failed() {
        return Err(FlushError::NotTaken(last_status));
    }
    Ok(())
}

/// Moves the mark over the events whose records all went (or were dead-lettered), up to the
/// first that did not, with their dead letters, in one transaction. An event whose row is gone
/// (retention) has nothing left to send.
fn settle_events(
    store: &SqlJourneyStore,
    events: &[WaitingEvent],
    records: &[(Source, Cow<'_, str>)],
    fates: &[Fate],
) -> Result<(), StoreError> {
    let mine = |i: usize| {
        records
            .iter()
            .zip(fates)
            .filter(move |((source, _), _)| *source == Source::Event(i))
    };
    let Some(through) = settled_through(
        events
            .iter()
            .enumerate()
            .map(|(i, e)| (e.seq, mine(i).all(|(_, fate)| *fate != Fate::Waiting))),
    ) else {
        return Ok(());
    };
    let refused: Vec<(&str, u16)> = events
        .iter()
        .enumerate()
        .take_while(|(_, e)| e.seq <= through)
        .flat_map(|(i, _)| mine(i))
        .filter_map(|((_, record), fate)| match fate {
            Fate::DeadLettered(status) => Some((record.as_ref(), *status)),
            _ => None,
        })
        .collect();
    let meta = Meta::new(store);
    let settled = if refused.is_empty() {
        meta.set_sent_seq(through)
    } else {
        tx::atomically(
            &store.storage,
            || {
                dead_letters::add(store, &refused, now_ms())?;
                meta.set_sent_seq(through)
            },
            StoreError::Transaction,
        )
    };
    match settled {
        Ok(()) => {
            store.sent_through(through);
            Ok(())
        }
        Err(err) => {
            // Rolled back: the cached mark may not be stored.
            store.forget_meta();
            Err(err)
        }
    }
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
