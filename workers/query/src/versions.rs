//! Per-app stats versions: bumped in the same transaction as every upsert that touches the
//! app, and part of every cache key, so new rollups turn cached reads into misses at once.
//!
//! Each isolate remembers a version for [`STATS_VERSION_TTL_MS`], so a burst of cache hits
//! costs one store read per app per second rather than one per request; the isolate that
//! takes an upsert forgets its memo immediately.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::Deserialize;

use crate::limits::{MAX_VERSION_ENTRIES, STATS_VERSION_TTL_MS};
use crate::store::{SqlStore, Statement, StoreError};

thread_local! {
    /// app id → (expires at ms, version)
    static VERSIONS: RefCell<HashMap<String, (u64, i64)>> = RefCell::new(HashMap::new());
}

#[derive(Deserialize)]
struct VersionRow {
    version: i64,
}

/// The app's current stats version (0 before its first upsert).
pub async fn current<S: SqlStore>(store: &S, app_id: &str, now_ms: u64) -> Result<i64, StoreError> {
    let memo = VERSIONS.with(|v| v.borrow().get(app_id).copied());
    if let Some((expires, version)) = memo {
        if expires > now_ms {
            return Ok(version);
        }
    }
    let rows: Vec<VersionRow> = store
        .rows(&Statement::new(
            "SELECT version FROM stats_versions WHERE app_id = ?1",
            vec![app_id.into()],
        ))
        .await?;
    let version = rows.first().map_or(0, |r| r.version);
    VERSIONS.with(|v| {
        let mut memo = v.borrow_mut();
        if memo.len() >= MAX_VERSION_ENTRIES {
            memo.clear();
        }
        memo.insert(app_id.to_owned(), (now_ms + STATS_VERSION_TTL_MS, version));
    });
    Ok(version)
}

/// Drops this isolate's memo of `app_id`'s version (after an upsert it just made).
pub fn forget(app_id: &str) {
    VERSIONS.with(|v| v.borrow_mut().remove(app_id));
}

/// The statement that bumps `app_id`'s version; runs in the upsert's transaction.
pub fn bump(app_id: &str, now_iso: &str) -> Statement {
    Statement::new(
        "INSERT INTO stats_versions (app_id, version, updated_at) VALUES (?1, 1, ?2) \
         ON CONFLICT (app_id) DO UPDATE SET version = stats_versions.version + 1, \
         updated_at = excluded.updated_at",
        vec![app_id.into(), now_iso.into()],
    )
}
