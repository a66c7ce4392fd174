//! Stable ids for events that arrive without a `messageId`.
//!
//! Every stage deduplicates on the event id, so an event without one gets an id derived from
//! its content: the same payload retried gives the same id. Fields a retry changes (`sentAt`,
//! library `_metadata`) and the credentials are left out of the hash.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

const FIELDS_OUTSIDE_IDENTITY: [&str; 5] =
    ["messageId", "sentAt", "writeKey", "_metadata", "receivedAt"];

/// `d_` followed by 32 hex digits of SHA-256 over the event's canonical JSON.
pub fn derive_message_id(event: &Map<String, Value>) -> String {
    let mut hasher = Sha256::new();
    write_canonical_object(&mut hasher, event, true);
    let digest = hasher.finalize();
    let mut id = String::with_capacity(34);
    id.push_str("d_");
    for byte in &digest[..16] {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

/// Keys sorted explicitly: `serde_json::Map` keeps insertion order when another crate in the
/// build turns on `preserve_order`, and the id must not depend on that.
fn write_canonical_object(hasher: &mut Sha256, map: &Map<String, Value>, top_level: bool) {
    let mut keys: Vec<&String> = map
        .keys()
        .filter(|k| !top_level || !FIELDS_OUTSIDE_IDENTITY.contains(&k.as_str()))
        .collect();
    keys.sort();
    hasher.update(b"{");
    for key in keys {
        write_canonical(hasher, &Value::String(key.clone()));
        hasher.update(b":");
        if let Some(value) = map.get(key) {
            write_canonical(hasher, value);
        }
        hasher.update(b",");
    }
    hasher.update(b"}");
}

fn write_canonical(hasher: &mut Sha256, value: &Value) {
    match value {
        Value::Object(map) => write_canonical_object(hasher, map, false),
        Value::Array(items) => {
            hasher.update(b"[");
            for item in items {
                write_canonical(hasher, item);
                hasher.update(b",");
            }
            hasher.update(b"]");
        }
        other => hasher.update(other.to_string().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn retry_with_new_sent_at_keeps_the_id() {
        let first =
            obj(json!({"type":"track","event":"A","userId":"u","sentAt":"2024-01-01T00:00:00Z"}));
        let retry =
            obj(json!({"sentAt":"2024-01-01T00:05:00Z","userId":"u","event":"A","type":"track"}));
        assert_eq!(derive_message_id(&first), derive_message_id(&retry));
    }

    #[test]
    fn different_content_gives_a_different_id() {
        let a = obj(json!({"type":"track","event":"A","userId":"u","properties":{"x":1}}));
        let b = obj(json!({"type":"track","event":"A","userId":"u","properties":{"x":2}}));
        assert_ne!(derive_message_id(&a), derive_message_id(&b));
        assert!(derive_message_id(&a).starts_with("d_"));
        assert_eq!(derive_message_id(&a).len(), 34);
    }
}
