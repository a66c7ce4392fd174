//! Turns a spool batch into the embedded tables' parameter rows.

use libsql::Value;

use crate::sinks::rows::Rows;
use crate::spool::SpoolBatch;

use super::EmbeddedError;

pub const INSERT_EVENT: &str = "INSERT OR IGNORE INTO events (id, app_id, journey, event_type, \
     name, timestamp_ms, day, is_conversion, touch_source, touch_campaign, record) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
pub const INSERT_ATTRIBUTION: &str = "INSERT OR IGNORE INTO attributions (id, app_id, journey, \
     conversion_id, revision, conversion_ts_ms, day, revenue, currency, basis, record) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
pub const INSERT_MERGE: &str = "INSERT OR IGNORE INTO merges (id, app_id, from_journey, \
     into_journey, merged_at_ms, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// Parameter lists per table, in the column order of the INSERTs above.
#[derive(Default)]
pub struct Inserts {
    pub events: Vec<Vec<Value>>,
    pub attributions: Vec<Vec<Value>>,
    pub merges: Vec<Vec<Value>>,
}

pub fn build(batch: &SpoolBatch) -> Result<Inserts, EmbeddedError> {
    let mut rows = Rows::default();
    for record in batch.records() {
        rows.push(record)?;
    }
    let text = |s: String| Value::Text(s);
    Ok(Inserts {
        events: rows
            .events
            .into_iter()
            .map(|r| {
                vec![
                    text(r.id),
                    text(r.app_id),
                    text(r.journey),
                    text(r.event_type),
                    text(r.name),
                    Value::Integer(r.timestamp_ms),
                    text(r.day),
                    Value::Integer(i64::from(r.is_conversion)),
                    text(r.touch_source),
                    text(r.touch_campaign),
                    text(r.record),
                ]
            })
            .collect(),
        attributions: rows
            .attributions
            .into_iter()
            .map(|r| {
                vec![
                    text(r.id),
                    text(r.app_id),
                    text(r.journey),
                    text(r.conversion_id),
                    Value::Integer(i64::from(r.revision)),
                    Value::Integer(r.conversion_ts_ms),
                    text(r.day),
                    Value::Real(r.revenue),
                    text(r.currency),
                    text(r.basis),
                    text(r.record),
                ]
            })
            .collect(),
        merges: rows
            .merges
            .into_iter()
            .map(|r| {
                vec![
                    text(r.id),
                    text(r.app_id),
                    text(r.from_journey),
                    text(r.into_journey),
                    Value::Integer(r.merged_at_ms),
                    text(r.record),
                ]
            })
            .collect(),
    })
}
