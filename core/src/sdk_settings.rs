//! The settings document Segment's SDKs load before sending anything
//! (`GET {cdnURL}/v1/projects/{writeKey}/settings`), served by ingest so that a site or app
//! points its settings host at ingest and needs nothing else.
//!
//! Fields are the ones the SDKs read (verified in their source):
//! - `integrations["Segment.io"].apiHost` (host and path, no scheme) and `.protocol`: where
//!   analytics-next sends events (`plugins/segmentio/index.ts`); the mobile SDKs read `apiHost`
//!   too (analytics-swift `Plugins/SegmentDestination.swift`).
//! - `integrations["Segment.io"].httpConfig.{rateLimitConfig,backoffConfig}`: the retry policy
//!   analytics-next (`plugins/segmentio/shared-dispatcher.ts`) and analytics-swift
//!   (`Utilities/Retry/HttpConfig.swift`) honour; with it present they wait `Retry-After` on 429.
//! - `metrics.sampleRate: 0`: analytics-next otherwise reports its own metrics to Segment.

use serde_json::{json, Value};
use url::Url;

use crate::limits::{
    SDK_BACKOFF_BASE_SECS, SDK_BACKOFF_MAX_RETRIES, SDK_BACKOFF_MAX_SECS,
    SDK_RATE_LIMIT_MAX_RETRIES, SDK_RATE_LIMIT_MAX_WAIT_SECS,
};

/// Where an SDK should send events: `protocol` and `apiHost` as the SDKs spell them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiHost {
    pub protocol: String,
    /// Host (with port), the path prefix if any, and `/v1`: `shop.example/t/v1`.
    pub api_host: String,
}

impl ApiHost {
    /// From the public URL ingest is reached at (`PUBLIC_INGEST_URL`, or the request's own
    /// scheme and host plus the path prefix it came through). `None` if it is not an http(s) URL.
    pub fn from_public_url(public_url: &str) -> Option<ApiHost> {
        let url = Url::parse(public_url).ok()?;
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        let host = url.host_str()?;
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let path = url.path().trim_end_matches('/');
        Some(ApiHost {
            protocol: url.scheme().to_owned(),
            api_host: format!("{host}{port}{path}/v1"),
        })
    }
}

/// The settings document for `write_key` (already checked to be a live write key).
pub fn sdk_settings(write_key: &str, host: &ApiHost) -> Value {
    let status_overrides = json!({
        "408": "retry", "410": "retry", "429": "retry", "460": "retry",
        "501": "drop", "505": "drop"
    });
    json!({
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": host.api_host,
                "protocol": host.protocol,
                "unbundledIntegrations": [],
                "addBundledMetadata": false,
                "maybeBundledConfigIds": {},
                "httpConfig": {
                    "rateLimitConfig": {
                        "enabled": true,
                        "maxRetryCount": SDK_RATE_LIMIT_MAX_RETRIES,
                        "maxRetryInterval": SDK_RATE_LIMIT_MAX_WAIT_SECS
                    },
                    "backoffConfig": {
                        "enabled": true,
                        "maxRetryCount": SDK_BACKOFF_MAX_RETRIES,
                        "baseBackoffInterval": SDK_BACKOFF_BASE_SECS,
                        "maxBackoffInterval": SDK_BACKOFF_MAX_SECS,
                        "jitterPercent": 10,
                        "default4xxBehavior": "drop",
                        "default5xxBehavior": "retry",
                        "unknownCodeBehavior": "drop",
                        "statusCodeOverrides": status_overrides
                    }
                }
            }
        },
        "plan": {
            "track": {"__default": {"enabled": true, "integrations": {}}},
            "identify": {"__default": {"enabled": true}},
            "group": {"__default": {"enabled": true}}
        },
        "edgeFunction": {},
        "analyticsNextEnabled": true,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": false,
        "remotePlugins": []
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_host_keeps_port_and_prefix_and_adds_v1() {
        let host = ApiHost::from_public_url("https://shop.example/t/").unwrap();
        assert_eq!(host.protocol, "https");
        assert_eq!(host.api_host, "shop.example/t/v1");
        let local = ApiHost::from_public_url("http://127.0.0.1:31001").unwrap();
        assert_eq!(local.api_host, "127.0.0.1:31001/v1");
        assert_eq!(ApiHost::from_public_url("ftp://x.example"), None);
        assert_eq!(ApiHost::from_public_url("not a url"), None);
    }

    #[test]
    fn the_segment_entry_points_back_at_ingest_with_retry_settings() {
        let host = ApiHost::from_public_url("https://in.example").unwrap();
        let doc = sdk_settings("wk_1", &host);
        let segment = &doc["integrations"]["Segment.io"];
        assert_eq!(segment["apiKey"], "wk_1");
        assert_eq!(segment["apiHost"], "in.example/v1");
        assert_eq!(segment["protocol"], "https");
        assert_eq!(segment["httpConfig"]["rateLimitConfig"]["enabled"], true);
        assert_eq!(
            segment["httpConfig"]["backoffConfig"]["statusCodeOverrides"]["429"],
            "retry"
        );
        assert_eq!(doc["metrics"]["sampleRate"], 0);
    }
}
