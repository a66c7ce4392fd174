//! Fraud rules: which touches may not earn credit and which conversions are not attributed.
//!
//! Rules run at two stages. At ingest ([`screen::screen_event`], [`screen::flood_flag`]) the
//! Worker judges each event with what only the request knows (`request.cf.asn`, the connecting
//! IP, click counters shared across journeys) plus the event's own user agent and timestamps.
//! At attribution ([`screen::judge_conversion`]) the journey judges a conversion by its click
//! (click-to-install time). A verdict is a [`Flag`]: a [`Reason`] code and a human detail.
//!
//! Only touches and conversions are judged: a flagged event that is neither is stored as it
//! is. A flagged touch is stored with `Touch::rejected` = the reason code and never earns
//! credit; a flagged conversion is stored with `AttributionResult::rejected` and no credits.
//! Both travel to the origin in the outbox, which counts them per (app, day, reason) with
//! [`counts::fraud_counts`]. Every rule is configurable per app ([`rules::FraudRules`]).

pub mod counts;
pub mod flood;
pub mod lists;
pub mod rules;
pub mod screen;

use serde::{Deserialize, Serialize};

pub use rules::FraudRules;

/// Why a touch or a conversion was rejected. The snake_case name is the code stored and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// An install too soon after its click: the click was fired on the device at install time.
    ClickInjection,
    /// An install far too long after its click (the tail of click-to-install times).
    ClickSpamming,
    /// Too many tracking-link clicks from one IP address in the window.
    IpClickFlood,
    /// Too many tracking-link clicks from one device in the window.
    DeviceClickFlood,
    /// From a hosting, datacenter or anonymising network (by ASN).
    DatacenterAsn,
    /// A known bot, crawler or HTTP library user agent.
    BotUserAgent,
    /// Timestamped further in the future than the app allows, after skew correction.
    FutureTimestamp,
    /// Timestamped further in the past than the app allows.
    StaleTimestamp,
    /// Not fraud: the event's consent withholds advertising (`crate::privacy::consent`), so it
    /// is kept for analytics but never used for attribution or postbacks. Rides on the same
    /// verdict so that every rule about rejected touches and conversions applies to it.
    NoAdvertisingConsent,
}

/// Where a rule is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// By the ingest Worker, from the request: a fact about the event, kept by re-runs.
    Ingest,
    /// By the journey when it attributes: judged again by every re-run.
    Attribution,
}

impl Reason {
    pub const ALL: [Reason; 9] = [
        Reason::ClickInjection,
        Reason::ClickSpamming,
        Reason::IpClickFlood,
        Reason::DeviceClickFlood,
        Reason::DatacenterAsn,
        Reason::BotUserAgent,
        Reason::FutureTimestamp,
        Reason::StaleTimestamp,
        Reason::NoAdvertisingConsent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::ClickInjection => "click_injection",
            Reason::ClickSpamming => "click_spamming",
            Reason::IpClickFlood => "ip_click_flood",
            Reason::DeviceClickFlood => "device_click_flood",
            Reason::DatacenterAsn => "datacenter_asn",
            Reason::BotUserAgent => "bot_user_agent",
            Reason::FutureTimestamp => "future_timestamp",
            Reason::StaleTimestamp => "stale_timestamp",
            Reason::NoAdvertisingConsent => "no_advertising_consent",
        }
    }

    pub fn parse(code: &str) -> Option<Reason> {
        Self::ALL.into_iter().find(|r| r.as_str() == code)
    }

    /// Whether the reason is a fraud rule's (counted in `fraud_counts`); consent is not.
    pub fn is_fraud(self) -> bool {
        self != Reason::NoAdvertisingConsent
    }

    pub fn stage(self) -> Stage {
        match self {
            Reason::ClickInjection | Reason::ClickSpamming => Stage::Attribution,
            _ => Stage::Ingest,
        }
    }
}

/// A rule's verdict on one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub reason: Reason,
    /// What the rule saw, for people (`"ASN 16509 is on the datacenter list"`).
    pub detail: String,
}

impl Flag {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Flag {
            reason,
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests;
