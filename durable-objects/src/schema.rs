//! The journey's SQLite schema, created when the object starts (idempotent), and the changes
//! made to it since, applied once each in order (`meta.schema_version` counts them).
//!
//! Facts are stored as JSON bodies next to the columns they are looked up by: the object
//! reads whole facts back, and the JSON is the same shape the outbox sends.
//!
//! Cloudflare bills every row written, and every index entry is a row: a table keyed by a
//! text id is therefore `WITHOUT ROWID` (the key is the table, one row per insert instead of
//! a table row and an index entry), and each secondary index must earn its place (version 4).
//! A new object creates [`CURRENT`] at once; older objects migrate in order.

use crate::extras::{tables_present, EXTRA_TABLES};
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

/// Version 4 (issue 15): the fact tables rebuilt `WITHOUT ROWID` (each insert writes one row
/// instead of two), attributions with three indexes instead of five (rejections are filtered
/// when read), the outbox without AUTOINCREMENT (no `sqlite_sequence` write per insert) and
/// holding one row per call (records one per line, with their count and bytes for bounded
/// flushes), and the dead letters (issue 13, finding 7). Rebuilding copies each row once.
const V4: [&str; 22] = [
    "CREATE TABLE events_v4 (message_id TEXT PRIMARY KEY, ts_ms INTEGER NOT NULL, \
     body TEXT NOT NULL) WITHOUT ROWID",
    "INSERT INTO events_v4 (message_id, ts_ms, body) SELECT message_id, ts_ms, body FROM events",
    "DROP TABLE events",
    "ALTER TABLE events_v4 RENAME TO events",
    "CREATE INDEX IF NOT EXISTS events_by_time ON events (ts_ms)",
    "CREATE TABLE touches_v4 (touch_id TEXT PRIMARY KEY, ts_ms INTEGER NOT NULL, \
     body TEXT NOT NULL) WITHOUT ROWID",
    "INSERT INTO touches_v4 (touch_id, ts_ms, body) SELECT touch_id, ts_ms, body FROM touches",
    "DROP TABLE touches",
    "ALTER TABLE touches_v4 RENAME TO touches",
    "CREATE INDEX IF NOT EXISTS touches_by_time ON touches (ts_ms)",
    "CREATE TABLE attributions_v4 (conversion_id TEXT PRIMARY KEY, ts_ms INTEGER NOT NULL, \
     name TEXT NOT NULL, order_id TEXT, rejected TEXT, body TEXT NOT NULL) WITHOUT ROWID",
    "INSERT INTO attributions_v4 (conversion_id, ts_ms, name, order_id, rejected, body) \
     SELECT conversion_id, ts_ms, name, order_id, rejected, body FROM attributions",
    "DROP TABLE attributions",
    "ALTER TABLE attributions_v4 RENAME TO attributions",
    ATTRIBUTIONS_BY_TIME,
    ATTRIBUTIONS_BY_NAME,
    ATTRIBUTIONS_BY_ORDER,
    "CREATE TABLE outbox_v4 (seq INTEGER PRIMARY KEY, records INTEGER NOT NULL, \
     bytes INTEGER NOT NULL, body TEXT NOT NULL)",
    "INSERT INTO outbox_v4 (seq, records, bytes, body) \
     SELECT seq, 1, length(CAST(body AS BLOB)), body FROM outbox",
    "DROP TABLE outbox",
    "ALTER TABLE outbox_v4 RENAME TO outbox",
    DEAD_LETTERS,
];

/// Version 5 (issue 10, scope 5): the raw device ids of a pending postback, apart from its
/// body (`attrib_core::postback::device`); set to NULL once it is no longer pending.
const V5: [&str; 1] = ["ALTER TABLE postbacks ADD COLUMN device_ids TEXT"];

const ATTRIBUTIONS_BY_TIME: &str =
    "CREATE INDEX IF NOT EXISTS attributions_by_time ON attributions (ts_ms)";
const ATTRIBUTIONS_BY_NAME: &str =
    "CREATE INDEX IF NOT EXISTS attributions_by_name ON attributions (name, ts_ms)";
/// Only conversions with an order id have an entry.
const ATTRIBUTIONS_BY_ORDER: &str = "CREATE INDEX IF NOT EXISTS attributions_by_order_v4 \
     ON attributions (name, order_id) WHERE order_id IS NOT NULL";
const DEAD_LETTERS: &str = "CREATE TABLE IF NOT EXISTS dead_letters (seq INTEGER PRIMARY KEY, \
     at_ms INTEGER NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL)";

/// Version 6 (issue 15): no time index on events. It cost a row written per event; the
/// visit and lifecycle rules' latest activity comes from the two latest events the object
/// remembers (`attrib_core::journey::activity`), and the rare reads by time (an out-of-order
/// event, retention, export) scan the events instead.
const V6: [&str; 1] = ["DROP INDEX IF EXISTS events_by_time"];

/// Version 7 (issue 15): an event's outbox records live in its own row (`seq`, its place in
/// the outbox, and `out`, what its records add to its body: `attrib_core::outbox::stored`);
/// rows with a `seq` above `meta.sent_seq` wait for the flush. Touches and attributions are
/// keyed by time and id, their time order being the table's own, so neither has a time index
/// to write; nor do attributions keep one by name (the latest conversion of a name walks the
/// journey's conversions back in time, which its size bounds). Rebuilding copies each touch
/// and attribution once.
const V7: [&str; 12] = [
    // Earlier migrations ran after [`STATEMENTS`], which made this index again.
    "DROP INDEX IF EXISTS events_by_time",
    "ALTER TABLE events ADD COLUMN seq INTEGER",
    "ALTER TABLE events ADD COLUMN out TEXT",
    TOUCHES,
    "INSERT INTO touches_v7 (ts_ms, touch_id, body) SELECT ts_ms, touch_id, body FROM touches",
    "DROP TABLE touches",
    "ALTER TABLE touches_v7 RENAME TO touches",
    ATTRIBUTIONS,
    "INSERT INTO attributions_v7 (ts_ms, conversion_id, name, order_id, rejected, body) \
     SELECT ts_ms, conversion_id, name, order_id, rejected, body FROM attributions",
    "DROP TABLE attributions",
    "ALTER TABLE attributions_v7 RENAME TO attributions",
    ATTRIBUTIONS_BY_ORDER,
];

/// A table keyed by time and id, `WITHOUT ROWID`, under `$name`: version 7 builds it beside
/// the table it replaces, a new object under its final name.
macro_rules! time_keyed_table {
    ($name:literal, $columns:literal) => {
        concat!(
            "CREATE TABLE IF NOT EXISTS ",
            $name,
            " (ts_ms INTEGER NOT NULL, ",
            $columns,
            ") WITHOUT ROWID"
        )
    };
}
macro_rules! touches_table {
    ($name:literal) => {
        time_keyed_table!(
            $name,
            "touch_id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (ts_ms, touch_id)"
        )
    };
}
macro_rules! attributions_table {
    ($name:literal) => {
        time_keyed_table!(
            $name,
            "conversion_id TEXT NOT NULL, name TEXT NOT NULL, order_id TEXT, rejected TEXT, \
             body TEXT NOT NULL, PRIMARY KEY (ts_ms, conversion_id)"
        )
    };
}
const TOUCHES: &str = touches_table!("touches_v7");
const ATTRIBUTIONS: &str = attributions_table!("attributions_v7");

/// The schema a new object creates: what [`STATEMENTS`] and every migration make, built
/// directly, but for the tables many journeys never need, made on first use
/// (`crate::extras`). One statement per `exec`: a cursor over several counts the rows
/// written by its last alone (a table is 2 rows, an index 1), and the bench prices the count.
const CURRENT: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS events (message_id TEXT PRIMARY KEY, ts_ms INTEGER NOT NULL, \
     seq INTEGER, body TEXT NOT NULL, out TEXT) WITHOUT ROWID",
];

/// Touches, as the migrations leave them (`crate::extras::Extra::Touches`): a journey of
/// direct visits has none.
pub const TOUCH_TABLES: [&str; 1] = [touches_table!("touches")];

/// Conversions' attributions and their order-id index, as the migrations leave them
/// (`crate::extras::Extra::Attributions`): most journeys never convert.
pub const ATTRIBUTION_TABLES: [&str; 2] =
    [attributions_table!("attributions"), ATTRIBUTIONS_BY_ORDER];

/// The outbox's table as the migrations leave it (`crate::extras::Extra::Outbox`).
pub const OUTBOX_TABLES: [&str; 1] = [
    "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, records INTEGER NOT NULL, \
     bytes INTEGER NOT NULL, body TEXT NOT NULL)",
];
/// The journeys merged into this one, as the migrations leave them.
pub const MERGED_FROM_TABLES: [&str; 1] = ["CREATE TABLE IF NOT EXISTS merged_from (journey TEXT \
     PRIMARY KEY, merged_at_ms INTEGER NOT NULL) WITHOUT ROWID"];
/// Postbacks and their attempts, as the migrations leave them.
pub const POSTBACK_TABLES: [&str; 4] = [
    "CREATE TABLE IF NOT EXISTS postbacks (key TEXT PRIMARY KEY, conversion_id TEXT NOT NULL, \
     network TEXT NOT NULL, created_ms INTEGER NOT NULL, status TEXT NOT NULL, \
     attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER, last_status INTEGER, \
     last_error TEXT, last_attempt_ms INTEGER, body TEXT NOT NULL, device_ids TEXT) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS postbacks_due ON postbacks (status, next_attempt_ms)",
    "CREATE TABLE IF NOT EXISTS postback_attempts (key TEXT NOT NULL, attempt INTEGER NOT NULL, \
     at_ms INTEGER NOT NULL, status INTEGER, error TEXT, outcome TEXT NOT NULL, \
     duration_ms INTEGER NOT NULL, logged INTEGER NOT NULL DEFAULT 0, \
     PRIMARY KEY (key, attempt)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS postback_attempts_unlogged ON postback_attempts (logged)",
];
/// Dead letters, as the migrations leave them.
pub const DEAD_LETTER_TABLES: [&str; 1] = [DEAD_LETTERS];

/// Every change after [`STATEMENTS`], oldest first; version n has run when n − 1 of them have.
const MIGRATIONS: [&[&str]; 6] = [&V2, &V3, &V4, &V5, &V6, &V7];
/// The version [`CURRENT`] is.
pub const CURRENT_VERSION: u32 = MIGRATIONS.len() as u32 + 1;

#[derive(serde::Deserialize)]
struct Value {
    value: String,
}

/// Brings the object's storage to [`CURRENT_VERSION`]. A started object reads which tables
/// it has and one meta row; a new one (no tables) creates [`CURRENT`]; an older one migrates.
/// A new object's meta is not read: a failed read throws, and throwing costs more than asking.
pub fn create(store: &SqlJourneyStore) -> Result<(), StoreError> {
    let sql = &store.sql;
    // Older objects always have a meta table; one without it but with events is one of the
    // first shape, which must migrate too. The same read tells which extras a started object
    // holds (a migration forgets it: it may make some).
    let mut wanted = vec!["meta", "events"];
    wanted.extend(EXTRA_TABLES);
    let tables = tables_present(store, &wanted)?;
    if tables.iter().any(|t| t == "meta") {
        let rows: Vec<Value> = sql
            .exec("SELECT value FROM meta WHERE key = 'schema_version'", None)?
            .to_array()?;
        return match rows.first() {
            Some(r) if r.value == CURRENT_VERSION.to_string() => {
                store.extras.found(&tables);
                Ok(())
            }
            _ => migrate(store),
        };
    }
    if !tables.is_empty() {
        return migrate(store);
    }
    tx::atomically(
        &store.storage,
        || {
            for statement in CURRENT {
                sql.exec(statement, None)?;
            }
            Meta::new(store).set_schema_version(CURRENT_VERSION)
        },
        StoreError::Transaction,
    )
    .inspect_err(|_| store.forget_meta())?;
    store.created_empty();
    store.extras.none();
    Ok(())
}

fn migrate(store: &SqlJourneyStore) -> Result<(), StoreError> {
    let (storage, sql) = (&store.storage, &store.sql);
    sql.exec(STATEMENTS[0], None)?;
    let meta = Meta::new(store);
    let applied = meta.schema_version()?.saturating_sub(1) as usize;
    // Only an object from before versions holds tables of the first shape: run again on a
    // later one, these statements made the indexes later versions dropped once more.
    if applied == 0 {
        for statement in &STATEMENTS[1..] {
            sql.exec(statement, None)?;
        }
    }
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
