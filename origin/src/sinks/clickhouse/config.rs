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

#[derive(Clone, PartialEq, Eq)]
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

/// The configuration is logged at start: the password (and one in the URL) never is
/// (issue 13, finding 8).
impl std::fmt::Debug for ClickHouseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut url = self.url.clone();
        if url.password().is_some() {
            let _ = url.set_password(Some("<redacted>"));
        }
        f.debug_struct("ClickHouseConfig")
            .field("url", &url.as_str())
            .field("database", &self.database)
            .field("user", &self.user)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("batch_rows", &self.batch_rows)
            .field("batch_wait", &self.batch_wait)
            .finish()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13, finding 8: the start-up log printed the ClickHouse password.
    #[test]
    fn clickhouse_password_is_redacted_in_logs() {
        let config = ClickHouseConfig {
            url: reqwest::Url::parse("http://u:url-secret@127.0.0.1:8123").expect("url"),
            database: "attrib".into(),
            user: "u".into(),
            password: "hunter2-secret".into(),
            batch_rows: 1,
            batch_wait: Duration::from_millis(1),
        };
        let logged = format!("{config:?}");
        assert!(!logged.contains("hunter2-secret"), "{logged}");
        assert!(!logged.contains("url-secret"), "{logged}");
        assert!(logged.contains("<redacted>"), "{logged}");
    }
}
