//! Consent (issue 12, scope 5): Segment's `context.consent.categoryPreferences`, an object of
//! consent category → boolean that a consent management platform (or the app) puts on every
//! event, read through the app's mapping of our two purposes to its category names.
//!
//! - No `context.consent.categoryPreferences` on the event: the event is treated as today (the
//!   app has not wired consent into its SDK, or collects under another legal basis; Segment
//!   likewise lets such events through).
//! - With it, a purpose is consented only when its category is there and `true`; missing,
//!   `false` or anything that is not a boolean is a refusal (consent is never guessed). A
//!   `categoryPreferences` that is not an object consents to nothing.
//! - Without analytics consent nothing is stored: the ingest Worker drops the event before any
//!   journey sees it, counts it per app and day (D1 `consent_dropped_events`) and answers it as
//!   taken, like a suppressed subject's (the SDK must not retry it).
//! - Without advertising consent the event is stored for analytics, but is not used for
//!   attribution: its touch is stored rejected and never earns credit, a conversion is reported
//!   unattributed, and no postback fires for it. It travels as a verdict with the event
//!   ([`Reason::NoAdvertisingConsent`], like the ingest fraud rules), so re-runs keep it.
//!
//! The mapping's defaults are Segment's own category names (`Analytics`, `Advertising`, as
//! Segment's consent documentation and `@segment/consent-manager` name them); an app whose CMP
//! uses other ids (OneTrust's `C0002`, `C0004`, ...) sets them in its settings.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::FieldError;
use crate::event::Event;
use crate::fraud::{Flag, Reason};
use crate::manage::doc::{field, object};

/// Segment's category for analytics (`context.consent.categoryPreferences.Analytics`).
pub const DEFAULT_ANALYTICS_CATEGORY: &str = "Analytics";
/// Segment's category for advertising.
pub const DEFAULT_ADVERTISING_CATEGORY: &str = "Advertising";
/// Longest category name an app may map a purpose to.
pub const MAX_CONSENT_CATEGORY_CHARS: usize = 100;

/// Which consent category stands for each purpose, as the app's CMP names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentMapping {
    #[serde(default = "default_analytics")]
    pub analytics: String,
    #[serde(default = "default_advertising")]
    pub advertising: String,
}

fn default_analytics() -> String {
    DEFAULT_ANALYTICS_CATEGORY.to_owned()
}

fn default_advertising() -> String {
    DEFAULT_ADVERTISING_CATEGORY.to_owned()
}

impl Default for ConsentMapping {
    fn default() -> Self {
        ConsentMapping {
            analytics: default_analytics(),
            advertising: default_advertising(),
        }
    }
}

impl ConsentMapping {
    /// The settings field `consent` (absent fields take their defaults), checked.
    pub fn parse(value: &Value) -> Result<ConsentMapping, FieldError> {
        let map = object(value, "consent", &["analytics", "advertising"])?;
        let expected = "a consent category name";
        let mapping = ConsentMapping {
            analytics: field(map, "consent", "analytics", expected)?
                .unwrap_or_else(default_analytics),
            advertising: field(map, "consent", "advertising", expected)?
                .unwrap_or_else(default_advertising),
        };
        mapping.validate()?;
        Ok(mapping)
    }

    pub fn validate(&self) -> Result<(), FieldError> {
        for (name, category) in [
            ("consent.analytics", &self.analytics),
            ("consent.advertising", &self.advertising),
        ] {
            if category.trim().is_empty() || category.chars().count() > MAX_CONSENT_CATEGORY_CHARS {
                return Err(FieldError::new(
                    name,
                    format!(
                        "must be a category name of 1 to {MAX_CONSENT_CATEGORY_CHARS} characters"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// What an event's consent allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// Everything (consented to both purposes, or the event carries no consent).
    Full,
    /// Stored for analytics; not used for attribution or postbacks.
    AnalyticsOnly,
    /// Nothing: not stored.
    Refused,
}

/// The event's consent under `mapping`.
pub fn consent_of(event: &Event, mapping: &ConsentMapping) -> Consent {
    let Some(preferences) = event
        .context
        .get("consent")
        .and_then(|c| c.get("categoryPreferences"))
        .filter(|p| !p.is_null())
    else {
        return Consent::Full;
    };
    let granted = |category: &str| {
        preferences
            .as_object()
            .and_then(|p| p.get(category))
            .and_then(Value::as_bool)
            == Some(true)
    };
    match (granted(&mapping.analytics), granted(&mapping.advertising)) {
        (false, _) => Consent::Refused,
        (true, false) => Consent::AnalyticsOnly,
        (true, true) => Consent::Full,
    }
}

/// The verdict that keeps an [`Consent::AnalyticsOnly`] event out of attribution and postbacks.
pub fn no_advertising_flag(mapping: &ConsentMapping) -> Flag {
    Flag::new(
        Reason::NoAdvertisingConsent,
        format!(
            "no advertising consent (context.consent.categoryPreferences.{} is not true)",
            mapping.advertising
        ),
    )
}

#[cfg(test)]
#[path = "consent_tests.rs"]
mod tests;
