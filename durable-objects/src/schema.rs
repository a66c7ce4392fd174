//! The journey's SQLite schema, created when the object starts (idempotent).
//!
//! Facts are stored as JSON bodies next to the columns they are looked up by: the object
//! reads whole facts back, and the JSON is the same shape the outbox sends.

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

pub fn create(sql: &worker::SqlStorage) -> worker::Result<()> {
    for statement in STATEMENTS {
        sql.exec(statement, None)?;
    }
    Ok(())
}
