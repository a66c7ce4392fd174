//! The edge cache of reads (Cache API), with a freshness window and stale-while-revalidate.
//!
//! Keys are synthetic URLs on the request's own host under `/__cache/`: the endpoint, the app,
//! the token scope (`read`), the app's stats version and the canonical query — never the token.
//! Entries are stored for TTL + SWR seconds and carry the time they were made
//! ([`CACHED_AT_HEADER`]); the age decides whether a hit is fresh, stale (served, then refreshed
//! in the background) or expired (a miss). A cache failure is logged and treated as a miss.

use worker::{Cache, Headers, Response};

use crate::config::CachePolicy;

/// When the cached body was computed, in ms since the epoch.
pub const CACHED_AT_HEADER: &str = "x-cached-at";
/// The scope of the tokens that may read an entry; part of the key.
pub const TOKEN_SCOPE: &str = "read";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Fresh,
    Stale,
    Expired,
}

impl CachePolicy {
    pub fn freshness(&self, age_ms: u64) -> Freshness {
        let ttl_ms = self.ttl_secs * 1000;
        if age_ms < ttl_ms {
            Freshness::Fresh
        } else if age_ms < ttl_ms + self.swr_secs * 1000 {
            Freshness::Stale
        } else {
            Freshness::Expired
        }
    }
}

/// The cache key of a read.
pub fn key(origin: &str, path: &str, app_id: &str, version: i64, canonical: &str) -> String {
    let mut scope = url::form_urlencoded::Serializer::new(String::new());
    scope
        .append_pair("app", app_id)
        .append_pair("scope", TOKEN_SCOPE)
        .append_pair("v", &version.to_string());
    let scope = scope.finish();
    if canonical.is_empty() {
        format!("{origin}/__cache{path}?{scope}")
    } else {
        format!("{origin}/__cache{path}?{scope}&{canonical}")
    }
}

pub struct Cached {
    pub body: String,
    pub cached_at_ms: u64,
}

pub async fn lookup(key: &str) -> Option<Cached> {
    let found = match Cache::default().get(key, false).await {
        Ok(found) => found?,
        Err(err) => {
            worker::console_error!("cache lookup failed: {err}");
            return None;
        }
    };
    let mut response = found;
    let cached_at_ms = response
        .headers()
        .get(CACHED_AT_HEADER)
        .ok()
        .flatten()
        .and_then(|v| v.parse::<u64>().ok())?;
    let body = response.text().await.ok()?;
    Some(Cached { body, cached_at_ms })
}

pub async fn store(key: &str, body: &str, now_ms: u64, policy: CachePolicy) {
    if let Err(err) = try_store(key, body, now_ms, policy).await {
        worker::console_error!("cache store failed: {err}");
    }
}

async fn try_store(key: &str, body: &str, now_ms: u64, policy: CachePolicy) -> worker::Result<()> {
    let lifetime = policy.ttl_secs + policy.swr_secs;
    if lifetime == 0 {
        return Ok(());
    }
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", &format!("public, max-age={lifetime}"))?;
    headers.set(CACHED_AT_HEADER, &now_ms.to_string())?;
    let response = Response::ok(body)?.with_headers(headers);
    Cache::default().put(key, response).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_decides_fresh_stale_expired() {
        let policy = CachePolicy {
            ttl_secs: 60,
            swr_secs: 600,
        };
        assert_eq!(policy.freshness(0), Freshness::Fresh);
        assert_eq!(policy.freshness(59_999), Freshness::Fresh);
        assert_eq!(policy.freshness(60_000), Freshness::Stale);
        assert_eq!(policy.freshness(660_000), Freshness::Expired);
    }

    #[test]
    fn keys_carry_app_scope_and_version_but_no_token() {
        let k = key(
            "https://q.example",
            "/v1/stats",
            "app 1",
            7,
            "from=2026-01-01",
        );
        assert_eq!(
            k,
            "https://q.example/__cache/v1/stats?app=app+1&scope=read&v=7&from=2026-01-01"
        );
        assert_ne!(
            k,
            key(
                "https://q.example",
                "/v1/stats",
                "app 1",
                8,
                "from=2026-01-01"
            )
        );
    }
}
