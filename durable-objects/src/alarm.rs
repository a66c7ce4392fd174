//! The journey's one alarm, shared by its three duties: closing null paths (in the journey,
//! `attrib_core::journey::nulls`), the outbox (to the origin) and postbacks (to ad networks).
//! Each run serves whichever is due, then sets the alarm for the earliest time any needs
//! again. None holds another back: null paths are due at `meta.null_paths.due_ms` (set by the
//! journey engine), the outbox's backoff is kept in `meta.flush_next_ms`, postbacks' in their
//! rows. Closing runs first, so the records it writes leave in the same run's flush.
//!
//! Requests run while the alarm awaits the origin or a network, and `getAlarm` answers null
//! while an alarm runs, so a request's [`schedule`] sets a new alarm that the run's own
//! [`rearm`] would overwrite. `rearm` therefore reads what is waiting in storage at the end of
//! the run and never sets a time later than that needs.

use attrib_core::journey::{close_null_paths, JourneyStore, NullPathState};
use worker::{Env, Storage};

use crate::flush::{self, Next, FLUSH_DELAY_MS};
use crate::meta::Meta;
use crate::postbacks;
use crate::store::{SqlJourneyStore, StoreError};

/// When closing null paths failed (storage), the alarm tries again this much later.
pub const PATHS_RETRY_MS: i64 = 30_000;

/// Serves every duty; returns when the alarm should fire next.
pub async fn run(store: &SqlJourneyStore, env: &Env) -> Option<i64> {
    let journey = Meta::new(store)
        .key()
        .ok()
        .flatten()
        .map(|k| k.object_name())
        .unwrap_or_default();
    let paths = close_paths_if_due(store);
    let (outbox, postbacks) = futures_util::future::join(
        flush_if_due(store, env),
        postbacks::send_due(store, env, &journey),
    )
    .await;
    earliest(earliest(outbox, postbacks), paths)
}

/// Closes the null paths that are due (records and mark in one transaction); returns when
/// closing is due next.
fn close_paths_if_due(store: &SqlJourneyStore) -> Option<i64> {
    let now = flush::now_ms();
    let retry = |err: &dyn std::fmt::Display| {
        worker::console_error!("closing null paths failed: {err}");
        Some(now + PATHS_RETRY_MS)
    };
    let state = match store.null_path_state() {
        Ok(state) => state,
        Err(err) => return retry(&err),
    };
    let due = state.due_ms?;
    if now < due {
        return Some(due);
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
    if !store.outbox_has_rows().unwrap_or(true) {
        return None;
    }
    let not_before = meta.flush_next_ms().unwrap_or(0);
    if now < not_before {
        return Some(not_before);
    }
    match flush::flush(store, env).await {
        Next::Idle => {
            let _ = meta.set_flush_next_ms(0);
            None
        }
        Next::In(0) => Some(now),
        Next::In(delay) => {
            let at = now + delay;
            let _ = meta.set_flush_next_ms(at);
            Some(at)
        }
    }
}

fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// After writes: makes sure the alarm fires soon enough for what is now waiting (new outbox
/// rows [`FLUSH_DELAY_MS`] from now unless the outbox is backing off, new postbacks at once,
/// null paths when they fall due).
pub async fn schedule(store: &SqlJourneyStore, storage: &Storage) -> Result<(), StoreError> {
    let now = flush::now_ms();
    let Some(wanted) = waiting_work_due(store, now, now + FLUSH_DELAY_MS)? else {
        return Ok(());
    };
    let current = storage.get_alarm().await.map_err(StoreError::from)?;
    if current.is_none_or(|at| at > wanted) {
        storage
            .set_alarm(wanted - now)
            .await
            .map_err(StoreError::from)?;
    }
    Ok(())
}

/// When what storage holds now needs the alarm: outbox rows after their backoff (at least
/// [`FLUSH_DELAY_MS`] from now, so writes close together leave in one batch), pending
/// postbacks, the null-path due time. A due time already past is served no sooner than
/// `overdue_paths_at`.
fn waiting_work_due(
    store: &SqlJourneyStore,
    now: i64,
    overdue_paths_at: i64,
) -> Result<Option<i64>, StoreError> {
    let soon = now + FLUSH_DELAY_MS;
    let outbox = match store.outbox_has_rows()? {
        false => None,
        true => Some(Meta::new(store).flush_next_ms()?.max(soon)),
    };
    let postbacks = postbacks::next_due(store)?.map(|due| due.max(soon));
    let paths = store.null_path_state()?.due_ms.map(|due| {
        if due <= now {
            overdue_paths_at
        } else {
            due.max(soon)
        }
    });
    Ok(earliest(earliest(outbox, postbacks), paths))
}

/// Sets the alarm after a run: at `next` (what the run asked for), or earlier when storage
/// holds work the run did not see (written by a request while it awaited).
pub async fn rearm(
    store: &SqlJourneyStore,
    storage: &Storage,
    next: Option<i64>,
) -> worker::Result<()> {
    let now = flush::now_ms();
    // Paths still overdue after a run failed to close (the run asked for its own retry); a
    // touch a request backdated meanwhile can wait as long, since outcomes do not depend on
    // when closing runs.
    let waiting = waiting_work_due(store, now, now + PATHS_RETRY_MS).unwrap_or_else(|err| {
        worker::console_error!("alarm: reading waiting work failed: {err}");
        Some(now + flush::FLUSH_BACKOFF_BASE_MS)
    });
    if let Some(at) = earliest(next, waiting) {
        storage.set_alarm((at - now).max(1)).await?;
    }
    Ok(())
}
