//! Rollup settings: where complete daily stats go, and how long changes are coalesced.

use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::sources::{http_url, non_empty, positive_u64};
use crate::config::{ConfigError, Setting, Sources};

const QUERY_WORKER_URL: Setting = Setting::new("rollups.query_worker_url", "QUERY_WORKER_URL");
const TURSO_URL: Setting = Setting::new("rollups.turso_url", "TURSO_URL");
const TURSO_AUTH_TOKEN: Setting = Setting::new("rollups.turso_auth_token", "TURSO_AUTH_TOKEN");
const DEBOUNCE_MS: Setting =
    Setting::new("rollups.debounce_ms", "ATTRIB_ORIGIN_ROLLUP_DEBOUNCE_MS");
const MAX_DAYS: Setting =
    Setting::new("rollups.max_days_per_push", "ATTRIB_ORIGIN_ROLLUP_MAX_DAYS");
const REGION: Setting = Setting::new("rollups.region", "ATTRIB_ORIGIN_REGION");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TursoConfig {
    pub url: String,
    pub auth_token: String,
}

#[derive(Clone, PartialEq, Eq)]
pub struct RollupConfig {
    /// Base URL of the query Worker; upserts go to `{url}/internal/rollups`.
    pub query_worker_url: Option<reqwest::Url>,
    pub turso: Option<TursoConfig>,
    /// Changes are coalesced this long before the affected days are recomputed.
    pub debounce: Duration,
    /// (app, day) pairs per upsert request.
    pub max_days_per_push: usize,
    /// The local fact store the stats are recomputed from.
    pub facts_path: PathBuf,
    /// This origin's region in the read store: its rows are its own, reads sum regions.
    pub region: String,
}

impl std::fmt::Debug for RollupConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RollupConfig")
            .field(
                "query_worker_url",
                &self.query_worker_url.as_ref().map(|u| u.as_str()),
            )
            .field("turso_url", &self.turso.as_ref().map(|t| &t.url))
            .field("debounce", &self.debounce)
            .finish()
    }
}

impl RollupConfig {
    pub const SETTINGS: [&'static Setting; 6] = [
        &QUERY_WORKER_URL,
        &TURSO_URL,
        &TURSO_AUTH_TOKEN,
        &DEBOUNCE_MS,
        &MAX_DAYS,
        &REGION,
    ];

    pub fn from_sources(sources: &Sources, data_dir: &Path) -> Result<Self, ConfigError> {
        let turso = match (
            sources.parse_opt(&TURSO_URL, non_empty)?,
            sources.string(&TURSO_AUTH_TOKEN),
        ) {
            (Some(url), token) => {
                if !(url.starts_with("libsql://")
                    || url.starts_with("https://")
                    || url.starts_with("http://"))
                {
                    return Err(sources.invalid(
                        &TURSO_URL,
                        &url,
                        "must start with libsql://, https:// or http://",
                    ));
                }
                Some(TursoConfig {
                    url,
                    auth_token: token.unwrap_or_default(),
                })
            }
            (None, Some(_)) => {
                return Err(sources.invalid(
                    &TURSO_AUTH_TOKEN,
                    "<redacted>",
                    "is set but TURSO_URL is not",
                ))
            }
            (None, None) => None,
        };
        Ok(RollupConfig {
            query_worker_url: sources.parse_opt(&QUERY_WORKER_URL, http_url)?,
            turso,
            debounce: Duration::from_millis(sources.parse_or(
                &DEBOUNCE_MS,
                "1000",
                positive_u64,
            )?),
            max_days_per_push: sources.parse_or(&MAX_DAYS, "50", positive_u64)? as usize,
            facts_path: data_dir.join("rollup-facts.db"),
            region: region(sources)?,
        })
    }
}

/// `ATTRIB_ORIGIN_REGION`: empty (the unnamed region) or up to
/// [`MAX_REGION_CHARS`](attrib_core::rollup::MAX_REGION_CHARS) of `[a-z0-9_-]`.
fn region(sources: &Sources) -> Result<String, ConfigError> {
    let value = sources.string_or(&REGION, "");
    let ok = value.len() <= attrib_core::rollup::MAX_REGION_CHARS
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(value)
    } else {
        Err(sources.invalid(
            &REGION,
            &value,
            "must be at most 32 characters of a-z, 0-9, - and _",
        ))
    }
}
