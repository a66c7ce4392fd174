//! Which events are conversions, and their value.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::FieldError;
use crate::event::{Event, EventType};
use crate::settings::AppSettings;

/// Revenue reported without a currency is taken to be in this one.
pub const DEFAULT_CURRENCY: &str = "USD";
/// Larger absolute revenue values are refused as input errors.
pub const MAX_ABS_REVENUE: f64 = 1e12;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversion {
    /// The message id of the event that converted.
    pub conversion_id: String,
    pub name: String,
    pub ts_ms: i64,
    /// 0 when the event carries no revenue.
    pub revenue: f64,
    pub currency: String,
    /// Segment's `order_id`: a second conversion with the same name and order is not counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
}

/// The conversion an event represents under the app's settings, if any. Revenue is read from
/// `properties.revenue`, else `total`, else `value` (Segment's e-commerce spec).
pub fn conversion_of(
    event: &Event,
    settings: &AppSettings,
) -> Result<Option<Conversion>, FieldError> {
    if event.event_type != EventType::Track {
        return Ok(None);
    }
    let Some(name) = event.name.as_deref().filter(|n| settings.is_conversion(n)) else {
        return Ok(None);
    };
    let revenue = revenue_of(event)?;
    let currency = currency_of(event)?;
    let order_id = match event.properties.get("order_id") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Ok(Some(Conversion {
        conversion_id: event.message_id.clone(),
        name: name.to_owned(),
        ts_ms: event.timestamp_ms,
        revenue,
        currency,
        order_id,
    }))
}

fn revenue_of(event: &Event) -> Result<f64, FieldError> {
    for key in ["revenue", "total", "value"] {
        match event.properties.get(key) {
            None | Some(Value::Null) => continue,
            Some(Value::Number(n)) => {
                let amount = n.as_f64().unwrap_or(f64::NAN);
                if !amount.is_finite() || amount.abs() > MAX_ABS_REVENUE {
                    return Err(FieldError::new(
                        format!("properties.{key}"),
                        format!("must be a number with absolute value at most {MAX_ABS_REVENUE}"),
                    ));
                }
                return Ok(amount);
            }
            Some(_) => {
                return Err(FieldError::new(
                    format!("properties.{key}"),
                    "must be a number (the conversion's revenue)",
                ))
            }
        }
    }
    Ok(0.0)
}

fn currency_of(event: &Event) -> Result<String, FieldError> {
    match event.properties.get("currency") {
        None | Some(Value::Null) => Ok(DEFAULT_CURRENCY.to_owned()),
        Some(Value::String(code))
            if code.len() == 3 && code.chars().all(|c| c.is_ascii_alphabetic()) =>
        {
            Ok(code.to_ascii_uppercase())
        }
        Some(_) => Err(FieldError::new(
            "properties.currency",
            "must be a three-letter ISO 4217 code such as USD",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map};

    fn track(name: &str, properties: Value) -> Event {
        Event {
            message_id: "m1".into(),
            event_type: EventType::Track,
            user_id: Some("u".into()),
            anonymous_id: None,
            previous_id: None,
            group_id: None,
            name: Some(name.into()),
            timestamp_ms: 1_000,
            original_timestamp_ms: None,
            sent_at_ms: None,
            received_at_ms: 1_000,
            context: Map::new(),
            properties: properties.as_object().cloned().unwrap_or_default(),
            traits: Map::new(),
        }
    }

    #[test]
    fn configured_names_only() {
        let settings = AppSettings::with_defaults("app");
        assert!(conversion_of(&track("Viewed", json!({})), &settings)
            .expect("ok")
            .is_none());
        let c = conversion_of(
            &track(
                "Order Completed",
                json!({"total": 12.5, "currency": "eur", "order_id": 7}),
            ),
            &settings,
        )
        .expect("ok")
        .expect("conversion");
        assert_eq!((c.revenue, c.currency.as_str()), (12.5, "EUR"));
        assert_eq!(c.order_id.as_deref(), Some("7"));
    }

    #[test]
    fn bad_values_name_the_field() {
        let settings = AppSettings::with_defaults("app");
        let err = conversion_of(
            &track("Order Completed", json!({"revenue": "12"})),
            &settings,
        )
        .expect_err("string revenue");
        assert_eq!(err.field, "properties.revenue");
        let err = conversion_of(&track("Signed Up", json!({"currency": "euro"})), &settings)
            .expect_err("bad code");
        assert_eq!(err.field, "properties.currency");
    }
}
