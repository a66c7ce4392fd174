//! The rules themselves: pure functions from what was seen to a [`Flag`], or none.

use super::lists::{is_bot_agent, SERVER_LIBRARIES};
use super::{Flag, FraudRules, Reason};
use crate::attribution::Basis;
use crate::conversion::Conversion;
use crate::event::{Event, EventType};
use crate::limits::MAX_USER_AGENT_CHARS;
use crate::touch::Touch;

/// What the ingest Worker knows about the request an event came in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestSignals<'a> {
    /// `request.cf.asn`: the network the request came from.
    pub asn: Option<u32>,
    /// `CF-Connecting-IP`.
    pub ip: Option<&'a str>,
}

/// The ingest-time rules that need only the event and its request, in order: timestamps, bot
/// user agent, datacenter network. The first that fires decides.
pub fn screen_event(event: &Event, signals: &RequestSignals, rules: &FraudRules) -> Option<Flag> {
    timestamp_flag(event, rules)
        .or_else(|| bot_flag(event, rules))
        .or_else(|| datacenter_flag(event, signals, rules))
}

fn timestamp_flag(event: &Event, rules: &FraudRules) -> Option<Flag> {
    let bounds = &rules.timestamps;
    if !bounds.enabled {
        return None;
    }
    let ahead_ms = event.timestamp_ms.saturating_sub(event.received_at_ms);
    if ahead_ms > i64::from(bounds.max_future_secs) * 1000 {
        return Some(Flag::new(
            Reason::FutureTimestamp,
            format!(
                "timestamp is {} s after it was received; the limit is {} s",
                ahead_ms / 1000,
                bounds.max_future_secs
            ),
        ));
    }
    let behind_ms = event.received_at_ms.saturating_sub(event.timestamp_ms);
    if behind_ms > i64::from(bounds.max_past_secs) * 1000 {
        return Some(Flag::new(
            Reason::StaleTimestamp,
            format!(
                "timestamp is {} s before it was received; the limit is {} s",
                behind_ms / 1000,
                bounds.max_past_secs
            ),
        ));
    }
    None
}

fn bot_flag(event: &Event, rules: &FraudRules) -> Option<Flag> {
    if !rules.bot_user_agents.enabled {
        return None;
    }
    let agent: String = event
        .context_str(&["userAgent"])?
        .chars()
        .take(MAX_USER_AGENT_CHARS)
        .collect::<String>()
        .to_lowercase();
    let matched = is_bot_agent(&agent, &rules.bot_user_agents.extra_patterns)?;
    Some(Flag::new(
        Reason::BotUserAgent,
        format!("user agent matches {matched:?}"),
    ))
}

fn datacenter_flag(event: &Event, signals: &RequestSignals, rules: &FraudRules) -> Option<Flag> {
    let asn = signals.asn?;
    if !is_direct(event, signals) || !rules.datacenter.blocks(asn) {
        return None;
    }
    Some(Flag::new(
        Reason::DatacenterAsn,
        format!("sent from AS{asn}, a hosting or anonymising network"),
    ))
}

/// Whether the request came straight from the person's device, so that its network is the
/// person's: always for tracking-link clicks and impressions; for Segment calls unless a
/// server relayed them (a `context.ip` other than the connecting IP, or a server library).
pub fn is_direct(event: &Event, signals: &RequestSignals) -> bool {
    if matches!(event.event_type, EventType::Click | EventType::Impression) {
        return true;
    }
    if let Some(ip) = event.context_str(&["ip"]) {
        if signals.ip != Some(ip) {
            return false;
        }
    }
    let library = event
        .context_str(&["library", "name"])
        .map(str::to_ascii_lowercase);
    !library.is_some_and(|name| SERVER_LIBRARIES.contains(&name.as_str()))
}

/// Click flooding, from the counts (this click included) of the click's IP and device.
pub fn flood_flag(
    ip_clicks: Option<u32>,
    device_clicks: Option<u32>,
    rules: &FraudRules,
) -> Option<Flag> {
    let ip = &rules.ip_click_flood;
    if let Some(count) = ip_clicks.filter(|c| ip.enabled && *c > ip.max_clicks) {
        return Some(Flag::new(
            Reason::IpClickFlood,
            format!(
                "click {count} from one IP address in {} s; the limit is {}",
                ip.window_secs, ip.max_clicks
            ),
        ));
    }
    let device = &rules.device_click_flood;
    if let Some(count) = device_clicks.filter(|c| device.enabled && *c > device.max_clicks) {
        return Some(Flag::new(
            Reason::DeviceClickFlood,
            format!(
                "click {count} from one device in {} s; the limit is {}",
                device.window_secs, device.max_clicks
            ),
        ));
    }
    None
}

/// The attribution-time rules: click-to-install time (CTIT) of the conversion's last click,
/// for the conversions named in `ctit_events` that have clicks to credit. `eligible` is oldest
/// first, as [`crate::attribution::eligible_touches`] gives it.
pub fn judge_conversion(
    conversion: &Conversion,
    basis: Basis,
    eligible: &[&Touch],
    rules: &FraudRules,
) -> Option<Flag> {
    if basis != Basis::Click || !rules.ctit_events.contains(&conversion.name) {
        return None;
    }
    let last = eligible.last()?;
    let ctit_ms = conversion.ts_ms - last.ts_ms;
    let injection = &rules.click_injection;
    if injection.enabled && ctit_ms < i64::from(injection.min_ctit_secs) * 1000 {
        return Some(Flag::new(
            Reason::ClickInjection,
            format!(
                "{} {ctit_ms} ms after click {}; the minimum is {} s",
                conversion.name, last.touch_id, injection.min_ctit_secs
            ),
        ));
    }
    let spamming = &rules.click_spamming;
    if spamming.enabled && ctit_ms > i64::from(spamming.max_ctit_secs) * 1000 {
        return Some(Flag::new(
            Reason::ClickSpamming,
            format!(
                "{} {} s after click {}; the maximum is {} s",
                conversion.name,
                ctit_ms / 1000,
                last.touch_id,
                spamming.max_ctit_secs
            ),
        ));
    }
    None
}
