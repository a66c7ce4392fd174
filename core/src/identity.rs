//! The identity model: which journey an event belongs to, and which journeys it merges.
//!
//! One journey (one Journey Durable Object) per app and person. An event goes to the journey
//! of its `userId` when it has one, else to the journey of its `anonymousId`. A tracking-link
//! click whose visitor is not known yet starts a journey of its own, named by its click id.
//!
//! Journeys merge into a user's journey, so earlier touches still earn credit:
//! - an event carrying both `userId` and `anonymousId` (every call after `identify`) merges the
//!   anonymous journey into the user's;
//! - `alias(previousId → userId)` merges the journey of `previousId` (user or anonymous);
//! - an event that references a click id (the `click_id` the redirect appended to the landing
//!   URL, `properties.click_id`, `context.click_id`, or the mobile install referrer's
//!   `context.referrer.id`) merges that click's journey.
//!
//! A merged journey hands over everything it holds and forwards later events to its target.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::{Event, EventType};
use crate::limits::MAX_MERGES_PER_EVENT;
use crate::touch::CLICK_ID_PARAM;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JourneyKind {
    User,
    Anonymous,
    Click,
}

impl JourneyKind {
    fn prefix(self) -> &'static str {
        match self {
            JourneyKind::User => "u",
            JourneyKind::Anonymous => "a",
            JourneyKind::Click => "c",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct JourneyKey {
    pub app_id: String,
    pub kind: JourneyKind,
    pub id: String,
}

impl JourneyKey {
    pub fn new(app_id: impl Into<String>, kind: JourneyKind, id: impl Into<String>) -> Self {
        JourneyKey {
            app_id: app_id.into(),
            kind,
            id: id.into(),
        }
    }

    /// The Durable Object name. App ids never contain `:`, so the name is unambiguous.
    pub fn object_name(&self) -> String {
        format!("{}:{}:{}", self.kind.prefix(), self.app_id, self.id)
    }

    /// The Kafka partition key and the key of this person's rows downstream.
    pub fn user_key(&self) -> String {
        self.object_name()
    }
}

/// The journey an event is recorded in.
pub fn journey_of(app_id: &str, event: &Event) -> JourneyKey {
    if let Some(user_id) = &event.user_id {
        return JourneyKey::new(app_id, JourneyKind::User, user_id);
    }
    if let Some(anonymous_id) = &event.anonymous_id {
        return JourneyKey::new(app_id, JourneyKind::Anonymous, anonymous_id);
    }
    // Validation guarantees one of the ids; a click without a known visitor is keyed by its id.
    let click_id = event.property_str("click_id").unwrap_or(&event.message_id);
    JourneyKey::new(app_id, JourneyKind::Click, click_id)
}

/// The journeys this event merges into `target`, at most [`MAX_MERGES_PER_EVENT`].
pub fn merges_for(event: &Event, target: &JourneyKey) -> Vec<JourneyKey> {
    let app = target.app_id.as_str();
    let mut sources = Vec::new();
    if event.user_id.is_some() {
        if let Some(anonymous_id) = &event.anonymous_id {
            sources.push(JourneyKey::new(app, JourneyKind::Anonymous, anonymous_id));
        }
    }
    if event.event_type == EventType::Alias {
        if let Some(previous) = &event.previous_id {
            sources.push(JourneyKey::new(app, JourneyKind::User, previous));
            sources.push(JourneyKey::new(app, JourneyKind::Anonymous, previous));
        }
    }
    if event.event_type != EventType::Click {
        for click_id in referenced_click_ids(event) {
            sources.push(JourneyKey::new(app, JourneyKind::Click, click_id));
        }
    }
    let mut unique: Vec<JourneyKey> = Vec::new();
    for key in sources {
        if &key != target && !unique.contains(&key) {
            unique.push(key);
        }
    }
    unique.truncate(MAX_MERGES_PER_EVENT);
    unique
}

fn referenced_click_ids(event: &Event) -> Vec<String> {
    let from_url = event
        .page_url()
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == CLICK_ID_PARAM)
                .map(|(_, v)| v.into_owned())
        });
    let candidates = [
        event.property_str("click_id").map(str::to_owned),
        event.context_str(&["click_id"]).map(str::to_owned),
        event.context_str(&["referrer", "id"]).map(str::to_owned),
        from_url,
    ];
    let mut ids: Vec<String> = Vec::new();
    for id in candidates.into_iter().flatten() {
        if is_click_id(&id) && !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

const CLICK_ID_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const CLICK_ID_PREFIX: &str = "c_";
const CLICK_ID_BODY_CHARS: usize = 26;

/// `c_` and 26 base32 characters: 128 random bits, so click ids cannot be guessed.
pub fn new_click_id(random: [u8; 16]) -> String {
    let mut bits: u128 = u128::from_be_bytes(random);
    let mut body = [0u8; CLICK_ID_BODY_CHARS];
    for slot in body.iter_mut().rev() {
        *slot = CLICK_ID_ALPHABET[(bits & 31) as usize];
        bits >>= 5;
    }
    let mut id = String::with_capacity(CLICK_ID_PREFIX.len() + CLICK_ID_BODY_CHARS);
    id.push_str(CLICK_ID_PREFIX);
    id.extend(body.iter().map(|&b| b as char));
    id
}

pub fn is_click_id(candidate: &str) -> bool {
    candidate.strip_prefix(CLICK_ID_PREFIX).is_some_and(|body| {
        body.len() == CLICK_ID_BODY_CHARS && body.bytes().all(|b| CLICK_ID_ALPHABET.contains(&b))
    })
}

/// Ids are free text; this keeps a stray JSON value from becoming an id.
pub fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use serde_json::{json, Map};

    fn event(kind: EventType, user: Option<&str>, anon: Option<&str>) -> Event {
        Event {
            message_id: "m".into(),
            event_type: kind,
            user_id: user.map(Into::into),
            anonymous_id: anon.map(Into::into),
            previous_id: None,
            group_id: None,
            name: None,
            timestamp_ms: 0,
            original_timestamp_ms: None,
            sent_at_ms: None,
            received_at_ms: 0,
            context: Map::new(),
            properties: Map::new(),
            traits: Map::new(),
        }
    }

    #[test]
    fn user_id_wins_and_merges_the_anonymous_journey() {
        let e = event(EventType::Identify, Some("u1"), Some("a1"));
        let target = journey_of("app", &e);
        assert_eq!(target.object_name(), "u:app:u1");
        assert_eq!(
            merges_for(&e, &target),
            vec![JourneyKey::new("app", JourneyKind::Anonymous, "a1")]
        );
    }

    #[test]
    fn anonymous_events_merge_nothing() {
        let e = event(EventType::Page, None, Some("a1"));
        let target = journey_of("app", &e);
        assert_eq!(target.kind, JourneyKind::Anonymous);
        assert!(merges_for(&e, &target).is_empty());
    }

    #[test]
    fn alias_merges_previous_id_of_either_kind() {
        let mut e = event(EventType::Alias, Some("new"), None);
        e.previous_id = Some("old".into());
        let target = journey_of("app", &e);
        let merged = merges_for(&e, &target);
        assert_eq!(merged.len(), 2);
        assert!(merged.iter().all(|k| k.id == "old"));
    }

    #[test]
    fn click_ids_are_found_where_sdks_put_them() {
        let click = new_click_id([7; 16]);
        let mut e = event(EventType::Page, None, Some("a1"));
        e.context = json!({"page": {"url": format!("https://shop.example/?click_id={click}")}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        e.properties.insert("click_id".into(), json!("not-ours"));
        let target = journey_of("app", &e);
        assert_eq!(
            merges_for(&e, &target),
            vec![JourneyKey::new("app", JourneyKind::Click, click)]
        );
    }

    #[test]
    fn click_id_format() {
        let id = new_click_id([255; 16]);
        assert!(is_click_id(&id), "{id}");
        assert_ne!(new_click_id([1; 16]), new_click_id([2; 16]));
        assert!(!is_click_id("c_short"));
        assert!(!is_click_id(&id.to_uppercase()));
    }
}
