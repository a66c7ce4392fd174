//! The journey's SQLite schema, created when the object starts (idempotent), and the changes
//! made to it since, applied once each in order (`meta.schema_version` counts them).
//!
//! Facts are stored as JSON bodies next to the columns they are looked up by: the object
//! reads whole facts back, and the JSON is the same shape the outbox sends.

use crate::meta::Meta;
use crate::store::{SqlJourneyStore, StoreError};
use crate::tx;

pub const STATEMENTS: [&str; 9] = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS events (message_id TEXT PRIMARY KEY, ts_ms INTEGER NOT NULL, body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_by_time ON events (ts_ms)",
    "CREATE TABLE IF NOT EXISTS touches (touch_id TEXT PRIMARY KEY, ts_ms INTEGER NOT NULL, body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS touches_by_time ON touches (ts_ms)",
    "CREATE TABLE IF NOT EXISTS attributions (conversion_id TEXT PRIMARY KEY, ts_ms INTEGER NOT NULL, \
     name TEXT NOT NULL, order_id TEXT, body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS attributions_by_order ON attributions (name, order_id)",
    "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS merged_from (journey TEXT PRIMARY KEY, merged_at_ms INTEGER NOT NULL)",
];

/// Version 2: fraud rejections as a column (lifecycle and re-engagement skip rejected
/// conversions), postbacks and their attempt log. The two indexes cover the per-conversion
/// lookups of earlier conversions: without them each lookup reads every stored attribution
/// (the column sits after the large JSON body), a cost that grew with the journey.
const V2: [&str; 7] = [
    "ALTER TABLE attributions ADD COLUMN rejected TEXT",
    "CREATE INDEX IF NOT EXISTS attributions_kept_by_time ON attributions (rejected, ts_ms)",
    "CREATE INDEX IF NOT EXISTS attributions_kept_by_name ON attributions (name, rejected, ts_ms)",
    "CREATE TABLE IF NOT EXISTS postbacks (key TEXT PRIMARY KEY, conversion_id TEXT NOT NULL, \
     network TEXT NOT NULL, created_ms INTEGER NOT NULL, status TEXT NOT NULL, \
     attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER, last_status INTEGER, \
     last_error TEXT, last_attempt_ms INTEGER, body TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS postbacks_due ON postbacks (status, next_attempt_ms)",
    // `logged` = 1 once the attempt is in D1's postback_attempts (read by the query API).
    "CREATE TABLE IF NOT EXISTS postback_attempts (key TEXT NOT NULL, attempt INTEGER NOT NULL, \
     at_ms INTEGER NOT NULL, status INTEGER, error TEXT, outcome TEXT NOT NULL, \
     duration_ms INTEGER NOT NULL, logged INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (key, attempt))",
    "CREATE INDEX IF NOT EXISTS postback_attempts_unlogged ON postback_attempts (logged)",
];

/// Version 3: null paths. Conversion times by time (closing reads them without the bodies),
/// and the "paths closed through" mark of a journey that already has touches set to its
/// latest one: null paths count touches recorded from this version on, so that every
/// journey starts at the same point (closing old journeys' history would count only the
/// ones that happen to record again).
const V3: [&str; 2] = [
    "CREATE INDEX IF NOT EXISTS attributions_by_time ON attributions (ts_ms)",
    "INSERT OR IGNORE INTO meta (key, value)      SELECT 'null_paths', json_object('closed_through_ms', latest)      FROM (SELECT max(ts_ms) AS latest FROM touches) WHERE latest IS NOT NULL",
];

/// Every change after [`STATEMENTS`], oldest first; version n has run when n − 1 of them have.
const MIGRATIONS: [&[&str]; 2] = [&V2, &V3];

pub fn create(store: &SqlJourneyStore) -> Result<(), StoreError> {
    let (storage, sql) = (&store.storage, &store.sql);
    for statement in STATEMENTS {
        sql.exec(statement, None)?;
    }
    let meta = Meta::new(store);
    let applied = meta.schema_version()?.saturating_sub(1) as usize;
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx::atomically(
            storage,
            || {
                for statement in migration.iter() {
                    sql.exec(statement, None)?;
                }
                meta.set_schema_version(i as u32 + 2)
            },
            StoreError::Transaction,
        )?;
    }
    // Migrations write meta rows directly.
    store.forget_meta();
    Ok(())
}
