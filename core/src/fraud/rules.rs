//! Per-app fraud rule settings: every rule can be switched off and has named thresholds.
//!
//! Stored in D1 as the JSON column `apps.fraud_rules`; every field is optional (defaults from
//! `limits.rs`), unknown fields are refused so a typo cannot silently disable nothing.

use serde::{Deserialize, Serialize};

use super::lists::DEFAULT_DATACENTER_ASNS;
use crate::error::FieldError;
use crate::limits::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FraudRules {
    pub click_injection: ClickInjection,
    pub click_spamming: ClickSpamming,
    pub ip_click_flood: IpClickFlood,
    pub device_click_flood: DeviceClickFlood,
    pub datacenter: Datacenter,
    pub bot_user_agents: BotUserAgents,
    pub timestamps: Timestamps,
    /// Conversions judged by click-to-install time (click injection and spamming).
    pub ctit_events: Vec<String>,
}

impl Default for FraudRules {
    fn default() -> Self {
        FraudRules {
            click_injection: ClickInjection::default(),
            click_spamming: ClickSpamming::default(),
            ip_click_flood: IpClickFlood::default(),
            device_click_flood: DeviceClickFlood::default(),
            datacenter: Datacenter::default(),
            bot_user_agents: BotUserAgents::default(),
            timestamps: Timestamps::default(),
            ctit_events: vec!["Application Installed".to_owned()],
        }
    }
}

/// Rejects installs sooner than `min_ctit_secs` after their last click.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClickInjection {
    pub enabled: bool,
    pub min_ctit_secs: u32,
}

impl Default for ClickInjection {
    fn default() -> Self {
        ClickInjection {
            enabled: true,
            min_ctit_secs: DEFAULT_MIN_CTIT_SECS,
        }
    }
}

/// Rejects installs later than `max_ctit_secs` after their last click.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClickSpamming {
    pub enabled: bool,
    pub max_ctit_secs: u32,
}

impl Default for ClickSpamming {
    fn default() -> Self {
        ClickSpamming {
            enabled: true,
            max_ctit_secs: DEFAULT_MAX_CTIT_SECS,
        }
    }
}

/// Rejects tracking-link clicks past the `max_clicks`-th from one IP in `window_secs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IpClickFlood {
    pub enabled: bool,
    pub max_clicks: u32,
    pub window_secs: u32,
}

impl Default for IpClickFlood {
    fn default() -> Self {
        IpClickFlood {
            enabled: true,
            max_clicks: DEFAULT_MAX_CLICKS_PER_IP,
            window_secs: DEFAULT_CLICK_FLOOD_WINDOW_SECS,
        }
    }
}

/// Rejects tracking-link clicks past the `max_clicks`-th from one device in `window_secs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceClickFlood {
    pub enabled: bool,
    pub max_clicks: u32,
    pub window_secs: u32,
}

impl Default for DeviceClickFlood {
    fn default() -> Self {
        DeviceClickFlood {
            enabled: true,
            max_clicks: DEFAULT_MAX_CLICKS_PER_DEVICE,
            window_secs: DEFAULT_CLICK_FLOOD_WINDOW_SECS,
        }
    }
}

/// Rejects events sent directly from a listed network. `asns` replaces the default list
/// ([`DEFAULT_DATACENTER_ASNS`]) when set; `extra_asns` adds to whichever list applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Datacenter {
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asns: Option<Vec<u32>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_asns: Vec<u32>,
}

impl Default for Datacenter {
    fn default() -> Self {
        Datacenter {
            enabled: true,
            asns: None,
            extra_asns: Vec::new(),
        }
    }
}

impl Datacenter {
    pub fn blocks(&self, asn: u32) -> bool {
        let listed = match &self.asns {
            Some(own) => own.contains(&asn),
            None => DEFAULT_DATACENTER_ASNS.binary_search(&asn).is_ok(),
        };
        self.enabled && (listed || self.extra_asns.contains(&asn))
    }
}

/// Rejects events whose `context.userAgent` is a bot's (default list plus `extra_patterns`,
/// matched case-insensitively as substrings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BotUserAgents {
    pub enabled: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_patterns: Vec<String>,
}

impl Default for BotUserAgents {
    fn default() -> Self {
        BotUserAgents {
            enabled: true,
            extra_patterns: Vec::new(),
        }
    }
}

/// Rejects events more than `max_future_secs` ahead of, or `max_past_secs` behind, the time
/// they were received (after clock-skew correction).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timestamps {
    pub enabled: bool,
    pub max_future_secs: u32,
    pub max_past_secs: u32,
}

impl Default for Timestamps {
    fn default() -> Self {
        Timestamps {
            enabled: true,
            max_future_secs: DEFAULT_MAX_FUTURE_SECS,
            max_past_secs: DEFAULT_MAX_PAST_SECS,
        }
    }
}

impl FraudRules {
    /// Whether the rule that gives `reason` is switched on.
    pub fn enabled(&self, reason: super::Reason) -> bool {
        use super::Reason::*;
        match reason {
            ClickInjection => self.click_injection.enabled,
            ClickSpamming => self.click_spamming.enabled,
            IpClickFlood => self.ip_click_flood.enabled,
            DeviceClickFlood => self.device_click_flood.enabled,
            DatacenterAsn => self.datacenter.enabled,
            BotUserAgent => self.bot_user_agents.enabled,
            FutureTimestamp | StaleTimestamp => self.timestamps.enabled,
            // Not a rule an app switches off: the person's consent, kept by every re-run.
            NoAdvertisingConsent => true,
        }
    }

    pub fn validate(&self) -> Result<(), FieldError> {
        let field = |name: &str| format!("fraud_rules.{name}");
        within(
            &field("click_injection.min_ctit_secs"),
            self.click_injection.min_ctit_secs,
            0,
            MAX_MIN_CTIT_SECS,
        )?;
        within(
            &field("click_spamming.max_ctit_secs"),
            self.click_spamming.max_ctit_secs,
            MIN_MAX_CTIT_SECS,
            MAX_CLICK_WINDOW_SECS,
        )?;
        if self.click_injection.enabled
            && self.click_spamming.enabled
            && self.click_spamming.max_ctit_secs <= self.click_injection.min_ctit_secs
        {
            return Err(FieldError::new(
                field("click_spamming.max_ctit_secs"),
                "must be greater than click_injection.min_ctit_secs",
            ));
        }
        for (name, max, window) in [
            (
                "ip_click_flood",
                self.ip_click_flood.max_clicks,
                self.ip_click_flood.window_secs,
            ),
            (
                "device_click_flood",
                self.device_click_flood.max_clicks,
                self.device_click_flood.window_secs,
            ),
        ] {
            within(
                &field(&format!("{name}.max_clicks")),
                max,
                1,
                MAX_CLICKS_LIMIT,
            )?;
            within(
                &field(&format!("{name}.window_secs")),
                window,
                MIN_CLICK_FLOOD_WINDOW_SECS,
                MAX_CLICK_FLOOD_WINDOW_SECS,
            )?;
        }
        let asn_count =
            self.datacenter.asns.as_ref().map_or(0, Vec::len) + self.datacenter.extra_asns.len();
        if asn_count > MAX_BLOCKED_ASNS {
            return Err(FieldError::new(
                field("datacenter"),
                format!("lists {asn_count} ASNs; the limit is {MAX_BLOCKED_ASNS}"),
            ));
        }
        let patterns = &self.bot_user_agents.extra_patterns;
        if patterns.len() > MAX_BOT_PATTERNS {
            return Err(FieldError::new(
                field("bot_user_agents.extra_patterns"),
                format!("has more than {MAX_BOT_PATTERNS} patterns"),
            ));
        }
        if let Some(bad) = patterns
            .iter()
            .find(|p| p.trim().is_empty() || p.chars().count() > MAX_BOT_PATTERN_CHARS)
        {
            return Err(FieldError::new(
                field("bot_user_agents.extra_patterns"),
                format!("{bad:?} must be 1 to {MAX_BOT_PATTERN_CHARS} characters"),
            ));
        }
        within(
            &field("timestamps.max_future_secs"),
            self.timestamps.max_future_secs,
            MIN_MAX_FUTURE_SECS,
            MAX_MAX_FUTURE_SECS,
        )?;
        within(
            &field("timestamps.max_past_secs"),
            self.timestamps.max_past_secs,
            MIN_MAX_PAST_SECS,
            MAX_MAX_PAST_SECS,
        )?;
        crate::settings::check_event_names(&field("ctit_events"), &self.ctit_events)
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
