//! Retention (issue 12): the alarm removes raw events and touches older than the app's
//! `retention_days`, at most [`MAX_RETENTION_DELETES_PER_RUN`] of each per run. When to run and
//! what to remove are decided in `attrib_core::journey::timing` (pure, unit-tested); this file
//! keeps the state in meta and does the deletes. Conversions and their attribution results
//! are never removed here; touches wait until their null paths are closed.

use attrib_core::journey::timing::{
    retention_after_request, retention_cutoff, retention_next_due, RetentionState,
    RETENTION_MIN_INTERVAL_MS,
};
use attrib_core::journey::JourneyStore;
use attrib_core::limits::MAX_RETENTION_DELETES_PER_RUN;
use serde::Deserialize;

use crate::extras::Extra;
use crate::meta::Meta;
use crate::store::{int, SqlJourneyStore, StoreError};

#[derive(Deserialize)]
struct MaybeTime {
    ts: Option<f64>,
}

/// After events were stored (a request, or a merge's import): keeps the app's days and brings
/// the due time forward to when the oldest of them expires.
pub fn note_events(
    store: &SqlJourneyStore,
    days: u32,
    oldest_event_ms: Option<i64>,
    now_ms: i64,
) -> Result<(), StoreError> {
    let meta = Meta::new(store);
    if let Some(state) = retention_after_request(meta.retention()?, days, oldest_event_ms, now_ms) {
        meta.set_retention(&state)?;
    }
    Ok(())
}

/// When the alarm is needed for retention next.
pub fn due(store: &SqlJourneyStore) -> Result<Option<i64>, StoreError> {
    Ok(Meta::new(store).retention()?.and_then(|s| s.due_ms))
}

/// Removes what has expired if retention is due; returns when it is due next.
pub fn run_if_due(store: &SqlJourneyStore, now_ms: i64) -> Option<i64> {
    match run(store, now_ms) {
        Ok(next) => next,
        Err(err) => {
            worker::console_error!("retention failed: {err}");
            let retry = now_ms + RETENTION_MIN_INTERVAL_MS;
            if let Ok(Some(state)) = Meta::new(store).retention() {
                let _ = Meta::new(store).set_retention(&RetentionState {
                    due_ms: Some(retry),
                    ..state
                });
            }
            Some(retry)
        }
    }
}

fn run(store: &SqlJourneyStore, now_ms: i64) -> Result<Option<i64>, StoreError> {
    let meta = Meta::new(store);
    let Some(state) = meta.retention()? else {
        return Ok(None);
    };
    match state.due_ms {
        None => return Ok(None),
        Some(due) if now_ms < due => return Ok(Some(due)),
        Some(_) => {}
    }
    let cutoff = retention_cutoff(
        state.days,
        store.null_path_state()?.closed_through_ms,
        now_ms,
    );
    let limit = MAX_RETENTION_DELETES_PER_RUN;
    let (events, touches) = store.atomically(|| {
        let events = delete_before(store, "events", "message_id", cutoff.events_before_ms)?;
        let touches = match cutoff.touches_before_ms {
            Some(before) if store.has(Extra::Touches)? => {
                delete_before(store, "touches", "ts_ms, touch_id", before)?
            }
            _ => 0,
        };
        // A pending postback's raw device ids (issue 10, scope 5) never outlive the events.
        if store.has(Extra::Postbacks)? {
            store.sql.exec(
                "UPDATE postbacks SET device_ids = NULL \
                 WHERE device_ids IS NOT NULL AND created_ms < ?",
                vec![int(cutoff.events_before_ms)],
            )?;
        }
        Ok::<_, StoreError>((events, touches))
    })?;
    if events > 0 {
        store.forget_activity();
    }
    let oldest_touch = store.reading(Extra::Touches, || oldest(store, "touches"))?;
    let oldest = [oldest(store, "events")?, oldest_touch]
        .into_iter()
        .flatten()
        .min();
    let full = events >= limit || touches >= limit;
    let due_ms = retention_next_due(state.days, full, oldest, now_ms);
    meta.set_retention(&RetentionState { due_ms, ..state })?;
    if events + touches > 0 {
        worker::console_log!("retention: removed {events} events and {touches} touches");
    }
    Ok(due_ms)
}

/// Deletes the oldest rows before `before_ms`, at most a batch (walks the time index).
fn delete_before(
    store: &SqlJourneyStore,
    table: &str,
    id: &str,
    before_ms: i64,
) -> Result<usize, StoreError> {
    // Rows written would count index entries too: the deleted rows are counted as returned.
    let cursor = store.sql.exec(
        &format!(
            "DELETE FROM {table} WHERE ({id}) IN \
             (SELECT {id} FROM {table} WHERE ts_ms < ? ORDER BY ts_ms LIMIT ?) RETURNING 1 AS gone"
        ),
        vec![int(before_ms), int(MAX_RETENTION_DELETES_PER_RUN as i64)],
    )?;
    let mut removed = 0;
    for row in cursor.raw() {
        row?;
        removed += 1;
    }
    Ok(removed)
}

fn oldest(store: &SqlJourneyStore, table: &str) -> Result<Option<i64>, StoreError> {
    let rows: Vec<MaybeTime> = store
        .sql
        .exec(&format!("SELECT min(ts_ms) AS ts FROM {table}"), None)?
        .to_array()?;
    Ok(rows.first().and_then(|r| r.ts).map(|t| t as i64))
}
