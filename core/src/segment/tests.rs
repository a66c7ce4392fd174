use super::*;
use serde_json::json;

fn now() -> DateTime<Utc> {
    parse_timestamp("t", &json!("2024-05-01T12:00:00Z")).expect("valid")
}

fn batch(body: Value) -> Result<DecodedRequest, RequestError> {
    decode_request(Endpoint::Batch, body.to_string().as_bytes(), now())
}

fn single(call: EventType, body: Value) -> Result<Event, Rejection> {
    let decoded = decode_request(Endpoint::Single(call), body.to_string().as_bytes(), now())
        .expect("readable request");
    decoded
        .events
        .into_iter()
        .next()
        .expect("one event")
        .outcome
}

#[test]
fn endpoints_map_to_calls() {
    assert_eq!(
        Endpoint::from_path("/v1/track"),
        Some(Endpoint::Single(EventType::Track))
    );
    assert_eq!(Endpoint::from_path("/v1/b"), Some(Endpoint::Batch));
    assert_eq!(Endpoint::from_path("/v1/batch/"), Some(Endpoint::Batch));
    assert_eq!(Endpoint::from_path("/v1/click"), None);
    assert_eq!(Endpoint::from_path("/v2/track"), None);
}

#[test]
fn good_neighbours_survive_a_bad_event() {
    let decoded = batch(json!({
        "writeKey": "wk",
        "batch": [
            {"type": "track", "event": "A", "userId": "u1", "messageId": "m1"},
            {"type": "track", "userId": "u1", "messageId": "m2"},
            {"type": "page", "anonymousId": "a1", "timestamp": "yesterday"},
        ]
    }))
    .expect("readable");
    assert_eq!(decoded.write_key.as_deref(), Some("wk"));
    assert!(decoded.events[0].outcome.is_ok());
    let second = decoded.events[1]
        .outcome
        .as_ref()
        .expect_err("no event name");
    assert_eq!(second.errors[0].field, "batch[1].event");
    assert_eq!(second.message_id.as_deref(), Some("m2"));
    let third = decoded.events[2]
        .outcome
        .as_ref()
        .expect_err("bad timestamp");
    assert_eq!(third.errors[0].field, "batch[2].timestamp");
}

#[test]
fn an_id_is_required() {
    let rejection = single(EventType::Track, json!({"event": "A"})).expect_err("no id");
    assert_eq!(rejection.errors[0].field, "userId");
    assert!(rejection.errors[0].reason.contains("anonymousId"));
}

#[test]
fn numeric_user_ids_become_text() {
    let event = single(EventType::Identify, json!({"userId": 42})).expect("valid");
    assert_eq!(event.user_id.as_deref(), Some("42"));
}

#[test]
fn skew_is_corrected_with_the_batch_sent_at() {
    let decoded = batch(json!({
        "sentAt": "2024-05-01T13:00:10Z",
        "batch": [{"type": "track", "event": "A", "userId": "u", "timestamp": "2024-05-01T13:00:00Z"}]
    }))
    .expect("readable");
    let event = decoded.events[0].outcome.as_ref().expect("valid");
    // Received at 12:00:00 on the server; sent 10 s after the event on the device.
    assert_eq!(
        crate::time::format_millis(event.timestamp_ms),
        "2024-05-01T11:59:50.000Z"
    );
}

#[test]
fn missing_message_id_is_derived_stably() {
    let body = json!({"event": "A", "userId": "u", "timestamp": "2024-05-01T11:00:00Z"});
    let first = single(EventType::Track, body.clone()).expect("valid");
    let mut retried = body;
    retried["sentAt"] = json!("2024-05-01T11:30:00Z");
    let second = single(EventType::Track, retried).expect("valid");
    assert_eq!(first.message_id, second.message_id);
}

#[test]
fn batch_context_fills_in_but_does_not_override() {
    let decoded = batch(json!({
        "context": {"ip": "1.2.3.4", "locale": "en"},
        "batch": [{"type": "track", "event": "A", "userId": "u", "context": {"locale": "fr"}}]
    }))
    .expect("readable");
    let event = decoded.events[0].outcome.as_ref().expect("valid");
    assert_eq!(event.context["ip"], "1.2.3.4");
    assert_eq!(event.context["locale"], "fr");
}

#[test]
fn whole_request_errors() {
    assert!(matches!(
        decode_request(Endpoint::Batch, b"{not json", now()),
        Err(RequestError::InvalidJson(_))
    ));
    assert!(matches!(
        batch(json!([1, 2])),
        Err(RequestError::NotAnObject)
    ));
    assert_eq!(
        batch(json!({"batch": []}))
            .expect_err("empty")
            .field_error()
            .field,
        "batch"
    );
    assert_eq!(
        batch(json!({"batch": {}}))
            .expect_err("object")
            .field_error()
            .field,
        "batch"
    );
    assert_eq!(
        batch(json!({"writeKey": 5, "batch": [{}]}))
            .expect_err("bad key")
            .field_error()
            .field,
        "writeKey"
    );
    let huge = vec![b' '; MAX_BATCH_BYTES + 1];
    assert!(matches!(
        decode_request(Endpoint::Batch, &huge, now()),
        Err(RequestError::BodyTooLarge { .. })
    ));
    let many: Vec<Value> = (0..=MAX_EVENTS_PER_BATCH)
        .map(|_| json!({"type": "identify", "userId": "u"}))
        .collect();
    assert!(matches!(
        batch(json!({"batch": many})),
        Err(RequestError::TooManyEvents { .. })
    ));
}

#[test]
fn oversized_event_is_rejected_alone() {
    let big = "x".repeat(MAX_EVENT_BYTES);
    let decoded = batch(json!({"batch": [
        {"type": "track", "event": "A", "userId": "u", "properties": {"blob": big}},
        {"type": "track", "event": "B", "userId": "u"},
    ]}))
    .expect("readable");
    let rejection = decoded.events[0].outcome.as_ref().expect_err("too big");
    assert_eq!(rejection.errors[0].field, "batch[0].event");
    assert!(decoded.events[1].outcome.is_ok());
}

#[test]
fn per_type_requirements() {
    assert_eq!(
        single(EventType::Group, json!({"userId": "u"}))
            .expect_err("x")
            .errors[0]
            .field,
        "groupId"
    );
    let alias = single(EventType::Alias, json!({"anonymousId": "a"})).expect_err("x");
    let fields: Vec<_> = alias.errors.iter().map(|e| e.field.as_str()).collect();
    assert!(fields.contains(&"previousId") && fields.contains(&"userId"));
    assert!(single(EventType::Alias, json!({"userId": "u", "previousId": "a"})).is_ok());
    assert_eq!(
        single(EventType::Page, json!({"userId": "u", "properties": [1]}))
            .expect_err("x")
            .errors[0]
            .field,
        "properties"
    );
    let long_id = "u".repeat(MAX_ID_CHARS + 1);
    assert_eq!(
        single(EventType::Identify, json!({"userId": long_id}))
            .expect_err("x")
            .errors[0]
            .field,
        "userId"
    );
    assert_eq!(
        batch(json!({"batch": [{"type": "purchase", "userId": "u"}]}))
            .expect("readable")
            .events[0]
            .outcome
            .as_ref()
            .expect_err("x")
            .errors[0]
            .field,
        "batch[0].type"
    );
}

/// RudderStack's JS SDK v3 sends `"userId": ""` before identify (seen in
/// e2e/rudderstack-js.test.mjs): the anonymous event is taken, an empty id counts as absent.
#[test]
fn an_empty_user_id_is_absent_not_invalid() {
    let event = single(
        EventType::Page,
        json!({"userId": "", "anonymousId": "a1", "name": "Home"}),
    )
    .expect("taken");
    assert_eq!(event.user_id, None);
    assert_eq!(event.anonymous_id.as_deref(), Some("a1"));
    let rejection = single(EventType::Page, json!({"userId": "", "anonymousId": ""})).unwrap_err();
    assert_eq!(rejection.errors[0].field, "userId");
    let blank = single(
        EventType::Page,
        json!({"userId": "  ", "anonymousId": "a1"}),
    )
    .unwrap_err();
    assert_eq!(blank.errors[0].reason, "must not be empty");
}
