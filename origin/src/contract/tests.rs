//! The views against the contract types: same verdict on valid records and on every
//! single-field mutation of them, same values, same enum names.

use attrib_core::outbox::{MergeRecord, NullPathRecord, OutboxRecord};
use serde_json::Value;

use super::names::{basis_str, channel_str, touch_kind_str, BASES, CHANNELS, TOUCH_KINDS};
use super::view::{parse_record, RecordView};
use crate::testkit::journey_batch;

fn samples() -> Vec<OutboxRecord> {
    let mut records = journey_batch("app", "alice", "t", 3, true, 1_714_521_600_000).records;
    records.push(OutboxRecord::Merge(MergeRecord {
        app_id: "app".into(),
        from: "u:app:anon".into(),
        into: "u:app:alice".into(),
        merged_at_ms: 1_714_521_600_000,
    }));
    records.push(OutboxRecord::NullPath(NullPathRecord {
        app_id: "app".into(),
        journey: "u:app:bob".into(),
        path: vec!["google".into(), "email".into()],
        touches: 3,
        first_touch_ms: 1_714_521_600_000,
        last_touch_ms: 1_714_521_660_000,
        last_touch_id: "app-bob-t2".into(),
        closed_at_ms: 1_715_126_460_001,
    }));
    // Edge facts, every optional field present (so each is removed, nulled and retyped).
    let mut skan = crate::testkit::skan_record("app", "t-1", "1234", true, 1_714_521_600_000);
    if let OutboxRecord::SkanPostback(r) = &mut skan {
        r.coarse_value = Some("high".into());
        r.decoded = Some("{\"events\":[\"purchase\"]}".into());
    }
    records.push(skan);
    let mut spend = crate::testkit::spend_record(
        "app",
        "2024-05-01",
        "google",
        "spring",
        12.5,
        1_714_521_600_000,
    );
    if let OutboxRecord::Spend(r) = &mut spend {
        r.ad_group = "ag".into();
        r.clicks = Some(7);
    }
    records.push(spend);
    records
}

/// Every path to a value in `value`, as object keys / array indexes.
fn paths(value: &Value, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let mut path = prefix.clone();
                path.push(key.clone());
                out.push(path.clone());
                paths(child, path, out);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate().take(2) {
                let mut path = prefix.clone();
                path.push(index.to_string());
                out.push(path.clone());
                paths(child, path, out);
            }
        }
        _ => {}
    }
}

/// `value` with the node at `path` replaced (`Some`) or removed (`None`).
fn mutate(value: &Value, path: &[String], new: Option<Value>) -> Value {
    let mut copy = value.clone();
    let mut node = &mut copy;
    for (depth, key) in path.iter().enumerate() {
        let last = depth + 1 == path.len();
        match node {
            Value::Object(map) if last => {
                match &new {
                    Some(v) => {
                        map.insert(key.clone(), v.clone());
                    }
                    None => {
                        map.remove(key);
                    }
                }
                return copy;
            }
            Value::Array(items) if last => {
                let index: usize = key.parse().unwrap_or(0);
                match &new {
                    Some(v) => items[index] = v.clone(),
                    None => {
                        items.remove(index);
                    }
                }
                return copy;
            }
            Value::Object(map) => node = map.get_mut(key).expect("path exists"),
            Value::Array(items) => node = &mut items[key.parse::<usize>().unwrap_or(0)],
            _ => return copy,
        }
    }
    copy
}

#[test]
fn views_accept_exactly_what_the_contract_accepts() {
    let replacements = [
        None,
        Some(Value::Null),
        Some(Value::String("x".into())),
        Some(serde_json::json!(1.5)),
        Some(serde_json::json!(-7)),
        Some(serde_json::json!(4_294_967_296u64)),
        Some(serde_json::json!({})),
        Some(serde_json::json!([])),
        Some(Value::Bool(true)),
    ];
    let mut checked = 0;
    for record in samples() {
        let value = serde_json::to_value(&record).expect("json");
        let mut all = Vec::new();
        paths(&value, Vec::new(), &mut all);
        for path in &all {
            for new in &replacements {
                let mutated = mutate(&value, path, new.clone());
                // Both the edge's key order (`kind` first) and an arbitrary one.
                let text = serde_json::to_string(&mutated).expect("json");
                let typed = serde_json::from_str::<OutboxRecord>(&text).is_ok();
                let viewed = parse_record(&text).is_ok();
                assert_eq!(typed, viewed, "{path:?} -> {new:?}: {text}");
                checked += 1;
            }
        }
    }
    assert!(checked > 1_000, "{checked}");
}

#[test]
fn tag_anywhere_and_duplicate_tags() {
    let record = &samples()[0];
    let mut value = serde_json::to_value(record).expect("json");
    let kind = value
        .as_object_mut()
        .and_then(|m| m.remove("kind"))
        .expect("kind");
    let mut text = serde_json::to_string(&value).expect("json");
    text.insert_str(text.len() - 1, &format!(",\"kind\":{kind}"));
    assert!(serde_json::from_str::<OutboxRecord>(&text).is_ok());
    assert!(matches!(parse_record(&text), Ok(RecordView::Event(_))));

    let edge = serde_json::to_string(record).expect("json");
    assert!(edge.starts_with("{\"kind\":\"event\""), "{edge}");
    let twice = format!("{},\"kind\":\"event\"}}", &edge[..edge.len() - 1]);
    assert!(serde_json::from_str::<OutboxRecord>(&twice).is_err());
    assert!(parse_record(&twice).is_err());
}

#[test]
fn views_read_the_same_values_and_ids() {
    for record in samples() {
        let text = serde_json::to_string(&record).expect("json");
        let view = parse_record(&text).expect("parses");
        let mut id = String::new();
        view.write_id(&mut id);
        assert_eq!(id, record.id());
        assert_eq!(view.app_id(), record.app_id());
        if let (RecordView::Attribution(v), OutboxRecord::Attribution(r)) = (&view, &record) {
            assert_eq!(v.result.models.len(), r.result.models.len());
            assert_eq!(v.result.conversion.revenue, r.result.conversion.revenue);
        }
        if let (RecordView::NullPath(v), OutboxRecord::NullPath(r)) = (&view, &record) {
            let path: Vec<&str> = v.path.iter().map(|s| s.as_str()).collect();
            assert_eq!(path, r.path);
            assert_eq!(
                (v.touches, v.last_touch_ms, v.last_touch_id.as_str()),
                (r.touches, r.last_touch_ms, r.last_touch_id.as_str())
            );
        }
    }
}

#[test]
fn enum_names_match_the_contract() {
    let name = |v: Value| v.as_str().map(str::to_owned).expect("a string");
    for kind in TOUCH_KINDS {
        assert_eq!(
            touch_kind_str(kind),
            name(serde_json::to_value(kind).expect("json"))
        );
    }
    for channel in CHANNELS {
        assert_eq!(
            channel_str(channel),
            name(serde_json::to_value(channel).expect("json"))
        );
    }
    for basis in BASES {
        assert_eq!(
            basis_str(basis),
            name(serde_json::to_value(basis).expect("json"))
        );
    }
    for event_type in super::names::EVENT_TYPES {
        assert_eq!(
            event_type.as_str(),
            name(serde_json::to_value(event_type).expect("json"))
        );
    }
}
