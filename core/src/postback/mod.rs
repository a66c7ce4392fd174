//! Postbacks: telling an ad network that a conversion it drove happened.
//!
//! An app configures, per network, a URL template ([`PostbackConfig`]; `network` is a touch's
//! `source`, lower case, or `*` for every network without its own). When a conversion is
//! attributed and not rejected, the journey plans one postback per network credited under
//! the app's **default model**: for single-touch models (last click, the default) that is the
//! one credited touch; for multi-touch models each credited network gets one postback, about
//! its highest-credit touch (latest on ties), with `{credit}` = the network's total share.
//! Unattributed and rejected conversions send nothing; neither do re-runs (revisions) or
//! conversions imported by merges (their own journey sent them).
//!
//! Postbacks are written in the attribution's transaction and sent by the journey's alarm,
//! retried with backoff ([`backoff_ms`]) until the receiver answers 2xx, a permanent 4xx, or
//! [`POSTBACK_MAX_ATTEMPTS`] run out. Sending is at least once; every request carries the same
//! [`idempotency_key`] (header [`IDEMPOTENCY_HEADER`] and macro `{idempotency_key}`), so a
//! receiver that honours it sees each postback's effect exactly once.

pub mod device;
pub mod target;
pub mod template;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::attribution::AttributionResult;
use crate::error::FieldError;
use crate::limits::{
    MAX_POSTBACK_CONFIGS, POSTBACK_BACKOFF_BASE_MS, POSTBACK_BACKOFF_MAX_MS, POSTBACK_MAX_ATTEMPTS,
};
use crate::settings::AppSettings;
use crate::time::format_millis;
use crate::touch::Touch;
use device::{wants_device_ids, PostbackDeviceIds, DEVICE_MACROS};
use target::Targets;

pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// The `network` of a configuration that applies to every network without its own.
pub const ANY_NETWORK: &str = "*";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PostbackMethod {
    /// The macros go in the URL only.
    #[default]
    Get,
    /// The URL as for GET, plus every macro as a JSON object body.
    Post,
}

impl PostbackMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PostbackMethod::Get => "GET",
            PostbackMethod::Post => "POST",
        }
    }
}

/// One network's postback, as an app configures it (D1 table `postback_configs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostbackConfig {
    pub network: String,
    /// URL template with `{macro}` placeholders ([`template::MACROS`]).
    pub url: String,
    #[serde(default)]
    pub method: PostbackMethod,
    /// Conversion names to send postbacks for; empty means every conversion.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
}

/// Checks every configuration; `targets` says whether loopback hosts are allowed.
pub fn validate_configs(configs: &[PostbackConfig], targets: Targets) -> Result<(), FieldError> {
    if configs.len() > MAX_POSTBACK_CONFIGS {
        return Err(FieldError::new(
            "postbacks",
            format!("has more than {MAX_POSTBACK_CONFIGS} configurations"),
        ));
    }
    for (i, config) in configs.iter().enumerate() {
        let field = |name: &str| format!("postbacks[{i}].{name}");
        if config.network.is_empty() || config.network != config.network.to_lowercase() {
            return Err(FieldError::new(
                field("network"),
                "must be a lower-case touch source, or *",
            ));
        }
        if configs[..i].iter().any(|c| c.network == config.network) {
            return Err(FieldError::new(
                field("network"),
                format!("{:?} is configured twice", config.network),
            ));
        }
        template::validate(&config.url, targets)
            .map_err(|reason| FieldError::new(field("url"), reason))?;
        crate::settings::check_event_names(&field("events"), &config.events)?;
    }
    Ok(())
}

/// A postback to send: planned with the attribution, stored in its transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Postback {
    /// The idempotency key, also the postback's id.
    pub key: String,
    pub app_id: String,
    pub network: String,
    pub conversion_id: String,
    pub event_name: String,
    pub touch_id: String,
    pub method: PostbackMethod,
    pub url: String,
    /// The JSON body of a POST postback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub created_at_ms: i64,
    /// The raw device ids for the device macros ([`device`]): never serialised with the
    /// postback, so they reach no log, view or export; the journey keeps them apart, only
    /// while the postback is pending. `None` when the template uses no device macro.
    #[serde(skip)]
    pub device_ids: Option<PostbackDeviceIds>,
}

/// Stable per (app, conversion, network): the same whenever and however often it is sent.
pub fn idempotency_key(app_id: &str, conversion_id: &str, network: &str) -> String {
    let digest = Sha256::new()
        .chain_update(app_id.as_bytes())
        .chain_update([0])
        .chain_update(conversion_id.as_bytes())
        .chain_update([0])
        .chain_update(network.as_bytes())
        .finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("pb_{hex}")
}

/// One network's part of a conversion under the default model.
struct NetworkShare<'a> {
    credit: f64,
    value: f64,
    best: &'a crate::attribution::CreditedTouch,
}

/// The postbacks an attribution calls for (see the module docs for which).
pub fn plan(
    result: &AttributionResult,
    touches: &[Touch],
    settings: &AppSettings,
) -> Vec<Postback> {
    plan_with_device(result, touches, settings, None)
}

/// [`plan`] for a conversion whose event came with raw device ids (`device`): each postback
/// whose template uses a device macro (or that is a POST) keeps them for sending.
pub fn plan_with_device(
    result: &AttributionResult,
    touches: &[Touch],
    settings: &AppSettings,
    device: Option<&PostbackDeviceIds>,
) -> Vec<Postback> {
    if result.rejected.is_some() || settings.postbacks.is_empty() {
        return Vec::new();
    }
    let mut networks: BTreeMap<&str, NetworkShare> = BTreeMap::new();
    for credit in result.credits_of(result.default_model) {
        let share = networks
            .entry(credit.source.as_str())
            .or_insert(NetworkShare {
                credit: 0.0,
                value: 0.0,
                best: credit,
            });
        share.credit += credit.credit;
        share.value += credit.value;
        // Credits are oldest first, so `>=` keeps the latest of equal shares.
        if credit.credit >= share.best.credit {
            share.best = credit;
        }
    }
    let conversion = &result.conversion;
    networks
        .into_iter()
        .filter_map(|(network, share)| {
            let config = settings
                .postbacks
                .iter()
                .find(|c| c.network == network)
                .or_else(|| settings.postbacks.iter().find(|c| c.network == ANY_NETWORK))?;
            if !config.events.is_empty() && !config.events.contains(&conversion.name) {
                return None;
            }
            let touch = touches.iter().find(|t| t.touch_id == share.best.touch_id);
            let key = idempotency_key(&settings.app_id, &conversion.conversion_id, network);
            let values = macros(result, &settings.app_id, network, &share, touch, &key);
            let url = template::expand_keeping(&config.url, &values, &DEVICE_MACROS).ok()?;
            let body = match config.method {
                PostbackMethod::Get => None,
                PostbackMethod::Post => serde_json::to_string(&values).ok(),
            };
            Some(Postback {
                key,
                app_id: settings.app_id.clone(),
                network: network.to_owned(),
                conversion_id: conversion.conversion_id.clone(),
                event_name: conversion.name.clone(),
                touch_id: share.best.touch_id.clone(),
                method: config.method,
                url,
                body,
                created_at_ms: result.attributed_at_ms,
                device_ids: device
                    .filter(|_| wants_device_ids(&config.url, config.method))
                    .cloned(),
            })
        })
        .collect()
}

/// Every macro's value. Times are `*_ts` (Unix milliseconds) and `*_time` (RFC 3339 UTC);
/// `click_id` is our tracking-link click id, `network_click_id` the network's own click id
/// (an ad click id such as a gclid, or the link's `network_click_id` parameter). The device
/// macros are empty here: they are filled in when sent ([`device::request_for`]).
fn macros<'a>(
    result: &AttributionResult,
    app_id: &str,
    network: &str,
    share: &NetworkShare,
    touch: Option<&Touch>,
    key: &str,
) -> BTreeMap<&'a str, String> {
    let conversion = &result.conversion;
    let credited = share.best;
    let optional = |value: Option<&String>| value.cloned().unwrap_or_default();
    let network_click_id = touch
        .and_then(|t| t.ad_click_id.as_deref())
        .map(|id| id.split_once(':').map_or(id, |(_, value)| value).to_owned());
    let mut values = BTreeMap::from([
        ("idempotency_key", key.to_owned()),
        ("conversion_id", conversion.conversion_id.clone()),
        ("event_name", conversion.name.clone()),
        ("revenue", conversion.revenue.to_string()),
        ("currency", conversion.currency.clone()),
        ("order_id", optional(conversion.order_id.as_ref())),
        ("conversion_ts", conversion.ts_ms.to_string()),
        ("conversion_time", format_millis(conversion.ts_ms)),
        ("attributed_ts", result.attributed_at_ms.to_string()),
        ("attributed_time", format_millis(result.attributed_at_ms)),
        ("model", result.default_model.as_str().to_owned()),
        ("credit", decimal(share.credit)),
        ("credited_value", decimal(share.value)),
        ("network", network.to_owned()),
        ("source", credited.source.clone()),
        ("medium", credited.medium.clone()),
        ("campaign", credited.campaign.clone()),
        ("content", optional(touch.and_then(|t| t.content.as_ref()))),
        ("term", optional(touch.and_then(|t| t.term.as_ref()))),
        ("touch_id", credited.touch_id.clone()),
        ("touch_ts", credited.ts_ms.to_string()),
        ("touch_time", format_millis(credited.ts_ms)),
        (
            "click_id",
            optional(touch.and_then(|t| t.click_id.as_ref())),
        ),
        ("network_click_id", network_click_id.unwrap_or_default()),
        ("link_id", optional(touch.and_then(|t| t.link_id.as_ref()))),
        ("app_id", app_id.to_owned()),
        ("revision", result.revision.to_string()),
    ]);
    values.extend(DEVICE_MACROS.iter().map(|name| (*name, String::new())));
    values
}

/// At most 6 decimals, no trailing zeros: `1`, `0.5`, `0.333333`.
fn decimal(value: f64) -> String {
    let fixed = format!("{value:.6}");
    let trimmed = fixed.trim_end_matches('0').trim_end_matches('.');
    if trimmed.is_empty() || trimmed == "-0" {
        "0".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// What one attempt's answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// 2xx: done.
    Delivered,
    /// No answer, 5xx, 408, 425 or 429: try again later.
    Retry,
    /// Another 4xx (the receiver refuses this postback), or the last attempt failed.
    Failed,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Retry => "retry",
            AttemptOutcome::Failed => "failed",
        }
    }
}

/// The outcome of attempt number `attempt` (1-based) that got `status` (`None`: no answer).
pub fn outcome_of(status: Option<u16>, attempt: u32) -> AttemptOutcome {
    let retryable = match status {
        Some(200..=299) => return AttemptOutcome::Delivered,
        Some(408 | 425 | 429) | Some(500..) | None => true,
        Some(_) => false,
    };
    if retryable && attempt < POSTBACK_MAX_ATTEMPTS {
        AttemptOutcome::Retry
    } else {
        AttemptOutcome::Failed
    }
}

/// The wait after failed attempt number `attempt` (1-based): exponential from the base,
/// capped, plus up to 1/8 jitter derived from the key so that retries to one receiver spread.
pub fn backoff_ms(attempt: u32, key: &str) -> i64 {
    let exponent = attempt.saturating_sub(1).min(30);
    let base = POSTBACK_BACKOFF_BASE_MS
        .saturating_mul(1_i64 << exponent)
        .min(POSTBACK_BACKOFF_MAX_MS);
    let spread = key.bytes().fold(u64::from(attempt), |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(b))
    }) % 1024;
    base + base / 8 * spread as i64 / 1024
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostbackStatus {
    Pending,
    Delivered,
    Failed,
}

/// A postback as the journey view shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostbackState {
    pub key: String,
    pub network: String,
    pub conversion_id: String,
    pub event_name: String,
    pub method: PostbackMethod,
    pub url: String,
    pub status: PostbackStatus,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_ms: Option<i64>,
    /// When the next attempt is due, while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_ms: Option<i64>,
    pub created_at_ms: i64,
    /// The journey still keeps raw device ids for it ([`device`]): only while pending.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub holds_device_ids: bool,
}

#[cfg(test)]
mod tests;

/// The postback a "test fire" sends for `config`: every macro filled with a recognisable
/// sample value (`conversion_id` `test-<nonce>`, revenue 1.00 USD, times `now_ms`), under
/// `network` (`*` becomes `test`). The receiver sees exactly what a real one looks like.
pub fn test_postback(
    config: &PostbackConfig,
    app_id: &str,
    now_ms: i64,
    nonce: &str,
) -> Result<Postback, String> {
    let network = if config.network == ANY_NETWORK {
        "test"
    } else {
        config.network.as_str()
    };
    let conversion_id = format!("test-{nonce}");
    let key = idempotency_key(app_id, &conversion_id, network);
    let sample = |name: &str| -> String {
        match name {
            "idempotency_key" => key.clone(),
            "conversion_id" => conversion_id.clone(),
            "event_name" => config
                .events
                .first()
                .cloned()
                .unwrap_or_else(|| "Order Completed".into()),
            "revenue" | "credited_value" => "1".into(),
            "credit" => "1".into(),
            "currency" => "USD".into(),
            "order_id" => format!("test-order-{nonce}"),
            "conversion_ts" | "attributed_ts" | "touch_ts" => now_ms.to_string(),
            "conversion_time" | "attributed_time" | "touch_time" => format_millis(now_ms),
            "model" => "last_click".into(),
            "network" | "source" => network.to_owned(),
            "medium" => "cpc".into(),
            "campaign" => "test".into(),
            "touch_id" => format!("test-touch-{nonce}"),
            "click_id" => format!("test-click-{nonce}"),
            "network_click_id" => format!("test-nclick-{nonce}"),
            "link_id" => "test-link".into(),
            "app_id" => app_id.to_owned(),
            "revision" => "0".into(),
            // Recognisable, and shaped like the real ones (not zeros, so never taken for a
            // refused id).
            "advertising_id" | "idfa" => "7E571DFA-7E57-4000-8000-00000000000A".into(),
            "gaid" => "7e576a1d-7e57-4000-8000-00000000000b".into(),
            "idfv" => "7E571DF5-7E57-4000-8000-00000000000C".into(),
            "android_id" => "7e57a4d401d0000d".into(),
            _ => "test".into(),
        }
    };
    let values: BTreeMap<&str, String> = template::MACROS.iter().map(|m| (*m, sample(m))).collect();
    let url = template::expand(&config.url, &values)?;
    let body = match config.method {
        PostbackMethod::Get => None,
        PostbackMethod::Post => serde_json::to_string(&values).ok(),
    };
    Ok(Postback {
        key,
        app_id: app_id.to_owned(),
        network: network.to_owned(),
        conversion_id,
        event_name: values.get("event_name").cloned().unwrap_or_default(),
        touch_id: format!("test-touch-{nonce}"),
        method: config.method,
        url,
        body,
        created_at_ms: now_ms,
        device_ids: None,
    })
}

#[cfg(test)]
#[path = "device_tests.rs"]
mod device_tests;
