//! The normalised event: what every stage after ingest sees, whatever the client sent.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The Segment call types, plus the two native inputs recorded by tracking links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Track,
    Identify,
    Page,
    Screen,
    Group,
    Alias,
    /// A click on a tracking link (`GET /c/{link_id}`).
    Click,
    /// An ad impression (`GET /i/{link_id}`).
    Impression,
}

impl EventType {
    pub const SEGMENT_CALLS: [EventType; 6] = [
        EventType::Track,
        EventType::Identify,
        EventType::Page,
        EventType::Screen,
        EventType::Group,
        EventType::Alias,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Track => "track",
            EventType::Identify => "identify",
            EventType::Page => "page",
            EventType::Screen => "screen",
            EventType::Group => "group",
            EventType::Alias => "alias",
            EventType::Click => "click",
            EventType::Impression => "impression",
        }
    }

    pub fn parse_segment_call(s: &str) -> Option<EventType> {
        Self::SEGMENT_CALLS.into_iter().find(|t| t.as_str() == s)
    }
}

/// One validated event. Times are milliseconds since the Unix epoch; `timestamp_ms` is already
/// corrected for the device's clock skew.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub message_id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<String>,
    /// `alias` calls: the id being merged into `user_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// `event` of a track call, `name` of a page or screen call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub timestamp_ms: i64,
    /// The timestamp as the device sent it, before skew correction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_timestamp_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at_ms: Option<i64>,
    pub received_at_ms: i64,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub context: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub properties: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub traits: Map<String, Value>,
}

impl Event {
    /// A string at a path inside `context` (`["page", "url"]`).
    pub fn context_str(&self, path: &[&str]) -> Option<&str> {
        lookup_str(&self.context, path)
    }

    pub fn property_str(&self, key: &str) -> Option<&str> {
        self.properties.get(key).and_then(Value::as_str)
    }

    /// The page URL, from `context.page.url` or (analytics.js page calls) `properties.url`.
    pub fn page_url(&self) -> Option<&str> {
        self.context_str(&["page", "url"])
            .or_else(|| self.property_str("url"))
            .filter(|s| !s.is_empty())
    }

    pub fn referrer(&self) -> Option<&str> {
        self.context_str(&["page", "referrer"])
            .or_else(|| self.property_str("referrer"))
            .filter(|s| !s.is_empty())
    }
}

fn lookup_str<'a>(map: &'a Map<String, Value>, path: &[&str]) -> Option<&'a str> {
    let (last, parents) = path.split_last()?;
    let mut current = map;
    for key in parents {
        current = current.get(*key)?.as_object()?;
    }
    current.get(*last)?.as_str()
}
