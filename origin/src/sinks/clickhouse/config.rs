//! ClickHouse sink settings. Setting `CLICKHOUSE_URL` turns the sink on.

use std::time::Duration;

use crate::config::sources::{http_url, positive_u64};
use crate::config::{ConfigError, Setting, Sources};

const URL: Setting = Setting::new("clickhouse.url", "CLICKHOUSE_URL");
const DATABASE: Setting = Setting::new("clickhouse.database", "CLICKHOUSE_DATABASE");
const USER: Setting = Setting::new("clickhouse.user", "CLICKHOUSE_USER");
const PASSWORD: Setting = Setting::new("clickhouse.password", "CLICKHOUSE_PASSWORD");
const BATCH_ROWS: Setting = Setting::new("clickhouse.batch_rows", "CLICKHOUSE_BATCH_ROWS");
const BATCH_WAIT_MS: Setting = Setting::new("clickhouse.batch_wait_ms", "CLICKHOUSE_BATCH_WAIT_MS");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickHouseConfig {
    /// The HTTP interface, e.g. `http://127.0.0.1:8123`.
    pub url: reqwest::Url,
    pub database: String,
    pub user: String,
    pub password: String,
    /// An insert closes at this many records...
    pub batch_rows: usize,
    /// ...or when its oldest record has waited this long.
    pub batch_wait: Duration,
}

impl ClickHouseConfig {
    pub const SETTINGS: [&'static Setting; 6] = [
        &URL,
        &DATABASE,
        &USER,
        &PASSWORD,
        &BATCH_ROWS,
        &BATCH_WAIT_MS,
    ];

    pub fn from_sources(sources: &Sources) -> Result<Option<Self>, ConfigError> {
        let Some(url) = sources.parse_opt(&URL, http_url)? else {
            return Ok(None);
        };
        Ok(Some(ClickHouseConfig {
            url,
            database: sources.parse_or(&DATABASE, "attrib", |v| {
                let ok = !v.is_empty()
                    && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !v.starts_with(|c: char| c.is_ascii_digit());
                ok.then(|| v.to_owned())
                    .ok_or_else(|| "must be an identifier: letters, digits, _".to_string())
            })?,
            user: sources.string_or(&USER, "default"),
            password: sources.string_or(&PASSWORD, ""),
            batch_rows: sources.parse_or(&BATCH_ROWS, "10000", positive_u64)? as usize,
            batch_wait: Duration::from_millis(sources.parse_or(
                &BATCH_WAIT_MS,
                "1000",
                positive_u64,
            )?),
        }))
    }
}
