//! An event's outbox records kept in the event's own row (issue 15).
//!
//! The Journey object writes each new event as one row: its body, and beside it what its
//! records add to it ([`event_row_out`]). The flush rebuilds the records from the two
//! ([`event_row_lines`]), so an event costs one row written instead of an event row, an
//! outbox row and the outbox row's delete. The rebuilt lines are the records' JSON, as
//! `serde_json` writes them but for the order of the event record's fields (which the origin
//! does not read).

use serde::Serialize;

use super::{EventRecord, OutboxRecord};
use crate::touch::Touch;

/// The event record without its event, as the first line of the `out` column.
#[derive(Serialize)]
struct EventRecordRest<'a> {
    kind: &'static str,
    app_id: &'a str,
    journey: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    touch: Option<&'a Touch>,
    is_conversion: bool,
}

/// What to keep beside an event's body for `records` (the records it made, its own event
/// record last, as [`crate::journey::JourneyStore::insert_recorded_event`] gives them): the
/// event record's other fields, then the other records, one compact JSON per line. `None`
/// when the last record is not an event record (nothing to keep with the event).
pub fn event_row_out(records: &[OutboxRecord]) -> Result<Option<String>, serde_json::Error> {
    let Some((OutboxRecord::Event(event_record), others)) = records.split_last() else {
        return Ok(None);
    };
    let EventRecord {
        app_id,
        journey,
        touch,
        is_conversion,
        event: _,
    } = event_record.as_ref();
    let mut out = serde_json::to_string(&EventRecordRest {
        kind: "event",
        app_id,
        journey,
        touch: touch.as_ref(),
        is_conversion: *is_conversion,
    })?;
    for other in others {
        out.push('\n');
        out.push_str(&serde_json::to_string(other)?);
    }
    Ok(Some(out))
}

/// The outbox lines of one stored event from its `body` (the event's JSON) and `out`
/// ([`event_row_out`]), in the order they were made: the other records, then the event record.
pub fn event_row_lines(body: &str, out: &str) -> Vec<String> {
    let mut lines = out.split('\n');
    let rest = lines.next().unwrap_or_default();
    let mut all: Vec<String> = lines.map(str::to_owned).collect();
    // `rest` is a JSON object with at least `kind`: its closing brace makes room for the event.
    let open = rest.strip_suffix('}').unwrap_or(rest);
    all.push(format!("{open},\"event\":{body}}}"));
    all
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

    fn rebuilt(records: &[OutboxRecord]) -> Vec<OutboxRecord> {
        let Some(OutboxRecord::Event(record)) = records.last() else {
            panic!("the event record is last");
        };
        let body = serde_json::to_string(&record.event).expect("event");
        let out = event_row_out(records).expect("out").expect("kept");
        event_row_lines(&body, &out)
            .iter()
            .map(|line| serde_json::from_str(line).expect("a record"))
            .collect()
    }

    /// The records of a real journey: a campaign page (an event with its touch), then a
    /// conversion (its attribution, then its event).
    #[test]
    fn an_event_row_gives_back_the_records_it_was_written_with() {
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
        let records = store.outbox();
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
