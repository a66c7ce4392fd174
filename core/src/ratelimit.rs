//! Ingest rate limits: per client IP and per app (write key), counted by the Workers
//! rate-limiting binding (fixed windows of [`RATE_LIMIT_PERIOD_SECS`], per Cloudflare location).
//!
//! A binding's limit is fixed in `wrangler.toml`, so an app's override chooses a tier, one
//! binding each; `wrangler.toml` must carry the numbers below (a test here checks that it does).
//! Over a limit, ingest answers 429 with `Retry-After` = the period, before the body is read
//! (IP) or before any event is decoded (app): nothing refused is half-stored, and the SDKs resend
//! the same messageIds, which every stage deduplicates.

use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// Window of every binding, in seconds (the binding allows 10 or 60); also the `Retry-After`.
pub const RATE_LIMIT_PERIOD_SECS: u32 = 10;
/// Requests per window from one client IP, whatever the app (binding `RATE_LIMIT_IP`). Generous:
/// server-side SDKs send from a few IPs, and each request may carry 1,000 events.
pub const IP_REQUESTS_PER_PERIOD: u32 = 1_000;
/// Requests per window per app, by tier (bindings `RATE_LIMIT_APP_LOW`, `RATE_LIMIT_APP`,
/// `RATE_LIMIT_APP_HIGH`).
pub const APP_REQUESTS_PER_PERIOD_LOW: u32 = 20;
pub const APP_REQUESTS_PER_PERIOD_DEFAULT: u32 = 5_000;
pub const APP_REQUESTS_PER_PERIOD_HIGH: u32 = 50_000;

pub const IP_BINDING: &str = "RATE_LIMIT_IP";

/// An app's rate-limit tier (`apps.rate_limit_tier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitTier {
    /// Trials and tests.
    Low,
    #[default]
    Default,
    High,
    /// No per-app limit (the per-IP limit still applies).
    Off,
}

impl RateLimitTier {
    /// Parses the stored value; absent or empty means the default tier.
    pub fn parse(value: Option<&str>) -> Result<RateLimitTier, FieldError> {
        match value.map(str::trim).unwrap_or_default() {
            "" | "default" => Ok(RateLimitTier::Default),
            "low" => Ok(RateLimitTier::Low),
            "high" => Ok(RateLimitTier::High),
            "off" => Ok(RateLimitTier::Off),
            other => Err(FieldError::new(
                "rate_limit_tier",
                format!(
                    "{:?} is not one of low, default, high, off",
                    other.chars().take(32).collect::<String>()
                ),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RateLimitTier::Low => "low",
            RateLimitTier::Default => "default",
            RateLimitTier::High => "high",
            RateLimitTier::Off => "off",
        }
    }

    /// The binding that counts this tier's requests; `None` when the app is not limited.
    pub fn binding(self) -> Option<&'static str> {
        match self {
            RateLimitTier::Low => Some("RATE_LIMIT_APP_LOW"),
            RateLimitTier::Default => Some("RATE_LIMIT_APP"),
            RateLimitTier::High => Some("RATE_LIMIT_APP_HIGH"),
            RateLimitTier::Off => None,
        }
    }

    /// Requests per [`RATE_LIMIT_PERIOD_SECS`]; `None` when not limited.
    pub fn requests_per_period(self) -> Option<u32> {
        match self {
            RateLimitTier::Low => Some(APP_REQUESTS_PER_PERIOD_LOW),
            RateLimitTier::Default => Some(APP_REQUESTS_PER_PERIOD_DEFAULT),
            RateLimitTier::High => Some(APP_REQUESTS_PER_PERIOD_HIGH),
            RateLimitTier::Off => None,
        }
    }
}

/// The counter key of an app (its id, never the write key itself).
pub fn app_key(app_id: &str) -> String {
    format!("app:{app_id}")
}

/// The counter key of a client IP.
pub fn ip_key(ip: &str) -> String {
    format!("ip:{}", ip.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_parse_and_refuse_unknown_values_naming_the_column() {
        assert_eq!(RateLimitTier::parse(None), Ok(RateLimitTier::Default));
        assert_eq!(RateLimitTier::parse(Some("")), Ok(RateLimitTier::Default));
        for tier in [
            RateLimitTier::Low,
            RateLimitTier::Default,
            RateLimitTier::High,
            RateLimitTier::Off,
        ] {
            assert_eq!(RateLimitTier::parse(Some(tier.as_str())), Ok(tier));
        }
        let err = RateLimitTier::parse(Some("unlimited")).unwrap_err();
        assert_eq!(err.field, "rate_limit_tier");
        assert_eq!(RateLimitTier::Off.binding(), None);
    }

    /// The numbers above are what the bindings in wrangler.toml count.
    #[test]
    fn wrangler_toml_declares_every_binding_with_these_numbers() {
        let toml = include_str!("../../wrangler.toml");
        let mut expected = vec![(IP_BINDING, IP_REQUESTS_PER_PERIOD)];
        for tier in [
            RateLimitTier::Low,
            RateLimitTier::Default,
            RateLimitTier::High,
        ] {
            expected.push((tier.binding().unwrap(), tier.requests_per_period().unwrap()));
        }
        for (binding, limit) in expected {
            let line = format!("name = \"{binding}\"\nnamespace_id = ");
            let at = toml
                .find(&line)
                .unwrap_or_else(|| panic!("{binding} missing"));
            let block = &toml[at..toml[at..].find("\n\n").map_or(toml.len(), |e| at + e)];
            let simple =
                format!("simple = {{ limit = {limit}, period = {RATE_LIMIT_PERIOD_SECS} }}");
            assert!(block.contains(&simple), "{binding}: {block}");
        }
    }
}
