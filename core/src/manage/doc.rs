//! JSON merge-patch (RFC 7396) and reading fields out of a JSON object with their names.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::FieldError;

/// Applies `patch` to `target` as RFC 7396 says: objects merge key by key, `null` removes a
/// key, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// A JSON object whose keys must all be in `known`.
pub fn object<'a>(
    value: &'a Value,
    prefix: &str,
    known: &[&str],
) -> Result<&'a Map<String, Value>, FieldError> {
    let name = if prefix.is_empty() { "body" } else { prefix };
    let map = value
        .as_object()
        .ok_or_else(|| FieldError::new(name, "must be a JSON object"))?;
    if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(FieldError::new(
            join(prefix, unknown),
            format!("is not a field here; known: {}", known.join(", ")),
        ));
    }
    Ok(map)
}

/// The field `name` of `map` as a `T` (`None` when absent or null).
pub fn field<T: DeserializeOwned>(
    map: &Map<String, Value>,
    prefix: &str,
    name: &str,
    expected: &str,
) -> Result<Option<T>, FieldError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => T::deserialize(value)
            .map(Some)
            .map_err(|e| FieldError::new(join(prefix, name), format!("must be {expected} ({e})"))),
    }
}

/// Like [`field`], but required.
pub fn required<T: DeserializeOwned>(
    map: &Map<String, Value>,
    prefix: &str,
    name: &str,
    expected: &str,
) -> Result<T, FieldError> {
    field(map, prefix, name, expected)?
        .ok_or_else(|| FieldError::new(join(prefix, name), "is required"))
}

pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}
