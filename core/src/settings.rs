//! Per-app attribution settings, their defaults and their bounds.
//!
//! Fields added after the first release have serde defaults, so settings serialized by an
//! older Worker still read.

use serde::{Deserialize, Serialize};

use crate::attribution::Model;
use crate::error::FieldError;
use crate::fraud::FraudRules;
use crate::limits::*;
use crate::postback::PostbackConfig;
use crate::privacy::consent::ConsentMapping;
use crate::privacy::ip::IpHandling;

/// Where an app's journeys and raw events may live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Residency {
    /// Nearest to each user.
    #[default]
    Global,
    /// Journeys in Cloudflare's EU jurisdiction, events to the EU origin, whatever the user's
    /// location.
    Eu,
    /// Journeys placed in North America, events to the US origin.
    Us,
}

impl Residency {
    pub fn parse(s: &str) -> Option<Residency> {
        match s {
            "global" => Some(Residency::Global),
            "eu" => Some(Residency::Eu),
            "us" => Some(Residency::Us),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Residency::Global => "global",
            Residency::Eu => "eu",
            Residency::Us => "us",
        }
    }
}

/// Segment's semantic names for the conversions most apps care about.
pub const DEFAULT_CONVERSION_EVENTS: [&str; 3] =
    ["Application Installed", "Order Completed", "Signed Up"];
/// The conversions that happen once per user lifecycle (see `crate::lifecycle`).
pub const DEFAULT_LIFECYCLE_EVENTS: [&str; 2] = ["Application Installed", "Signed Up"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppSettings {
    pub app_id: String,
    #[serde(default)]
    pub residency: Residency,
    pub click_window_secs: u32,
    pub view_window_secs: u32,
    pub reattribution_window_secs: u32,
    pub default_model: Model,
    pub time_decay_half_life_secs: u32,
    pub conversion_events: Vec<String>,
    /// See `crate::lifecycle`; 0 turns re-engagement credit off.
    #[serde(default = "default_reengagement_window")]
    pub reengagement_window_secs: u32,
    /// Conversions counted once per lifecycle: a repeat inside the re-attribution window is
    /// recorded but not attributed (`crate::lifecycle`).
    #[serde(default = "default_lifecycle_events")]
    pub lifecycle_events: Vec<String>,
    #[serde(default)]
    pub fraud: FraudRules,
    /// Postbacks per network (`crate::postback`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub postbacks: Vec<PostbackConfig>,
    /// Ingest requests allowed per window (`crate::ratelimit`).
    #[serde(default)]
    pub rate_limit: crate::ratelimit::RateLimitTier,
    /// Whether the app's suppression list (`crate::privacy`) holds anyone: the ingest Worker
    /// looks events up in it only then, so apps without suppressions pay nothing per request.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub has_suppressions: bool,
    /// What is kept of a client IP address once the request's checks are done
    /// (`crate::privacy::ip`): truncated by default.
    #[serde(default)]
    pub ip_handling: IpHandling,
    /// Which `context.consent.categoryPreferences` categories stand for analytics and
    /// advertising (`crate::privacy::consent`).
    #[serde(default)]
    pub consent: ConsentMapping,
    /// Days raw events and touches are kept in the app's journeys (issue 12, retention).
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
}

fn default_retention_days() -> u32 {
    DEFAULT_RETENTION_DAYS
}

fn default_reengagement_window() -> u32 {
    DEFAULT_REENGAGEMENT_WINDOW_SECS
}

fn default_lifecycle_events() -> Vec<String> {
    DEFAULT_LIFECYCLE_EVENTS
        .iter()
        .map(|s| s.to_string())
        .collect()
}

impl AppSettings {
    pub fn with_defaults(app_id: impl Into<String>) -> Self {
        AppSettings {
            app_id: app_id.into(),
            residency: Residency::Global,
            click_window_secs: DEFAULT_CLICK_WINDOW_SECS,
            view_window_secs: DEFAULT_VIEW_WINDOW_SECS,
            reattribution_window_secs: DEFAULT_REATTRIBUTION_WINDOW_SECS,
            default_model: Model::LastClick,
            time_decay_half_life_secs: DEFAULT_TIME_DECAY_HALF_LIFE_SECS,
            conversion_events: DEFAULT_CONVERSION_EVENTS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            reengagement_window_secs: DEFAULT_REENGAGEMENT_WINDOW_SECS,
            lifecycle_events: default_lifecycle_events(),
            fraud: FraudRules::default(),
            postbacks: Vec::new(),
            rate_limit: crate::ratelimit::RateLimitTier::Default,
            has_suppressions: false,
            ip_handling: IpHandling::Truncate,
            consent: ConsentMapping::default(),
            retention_days: DEFAULT_RETENTION_DAYS,
        }
    }

    pub fn is_conversion(&self, event_name: &str) -> bool {
        self.conversion_events.iter().any(|c| c == event_name)
    }

    pub fn is_lifecycle(&self, conversion_name: &str) -> bool {
        self.lifecycle_events.iter().any(|c| c == conversion_name)
    }

    pub fn reattribution_window_ms(&self) -> i64 {
        i64::from(self.reattribution_window_secs) * 1000
    }

    pub fn reengagement_window_ms(&self) -> i64 {
        i64::from(self.reengagement_window_secs) * 1000
    }

    pub fn validate(&self) -> Result<(), FieldError> {
        within(
            "click_window_secs",
            self.click_window_secs,
            1,
            MAX_CLICK_WINDOW_SECS,
        )?;
        within(
            "view_window_secs",
            self.view_window_secs,
            0,
            MAX_VIEW_WINDOW_SECS,
        )?;
        within(
            "reattribution_window_secs",
            self.reattribution_window_secs,
            0,
            MAX_REATTRIBUTION_WINDOW_SECS,
        )?;
        within(
            "time_decay_half_life_secs",
            self.time_decay_half_life_secs,
            MIN_TIME_DECAY_HALF_LIFE_SECS,
            MAX_TIME_DECAY_HALF_LIFE_SECS,
        )?;
        within(
            "retention_days",
            self.retention_days,
            MIN_RETENTION_DAYS,
            MAX_RETENTION_DAYS,
        )?;
        within(
            "reengagement_window_secs",
            self.reengagement_window_secs,
            0,
            MAX_REENGAGEMENT_WINDOW_SECS,
        )?;
        check_event_names("conversion_events", &self.conversion_events)?;
        check_event_names("lifecycle_events", &self.lifecycle_events)?;
        self.fraud.validate()?;
        self.consent.validate()?;
        // Loopback is tolerated here: whoever loads settings for sending checks postbacks
        // again with the deployment's own policy (`validate_configs` with its `Targets`).
        crate::postback::validate_configs(
            &self.postbacks,
            crate::postback::target::Targets::AllowLoopback,
        )
    }
}

/// A list of event names an app configures: at most [`MAX_CONVERSION_EVENTS`], each 1 to
/// [`MAX_EVENT_NAME_CHARS`] characters.
pub fn check_event_names(field: &str, names: &[String]) -> Result<(), FieldError> {
    if names.len() > MAX_CONVERSION_EVENTS {
        return Err(FieldError::new(
            field,
            format!("has more than {MAX_CONVERSION_EVENTS} names"),
        ));
    }
    if let Some(bad) = names
        .iter()
        .find(|n| n.is_empty() || n.chars().count() > MAX_EVENT_NAME_CHARS)
    {
        return Err(FieldError::new(
            field,
            format!("{bad:?} must be 1 to {MAX_EVENT_NAME_CHARS} characters"),
        ));
    }
    Ok(())
}

fn within(field: &str, value: u32, min: u32, max: u32) -> Result<(), FieldError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("must be between {min} and {max}, got {value}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let s = AppSettings::with_defaults("app");
        s.validate().expect("defaults valid");
        assert_eq!(s.click_window_secs, 7 * 24 * 3600);
        assert_eq!(s.view_window_secs, 24 * 3600);
        assert!(s.is_conversion("Order Completed"));
        assert!(!s.is_conversion("order completed"));
    }

    #[test]
    fn settings_serialized_before_fraud_fields_still_read() {
        let old = serde_json::json!({
            "app_id": "app", "residency": "eu", "click_window_secs": 3600, "view_window_secs": 0,
            "reattribution_window_secs": 0, "default_model": "linear",
            "time_decay_half_life_secs": 3600, "conversion_events": ["Signed Up"]
        });
        let s: AppSettings = serde_json::from_value(old).expect("reads");
        assert_eq!(s.reengagement_window_secs, DEFAULT_REENGAGEMENT_WINDOW_SECS);
        assert_eq!(s.lifecycle_events, ["Application Installed", "Signed Up"]);
        assert_eq!(s.fraud, FraudRules::default());
        assert!(s.postbacks.is_empty());
        s.validate().expect("valid");
    }

    #[test]
    fn new_windows_and_lists_are_bounded() {
        let mut s = AppSettings::with_defaults("app");
        s.reengagement_window_secs = MAX_REENGAGEMENT_WINDOW_SECS + 1;
        assert_eq!(
            s.validate().expect_err("long").field,
            "reengagement_window_secs"
        );
        let mut s = AppSettings::with_defaults("app");
        s.lifecycle_events = vec![String::new()];
        assert_eq!(s.validate().expect_err("empty").field, "lifecycle_events");
        let mut s = AppSettings::with_defaults("app");
        s.fraud.timestamps.max_future_secs = 1;
        assert_eq!(
            s.validate().expect_err("short").field,
            "fraud_rules.timestamps.max_future_secs"
        );
    }

    #[test]
    fn out_of_bounds_windows_name_the_field() {
        let mut s = AppSettings::with_defaults("app");
        s.click_window_secs = 0;
        assert_eq!(s.validate().expect_err("zero").field, "click_window_secs");
        let mut s = AppSettings::with_defaults("app");
        s.time_decay_half_life_secs = 1;
        assert_eq!(
            s.validate().expect_err("tiny").field,
            "time_decay_half_life_secs"
        );
    }
}
