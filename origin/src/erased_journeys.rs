//! Journeys the origin erased lately (issue 12: "an erasure that races with in-flight events
//! leaves nothing behind"). An outbox batch of such a journey that reaches the origin after
//! the erasure (a Durable Object's flush already on its way when the journey was erased, or
//! delayed by the network) is answered as taken and dropped, so it cannot bring the person
//! back. The edge's tombstone keeps the journey from making any newer record for 7 days
//! (`ERASURE_TOMBSTONE_MS`), so within [`ERASED_BATCH_WINDOW_MS`] every such batch predates the
//! erasure.
//!
//! Kept by the journey's keyed hash (its Kafka key, [`KeyHasher`]), never by its name, in
//! `{data_dir}/erased-journeys.db`, so a restart forgets none; rows older than the window go
//! when the origin starts and at each erasure.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use libsql::{Connection, Database, Value};

use crate::sinks::kafka::keys::KeyHasher;

/// How long an erased journey's batches are dropped: far longer than a batch stays on its way
/// (the erasure deleted the object's outbox rows, so nothing is retried from there), far
/// shorter than the edge's tombstone, so a record made after the tombstone lifts is kept.
pub const ERASED_BATCH_WINDOW_MS: u64 = 24 * 60 * 60 * 1000;

/// The file under the data dir.
pub const ERASED_JOURNEYS_FILE: &str = "erased-journeys.db";

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS erased_journeys ( \
     key TEXT PRIMARY KEY, erased_at_ms INTEGER NOT NULL) WITHOUT ROWID;";

#[derive(Debug, thiserror::Error)]
pub enum ErasedJourneysError {
    #[error("the erased-journeys store: {0}")]
    Store(#[from] libsql::Error),
}

/// The registry; cheap to clone (shared).
#[derive(Clone)]
pub struct ErasedJourneys {
    inner: Arc<Inner>,
}

struct Inner {
    _db: Database,
    conn: Connection,
    state: Mutex<State>,
}

struct State {
    hasher: KeyHasher,
    /// Key → erasure time, only entries within the window.
    erased: HashMap<String, u64>,
}

impl ErasedJourneys {
    /// Opens (creating) the store at `path`, forgets entries older than the window at
    /// `now_ms` and loads the rest. `secret` keys the hashes (the Kafka key secret).
    pub async fn open(
        path: &Path,
        secret: Vec<u8>,
        now_ms: u64,
    ) -> Result<Self, ErasedJourneysError> {
        let (db, conn) = crate::local_db::open(path, SCHEMA).await?;
        let since = window_start(now_ms);
        conn.execute(
            "DELETE FROM erased_journeys WHERE erased_at_ms < ?1",
            [Value::Integer(since)],
        )
        .await?;
        let mut erased = HashMap::new();
        let mut rows = conn
            .query("SELECT key, erased_at_ms FROM erased_journeys", ())
            .await?;
        while let Some(row) = rows.next().await? {
            let at = u64::try_from(row.get::<i64>(1)?).unwrap_or(0);
            erased.insert(row.get::<String>(0)?, at);
        }
        Ok(ErasedJourneys {
            inner: Arc::new(Inner {
                _db: db,
                conn,
                state: Mutex::new(State {
                    hasher: KeyHasher::new(secret),
                    erased,
                }),
            }),
        })
    }

    /// Remembers `journeys` of `app_id` as erased at `now_ms`, durably, before the erasure
    /// deletes anything (so a batch arriving meanwhile is dropped too).
    pub async fn remember(
        &self,
        app_id: &str,
        journeys: &[String],
        now_ms: u64,
    ) -> Result<(), ErasedJourneysError> {
        let keys: Vec<String> = {
            let mut state = self.state();
            journeys
                .iter()
                .map(|j| state.hasher.key(app_id, j))
                .collect()
        };
        let at = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let tx = self.inner.conn.transaction().await?;
        tx.execute(
            "DELETE FROM erased_journeys WHERE erased_at_ms < ?1",
            [Value::Integer(window_start(now_ms))],
        )
        .await?;
        for key in &keys {
            tx.execute(
                "INSERT OR REPLACE INTO erased_journeys (key, erased_at_ms) VALUES (?1, ?2)",
                [Value::Text(key.clone()), Value::Integer(at)],
            )
            .await?;
        }
        tx.commit().await?;
        let mut state = self.state();
        let since = u64::try_from(window_start(now_ms)).unwrap_or(0);
        state.erased.retain(|_, erased_at| *erased_at >= since);
        state.erased.extend(keys.into_iter().map(|k| (k, now_ms)));
        Ok(())
    }

    /// Whether any journey is held (entries past the window included, until the next erasure).
    pub fn any(&self) -> bool {
        !self.state().erased.is_empty()
    }

    /// Whether a batch of `journey` (`u:{app}:{id}`, ...) arriving at `now_ms` belongs to a
    /// journey erased within the window. Free while nothing was erased lately.
    pub fn holds(&self, journey: &str, now_ms: u64) -> bool {
        let mut state = self.state();
        if state.erased.is_empty() {
            return false;
        }
        let Some(app_id) = journey.split(':').nth(1) else {
            return false;
        };
        let key = state.hasher.key(app_id, journey);
        state
            .erased
            .get(&key)
            .is_some_and(|at| now_ms.saturating_sub(*at) < ERASED_BATCH_WINDOW_MS)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn window_start(now_ms: u64) -> i64 {
    i64::try_from(now_ms.saturating_sub(ERASED_BATCH_WINDOW_MS)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    async fn open(dir: &Path, now_ms: u64) -> ErasedJourneys {
        ErasedJourneys::open(&dir.join(ERASED_JOURNEYS_FILE), b"secret".to_vec(), now_ms)
            .await
            .expect("open")
    }

    #[tokio::test]
    async fn an_erased_journey_is_held_for_the_window_across_restarts_and_by_hash_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let erased = open(dir.path(), NOW).await;
        assert!(!erased.holds("u:shop:alice@example.com", NOW));
        erased
            .remember("shop", &["u:shop:alice@example.com".into()], NOW)
            .await
            .expect("remember");
        assert!(erased.holds("u:shop:alice@example.com", NOW + 1));
        assert!(!erased.holds("u:shop:bob", NOW + 1), "other journeys pass");
        assert!(
            !erased.holds("u:shop2:alice@example.com", NOW + 1),
            "the same id in another app passes"
        );
        assert!(!erased.holds("u:shop:alice@example.com", NOW + ERASED_BATCH_WINDOW_MS));
        drop(erased);

        let reopened = open(dir.path(), NOW + 60_000).await;
        assert!(reopened.holds("u:shop:alice@example.com", NOW + 60_000));
        let bytes = std::fs::read(dir.path().join(ERASED_JOURNEYS_FILE)).expect("file");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("alice"), "the store keeps hashes, not names");
        drop(reopened);

        let later = open(dir.path(), NOW + ERASED_BATCH_WINDOW_MS + 1).await;
        assert!(!later.holds("u:shop:alice@example.com", NOW + ERASED_BATCH_WINDOW_MS + 1));
        assert!(
            later.state().erased.is_empty(),
            "expired rows are forgotten"
        );
    }

    #[tokio::test]
    async fn a_name_without_an_app_is_never_held() {
        let dir = tempfile::tempdir().expect("tempdir");
        let erased = open(dir.path(), NOW).await;
        erased
            .remember("shop", &["u:shop:x".into()], NOW)
            .await
            .expect("remember");
        assert!(!erased.holds("nonsense", NOW));
        assert!(!erased.holds("", NOW));
    }
}
