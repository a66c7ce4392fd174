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
//!
//! Who may merge what depends on the write key's class (issue 13, finding 5): a `server` key
//! keeps Segment's semantics above. A `client` key is public (it ships in browsers and apps),
//! so from it `alias` merges `previousId` only as an anonymous id ([`merges_for`]), and an
//! anonymous journey hands itself over only if it was never seen with another user id
//! ([`check_hand_over`]). Otherwise anyone holding the key could pull a victim's journey into
//! their own with `alias(previousId = victim)`. A refused merge refuses nothing else: the event
//! is recorded in its own journey.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::{Event, EventType};
use crate::keys::WriteKeyClass;
use crate::limits::MAX_MERGES_PER_EVENT;
use crate::touch::CLICK_ID_PARAM;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JourneyKind {
    User,
    Anonymous,
    Click,
    /// Not a person: the per-app object whose outbox carries edge facts (SKAN postbacks,
    /// spend) to the origin (`crate::outbox`, "Edge facts"). Never recorded into.
    Edge,
}

impl JourneyKind {
    fn prefix(self) -> &'static str {
        match self {
            JourneyKind::User => "u",
            JourneyKind::Anonymous => "a",
            JourneyKind::Click => "c",
            JourneyKind::Edge => "e",
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

    /// The name the Journey Durable Object is reached by (issue 12, item 7). With the
    /// deployment's journey-name secret: `j:{app}:` and the keyed hash of [`Self::object_name`]
    /// under it (`mobile::device::keyed_hash`), so no user or anonymous id is ever an object
    /// name Cloudflare sees; without one (deployments whose objects were named before the
    /// secret existed), the object name itself. The journey keeps `object_name` as its name in
    /// every record, link and API.
    pub fn durable_object_name(&self, secret: Option<&[u8]>) -> String {
        match secret {
            Some(secret) => format!(
                "j:{}:{}",
                self.app_id,
                crate::mobile::device::keyed_hash(
                    secret,
                    &self.app_id,
                    "journey",
                    &self.object_name()
                )
            ),
            None => self.object_name(),
        }
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

/// The journeys this event merges into `target`, at most [`MAX_MERGES_PER_EVENT`]. From a
/// client key an alias's `previousId` is only ever an anonymous id, never a user's journey.
pub fn merges_for(event: &Event, target: &JourneyKey, class: WriteKeyClass) -> Vec<JourneyKey> {
    let app = target.app_id.as_str();
    let mut sources = Vec::new();
    if event.user_id.is_some() {
        if let Some(anonymous_id) = &event.anonymous_id {
            sources.push(JourneyKey::new(app, JourneyKind::Anonymous, anonymous_id));
        }
    }
    if event.event_type == EventType::Alias {
        if let Some(previous) = &event.previous_id {
            if class == WriteKeyClass::Server {
                sources.push(JourneyKey::new(app, JourneyKind::User, previous));
            }
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

/// Why a journey refused to hand itself over to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum MergeRefusal {
    #[error("a client write key cannot merge a user's journey")]
    UserJourney,
    #[error("the anonymous id was already seen with another user id")]
    SeenWithAnotherUser,
    #[error("the anonymous journey was already merged into another journey")]
    MergedElsewhere,
}

/// What a journey asked to hand itself over knows about its own past.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandOverHistory<'a> {
    /// Its own key; `None` for a journey that never recorded anything.
    pub key: Option<&'a JourneyKey>,
    /// The journey it was merged into first (later merges only got copies).
    pub merged_into: Option<&'a JourneyKey>,
    /// The first user id it was merged into (see [`bound_user`]).
    pub bound_user: Option<&'a str>,
}

/// The user id a journey was seen with: the first user it was merged into (journeys merged
/// before bound users were recorded have only `merged_into` to say it).
fn seen_with<'a>(history: &HandOverHistory<'a>) -> Option<&'a str> {
    history.bound_user.or(history
        .merged_into
        .filter(|k| k.kind == JourneyKind::User)
        .map(|k| k.id.as_str()))
}

/// The user id a journey is bound to once merged into `target`: the first user it was ever
/// merged into, like `merged_into` the first target.
pub fn bound_user<'a>(history: &HandOverHistory<'a>, target: &'a JourneyKey) -> Option<&'a str> {
    seen_with(history).or((target.kind == JourneyKind::User).then_some(target.id.as_str()))
}

/// Whether a journey with `history` may hand itself over to `target` for a request made with a
/// key of `class`. Server keys: always (Segment's semantics, unchanged). Client keys: never a
/// user's journey, and an anonymous journey only if it was never seen with another user id (a
/// journey merged before user ids were recorded counts as seen with the user it was merged
/// into) nor merged into any other journey. Click journeys are named by 128 random bits
/// ([`new_click_id`]), which only the visitor's own landing URL carries, so they merge as today.
pub fn check_hand_over(
    class: WriteKeyClass,
    history: &HandOverHistory<'_>,
    target: &JourneyKey,
) -> Result<(), MergeRefusal> {
    if class == WriteKeyClass::Server {
        return Ok(());
    }
    match history.key.map(|k| k.kind) {
        Some(JourneyKind::User) => return Err(MergeRefusal::UserJourney),
        Some(JourneyKind::Click) => return Ok(()),
        Some(JourneyKind::Anonymous) | None => {}
        // Edge objects hold no person: nothing is handed over to or from them.
        Some(JourneyKind::Edge) => return Err(MergeRefusal::UserJourney),
    }
    let same_user = |user: &str| target.kind == JourneyKind::User && target.id == user;
    if seen_with(history).is_some_and(|user| !same_user(user)) {
        return Err(MergeRefusal::SeenWithAnotherUser);
    }
    if history.merged_into.is_some_and(|into| into != target) {
        return Err(MergeRefusal::MergedElsewhere);
    }
    Ok(())
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

    /// Issue 12, item 7: with the secret, a journey's Durable Object name holds no user id, is
    /// stable, differs per app, kind and secret; without it the legacy name stays.
    #[test]
    fn journey_object_names_hold_no_user_id_with_the_secret() {
        let alice = JourneyKey::new("shop", JourneyKind::User, "alice@example.com");
        let name = alice.durable_object_name(Some(b"journey-secret"));
        assert!(name.starts_with("j:shop:"), "{name}");
        assert!(!name.contains("alice"), "{name}");
        assert_eq!(name.len(), "j:shop:".len() + 64);
        assert_eq!(name, alice.durable_object_name(Some(b"journey-secret")));
        let others = [
            JourneyKey::new("shop2", JourneyKind::User, "alice@example.com"),
            JourneyKey::new("shop", JourneyKind::Anonymous, "alice@example.com"),
        ];
        for other in others {
            assert_ne!(name, other.durable_object_name(Some(b"journey-secret")));
        }
        assert_ne!(name, alice.durable_object_name(Some(b"another-secret")));
        assert_eq!(alice.durable_object_name(None), alice.object_name());
    }

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
            merges_for(&e, &target, WriteKeyClass::Server),
            vec![JourneyKey::new("app", JourneyKind::Anonymous, "a1")]
        );
    }

    #[test]
    fn anonymous_events_merge_nothing() {
        let e = event(EventType::Page, None, Some("a1"));
        let target = journey_of("app", &e);
        assert_eq!(target.kind, JourneyKind::Anonymous);
        assert!(merges_for(&e, &target, WriteKeyClass::Server).is_empty());
    }

    #[test]
    fn alias_merges_previous_id_of_either_kind() {
        let mut e = event(EventType::Alias, Some("new"), None);
        e.previous_id = Some("old".into());
        let target = journey_of("app", &e);
        let merged = merges_for(&e, &target, WriteKeyClass::Server);
        assert_eq!(merged.len(), 2);
        assert!(merged.iter().all(|k| k.id == "old"));
    }

    #[test]
    fn finding_5_client_alias_never_names_a_user_journey() {
        let mut e = event(EventType::Alias, Some("attacker"), None);
        e.previous_id = Some("victim".into());
        let target = journey_of("app", &e);
        assert_eq!(
            merges_for(&e, &target, WriteKeyClass::Client),
            vec![JourneyKey::new("app", JourneyKind::Anonymous, "victim")]
        );
        // identify's anonymous id is asked for with either class; the journey itself decides.
        let e = event(EventType::Identify, Some("u1"), Some("a1"));
        let target = journey_of("app", &e);
        assert_eq!(
            merges_for(&e, &target, WriteKeyClass::Client),
            merges_for(&e, &target, WriteKeyClass::Server)
        );
    }

    fn user(id: &str) -> JourneyKey {
        JourneyKey::new("app", JourneyKind::User, id)
    }

    fn anon(id: &str) -> JourneyKey {
        JourneyKey::new("app", JourneyKind::Anonymous, id)
    }

    fn history<'a>(
        key: &'a JourneyKey,
        merged_into: Option<&'a JourneyKey>,
        bound_user: Option<&'a str>,
    ) -> HandOverHistory<'a> {
        HandOverHistory {
            key: Some(key),
            merged_into,
            bound_user,
        }
    }

    #[test]
    fn finding_5_client_keys_merge_only_unbound_anonymous_journeys() {
        let client = WriteKeyClass::Client;
        let (a, victim, attacker) = (anon("a"), user("victim"), user("attacker"));
        // A fresh anonymous id (the signup flow) and one that never met a user merge.
        assert_eq!(
            check_hand_over(client, &HandOverHistory::default(), &attacker),
            Ok(())
        );
        assert_eq!(
            check_hand_over(client, &history(&a, None, None), &attacker),
            Ok(())
        );
        // A user's journey never.
        assert_eq!(
            check_hand_over(client, &history(&victim, None, None), &attacker),
            Err(MergeRefusal::UserJourney)
        );
        // An anonymous id seen with the victim: not into anyone else, into the victim again.
        let bound = history(&a, Some(&victim), Some("victim"));
        assert_eq!(
            check_hand_over(client, &bound, &attacker),
            Err(MergeRefusal::SeenWithAnotherUser)
        );
        assert_eq!(check_hand_over(client, &bound, &victim), Ok(()));
        // Merged before bound users were recorded: `merged_into` says who it was seen with.
        assert_eq!(
            check_hand_over(client, &history(&a, Some(&victim), None), &attacker),
            Err(MergeRefusal::SeenWithAnotherUser)
        );
        // Merged into another anonymous journey: its history went there, not here.
        let other = anon("b");
        assert_eq!(
            check_hand_over(client, &history(&a, Some(&other), None), &attacker),
            Err(MergeRefusal::MergedElsewhere)
        );
        // A user id that happens to be the anonymous id's text is still another user.
        assert_eq!(
            check_hand_over(client, &history(&a, None, Some("victim")), &anon("victim")),
            Err(MergeRefusal::SeenWithAnotherUser)
        );
    }

    #[test]
    fn finding_5_server_keys_keep_segment_semantics() {
        let (a, victim, attacker) = (anon("a"), user("victim"), user("attacker"));
        for h in [
            history(&victim, None, None),
            history(&a, Some(&victim), Some("victim")),
            history(&a, Some(&anon("b")), None),
        ] {
            assert_eq!(
                check_hand_over(WriteKeyClass::Server, &h, &attacker),
                Ok(())
            );
        }
        let mut e = event(EventType::Alias, Some("attacker"), None);
        e.previous_id = Some("victim".into());
        assert_eq!(
            merges_for(&e, &attacker, WriteKeyClass::Server),
            vec![victim, anon("victim")]
        );
    }

    #[test]
    fn click_journeys_merge_whatever_the_class() {
        let click = JourneyKey::new("app", JourneyKind::Click, new_click_id([3; 16]));
        let landing = anon("a");
        let h = history(&click, Some(&landing), None);
        assert_eq!(
            check_hand_over(WriteKeyClass::Client, &h, &user("u")),
            Ok(())
        );
    }

    #[test]
    fn the_first_user_binds() {
        let (a, u0, u1) = (anon("a"), user("u0"), user("u1"));
        let fresh = HandOverHistory::default();
        assert_eq!(bound_user(&fresh, &u1), Some("u1"));
        assert_eq!(bound_user(&history(&a, None, Some("u0")), &u1), Some("u0"));
        // Merged into u0 before bound users were recorded.
        assert_eq!(bound_user(&history(&a, Some(&u0), None), &u1), Some("u0"));
        assert_eq!(bound_user(&fresh, &anon("b")), None);
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
            merges_for(&e, &target, WriteKeyClass::Server),
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
