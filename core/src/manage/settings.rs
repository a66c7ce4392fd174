//! An app's settings as the management API shows and edits them.
//!
//! `GET /admin/v1/apps/{app}/settings` shows a [`SettingsDoc`]; `PATCH` applies a JSON
//! merge-patch to it ([`SettingsDoc::patched`]): a field set to `null` goes back to its
//! default. The result is checked by [`AppSettings::validate`], the same check the edge runs
//! when it loads the app, so what is accepted here is what the edge will use.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::doc::{field, merge_patch, object};
use crate::attribution::Model;
use crate::currency::validate_reporting_currency;
use crate::error::FieldError;
use crate::fraud::FraudRules;
use crate::mobile::settings::{validate_mobile_settings, MobileSettings};
use crate::privacy::consent::ConsentMapping;
use crate::privacy::ip::IpHandling;
use crate::ratelimit::RateLimitTier;
use crate::settings::{AppSettings, Residency};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsDoc {
    pub residency: Residency,
    pub click_window_secs: u32,
    pub view_window_secs: u32,
    pub reattribution_window_secs: u32,
    pub reengagement_window_secs: u32,
    pub default_model: Model,
    pub time_decay_half_life_secs: u32,
    pub conversion_events: Vec<String>,
    pub lifecycle_events: Vec<String>,
    pub fraud_rules: FraudRules,
    /// Which per-app request limit applies at ingest (`core/src/ratelimit.rs`).
    pub rate_limit_tier: RateLimitTier,
    /// Store ids, app-link files, deferred deep links, SKAN (`core/src/mobile/settings.rs`).
    /// Kept in its own column (`apps.mobile`): [`SettingsDoc::of`] leaves the defaults and the
    /// caller fills in what is stored.
    pub mobile: MobileSettings,
    /// The currency `/v1/stats` converts revenue to (ISO code), or none: then amounts stay
    /// per currency only. Kept in its own column (`apps.reporting_currency`) like `mobile`.
    pub reporting_currency: Option<String>,
    /// What is kept of client IP addresses: `truncate` (default), `drop` or `hash`
    /// (`core/src/privacy/ip.rs`).
    pub ip_handling: IpHandling,
    /// The consent categories standing for analytics and advertising
    /// (`core/src/privacy/consent.rs`); Segment's `Analytics` and `Advertising` by default.
    pub consent: ConsentMapping,
    /// Days raw events and touches are kept (`crate::limits::DEFAULT_RETENTION_DAYS`, 1 to
    /// 3,650); conversions and their attribution results stay.
    pub retention_days: u32,
}

const FIELDS: [&str; 16] = [
    "residency",
    "click_window_secs",
    "view_window_secs",
    "reattribution_window_secs",
    "reengagement_window_secs",
    "default_model",
    "time_decay_half_life_secs",
    "conversion_events",
    "lifecycle_events",
    "fraud_rules",
    "rate_limit_tier",
    "mobile",
    "reporting_currency",
    "ip_handling",
    "consent",
    "retention_days",
];

const SECONDS: &str = "a whole number of seconds";
const NAMES: &str = "an array of event names";

impl SettingsDoc {
    pub fn of(settings: &AppSettings) -> SettingsDoc {
        SettingsDoc {
            residency: settings.residency,
            click_window_secs: settings.click_window_secs,
            view_window_secs: settings.view_window_secs,
            reattribution_window_secs: settings.reattribution_window_secs,
            reengagement_window_secs: settings.reengagement_window_secs,
            default_model: settings.default_model,
            time_decay_half_life_secs: settings.time_decay_half_life_secs,
            conversion_events: settings.conversion_events.clone(),
            lifecycle_events: settings.lifecycle_events.clone(),
            fraud_rules: settings.fraud.clone(),
            rate_limit_tier: settings.rate_limit,
            mobile: MobileSettings::default(),
            reporting_currency: None,
            ip_handling: settings.ip_handling,
            consent: settings.consent.clone(),
            retention_days: settings.retention_days,
        }
    }

    /// The settings of app `app_id` (no postbacks: they are their own resource).
    pub fn settings(&self, app_id: &str) -> AppSettings {
        AppSettings {
            app_id: app_id.to_owned(),
            residency: self.residency,
            click_window_secs: self.click_window_secs,
            view_window_secs: self.view_window_secs,
            reattribution_window_secs: self.reattribution_window_secs,
            default_model: self.default_model,
            time_decay_half_life_secs: self.time_decay_half_life_secs,
            conversion_events: self.conversion_events.clone(),
            reengagement_window_secs: self.reengagement_window_secs,
            lifecycle_events: self.lifecycle_events.clone(),
            fraud: self.fraud_rules.clone(),
            rate_limit: self.rate_limit_tier,
            postbacks: Vec::new(),
            has_suppressions: false,
            ip_handling: self.ip_handling,
            consent: self.consent.clone(),
            retention_days: self.retention_days,
        }
    }

    /// Reads a whole settings object (absent fields take their defaults) and validates it.
    pub fn parse(value: &Value) -> Result<SettingsDoc, FieldError> {
        let map = object(value, "", &FIELDS)?;
        let d = SettingsDoc::of(&AppSettings::with_defaults("app"));
        let residency = match field::<String>(map, "", "residency", "global, eu or us")? {
            None => d.residency,
            Some(r) => Residency::parse(&r)
                .ok_or_else(|| FieldError::new("residency", "must be global, eu or us"))?,
        };
        let default_model = match field::<String>(map, "", "default_model", "a model name")? {
            None => d.default_model,
            Some(m) => Model::parse(&m).ok_or_else(|| {
                let names: Vec<&str> = Model::ALL.iter().map(|m| m.as_str()).collect();
                FieldError::new(
                    "default_model",
                    format!("must be one of {}", names.join(", ")),
                )
            })?,
        };
        let fraud_rules = match map.get("fraud_rules") {
            None | Some(Value::Null) => d.fraud_rules,
            Some(v) => FraudRules::deserialize(v)
                .map_err(|e| FieldError::new("fraud_rules", e.to_string()))?,
        };
        let rate_limit_tier = match map.get("rate_limit_tier") {
            None | Some(Value::Null) => d.rate_limit_tier,
            Some(Value::String(tier)) => RateLimitTier::parse(Some(tier))?,
            Some(_) => {
                return Err(FieldError::new(
                    "rate_limit_tier",
                    "must be one of low, default, high, off",
                ))
            }
        };
        let mobile = match map.get("mobile") {
            None | Some(Value::Null) => d.mobile,
            Some(v) => {
                let mobile = MobileSettings::deserialize(v)
                    .map_err(|e| FieldError::new("mobile", e.to_string()))?;
                validate_mobile_settings(&mobile)?;
                mobile
            }
        };
        let reporting_currency =
            field::<String>(map, "", "reporting_currency", "a currency code such as EUR")?;
        if let Some(code) = &reporting_currency {
            validate_reporting_currency(code)?;
        }
        let ip_handling = match field::<String>(map, "", "ip_handling", IpHandling::NAMES)? {
            None => d.ip_handling,
            Some(mode) => IpHandling::parse(&mode).ok_or_else(|| {
                FieldError::new("ip_handling", format!("must be {}", IpHandling::NAMES))
            })?,
        };
        let consent = match map.get("consent") {
            None | Some(Value::Null) => d.consent,
            Some(v) => ConsentMapping::parse(v)?,
        };
        let secs = |name: &str, default: u32| -> Result<u32, FieldError> {
            Ok(field::<u32>(map, "", name, SECONDS)?.unwrap_or(default))
        };
        let doc = SettingsDoc {
            residency,
            click_window_secs: secs("click_window_secs", d.click_window_secs)?,
            view_window_secs: secs("view_window_secs", d.view_window_secs)?,
            reattribution_window_secs: secs(
                "reattribution_window_secs",
                d.reattribution_window_secs,
            )?,
            reengagement_window_secs: secs("reengagement_window_secs", d.reengagement_window_secs)?,
            default_model,
            time_decay_half_life_secs: secs(
                "time_decay_half_life_secs",
                d.time_decay_half_life_secs,
            )?,
            conversion_events: field(map, "", "conversion_events", NAMES)?
                .unwrap_or(d.conversion_events),
            lifecycle_events: field(map, "", "lifecycle_events", NAMES)?
                .unwrap_or(d.lifecycle_events),
            fraud_rules,
            rate_limit_tier,
            mobile,
            reporting_currency,
            ip_handling,
            consent,
            retention_days: field::<u32>(map, "", "retention_days", "a whole number of days")?
                .unwrap_or(d.retention_days),
        };
        doc.settings("app").validate()?;
        Ok(doc)
    }

    /// This document with `patch` (RFC 7396) applied, validated.
    pub fn patched(&self, patch: &Value) -> Result<SettingsDoc, FieldError> {
        if !patch.is_object() {
            return Err(FieldError::new("body", "must be a JSON merge-patch object"));
        }
        let mut value = serde_json::to_value(self)
            .map_err(|e| FieldError::new("body", format!("cannot be applied ({e})")))?;
        merge_patch(&mut value, patch);
        SettingsDoc::parse(&value)
    }
}
