//! Touchpoints: which events are marketing touches, and from which channel.
//!
//! A touch comes from a tracking-link click or impression, or from a page/screen call that
//! carries a campaign (`context.campaign`, UTM parameters in the page URL), an ad network's
//! click id (gclid, fbclid, msclkid, ttclid, ...) or an external referrer. A page view with
//! none of these is a direct visit. Track calls are touches only when they carry a campaign
//! or an ad click id (deep links). Channel grouping follows the common web-analytics rules:
//! the medium decides, the referrer's kind decides when there is no medium.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::event::{Event, EventType};
use crate::limits::MAX_CAMPAIGN_FIELD_CHARS;

/// The query parameter a tracking-link redirect appends to the destination URL.
pub const CLICK_ID_PARAM: &str = "click_id";
/// The tracking-link query parameter (and event property) in which an ad network passes its
/// own click id, for postbacks to send back (`{network_click_id}`).
pub const NETWORK_CLICK_ID_PARAM: &str = "network_click_id";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TouchKind {
    Click,
    View,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    PaidSearch,
    PaidSocial,
    Display,
    Affiliate,
    Email,
    Referral,
    OrganicSearch,
    OrganicSocial,
    Direct,
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Touch {
    /// The click id for tracking-link clicks, otherwise the message id of the event.
    pub touch_id: String,
    pub message_id: String,
    pub ts_ms: i64,
    pub kind: TouchKind,
    pub channel: Channel,
    pub source: String,
    pub medium: String,
    pub campaign: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_id: Option<String>,
    /// Our tracking-link click id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click_id: Option<String>,
    /// An ad network's click id, as `gclid:...`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_click_id: Option<String>,
    /// Why the touch may not earn credit (fraud rules); `None` for a good touch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
}

impl Touch {
    /// Touches with the same fingerprint in one visit are one touch.
    pub fn same_visit_as(&self, other: &Touch) -> bool {
        self.kind == other.kind
            && self.channel == other.channel
            && self.source == other.source
            && self.medium == other.medium
            && self.campaign == other.campaign
            && self.term == other.term
            && self.content == other.content
    }

    pub fn is_direct(&self) -> bool {
        self.channel == Channel::Direct
    }
}

/// How a classified touch joins the journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recording {
    /// Always a new touch (every click and impression counts).
    Always,
    /// Not a new touch if it repeats the latest touch of a visit still going on.
    UnlessSameVisit,
    /// Only when no visit is going on (a direct visit).
    OnlyNewVisit,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    pub touch: Touch,
    pub recording: Recording,
}

/// Ad networks' click-id parameters: (parameter, source, channel).
const AD_CLICK_IDS: [(&str, &str, Channel); 11] = [
    ("gclid", "google", Channel::PaidSearch),
    ("gbraid", "google", Channel::PaidSearch),
    ("wbraid", "google", Channel::PaidSearch),
    ("dclid", "google", Channel::Display),
    ("msclkid", "bing", Channel::PaidSearch),
    ("fbclid", "facebook", Channel::PaidSocial),
    ("ttclid", "tiktok", Channel::PaidSocial),
    ("twclid", "twitter", Channel::PaidSocial),
    ("li_fat_id", "linkedin", Channel::PaidSocial),
    ("ScCid", "snapchat", Channel::PaidSocial),
    ("epik", "pinterest", Channel::PaidSocial),
];

const SEARCH_ENGINES: [&str; 10] = [
    "google",
    "bing",
    "yahoo",
    "duckduckgo",
    "baidu",
    "yandex",
    "ecosia",
    "naver",
    "ask",
    "seznam",
];
const SOCIAL_NETWORKS: [&str; 14] = [
    "facebook",
    "fb",
    "instagram",
    "t",
    "twitter",
    "x",
    "linkedin",
    "lnkd",
    "reddit",
    "pinterest",
    "tiktok",
    "youtube",
    "snapchat",
    "threads",
];

/// The touch an event represents, if any.
pub fn classify(event: &Event) -> Option<Classified> {
    match event.event_type {
        EventType::Click | EventType::Impression => Some(classify_link_event(event)),
        EventType::Page | EventType::Screen | EventType::Track => classify_visit(event),
        EventType::Identify | EventType::Group | EventType::Alias => None,
    }
}

/// Tracking-link events carry the link's campaign fields in `properties` (set by the ingest
/// Worker from the link definition and the click's own UTM parameters), and the network's own
/// click id when the link was called with one ([`NETWORK_CLICK_ID_PARAM`]).
fn classify_link_event(event: &Event) -> Classified {
    let field = |key: &str| event.property_str(key).map(clip).filter(|s| !s.is_empty());
    let source = field("source")
        .map(|s| s.to_lowercase())
        .unwrap_or_else(|| "(not set)".into());
    let medium = field("medium")
        .map(|s| s.to_lowercase())
        .unwrap_or_else(|| "(not set)".into());
    let is_click = event.event_type == EventType::Click;
    let click_id = if is_click { field("click_id") } else { None };
    let channel = channel_for(&source, &medium, None);
    Classified {
        touch: Touch {
            touch_id: click_id.clone().unwrap_or_else(|| event.message_id.clone()),
            message_id: event.message_id.clone(),
            ts_ms: event.timestamp_ms,
            kind: if is_click {
                TouchKind::Click
            } else {
                TouchKind::View
            },
            channel,
            source,
            medium,
            campaign: field("campaign").unwrap_or_else(|| "(not set)".into()),
            term: field("term"),
            content: field("content"),
            link_id: field("link_id"),
            click_id,
            ad_click_id: field(NETWORK_CLICK_ID_PARAM)
                .map(|id| format!("{NETWORK_CLICK_ID_PARAM}:{id}")),
            rejected: None,
        },
        recording: Recording::Always,
    }
}

fn classify_visit(event: &Event) -> Option<Classified> {
    let page_url = event.page_url().and_then(|u| Url::parse(u).ok());
    if let Some(url) = &page_url {
        if crate::identity::is_click_id(query_value(url, CLICK_ID_PARAM).as_deref().unwrap_or("")) {
            // The landing page of one of our tracking links: the click itself is the touch, and
            // it joins this journey when the click's journey is merged.
            return None;
        }
    }
    let campaign = CampaignFields::from_event(event, page_url.as_ref());
    let ad_click = page_url.as_ref().and_then(ad_click_of);
    let base = |channel, source: String, medium: String| Touch {
        touch_id: event.message_id.clone(),
        message_id: event.message_id.clone(),
        ts_ms: event.timestamp_ms,
        kind: TouchKind::Click,
        channel,
        source,
        medium,
        campaign: "(not set)".into(),
        term: None,
        content: None,
        link_id: None,
        click_id: None,
        ad_click_id: None,
        rejected: None,
    };

    if campaign.is_present() || ad_click.is_some() {
        let ad_source = ad_click
            .as_ref()
            .map(|(_, _, source, _)| source.to_string());
        let source = campaign
            .source
            .clone()
            .map(|s| s.to_lowercase())
            .or(ad_source)
            .unwrap_or_else(|| "(not set)".into());
        let medium = campaign
            .medium
            .clone()
            .map(|m| m.to_lowercase())
            .or_else(|| ad_click.as_ref().map(|_| "cpc".to_string()))
            .unwrap_or_else(|| "(not set)".into());
        let channel = channel_for(&source, &medium, ad_click.as_ref().map(|a| a.3));
        let mut touch = base(channel, source, medium);
        touch.campaign = campaign.name.unwrap_or_else(|| "(not set)".into());
        touch.term = campaign.term;
        touch.content = campaign.content;
        touch.ad_click_id = ad_click.map(|(param, value, _, _)| format!("{param}:{value}"));
        return Some(Classified {
            touch,
            recording: Recording::UnlessSameVisit,
        });
    }
    if event.event_type == EventType::Track {
        return None;
    }
    let page_host = page_url.as_ref().and_then(|u| u.host_str()).map(bare_host);
    let referrer_host = event
        .referrer()
        .and_then(|r| Url::parse(r).ok())
        .and_then(|u| u.host_str().map(bare_host));
    match referrer_host {
        Some(host) if Some(&host) != page_host.as_ref() => {
            let (channel, medium, source) = referrer_kind(&host);
            Some(Classified {
                touch: base(channel, source, medium.into()),
                recording: Recording::UnlessSameVisit,
            })
        }
        Some(_) => None,
        None => Some(Classified {
            touch: base(Channel::Direct, "(direct)".into(), "(none)".into()),
            recording: Recording::OnlyNewVisit,
        }),
    }
}

#[derive(Default)]
struct CampaignFields {
    source: Option<String>,
    medium: Option<String>,
    name: Option<String>,
    term: Option<String>,
    content: Option<String>,
}

impl CampaignFields {
    /// `context.campaign` first (SDKs parse it from the URL), the page URL's UTM parameters for
    /// whatever it lacks.
    fn from_event(event: &Event, page_url: Option<&Url>) -> Self {
        let context: Option<&Map<String, Value>> =
            event.context.get("campaign").and_then(Value::as_object);
        let pick = |context_key: &str, utm: &str| {
            context
                .and_then(|c| c.get(context_key))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| page_url.and_then(|u| query_value(u, utm)))
                .map(|s| clip(&s))
                .filter(|s| !s.trim().is_empty())
        };
        CampaignFields {
            source: pick("source", "utm_source"),
            medium: pick("medium", "utm_medium"),
            name: pick("name", "utm_campaign"),
            term: pick("term", "utm_term"),
            content: pick("content", "utm_content"),
        }
    }

    fn is_present(&self) -> bool {
        self.source.is_some() || self.medium.is_some() || self.name.is_some()
    }
}

fn ad_click_of(url: &Url) -> Option<(&'static str, String, &'static str, Channel)> {
    AD_CLICK_IDS.iter().find_map(|(param, source, channel)| {
        query_value(url, param)
            .filter(|v| !v.is_empty())
            .map(|v| (*param, clip(&v), *source, *channel))
    })
}

fn query_value(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// `www.google.co.uk` → `google.co.uk`.
fn bare_host(host: &str) -> String {
    let lower = host.to_ascii_lowercase();
    clip(lower.strip_prefix("www.").unwrap_or(&lower))
}

/// The registrable name a host belongs to, roughly: `news.google.co.uk` → `google`.
fn host_label(host: &str) -> &str {
    let labels: Vec<&str> = host.split('.').collect();
    match labels.as_slice() {
        [.., name, second, tld] if second.len() <= 3 && tld.len() == 2 => name,
        [.., name, _tld] => name,
        [only] => only,
        _ => host,
    }
}

fn referrer_kind(host: &str) -> (Channel, &'static str, String) {
    let label = host_label(host);
    if SEARCH_ENGINES.contains(&label) {
        (Channel::OrganicSearch, "organic", label.to_owned())
    } else if SOCIAL_NETWORKS.contains(&label) {
        let source = match label {
            "t" | "x" => "twitter",
            "fb" => "facebook",
            "lnkd" => "linkedin",
            other => other,
        };
        (Channel::OrganicSocial, "social", source.to_owned())
    } else {
        (Channel::Referral, "referral", host.to_owned())
    }
}

/// The channel of a (lower-case) source and medium; an ad click id decides when the medium
/// does not.
pub fn channel_for(source: &str, medium: &str, ad_click: Option<Channel>) -> Channel {
    let social_source =
        SOCIAL_NETWORKS.contains(&host_label(source)) || SOCIAL_NETWORKS.contains(&source);
    match medium {
        "cpc" | "ppc" | "paidsearch" | "paid_search" | "paid-search" | "sem" => {
            if social_source {
                Channel::PaidSocial
            } else {
                Channel::PaidSearch
            }
        }
        "paid_social" | "paidsocial" | "paid-social" | "social_paid" | "social-paid" => {
            Channel::PaidSocial
        }
        "display" | "banner" | "cpm" | "cpv" | "programmatic" | "video" => Channel::Display,
        "affiliate" | "affiliates" | "partner" => Channel::Affiliate,
        "email" | "e-mail" | "e_mail" | "newsletter" => Channel::Email,
        "social" | "social-network" | "social-media" | "sm" | "social_network" => {
            Channel::OrganicSocial
        }
        "organic" => Channel::OrganicSearch,
        "referral" => Channel::Referral,
        "(none)" if source == "(direct)" => Channel::Direct,
        _ => ad_click.unwrap_or(Channel::Other),
    }
}

fn clip(s: &str) -> String {
    s.trim().chars().take(MAX_CAMPAIGN_FIELD_CHARS).collect()
}

#[cfg(test)]
mod tests;
