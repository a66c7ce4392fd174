//! Builders for unit tests.

use serde_json::{Map, Value};

use crate::event::{Event, EventType};
use crate::touch::{Channel, Touch, TouchKind};

pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;

pub fn touch(id: &str, ts_ms: i64, kind: TouchKind, channel: Channel) -> Touch {
    Touch {
        touch_id: id.into(),
        message_id: id.into(),
        ts_ms,
        kind,
        channel,
        source: format!("src-{id}"),
        medium: "cpc".into(),
        campaign: format!("camp-{id}"),
        term: None,
        content: None,
        link_id: None,
        click_id: None,
        ad_click_id: None,
        rejected: None,
    }
}

pub fn click(id: &str, ts_ms: i64) -> Touch {
    touch(id, ts_ms, TouchKind::Click, Channel::PaidSearch)
}

pub fn view(id: &str, ts_ms: i64) -> Touch {
    touch(id, ts_ms, TouchKind::View, Channel::Display)
}

pub fn event(message_id: &str, kind: EventType, ts_ms: i64) -> Event {
    Event {
        message_id: message_id.into(),
        event_type: kind,
        user_id: None,
        anonymous_id: Some("anon-1".into()),
        previous_id: None,
        group_id: None,
        name: None,
        timestamp_ms: ts_ms,
        original_timestamp_ms: None,
        sent_at_ms: None,
        received_at_ms: ts_ms,
        context: Map::new(),
        properties: Map::new(),
        traits: Map::new(),
    }
}

pub fn with_context(mut event: Event, context: Value) -> Event {
    event.context = context.as_object().cloned().unwrap_or_default();
    event
}

pub fn with_properties(mut event: Event, properties: Value) -> Event {
    event.properties = properties.as_object().cloned().unwrap_or_default();
    event
}

pub fn page(message_id: &str, ts_ms: i64, url: &str, referrer: Option<&str>) -> Event {
    let mut page = Map::new();
    page.insert("url".into(), Value::String(url.into()));
    if let Some(r) = referrer {
        page.insert("referrer".into(), Value::String(r.into()));
    }
    let mut e = event(message_id, EventType::Page, ts_ms);
    e.context.insert("page".into(), Value::Object(page));
    e
}

pub fn track(message_id: &str, name: &str, ts_ms: i64, properties: Value) -> Event {
    let mut e = with_properties(event(message_id, EventType::Track, ts_ms), properties);
    e.name = Some(name.into());
    e
}
