//! An event's outbox records kept in the event's own row (issue 15).
//!
//! The Journey object writes each new event as one row: its body, and beside it what its
//! records add to it ([`event_row_out`]). The flush rebuilds the records from the two
//! ([`event_row_lines`]), so an event costs one row written instead of an event row, an
//! outbox row and the outbox row's delete. The rebuilt lines are the records' JSON, as
//! `serde_json` writes them but for the order of fields (which the origin does not read).
//!
//! What the journey already stores is not copied into `out`, since a row's size is what its
//! insert costs (the events table is keyed by message id: rows land anywhere in it, and a
//! `WITHOUT ROWID` table keeps whole rows in its inner pages too):
//! - the app and journey, the object's own ([`Owner`]), given back at the flush;
//! - a conversion's attribution, kept in the attributions table: `out` names its row
//!   ([`AttributionRow`]) and the flush reads it. A re-run that revises it before the flush
//!   first puts the revision it replaces into `out` ([`attribution_line`]), so the origin
//!   still gets every revision; an attribution removed since (retention, which removes its
//!   event as well) is not sent.
//!
//! Rows written before this shape (the whole records, app and journey included) read back as
//! they were.

use std::io;

use serde::{Deserialize, Serialize};

use super::{EventRecord, OutboxRecord};
use crate::touch::Touch;

/// The event record without its event, app and journey, as the first line of `out`.
#[derive(Serialize)]
struct EventRecordRest<'a> {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    touch: Option<&'a Touch>,
    is_conversion: bool,
}

/// The first line of `out` as rows written before [`EventRecordRest`] lost the app and journey
/// begin (serde writes the fields in their declared order).
const WHOLE_EVENT_RECORD_PREFIX: &str = "{\"kind\":\"event\",\"app_id\":";
const EVENT_RECORD_PREFIX: &str = "{\"kind\":\"event\"";
const ATTRIBUTION_ROW_PREFIX: &str = "{\"kind\":\"attribution_row\"";

/// A line of `out` naming the attributions row whose body is the record's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributionRow {
    kind: AttributionRowKind,
    pub ts_ms: i64,
    pub conversion_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum AttributionRowKind {
    AttributionRow,
}

/// Whose records a row holds: the object's app and journey (`JourneyKey::object_name`).
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    pub app_id: &'a str,
    pub journey: &'a str,
}

/// What [`event_row_out`] keeps beside an event's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOut {
    pub out: String,
    /// The bytes of the records `out` only names, as the flush will send them.
    pub named_bytes: usize,
}

/// What to keep beside an event's body for `records` (the records it made, its own event
/// record last, as [`crate::journey::JourneyStore::insert_recorded_event`] gives them): the
/// event record's other fields, then the other records, one compact JSON per line, each
/// attribution as the row that holds it. `None` when the last record is not an event record
/// (nothing to keep with the event).
pub fn event_row_out(records: &[OutboxRecord]) -> Result<Option<StoredOut>, serde_json::Error> {
    let Some((OutboxRecord::Event(event_record), others)) = records.split_last() else {
        return Ok(None);
    };
    let EventRecord {
        touch,
        is_conversion,
        ..
    } = event_record.as_ref();
    let mut out = serde_json::to_string(&EventRecordRest {
        kind: "event",
        touch: touch.as_ref(),
        is_conversion: *is_conversion,
    })?;
    let mut named_bytes = 0;
    for other in others {
        out.push('\n');
        match other {
            OutboxRecord::Attribution(record) => {
                let mut counted = CountedBytes(0);
                serde_json::to_writer(&mut counted, other)?;
                named_bytes += counted.0;
                let conversion = &record.result.conversion;
                out.push_str(&attribution_row_line(
                    conversion.ts_ms,
                    &conversion.conversion_id,
                )?);
            }
            _ => out.push_str(&serde_json::to_string(other)?),
        }
    }
    Ok(Some(StoredOut { out, named_bytes }))
}

/// The line of `out` naming the attributions row of a conversion.
pub fn attribution_row_line(ts_ms: i64, conversion_id: &str) -> Result<String, serde_json::Error> {
    serde_json::to_string(&AttributionRow {
        kind: AttributionRowKind::AttributionRow,
        ts_ms,
        conversion_id: conversion_id.to_owned(),
    })
}

/// The attribution record of `owner` whose result's JSON is `result`.
pub fn attribution_line(owner: Owner<'_>, result: &str) -> String {
    format!("{}{result}}}", attribution_line_start(owner))
}

/// [`attribution_line`] up to its result, which follows, then a closing brace (for SQL that
/// splices a stored result in).
pub fn attribution_line_start(owner: Owner<'_>) -> String {
    let (app_id, journey) = owner_json(owner);
    format!("{{\"kind\":\"attribution\",\"app_id\":{app_id},\"journey\":{journey},\"result\":")
}

fn owner_json(owner: Owner<'_>) -> (String, String) {
    let json = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    (json(owner.app_id), json(owner.journey))
}

/// The attributions rows `out` names, for the flush to read at once.
pub fn attribution_rows(out: &str) -> Vec<AttributionRow> {
    out.split('\n')
        .filter(|line| line.starts_with(ATTRIBUTION_ROW_PREFIX))
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// The outbox lines of one stored event from its `body` (the event's JSON) and `out`
/// ([`event_row_out`]), in the order they were made: the other records, then the event record.
/// `attribution` gives the body of a named attributions row (the result's JSON), if it is
/// still stored.
pub fn event_row_lines<'b>(
    body: &str,
    out: &str,
    owner: Owner<'_>,
    attribution: impl Fn(&AttributionRow) -> Option<&'b str>,
) -> Vec<String> {
    let mut lines = out.split('\n');
    let rest = lines.next().unwrap_or_default();
    let (app_id, journey) = owner_json(owner);
    let mut all: Vec<String> = lines
        .filter_map(|line| {
            if !line.starts_with(ATTRIBUTION_ROW_PREFIX) {
                return Some(line.to_owned());
            }
            let row: AttributionRow = serde_json::from_str(line).ok()?;
            Some(attribution_line(owner, attribution(&row)?))
        })
        .collect();
    // `rest` is a JSON object with at least `kind`: its closing brace makes room for the event.
    let open = rest.strip_suffix('}').unwrap_or(rest);
    let event_record = match open.strip_prefix(EVENT_RECORD_PREFIX) {
        Some(fields) if !rest.starts_with(WHOLE_EVENT_RECORD_PREFIX) => format!(
            "{EVENT_RECORD_PREFIX},\"app_id\":{app_id},\"journey\":{journey}{fields},\"event\":{body}}}"
        ),
        _ => format!("{open},\"event\":{body}}}"),
    };
    all.push(event_record);
    all
}

/// Counts what a serializer writes without keeping it.
struct CountedBytes(usize);

impl io::Write for CountedBytes {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{JourneyKey, JourneyKind};
    use crate::journey::memory::MemoryStore;
    use crate::journey::Journey;
    use crate::settings::AppSettings;
    use crate::testkit::{page, track, DAY_MS};
    use serde_json::json;

    const OWNER: Owner<'static> = Owner {
        app_id: "app",
        journey: "a:app:anon-1",
    };

    /// The attributions table of `records`: each attribution's result by its row.
    fn attribution_table(records: &[OutboxRecord]) -> Vec<(AttributionRow, String)> {
        records
            .iter()
            .filter_map(|r| match r {
                OutboxRecord::Attribution(a) => Some((
                    AttributionRow {
                        kind: AttributionRowKind::AttributionRow,
                        ts_ms: a.result.conversion.ts_ms,
                        conversion_id: a.result.conversion.conversion_id.clone(),
                    },
                    serde_json::to_string(&a.result).expect("result"),
                )),
                _ => None,
            })
            .collect()
    }

    fn lines_of(body: &str, out: &str, table: &[(AttributionRow, String)]) -> Vec<OutboxRecord> {
        event_row_lines(body, out, OWNER, |row| {
            table
                .iter()
                .find(|(r, _)| r == row)
                .map(|(_, result)| result.as_str())
        })
        .iter()
        .map(|line| serde_json::from_str(line).expect("a record"))
        .collect()
    }

    fn body_of(records: &[OutboxRecord]) -> String {
        let Some(OutboxRecord::Event(record)) = records.last() else {
            panic!("the event record is last");
        };
        serde_json::to_string(&record.event).expect("event")
    }

    fn rebuilt(records: &[OutboxRecord]) -> Vec<OutboxRecord> {
        let stored = event_row_out(records).expect("out").expect("kept");
        lines_of(&body_of(records), &stored.out, &attribution_table(records))
    }

    /// A page with its touch, then a conversion (its attribution, then its event record).
    fn campaign_then_order() -> Vec<OutboxRecord> {
        let store = MemoryStore::default();
        let key = JourneyKey::new("app", JourneyKind::Anonymous, "anon-1");
        let settings = AppSettings::with_defaults("app");
        let journey = Journey::new(&store, &key, &settings);
        let t0 = 100 * DAY_MS;
        let url = "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=spring";
        journey
            .record(&page("p1", t0, url, None), t0)
            .expect("page");
        let order = track("o1", "Order Completed", t0 + 1_000, json!({"revenue": 90}));
        journey.record(&order, t0).expect("order");
        store.outbox()
    }

    #[test]
    fn the_owner_is_the_journeys_own() {
        let records = campaign_then_order();
        assert_eq!(
            (records[0].app_id(), OWNER.journey),
            ("app", "a:app:anon-1"),
            "OWNER matches the journey the records come from"
        );
        let OutboxRecord::Event(event) = &records[0] else {
            panic!("an event record first");
        };
        assert_eq!(event.journey, OWNER.journey);
    }

    #[test]
    fn out_names_what_the_journey_stores_instead_of_copying_it() {
        let records = campaign_then_order();
        let stored = event_row_out(&records[1..]).expect("out").expect("kept");
        assert!(!stored.out.contains("app_id"), "{}", stored.out);
        assert!(!stored.out.contains("models"), "{}", stored.out);
        assert_eq!(attribution_rows(&stored.out).len(), 1);
        let whole = serde_json::to_string(&records[1]).expect("attribution record");
        assert_eq!(stored.named_bytes, whole.len());
        assert!(
            stored.out.len() < 150,
            "{} bytes: {}",
            stored.out.len(),
            stored.out
        );
    }

    /// Rows written before `out` named attributions hold the whole records.
    #[test]
    fn rows_of_the_earlier_shape_read_back_as_written() {
        let records = campaign_then_order();
        for event_records in [&records[..1], &records[1..]] {
            let OutboxRecord::Event(event) = event_records.last().expect("event") else {
                panic!("the event record is last");
            };
            let mut whole = format!(
                "{{\"kind\":\"event\",\"app_id\":\"{}\",\"journey\":\"{}\"",
                event.app_id, event.journey
            );
            if let Some(touch) = &event.touch {
                whole.push_str(&format!(
                    ",\"touch\":{}",
                    serde_json::to_string(touch).expect("touch")
                ));
            }
            whole.push_str(&format!(",\"is_conversion\":{}}}", event.is_conversion));
            for other in &event_records[..event_records.len() - 1] {
                whole.push('\n');
                whole.push_str(&serde_json::to_string(other).expect("record"));
            }
            assert_eq!(
                lines_of(&body_of(event_records), &whole, &[]),
                event_records
            );
        }
    }

    /// What the Journey object does before a re-run replaces an unsent conversion's row.
    #[test]
    fn a_revision_put_into_out_is_sent_as_it_was_and_the_row_no_longer_read() {
        let records = campaign_then_order();
        let stored = event_row_out(&records[1..]).expect("out").expect("kept");
        let OutboxRecord::Attribution(first) = &records[1] else {
            panic!("the attribution record");
        };
        let conversion = &first.result.conversion;
        let named =
            attribution_row_line(conversion.ts_ms, &conversion.conversion_id).expect("line");
        assert!(stored.out.contains(&named));
        let result = serde_json::to_string(&first.result).expect("result");
        let out = stored
            .out
            .replace(&named, &attribution_line(OWNER, &result));
        assert!(attribution_rows(&out).is_empty());
        let mut revised = attribution_table(&records);
        revised[0].1 = "{}".into();
        assert_eq!(
            lines_of(&body_of(&records[1..]), &out, &revised),
            records[1..]
        );
    }

    #[test]
    fn an_attribution_no_longer_stored_is_not_sent_and_its_event_still_is() {
        let records = campaign_then_order();
        let stored = event_row_out(&records[1..]).expect("out").expect("kept");
        let lines = lines_of(&body_of(&records[1..]), &stored.out, &[]);
        assert_eq!(lines, records[2..]);
    }

    /// The records of a real journey: a campaign page (an event with its touch), then a
    /// conversion (its attribution, then its event).
    #[test]
    fn an_event_row_gives_back_the_records_it_was_written_with() {
        let records = campaign_then_order();
        assert_eq!(records.len(), 3, "{records:?}");
        assert!(matches!(&records[0], OutboxRecord::Event(r) if r.touch.is_some()));
        assert!(matches!(&records[1], OutboxRecord::Attribution(_)));
        assert_eq!(rebuilt(&records[..1]), records[..1]);
        assert_eq!(rebuilt(&records[1..]), records[1..]);
    }

    #[test]
    fn records_without_an_event_record_last_are_not_kept_with_an_event() {
        assert_eq!(event_row_out(&[]).expect("out"), None);
    }
}
