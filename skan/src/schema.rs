//! A per-app conversion-value schema: what each fine (0–63) and coarse (low/medium/high)
//! value means, per postback (sequence index 0, 1, 2), as revenue ranges, event names, or both.
//!
//! The management API stores it ([`ConversionSchema::from_json`] refuses what
//! [`ConversionSchema::validate`] refuses); the postback endpoints decode through it.
//! Only the first postback (index 0) carries fine values; later ones carry coarse values only,
//! so a fine mapping is refused anywhere but in window 0.

use serde::{Deserialize, Serialize};

use crate::error::{Reason, SchemaError};
use crate::limits::*;
use crate::{CoarseValue, ConversionValue};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversionSchema {
    /// At most one per postback sequence index.
    pub windows: Vec<WindowSchema>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSchema {
    pub postback_sequence_index: u8,
    #[serde(default)]
    pub fine: Vec<FineMapping>,
    #[serde(default)]
    pub coarse: Vec<CoarseMapping>,
}

/// What one conversion value means: a revenue range, event names, or both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping<V> {
    pub value: V,
    #[serde(default)]
    pub revenue: Option<RevenueRange>,
    #[serde(default)]
    pub events: Vec<String>,
}

/// A fine value (0–63), first postback only.
pub type FineMapping = Mapping<u8>;
/// A coarse value, any postback.
pub type CoarseMapping = Mapping<CoarseValue>;

/// Revenue between `min` and `max` (inclusive), in `currency` (ISO 4217).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevenueRange {
    pub min: f64,
    pub max: f64,
    pub currency: String,
}

/// What a conversion value means under an app's schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decoded {
    pub revenue: Option<RevenueRange>,
    pub events: Vec<String>,
}

impl ConversionSchema {
    /// Reads a schema as the management API receives it, bounded and validated.
    pub fn from_json(bytes: &[u8]) -> Result<ConversionSchema, SchemaError> {
        if bytes.len() > MAX_SCHEMA_BYTES {
            return Err(SchemaError::TooLarge {
                size: bytes.len(),
                max: MAX_SCHEMA_BYTES,
            });
        }
        let schema: ConversionSchema =
            serde_json::from_slice(bytes).map_err(|e| SchemaError::not_json(&e))?;
        schema.validate()?;
        Ok(schema)
    }

    /// Checks every bound and rule; the first problem found is returned with its path.
    pub fn validate(&self) -> Result<(), SchemaError> {
        let max_windows = usize::from(MAX_POSTBACK_SEQUENCE_INDEX) + 1;
        if self.windows.len() > max_windows {
            return Err(SchemaError::invalid(
                "windows",
                Reason::OutOfRange {
                    min: 0,
                    max: max_windows as u64,
                },
            ));
        }
        for (i, window) in self.windows.iter().enumerate() {
            let path = format!("windows[{i}]");
            let index = window.postback_sequence_index;
            if index > MAX_POSTBACK_SEQUENCE_INDEX {
                return Err(SchemaError::invalid(
                    format!("{path}.postback_sequence_index"),
                    Reason::OutOfRange {
                        min: 0,
                        max: u64::from(MAX_POSTBACK_SEQUENCE_INDEX),
                    },
                ));
            }
            if self.windows[..i]
                .iter()
                .any(|w| w.postback_sequence_index == index)
            {
                return Err(SchemaError::invalid(
                    format!("{path}.postback_sequence_index"),
                    Reason::Format("unique across windows"),
                ));
            }
            if index > 0 && !window.fine.is_empty() {
                return Err(SchemaError::invalid(
                    format!("{path}.fine"),
                    Reason::OnlyInFirstPostback,
                ));
            }
            for (j, mapping) in window.fine.iter().enumerate() {
                if mapping.value > MAX_FINE_CONVERSION_VALUE {
                    return Err(SchemaError::invalid(
                        format!("{path}.fine[{j}].value"),
                        Reason::OutOfRange {
                            min: 0,
                            max: u64::from(MAX_FINE_CONVERSION_VALUE),
                        },
                    ));
                }
            }
            validate_mappings(&format!("{path}.fine"), &window.fine)?;
            validate_mappings(&format!("{path}.coarse"), &window.coarse)?;
        }
        Ok(())
    }

    /// What `value` means in postback `sequence_index`, if the schema maps it.
    pub fn decode(&self, sequence_index: u8, value: ConversionValue) -> Option<Decoded> {
        let window = self
            .windows
            .iter()
            .find(|w| w.postback_sequence_index == sequence_index)?;
        match value {
            ConversionValue::Fine(v) => decode_in(&window.fine, v),
            ConversionValue::Coarse(v) => decode_in(&window.coarse, v),
        }
    }
}

fn decode_in<V: PartialEq>(mappings: &[Mapping<V>], value: V) -> Option<Decoded> {
    let mapping = mappings.iter().find(|m| m.value == value)?;
    Some(Decoded {
        revenue: mapping.revenue.clone(),
        events: mapping.events.clone(),
    })
}

fn validate_mappings<V: PartialEq>(path: &str, mappings: &[Mapping<V>]) -> Result<(), SchemaError> {
    for (j, mapping) in mappings.iter().enumerate() {
        let path = format!("{path}[{j}]");
        if mappings[..j].iter().any(|m| m.value == mapping.value) {
            return Err(SchemaError::invalid(
                format!("{path}.value"),
                Reason::Format("unique within the window"),
            ));
        }
        validate_meaning(&path, mapping.revenue.as_ref(), &mapping.events)?;
    }
    Ok(())
}

fn validate_meaning(
    path: &str,
    revenue: Option<&RevenueRange>,
    events: &[String],
) -> Result<(), SchemaError> {
    if revenue.is_none() && events.is_empty() {
        return Err(SchemaError::invalid(
            path,
            Reason::Format("given a revenue range, events, or both"),
        ));
    }
    if events.len() > MAX_SCHEMA_EVENTS_PER_VALUE {
        return Err(SchemaError::invalid(
            format!("{path}.events"),
            Reason::OutOfRange {
                min: 0,
                max: MAX_SCHEMA_EVENTS_PER_VALUE as u64,
            },
        ));
    }
    for (k, name) in events.iter().enumerate() {
        let path = format!("{path}.events[{k}]");
        if name.trim().is_empty() {
            return Err(SchemaError::invalid(path, Reason::Empty));
        }
        if name.chars().count() > MAX_SCHEMA_EVENT_NAME_CHARS {
            return Err(SchemaError::invalid(
                path,
                Reason::TooLong {
                    max: MAX_SCHEMA_EVENT_NAME_CHARS,
                },
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(SchemaError::invalid(
                path,
                Reason::Format("free of control characters"),
            ));
        }
    }
    if let Some(range) = revenue {
        let path = format!("{path}.revenue");
        let in_bounds = |x: f64| x.is_finite() && (0.0..=MAX_SCHEMA_REVENUE).contains(&x);
        for (name, x) in [("min", range.min), ("max", range.max)] {
            if !in_bounds(x) {
                return Err(SchemaError::invalid(
                    format!("{path}.{name}"),
                    Reason::Format("a number from 0 to 1e12"),
                ));
            }
        }
        if range.min > range.max {
            return Err(SchemaError::invalid(
                format!("{path}.min"),
                Reason::Format("at most `max`"),
            ));
        }
        let currency = &range.currency;
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(SchemaError::invalid(
                format!("{path}.currency"),
                Reason::Format("three upper-case letters (ISO 4217)"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> serde_json::Value {
        json!({"windows": [
            {"postback_sequence_index": 0,
             "fine": [
                {"value": 0, "events": ["install"]},
                {"value": 20, "revenue": {"min": 0.99, "max": 4.99, "currency": "USD"},
                 "events": ["purchase"]}
             ],
             "coarse": [{"value": "high", "revenue": {"min": 5, "max": 100, "currency": "USD"}}]},
            {"postback_sequence_index": 1,
             "coarse": [{"value": "low", "events": ["retained_d3"]}]}
        ]})
    }

    fn error_of(value: &serde_json::Value) -> SchemaError {
        match ConversionSchema::from_json(value.to_string().as_bytes()) {
            Err(e) => e,
            Ok(_) => panic!("expected the schema to be refused: {value}"),
        }
    }

    #[test]
    fn decodes_fine_and_coarse_values_per_window() {
        let schema = ConversionSchema::from_json(schema().to_string().as_bytes()).expect("valid");
        let purchase = schema.decode(0, ConversionValue::Fine(20)).expect("mapped");
        assert_eq!(purchase.events, ["purchase"]);
        let range = purchase.revenue.expect("revenue");
        assert_eq!(
            (range.min, range.max, range.currency.as_str()),
            (0.99, 4.99, "USD")
        );

        let retained = schema.decode(1, ConversionValue::Coarse(CoarseValue::Low));
        assert_eq!(retained.expect("mapped").events, ["retained_d3"]);
        // Same coarse value, another window: not mapped there.
        assert_eq!(
            schema.decode(0, ConversionValue::Coarse(CoarseValue::Low)),
            None
        );
        assert_eq!(
            schema.decode(2, ConversionValue::Coarse(CoarseValue::Low)),
            None
        );
        assert_eq!(schema.decode(0, ConversionValue::Fine(21)), None);
    }

    #[test]
    fn refuses_fine_values_after_the_first_postback() {
        let mut v = schema();
        v["windows"][1]["fine"] = json!([{"value": 1, "events": ["x"]}]);
        assert_eq!(error_of(&v).path(), Some("windows[1].fine"));
    }

    #[test]
    fn refuses_each_broken_bound_with_its_path() {
        let cases: [(&str, serde_json::Value, &str); 8] = [
            (
                "/windows/0/fine/1/value",
                json!(64),
                "windows[0].fine[1].value",
            ),
            (
                "/windows/0/fine/1/value",
                json!(0),
                "windows[0].fine[1].value",
            ),
            (
                "/windows/1/postback_sequence_index",
                json!(0),
                "windows[1].postback_sequence_index",
            ),
            (
                "/windows/1/postback_sequence_index",
                json!(3),
                "windows[1].postback_sequence_index",
            ),
            (
                "/windows/0/fine/1/revenue/min",
                json!(10),
                "windows[0].fine[1].revenue.min",
            ),
            (
                "/windows/0/fine/1/revenue/max",
                json!(2e12),
                "windows[0].fine[1].revenue.max",
            ),
            (
                "/windows/0/fine/1/revenue/currency",
                json!("usd"),
                "windows[0].fine[1].revenue.currency",
            ),
            ("/windows/0/fine/0/events", json!([]), "windows[0].fine[0]"),
        ];
        for (pointer, bad, path) in cases {
            let mut v = schema();
            *v.pointer_mut(pointer).expect("pointer") = bad;
            assert_eq!(error_of(&v).path(), Some(path), "{pointer}");
        }
    }

    #[test]
    fn refuses_too_many_events_and_long_names() {
        let mut v = schema();
        v["windows"][0]["fine"][0]["events"] = json!(vec!["e"; MAX_SCHEMA_EVENTS_PER_VALUE + 1]);
        assert_eq!(error_of(&v).path(), Some("windows[0].fine[0].events"));

        let mut v = schema();
        v["windows"][0]["fine"][0]["events"] = json!(["x".repeat(MAX_SCHEMA_EVENT_NAME_CHARS + 1)]);
        assert_eq!(error_of(&v).path(), Some("windows[0].fine[0].events[0]"));
    }

    #[test]
    fn refuses_unknown_fields_and_oversized_bodies() {
        let mut v = schema();
        v["windows"][0]["extra"] = json!(1);
        assert!(matches!(error_of(&v), SchemaError::NotJson(_)));
        let big = vec![b' '; MAX_SCHEMA_BYTES + 1];
        assert!(matches!(
            ConversionSchema::from_json(&big),
            Err(SchemaError::TooLarge { .. })
        ));
    }
}
