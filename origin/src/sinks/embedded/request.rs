//! Turns a spool batch into the embedded tables' parameter rows.

use attrib_core::time::day_of_millis;
use libsql::Value;

use crate::contract::names::basis_str;
use crate::spool::{Columns, SpoolBatch};

use super::EmbeddedError;

pub const INSERT_EVENT: &str = "INSERT OR IGNORE INTO events (id, app_id, journey, event_type, \
     name, timestamp_ms, day, is_conversion, touch_source, touch_campaign, record) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
pub const INSERT_ATTRIBUTION: &str = "INSERT OR IGNORE INTO attributions (id, app_id, journey, \
     conversion_id, revision, conversion_ts_ms, day, revenue, currency, basis, record) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
pub const INSERT_MERGE: &str = "INSERT OR IGNORE INTO merges (id, app_id, from_journey, \
     into_journey, merged_at_ms, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
pub const INSERT_NULL_PATH: &str = "INSERT OR IGNORE INTO null_paths (id, app_id, journey, day, \
     path, touches, last_touch_ms, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// Parameter lists per table, in the column order of the INSERTs above.
#[derive(Default)]
pub struct Inserts {
    pub events: Vec<Vec<Value>>,
    pub attributions: Vec<Vec<Value>>,
    pub merges: Vec<Vec<Value>>,
    pub null_paths: Vec<Vec<Value>>,
}

pub fn build(batch: &SpoolBatch) -> Result<Inserts, EmbeddedError> {
    let text = |s: &str| Value::Text(s.to_owned());
    let mut inserts = Inserts::default();
    for record in batch.records() {
        let r = record?;
        match r.columns()? {
            Columns::Event(e) => inserts.events.push(vec![
                text(r.id),
                text(r.app_id),
                text(r.journey),
                text(e.event_type.as_str()),
                text(e.name),
                Value::Integer(e.timestamp_ms),
                Value::Text(day_of_millis(e.timestamp_ms)),
                Value::Integer(i64::from(e.is_conversion)),
                text(e.touch.as_ref().map_or("", |t| t.source)),
                text(e.touch.as_ref().map_or("", |t| t.campaign)),
                text(r.json),
            ]),
            Columns::Attribution(a) => inserts.attributions.push(vec![
                text(r.id),
                text(r.app_id),
                text(r.journey),
                text(a.conversion_id),
                Value::Integer(i64::from(a.revision)),
                Value::Integer(a.ts_ms),
                Value::Text(day_of_millis(a.ts_ms)),
                Value::Real(a.revenue),
                text(a.currency),
                text(basis_str(a.basis)),
                text(r.json),
            ]),
            Columns::Merge(m) => inserts.merges.push(vec![
                text(r.id),
                text(r.app_id),
                text(m.from),
                text(m.into),
                Value::Integer(m.merged_at_ms),
                text(r.json),
            ]),
            Columns::NullPath(n) => inserts.null_paths.push(vec![
                text(r.id),
                text(r.app_id),
                text(r.journey),
                Value::Text(day_of_millis(n.last_touch_ms)),
                // Serializing a list of strings cannot fail.
                Value::Text(serde_json::to_string(&n.path).unwrap_or_default()),
                Value::Integer(i64::from(n.touches)),
                Value::Integer(n.last_touch_ms),
                text(r.json),
            ]),
        }
    }
    Ok(inserts)
}
