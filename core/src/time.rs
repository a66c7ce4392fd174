//! Strict timestamp parsing and Segment's clock-skew correction.
//!
//! Device clocks are wrong; the server's receive time is not. Segment's rule, used here:
//! `timestamp = receivedAt - (sentAt - timestamp)`, i.e. keep the delay the device measured
//! between the event and the send, but anchor it on the server clock.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde_json::Value;

use crate::error::FieldError;

/// Parses an RFC 3339 date-time with an explicit offset (`2024-05-01T12:00:00.123Z`).
/// Dates without a time, times without an offset and numbers are refused.
pub fn parse_timestamp(field: &str, value: &Value) -> Result<DateTime<Utc>, FieldError> {
    let Value::String(text) = value else {
        return Err(FieldError::new(
            field,
            "must be an RFC 3339 date-time string such as 2024-05-01T12:00:00Z",
        ));
    };
    let parsed = DateTime::parse_from_rfc3339(text).map_err(|err| {
        FieldError::new(
            field,
            format!(
                "is not an RFC 3339 date-time with a timezone ({err}), e.g. 2024-05-01T12:00:00Z"
            ),
        )
    })?;
    Ok(parsed.with_timezone(&Utc))
}

/// The event time on the server's clock.
pub fn correct_skew(
    timestamp: Option<DateTime<Utc>>,
    sent_at: Option<DateTime<Utc>>,
    received_at: DateTime<Utc>,
) -> DateTime<Utc> {
    match (timestamp, sent_at) {
        (Some(ts), Some(sent)) => received_at - (sent - ts),
        (Some(ts), None) => ts,
        (None, _) => received_at,
    }
}

/// Milliseconds since the Unix epoch, the unit every store uses.
pub fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

pub fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// `2024-05-01T12:00:00.123Z`: the form every API response uses.
pub fn format_millis(ms: i64) -> String {
    from_millis(ms).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The UTC calendar day (`2024-05-01`) that rollups group by.
pub fn day_of_millis(ms: i64) -> String {
    from_millis(ms).format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        parse_timestamp("t", &json!(s)).expect("valid")
    }

    #[test]
    fn accepts_offsets_and_fractions() {
        assert_eq!(
            at("2024-05-01T14:00:00+02:00"),
            at("2024-05-01T12:00:00.000Z")
        );
    }

    #[test]
    fn refuses_loose_forms() {
        for bad in [
            json!("2024-05-01"),
            json!("2024-05-01T12:00:00"),
            json!("yesterday"),
            json!(1714564800),
            json!(null),
        ] {
            let err = parse_timestamp("timestamp", &bad).expect_err("must refuse");
            assert_eq!(err.field, "timestamp");
        }
    }

    #[test]
    fn skew_keeps_device_delay_on_server_clock() {
        // Device clock is 1 hour fast; the event happened 10 s before sending.
        let ts = at("2024-05-01T13:00:00Z");
        let sent = at("2024-05-01T13:00:10Z");
        let received = at("2024-05-01T12:00:12Z");
        assert_eq!(
            correct_skew(Some(ts), Some(sent), received),
            at("2024-05-01T12:00:02Z")
        );
        assert_eq!(correct_skew(Some(ts), None, received), ts);
        assert_eq!(correct_skew(None, Some(sent), received), received);
    }

    #[test]
    fn day_is_utc() {
        assert_eq!(
            day_of_millis(to_millis(at("2024-05-01T23:30:00-02:00"))),
            "2024-05-02"
        );
    }
}
