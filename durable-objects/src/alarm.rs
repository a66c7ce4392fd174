//! The journey's one alarm, shared by its two queues: the outbox (to the origin) and postbacks
//! (to ad networks). Each run serves whichever is due, then sets the alarm for the earliest
//! time either needs again. A slow or failing origin delays neither postbacks nor vice versa:
//! the outbox's backoff is kept in `meta.flush_next_ms`, postbacks' in their rows.

use worker::{Env, Storage};

use crate::flush::{self, Next, FLUSH_DELAY_MS};
use crate::meta::Meta;
use crate::postbacks;
use crate::store::{SqlJourneyStore, StoreError};

/// Serves both queues; returns when the alarm should fire next.
pub async fn run(store: &SqlJourneyStore, env: &Env) -> Option<i64> {
    let journey = Meta::new(&store.sql)
        .key()
        .ok()
        .flatten()
        .map(|k| k.object_name())
        .unwrap_or_default();
    let (outbox, postbacks) = futures_util::future::join(
        flush_if_due(store, env),
        postbacks::send_due(store, env, &journey),
    )
    .await;
    earliest(outbox, postbacks)
}

async fn flush_if_due(store: &SqlJourneyStore, env: &Env) -> Option<i64> {
    let meta = Meta::new(&store.sql);
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
/// rows [`FLUSH_DELAY_MS`] from now unless the outbox is backing off, new postbacks at once).
pub async fn schedule(store: &SqlJourneyStore, storage: &Storage) -> Result<(), StoreError> {
    let now = flush::now_ms();
    let soon = now + FLUSH_DELAY_MS;
    let outbox = match store.outbox_has_rows()? {
        false => None,
        true => Some(Meta::new(&store.sql).flush_next_ms()?.max(soon)),
    };
    let postbacks = postbacks::next_due(store)?.map(|due| due.max(soon));
    let Some(wanted) = earliest(outbox, postbacks) else {
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

/// Sets the alarm after a run.
pub async fn rearm(storage: &Storage, next: Option<i64>) -> worker::Result<()> {
    if let Some(at) = next {
        storage.set_alarm((at - flush::now_ms()).max(1)).await?;
    }
    Ok(())
}
