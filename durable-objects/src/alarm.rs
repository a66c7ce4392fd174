//! The journey's one alarm, shared by its three duties: closing null paths (in the journey,
//! `attrib_core::journey::nulls`), the outbox (to the origin) and postbacks (to ad networks).
//! Each run serves whichever is due, then sets the alarm for the earliest time any needs
//! again. None holds another back: null paths are due at `meta.null_paths.due_ms` (set by the
//! journey engine), the outbox's backoff is kept in `meta.flush_next_ms`, postbacks' in their
//! rows. Closing runs first, so the records it writes leave in the same run's flush.
//!
//! When to fire is decided in `attrib_core::journey::timing` (pure, with the regression tests
//! of the alarm's earlier bugs); this file reads storage into a [`Waiting`] and sets the alarm.

use attrib_core::journey::timing::{
    self, after_flush, after_request, after_run, flush_step, paths_retry_at, paths_step,
    FlushResult, FlushStep, PathsStep, Waiting,
};
use attrib_core::journey::{close_null_paths, JourneyStore, NullPathState};
use worker::{Env, Storage};

use crate::flush;
use crate::meta::Meta;
use crate::postbacks;
use crate::retention;
use crate::store::{SqlJourneyStore, StoreError};

/// Serves every duty; returns when the alarm should fire next.
pub async fn run(store: &SqlJourneyStore, env: &Env) -> Option<i64> {
    let journey = Meta::new(store)
        .key()
        .ok()
        .flatten()
        .map(|k| k.object_name())
        .unwrap_or_default();
    let paths = close_paths_if_due(store);
    // After closing: touches whose null paths just closed may go in the same run.
    let retention = retention::run_if_due(store, flush::now_ms());
    let (outbox, postbacks) = futures_util::future::join(
        flush_if_due(store, env),
        postbacks::send_due(store, env, &journey),
    )
    .await;
    let served = timing::earliest(timing::earliest(outbox, postbacks), paths);
    timing::earliest(served, retention)
}

/// Closes the null paths that are due (records and mark in one transaction); returns when
/// closing is due next.
fn close_paths_if_due(store: &SqlJourneyStore) -> Option<i64> {
    let now = flush::now_ms();
    let retry = |err: &dyn std::fmt::Display| {
        worker::console_error!("closing null paths failed: {err}");
        Some(paths_retry_at(now))
    };
    let state = match store.null_path_state() {
        Ok(state) => state,
        Err(err) => return retry(&err),
    };
    match paths_step(state.due_ms, now) {
        PathsStep::Idle => return None,
        PathsStep::NotYet(due) => return Some(due),
        PathsStep::Close => {}
    }
    let meta = Meta::new(store);
    let context = (|| Ok::<_, StoreError>((meta.merged_into()?, meta.key()?, meta.windows()?)))();
    match context {
        Ok((None, Some(key), Some(windows))) => {
            match close_null_paths(store, &key, &windows, now) {
                Ok(closure) => closure.next_due_ms,
                Err(err) => retry(&err),
            }
        }
        // Merged away (the target closes these touches now), or nothing to close with: the
        // due time is dropped so it does not wake the alarm again.
        Ok(_) => {
            let idle = NullPathState {
                due_ms: None,
                ..state
            };
            match store.set_null_path_state(&idle) {
                Ok(()) => None,
                Err(err) => retry(&err),
            }
        }
        Err(err) => retry(&err),
    }
}

async fn flush_if_due(store: &SqlJourneyStore, env: &Env) -> Option<i64> {
    let meta = Meta::new(store);
    let now = flush::now_ms();
    // A restarted object first finds what its earlier life left unsent.
    let recovered = store.recover_unsent().inspect_err(|err| {
        worker::console_error!("finding unsent events failed: {err}");
    });
    let rows = recovered.is_err() || store.outbox_has_rows().unwrap_or(true) || store.has_unsent();
    match flush_step(rows, meta.flush_next_ms().unwrap_or(0), now) {
        FlushStep::Idle => return None,
        FlushStep::NotYet(at) => return Some(at),
        FlushStep::Send => {}
    }
    let result: FlushResult = flush::flush(store, env).await;
    let now = flush::now_ms();
    let (next, not_before) = after_flush(result, now);
    let _ = meta.set_flush_next_ms(not_before);
    next
}

/// What storage holds now that needs the alarm.
fn waiting(store: &SqlJourneyStore) -> Result<Waiting, StoreError> {
    Ok(Waiting {
        outbox_rows: store.outbox_has_rows()? || store.has_unsent(),
        flush_not_before_ms: Meta::new(store).flush_next_ms()?,
        postback_due_ms: if store.postbacks_idle() {
            None
        } else {
            postbacks::next_due(store)?
        },
        paths_due_ms: store.null_path_state()?.due_ms,
        retention_due_ms: retention::due(store)?,
    })
}

/// After writes: makes sure the alarm fires soon enough for what is now waiting.
pub async fn schedule(store: &SqlJourneyStore, storage: &Storage) -> Result<(), StoreError> {
    let now = flush::now_ms();
    let waiting = waiting(store)?;
    if timing::waiting_work_due(&waiting, now, now).is_none() {
        return Ok(());
    }
    let current = storage.get_alarm().await.map_err(StoreError::from)?;
    if let Some(at) = after_request(&waiting, now, current) {
        storage
            .set_alarm((at - now).max(1))
            .await
            .map_err(StoreError::from)?;
    }
    Ok(())
}

/// Sets the alarm after a run: at `next` (what the run asked for), or earlier when storage
/// holds work the run did not see (written by a request while it awaited).
pub async fn rearm(
    store: &SqlJourneyStore,
    storage: &Storage,
    next: Option<i64>,
) -> worker::Result<()> {
    let now = flush::now_ms();
    let waiting = waiting(store).inspect_err(|err| {
        worker::console_error!("alarm: reading waiting work failed: {err}");
    });
    if let Some(at) = after_run(next, waiting, now) {
        storage.set_alarm(at - now).await?;
    }
    Ok(())
}
