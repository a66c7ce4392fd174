//! Per-app attribution settings, their defaults and their bounds.

use serde::{Deserialize, Serialize};

use crate::attribution::Model;
use crate::error::FieldError;
use crate::limits::*;

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
        }
    }

    pub fn is_conversion(&self, event_name: &str) -> bool {
        self.conversion_events.iter().any(|c| c == event_name)
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
        if self.conversion_events.len() > MAX_CONVERSION_EVENTS {
            return Err(FieldError::new(
                "conversion_events",
                format!("has more than {MAX_CONVERSION_EVENTS} names"),
            ));
        }
        if let Some(bad) = self
            .conversion_events
            .iter()
            .find(|n| n.is_empty() || n.chars().count() > MAX_EVENT_NAME_CHARS)
        {
            return Err(FieldError::new(
                "conversion_events",
                format!("{bad:?} must be 1 to {MAX_EVENT_NAME_CHARS} characters"),
            ));
        }
        Ok(())
    }
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
