//! The ClickHouse sink: raw events, attributions (with per-model credits), merges and null
//! paths, with exact daily rollups, over ClickHouse's HTTP interface.
//!
//! Written on `reqwest` rather than the `clickhouse` crate: the crate targets current
//! servers (its row types and schema checks rely on formats and settings that 18.16, the
//! Debian server this project tests against, does not have), while plain HTTP with
//! `RowBinary` works unchanged from 18.16 to current releases.

mod config;
mod erase;
mod request;
mod retention;
pub mod retry;
mod sink;

pub use config::ClickHouseConfig;
pub use sink::ClickHouseSink;

/// Cursor and metrics name.
pub const SINK_NAME: &str = "clickhouse";
/// The schema, with `{database}` placeholders; applied on start (idempotent).
pub const SCHEMA: &str = include_str!("../../../schema/clickhouse.sql");

#[derive(Debug, thiserror::Error)]
pub enum ClickHouseError {
    #[error("ClickHouse request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("ClickHouse answered {status} to `{statement}`: {body}")]
    Server {
        status: u16,
        statement: String,
        body: String,
    },
    #[error(transparent)]
    Spool(#[from] crate::spool::SpoolError),
}

/// The schema's statements for `database`, comments removed, in order.
pub fn schema_statements(database: &str) -> Vec<String> {
    let without_comments: String = SCHEMA
        .lines()
        .filter(|line| !line.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.replace("{database}", database))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn schema_splits_into_idempotent_statements() {
        let statements = super::schema_statements("db1");
        assert!(statements.len() >= 7);
        for statement in &statements {
            assert!(statement.contains("IF NOT EXISTS"), "{statement}");
            assert!(!statement.contains("{database}"));
        }
    }
}
