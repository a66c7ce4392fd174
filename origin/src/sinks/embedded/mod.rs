//! The embedded sink: events, attributions, merges and null paths in a local libsql (SQLite)
//! file.
//!
//! The default when neither Kafka nor ClickHouse is configured, so the whole stack runs with
//! nothing else installed. The rollup pusher also writes `daily_stats` into the same file.

mod config;
mod erase;
mod request;
pub mod retry;
mod sink;

pub use config::{EmbeddedConfig, EmbeddedMode};
pub use erase::erase_journeys;
pub use sink::{open_database, EmbeddedSink};

/// Cursor and metrics name.
pub const SINK_NAME: &str = "embedded";
/// The schema, applied on start (idempotent).
pub const SCHEMA: &str = include_str!("../../../schema/libsql.sql");

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("embedded database {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: libsql::Error,
    },
    #[error("embedded database write failed: {0}")]
    Write(#[from] libsql::Error),
    #[error(transparent)]
    Spool(#[from] crate::spool::SpoolError),
    #[error(
        "the rows are deleted but a reader kept the write-ahead log, which still holds older \
         copies of them, from being emptied: send the regulation again"
    )]
    LogBusy,
}
