//! The query Worker's own configuration (vars in workers/query/wrangler.toml, secrets through
//! `wrangler secret put`). A bad value is a configuration error (500, logged), never a panic.

use attrib_worker_common::config::{secret, var};
use attrib_worker_common::EdgeError;
use worker::Env;

use crate::limits::{
    DEFAULT_CACHE_SWR_SECS, DEFAULT_CACHE_TTL_SECS, DEFAULT_POSTBACK_LOG_RETENTION_DAYS,
    MAX_CACHE_SECS, MAX_POSTBACK_LOG_RETENTION_DAYS,
};

/// `d1` (default) or `turso`: where the rollup tables are read and written.
pub const READ_STORE: &str = "READ_STORE";
/// Turso database URL: `libsql://<db>-<org>.turso.io`, `https://...`, or locally
/// `http://127.0.0.1:<port>`.
pub const TURSO_URL: &str = "TURSO_URL";
/// Turso database token (`turso db tokens create`); a secret. Optional for a local server.
pub const TURSO_AUTH_TOKEN: &str = "TURSO_AUTH_TOKEN";
/// Seconds a cached read is fresh.
pub const CACHE_TTL_SECS: &str = "CACHE_TTL_SECS";
/// Seconds a cached read may then be served stale while it is refreshed.
pub const CACHE_SWR_SECS: &str = "CACHE_SWR_SECS";
/// Days the postback attempt log in D1 keeps an attempt (the scheduled prune removes older).
pub const POSTBACK_LOG_RETENTION_DAYS: &str = "POSTBACK_LOG_RETENTION_DAYS";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    D1,
    Turso,
}

impl StoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::D1 => "d1",
            StoreKind::Turso => "turso",
        }
    }
}

pub fn store_kind(env: &Env) -> Result<StoreKind, EdgeError> {
    match var(env, READ_STORE).as_deref().map(str::trim) {
        None | Some("") | Some("d1") => Ok(StoreKind::D1),
        Some("turso") => Ok(StoreKind::Turso),
        Some(other) => Err(EdgeError::Config {
            name: READ_STORE,
            reason: format!("{other:?} is not d1 or turso"),
        }),
    }
}

/// The Turso base URL, `libsql://` turned into `https://`, without a trailing slash.
pub fn turso_url(env: &Env) -> Result<String, EdgeError> {
    let raw = var(env, TURSO_URL).filter(|u| !u.trim().is_empty());
    let raw = raw.ok_or(EdgeError::Config {
        name: TURSO_URL,
        reason: "not set (READ_STORE=turso needs it)".into(),
    })?;
    normalise_turso_url(&raw).ok_or(EdgeError::Config {
        name: TURSO_URL,
        reason: format!("{raw:?} is not an http(s):// or libsql:// URL"),
    })
}

fn normalise_turso_url(raw: &str) -> Option<String> {
    let raw = raw.trim().trim_end_matches('/');
    let url = match raw.strip_prefix("libsql://") {
        Some(rest) => format!("https://{rest}"),
        None => raw.to_owned(),
    };
    let parsed = url::Url::parse(&url).ok()?;
    matches!(parsed.scheme(), "http" | "https").then_some(url)
}

pub fn turso_auth_token(env: &Env) -> Option<String> {
    secret(env, TURSO_AUTH_TOKEN)
}

/// How long cached reads live: fresh for `ttl_secs`, then stale for `swr_secs` more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    pub ttl_secs: u64,
    pub swr_secs: u64,
}

pub fn cache_policy(env: &Env) -> Result<CachePolicy, EdgeError> {
    Ok(CachePolicy {
        ttl_secs: seconds(env, CACHE_TTL_SECS, DEFAULT_CACHE_TTL_SECS)?,
        swr_secs: seconds(env, CACHE_SWR_SECS, DEFAULT_CACHE_SWR_SECS)?,
    })
}

fn seconds(env: &Env, name: &'static str, default: u64) -> Result<u64, EdgeError> {
    match var(env, name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|s| *s <= MAX_CACHE_SECS)
            .ok_or(EdgeError::Config {
                name,
                reason: format!("{raw:?} is not a number of seconds from 0 to {MAX_CACHE_SECS}"),
            }),
    }
}

/// Days of postback attempts to keep, from 1 to [`MAX_POSTBACK_LOG_RETENTION_DAYS`].
pub fn postback_log_retention_days(env: &Env) -> Result<u64, EdgeError> {
    let name = POSTBACK_LOG_RETENTION_DAYS;
    match var(env, name) {
        None => Ok(DEFAULT_POSTBACK_LOG_RETENTION_DAYS),
        Some(raw) => parse_retention_days(&raw).ok_or(EdgeError::Config {
            name,
            reason: format!(
                "{raw:?} is not a number of days from 1 to {MAX_POSTBACK_LOG_RETENTION_DAYS}"
            ),
        }),
    }
}

fn parse_retention_days(raw: &str) -> Option<u64> {
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|d| (1..=MAX_POSTBACK_LOG_RETENTION_DAYS).contains(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turso_urls_become_https_base_urls() {
        assert_eq!(
            normalise_turso_url("libsql://db-org.turso.io/").as_deref(),
            Some("https://db-org.turso.io")
        );
        assert_eq!(
            normalise_turso_url("http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(normalise_turso_url("ftp://x"), None);
        assert_eq!(normalise_turso_url("not a url"), None);
    }

    #[test]
    fn retention_days_are_bounded_and_never_zero() {
        assert_eq!(parse_retention_days(" 30 "), Some(30));
        assert_eq!(parse_retention_days("0"), None);
        assert_eq!(parse_retention_days("-1"), None);
        assert_eq!(parse_retention_days("ninety"), None);
        assert_eq!(
            parse_retention_days(&(MAX_POSTBACK_LOG_RETENTION_DAYS + 1).to_string()),
            None
        );
    }
}
