//! Apps and their keys in D1: who a write key or read token belongs to, and the app's
//! attribution settings.
//!
//! Lookups are cached per isolate for [`AUTH_CACHE_TTL_MS`] (unknown keys for
//! [`NEGATIVE_AUTH_CACHE_TTL_MS`]) so a busy ingest path does not query D1 per request. A
//! revoked key, an expired rotation, an archived app or a changed setting therefore takes
//! effect within that time (60 s); [`app_for_key_fresh`] reads D1 now (re-runs of attribution
//! and the management API use it). The caches are LRUs of [`AUTH_CACHE_MAX_ENTRIES`]
//! ([`crate::lru`]): unknown keys evict the least recently used entry, never the whole cache.
//!
//! A manage key also reads (it is its app's owner); a read token never writes.
//!
//! Settings include the fraud rules (`apps.fraud_rules`, JSON) and the app's postback
//! configurations (table `postback_configs`, enabled rows), read in the same query. Invalid
//! fraud rules make the app's settings invalid, like any other setting (a fraud policy is not
//! guessed); an invalid postback configuration is left out and logged, so that one bad
//! template stops its postbacks, not the app's ingestion.

use std::cell::RefCell;

use attrib_core::attribution::Model;
use attrib_core::fraud::FraudRules;
use attrib_core::keys::{hash_key, KeyKind, WriteKeyClass};
use attrib_core::limits::MAX_POSTBACK_CONFIGS;
use attrib_core::postback::target::Targets;
use attrib_core::postback::{validate_configs, PostbackConfig};
use attrib_core::privacy::consent::ConsentMapping;
use attrib_core::privacy::ip::IpHandling;
use attrib_core::ratelimit::RateLimitTier;
use attrib_core::settings::{AppSettings, Residency};
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{Date, Env};

use crate::lru::Lru;
use crate::EdgeError;

pub const DB_BINDING: &str = "DB";
pub const AUTH_CACHE_TTL_MS: u64 = 60_000;
pub const NEGATIVE_AUTH_CACHE_TTL_MS: u64 = 10_000;
/// `AUTH_CACHE_TTL_SECS` shortens [`AUTH_CACHE_TTL_MS`] (1 to 60 s; tests use 1 s so that a
/// revocation is seen at once). It can never lengthen it: 60 s is the documented bound.
pub const AUTH_CACHE_TTL_VAR: &str = "AUTH_CACHE_TTL_SECS";

pub(crate) fn positive_ttl_ms(env: &Env) -> u64 {
    crate::config::var(env, AUTH_CACHE_TTL_VAR)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(AUTH_CACHE_TTL_MS, |s| {
            (s * 1000).clamp(1000, AUTH_CACHE_TTL_MS)
        })
}

/// Entries per cache (keys, links); the least recently used one makes room.
pub const AUTH_CACHE_MAX_ENTRIES: usize = 10_000;
/// The variable that lets postbacks and link tests reach loopback (local runs and tests only).
pub const ALLOW_LOOPBACK_VAR: &str = "ALLOW_LOOPBACK_TARGETS";

/// The outbound-target policy of this deployment (`core::postback::target`).
pub fn targets(env: &Env) -> Targets {
    Targets::from_flag(crate::config::var(env, ALLOW_LOOPBACK_VAR).as_deref())
}

#[derive(Debug, Deserialize)]
struct AppRow {
    id: String,
    residency: String,
    click_window_secs: f64,
    view_window_secs: f64,
    reattribution_window_secs: f64,
    default_model: String,
    time_decay_half_life_secs: f64,
    conversion_events: String,
    reengagement_window_secs: f64,
    lifecycle_events: String,
    fraud_rules: String,
    postbacks: String,
    #[serde(default)]
    rate_limit_tier: Option<String>,
    /// 1 when the app's suppression list holds anyone (migrations/0011_suppression.sql).
    #[serde(default)]
    has_suppressions: Option<f64>,
    /// `truncate`, `drop` or `hash` (migrations/0013_privacy_ip_consent.sql).
    #[serde(default)]
    ip_handling: Option<String>,
    /// The consent mapping, JSON (migrations/0013_privacy_ip_consent.sql).
    #[serde(default)]
    consent: Option<String>,
    /// Days raw events and touches are kept (migrations/0018_retention.sql).
    #[serde(default)]
    retention_days: Option<f64>,
}

/// The columns every settings query selects (from `apps a`), in [`AppRow`]'s shape.
macro_rules! app_columns {
    () => {
        "a.id, a.residency, a.click_window_secs, a.view_window_secs, \
         a.reattribution_window_secs, a.default_model, a.time_decay_half_life_secs, \
         a.conversion_events, a.reengagement_window_secs, a.lifecycle_events, a.fraud_rules, \
         a.rate_limit_tier, a.ip_handling, a.consent, a.retention_days, \
         EXISTS (SELECT 1 FROM suppressions s WHERE s.app_id = a.id) AS has_suppressions, \
         (SELECT json_group_array(json_object('network', p.network, 'url', p.url_template, \
           'method', p.method, 'events', json(p.events))) \
          FROM postback_configs p WHERE p.app_id = a.id AND p.enabled = 1) AS postbacks"
    };
}

/// The app's columns and the key's class (`api_keys.class`, migrations/0008_write_key_class.sql).
const APP_BY_KEY: &str = concat!(
    "SELECT ",
    app_columns!(),
    ", k.class AS key_class FROM api_keys k JOIN apps a ON a.id = k.app_id \
     WHERE k.key_hash = ?1 AND (k.kind = ?2 OR (?2 = 'read' AND k.kind = 'manage')) \
     AND k.revoked_at IS NULL AND a.archived_at IS NULL \
     AND (k.expires_at IS NULL OR k.expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))"
);

type CacheEntry = (u64, Option<(AppSettings, WriteKeyClass)>);

#[derive(Debug, Deserialize)]
struct KeyedAppRow {
    #[serde(flatten)]
    app: AppRow,
    key_class: String,
}

thread_local! {
    static AUTH_CACHE: RefCell<Lru<(KeyKind, String), CacheEntry>> =
        RefCell::new(Lru::new(AUTH_CACHE_MAX_ENTRIES));
}

/// The app `key` belongs to, if it is a live key of `kind`.
pub async fn app_for_key(
    env: &Env,
    key: &str,
    kind: KeyKind,
) -> Result<Option<AppSettings>, EdgeError> {
    Ok(app_and_class(env, key, kind).await?.map(|(app, _)| app))
}

/// The app a live write key belongs to and the key's class (what its events may merge).
pub async fn write_key_app(
    env: &Env,
    key: &str,
) -> Result<Option<(AppSettings, WriteKeyClass)>, EdgeError> {
    app_and_class(env, key, KeyKind::Write).await
}

async fn app_and_class(
    env: &Env,
    key: &str,
    kind: KeyKind,
) -> Result<Option<(AppSettings, WriteKeyClass)>, EdgeError> {
    let hash = hash_key(key);
    let now = Date::now().as_millis();
    let cached = AUTH_CACHE.with(|c| c.borrow_mut().get(&(kind, hash.clone())));
    if let Some((expires, app)) = cached {
        if expires > now {
            return Ok(app);
        }
    }
    load_app(env, hash, kind, now).await
}

const APP_BY_ID: &str = concat!("SELECT ", app_columns!(), " FROM apps a WHERE a.id = ?1");

/// The settings of app `app_id` as D1 holds them now (archived or not), checked as the edge
/// checks them when it loads an app.
pub async fn app_settings(env: &Env, app_id: &str) -> Result<Option<AppSettings>, EdgeError> {
    let row: Option<AppRow> = env
        .d1(DB_BINDING)?
        .prepare(APP_BY_ID)
        .bind(&[JsValue::from_str(app_id)])?
        .first(None)
        .await?;
    row.map(|r| settings_of(r, targets(env))).transpose()
}

#[derive(Deserialize)]
struct MobileRow {
    mobile: String,
}

/// App `app_id`'s mobile settings (`apps.mobile`); defaults when the app has none.
pub async fn app_mobile(
    env: &Env,
    app_id: &str,
) -> Result<attrib_core::mobile::settings::MobileSettings, EdgeError> {
    let row: Option<MobileRow> = env
        .d1(DB_BINDING)?
        .prepare("SELECT mobile FROM apps WHERE id = ?1")
        .bind(&[JsValue::from_str(app_id)])?
        .first(None)
        .await?;
    attrib_core::mobile::settings::parse_mobile_settings(row.as_ref().map(|r| r.mobile.as_str()))
        .map_err(|e| EdgeError::Settings(format!("{}: {}", e.field, e.reason)))
}

/// Drops this isolate's cached lookups of a key (after it is revoked here); other isolates
/// drop theirs within [`AUTH_CACHE_TTL_MS`].
pub fn forget_key(key_hash: &str) {
    AUTH_CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        for kind in [KeyKind::Write, KeyKind::Read, KeyKind::Manage] {
            cache.remove(&(kind, key_hash.to_owned()));
        }
    });
}

/// Like [`app_for_key`], but reads D1 now whatever the cache holds (and refreshes it).
pub async fn app_for_key_fresh(
    env: &Env,
    key: &str,
    kind: KeyKind,
) -> Result<Option<AppSettings>, EdgeError> {
    Ok(load_app(env, hash_key(key), kind, Date::now().as_millis())
        .await?
        .map(|(app, _)| app))
}

async fn load_app(
    env: &Env,
    hash: String,
    kind: KeyKind,
    now: u64,
) -> Result<Option<(AppSettings, WriteKeyClass)>, EdgeError> {
    let db = env.d1(DB_BINDING)?;
    let row: Option<KeyedAppRow> = db
        .prepare(APP_BY_KEY)
        .bind(&[JsValue::from_str(&hash), JsValue::from_str(kind.as_str())])?
        .first(None)
        .await?;
    let targets = targets(env);
    let app = row
        .map(|r| {
            // The column's CHECK allows only these two; anything else is a broken database.
            let class = WriteKeyClass::parse(&r.key_class).ok_or_else(|| {
                EdgeError::Settings(format!("app {}: key class {:?}", r.app.id, r.key_class))
            })?;
            Ok::<_, EdgeError>((settings_of(r.app, targets)?, class))
        })
        .transpose()?;
    let ttl = if app.is_some() {
        positive_ttl_ms(env)
    } else {
        NEGATIVE_AUTH_CACHE_TTL_MS.min(positive_ttl_ms(env))
    };
    AUTH_CACHE.with(|c| {
        c.borrow_mut()
            .insert((kind, hash), (now + ttl, app.clone()))
    });
    Ok(app)
}

fn settings_of(row: AppRow, targets: Targets) -> Result<AppSettings, EdgeError> {
    let bad = |what: &str| EdgeError::Settings(format!("app {}: {what}", row.id));
    let secs = |v: f64, what: &str| {
        if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) {
            Ok(v as u32)
        } else {
            Err(bad(what))
        }
    };
    let settings = AppSettings {
        app_id: row.id.clone(),
        residency: Residency::parse(&row.residency).ok_or_else(|| bad("residency"))?,
        click_window_secs: secs(row.click_window_secs, "click_window_secs")?,
        view_window_secs: secs(row.view_window_secs, "view_window_secs")?,
        reattribution_window_secs: secs(
            row.reattribution_window_secs,
            "reattribution_window_secs",
        )?,
        default_model: Model::parse(&row.default_model).ok_or_else(|| bad("default_model"))?,
        time_decay_half_life_secs: secs(
            row.time_decay_half_life_secs,
            "time_decay_half_life_secs",
        )?,
        conversion_events: serde_json::from_str(&row.conversion_events)
            .map_err(|_| bad("conversion_events"))?,
        reengagement_window_secs: secs(row.reengagement_window_secs, "reengagement_window_secs")?,
        lifecycle_events: serde_json::from_str(&row.lifecycle_events)
            .map_err(|_| bad("lifecycle_events"))?,
        fraud: serde_json::from_str::<FraudRules>(&row.fraud_rules)
            .map_err(|e| bad(&format!("fraud_rules: {e}")))?,
        postbacks: postbacks_of(&row.id, &row.postbacks, targets)
            .map_err(|e| bad(&format!("postbacks: {e}")))?,
        rate_limit: RateLimitTier::parse(row.rate_limit_tier.as_deref())
            .map_err(|e| bad(&e.to_string()))?,
        has_suppressions: row.has_suppressions.is_some_and(|n| n > 0.0),
        ip_handling: match row.ip_handling.as_deref() {
            None => IpHandling::default(),
            Some(mode) => IpHandling::parse(mode).ok_or_else(|| bad("ip_handling"))?,
        },
        consent: match row.consent.as_deref() {
            None => ConsentMapping::default(),
            Some(json) => serde_json::from_str::<serde_json::Value>(json)
                .map_err(|e| e.to_string())
                .and_then(|v| ConsentMapping::parse(&v).map_err(|e| e.to_string()))
                .map_err(|e| bad(&format!("consent: {e}")))?,
        },
        retention_days: match row.retention_days {
            None => attrib_core::limits::DEFAULT_RETENTION_DAYS,
            Some(days) => secs(days, "retention_days")?,
        },
    };
    settings.validate().map_err(|e| bad(&e.to_string()))?;
    Ok(settings)
}

/// The app's usable postback configurations, by network.
fn postbacks_of(
    app_id: &str,
    json: &str,
    targets: Targets,
) -> Result<Vec<PostbackConfig>, serde_json::Error> {
    let rows: Vec<serde_json::Value> = serde_json::from_str(json)?;
    let mut configs: Vec<PostbackConfig> = rows
        .into_iter()
        .filter_map(|row| {
            let network = row
                .get("network")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let checked = serde_json::from_value::<PostbackConfig>(row)
                .map_err(|e| e.to_string())
                .and_then(|c| {
                    validate_configs(std::slice::from_ref(&c), targets)
                        .map(|()| c)
                        .map_err(|e| e.to_string())
                });
            checked
                .map_err(|e| {
                    worker::console_error!("app {app_id}: postback for {network:?} left out: {e}")
                })
                .ok()
        })
        .collect();
    configs.sort_by(|a, b| a.network.cmp(&b.network));
    if configs.len() > MAX_POSTBACK_CONFIGS {
        worker::console_error!(
            "app {app_id}: {} postbacks configured, only the first {MAX_POSTBACK_CONFIGS} used",
            configs.len()
        );
        configs.truncate(MAX_POSTBACK_CONFIGS);
    }
    Ok(configs)
}

/// A tracking link: where it sends people and the campaign it stands for.
#[derive(Debug, Clone, Deserialize)]
pub struct Link {
    pub link_id: String,
    pub destination_url: String,
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub content: Option<String>,
    pub term: Option<String>,
    /// Mobile destinations and deep link (migrations/0010_mobile.sql, core/src/mobile).
    #[serde(default)]
    pub ios_url: Option<String>,
    #[serde(default)]
    pub android_url: Option<String>,
    #[serde(default)]
    pub deep_link: Option<String>,
    /// JSON object text, parsed by `attrib_core::mobile::settings::parse_deep_link_params`.
    #[serde(default)]
    pub deep_link_params: Option<String>,
    #[serde(default)]
    pub app_id: String,
}

#[derive(Debug, Deserialize)]
struct LinkRow {
    #[serde(flatten)]
    link: Link,
    #[serde(flatten)]
    app: AppRow,
}

const LINK_WITH_APP: &str = concat!(
    "SELECT l.id AS link_id, l.destination_url, l.source, l.medium, l.campaign, \
     l.content, l.term, l.ios_url, l.android_url, l.deep_link, l.deep_link_params, \
     l.app_id, ",
    app_columns!(),
    " FROM links l JOIN apps a ON a.id = l.app_id WHERE l.id = ?1 AND a.archived_at IS NULL"
);

type LinkEntry = (u64, Option<(Link, AppSettings)>);

thread_local! {
    static LINK_CACHE: RefCell<Lru<String, LinkEntry>> =
        RefCell::new(Lru::new(AUTH_CACHE_MAX_ENTRIES));
}

/// The link `link_id` and its app's settings, cached like keys.
pub async fn link_with_app(
    env: &Env,
    link_id: &str,
) -> Result<Option<(Link, AppSettings)>, EdgeError> {
    let now = Date::now().as_millis();
    if let Some((expires, found)) = LINK_CACHE.with(|c| c.borrow_mut().get(&link_id.to_owned())) {
        if expires > now {
            return Ok(found);
        }
    }
    let row: Option<LinkRow> = env
        .d1(DB_BINDING)?
        .prepare(LINK_WITH_APP)
        .bind(&[JsValue::from_str(link_id)])?
        .first(None)
        .await?;
    let found = match row {
        Some(row) => Some((row.link, settings_of(row.app, targets(env))?)),
        None => None,
    };
    let ttl = if found.is_some() {
        positive_ttl_ms(env)
    } else {
        NEGATIVE_AUTH_CACHE_TTL_MS.min(positive_ttl_ms(env))
    };
    LINK_CACHE.with(|c| {
        c.borrow_mut()
            .insert(link_id.to_owned(), (now + ttl, found.clone()))
    });
    Ok(found)
}
