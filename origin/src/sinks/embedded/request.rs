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

pub const INSERT_SKAN_POSTBACK: &str = "INSERT OR IGNORE INTO skan_postbacks (id, app_id, \
     dedup_key, protocol, version, ad_network_id, source_identifier, did_win, \
     postback_sequence_index, fine_value, coarse_value, decoded, received_at_ms, day, record) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
/// One row per (app, day, source, campaign, ad group): a later upload replaces it, an older
/// one (a redelivery that arrives after the re-upload) does not.
pub const UPSERT_SPEND: &str = "INSERT INTO spend (app_id, day, source, campaign, ad_group, \
     id, spend, currency, impressions, clicks, uploaded_at_ms, record) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
     ON CONFLICT (app_id, day, source, campaign, ad_group) DO UPDATE SET id = excluded.id, \
     spend = excluded.spend, currency = excluded.currency, impressions = excluded.impressions, \
     clicks = excluded.clicks, uploaded_at_ms = excluded.uploaded_at_ms, record = excluded.record \
     WHERE excluded.uploaded_at_ms > spend.uploaded_at_ms";

/// Parameter lists per table, in the column order of the INSERTs above.
#[derive(Default)]
pub struct Inserts {
    pub events: Vec<Vec<Value>>,
    pub attributions: Vec<Vec<Value>>,
    pub merges: Vec<Vec<Value>>,
    pub null_paths: Vec<Vec<Value>>,
    pub skan_postbacks: Vec<Vec<Value>>,
    pub spend: Vec<Vec<Value>>,
}

pub fn build(batch: &SpoolBatch) -> Result<Inserts, EmbeddedError> {
    let text = |s: &str| Value::Text(s.to_owned());
    let mut inserts = Inserts::default();
    for record in batch.records() {
        let r = record?;
        match r.columns()? {
            // Erasures are carried out by `POST /v1/erase` itself (`sinks::embedded::erase`).
            Columns::Erasure => {}
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
            Columns::SkanPostback(p) => inserts.skan_postbacks.push(vec![
                text(r.id),
                text(r.app_id),
                text(p.dedup_key),
                text(p.protocol),
                text(p.version),
                text(p.ad_network_id),
                text(p.source_identifier),
                Value::Integer(i64::from(p.did_win)),
                Value::Integer(i64::from(p.postback_sequence_index)),
                p.fine_value
                    .map_or(Value::Null, |v| Value::Integer(i64::from(v))),
                text(p.coarse_value),
                text(p.decoded),
                Value::Integer(p.received_at_ms),
                Value::Text(day_of_millis(p.received_at_ms)),
                text(r.json),
            ]),
            Columns::Spend(s) => {
                let count = |c: Option<u64>| {
                    c.map_or(Value::Null, |n| {
                        Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
                    })
                };
                inserts.spend.push(vec![
                    text(r.app_id),
                    text(s.day),
                    text(s.source),
                    text(s.campaign),
                    text(s.ad_group),
                    text(r.id),
                    Value::Real(s.spend),
                    text(s.currency),
                    count(s.impressions),
                    count(s.clicks),
                    Value::Integer(s.uploaded_at_ms),
                    text(r.json),
                ]);
            }
        }
    }
    Ok(inserts)
}
