//! Issue 13, finding 2: pre-authentication memory blow-up. The batch-level `context` was merged
//! into each event after the 32 KB per-event check, and a body-key request was decoded before its
//! key was checked: one 500 KB request with a large context and 1,000 tiny events cost hundreds
//! of megabytes. Now the context is bounded before the merge, the events after the merge are
//! bounded as a whole, and the write key can be read from a body without decoding its events.

use attrib_core::limits::{
    MAX_BATCH_BYTES, MAX_BATCH_CONTEXT_BYTES, MAX_BATCH_EXPANDED_BYTES, MAX_EVENT_BYTES,
};
use attrib_core::segment::{decode_request, peek_write_key, Endpoint, RequestError};
use chrono::{DateTime, Utc};
use serde_json::json;

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_714_564_800, 0).expect("valid")
}

fn batch_with_context(context_bytes: usize, events: usize) -> Vec<u8> {
    let event = json!({"type": "track", "event": "e", "anonymousId": "a"});
    let body = json!({
        "writeKey": "wk_attacker",
        "context": {"pad": "x".repeat(context_bytes)},
        "batch": vec![event; events],
    });
    serde_json::to_vec(&body).unwrap()
}

#[test]
fn a_large_batch_context_is_refused_before_it_is_copied_into_every_event() {
    let body = batch_with_context(100 * 1024, 1_000);
    assert!(
        body.len() < MAX_BATCH_BYTES,
        "the attack fits the request limit"
    );
    let err = decode_request(Endpoint::Batch, &body, now()).unwrap_err();
    let field = err.field_error();
    assert_eq!(field.field, "context", "{err}");
    assert!(
        field.reason.contains(&MAX_BATCH_CONTEXT_BYTES.to_string()),
        "{err}"
    );
}

#[test]
fn a_context_under_its_own_bound_still_cannot_multiply_past_the_expanded_bound() {
    let context = MAX_BATCH_CONTEXT_BYTES - 100;
    let events = MAX_BATCH_EXPANDED_BYTES / context + 10;
    let body = batch_with_context(context, events);
    assert!(body.len() < MAX_BATCH_BYTES);
    let err = decode_request(Endpoint::Batch, &body, now()).unwrap_err();
    assert!(
        matches!(err, RequestError::InvalidField(ref f) if f.field == "context"),
        "{err}"
    );
}

#[test]
fn the_per_event_limit_counts_the_merged_context() {
    let context = MAX_BATCH_CONTEXT_BYTES - 100;
    let pad = "y".repeat(MAX_EVENT_BYTES - context);
    let body = json!({
        "context": {"pad": "x".repeat(context)},
        "batch": [
            {"type": "track", "event": "big", "anonymousId": "a", "properties": {"pad": pad}},
            {"type": "track", "event": "small", "anonymousId": "a"},
        ],
    });
    let decoded =
        decode_request(Endpoint::Batch, &serde_json::to_vec(&body).unwrap(), now()).unwrap();
    let rejection = decoded.events[0].outcome.as_ref().unwrap_err();
    assert_eq!(rejection.errors[0].field, "batch[0].event");
    assert!(
        decoded.events[1].outcome.is_ok(),
        "the small neighbour goes on"
    );
}

#[test]
fn the_write_key_is_read_without_decoding_the_events() {
    let body = batch_with_context(100 * 1024, 1_000);
    assert_eq!(
        peek_write_key(&body).unwrap().as_deref(),
        Some("wk_attacker")
    );
    assert_eq!(peek_write_key(br#"{"batch":[]}"#).unwrap(), None);
    assert!(matches!(
        peek_write_key(b"not json"),
        Err(RequestError::InvalidJson(_))
    ));
    assert!(matches!(
        peek_write_key(b"[1]"),
        Err(RequestError::NotAnObject)
    ));
    assert!(peek_write_key(br#"{"writeKey": 5}"#).is_err());
}
