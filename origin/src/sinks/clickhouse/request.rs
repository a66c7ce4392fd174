//! Turns a spool batch into one `RowBinary` insert per table, straight from the spooled
//! columns: strings are copied, numbers written as they are, nothing is parsed or escaped.
//! (`RowBinary` is read the same way by 18.16 and current servers; the column list is named
//! in each `INSERT`, so it does not depend on the table's column order.)
//!
//! Rows whose id is in `skip` are left out: they are already in ClickHouse (see `sink.rs`).

use std::collections::HashSet;

use attrib_core::attribution::Model;

use super::ClickHouseError;
use crate::contract::names::{basis_str, channel_str, touch_kind_str};
use crate::sinks::rows::{credit_rows, day_number, shares};
use crate::spool::{Columns, RecordKind, SpoolBatch};

pub const EVENTS_COLUMNS: &str = "id, app_id, journey, message_id, event_type, user_id, \
    anonymous_id, name, timestamp_ms, received_at_ms, day, is_conversion, has_touch, touch_id, \
    touch_ts_ms, touch_day, touch_kind, touch_channel, touch_source, touch_medium, \
    touch_campaign, touch_rejected, record";
pub const ATTRIBUTIONS_COLUMNS: &str = "id, app_id, journey, conversion_id, revision, \
    conversion_name, conversion_ts_ms, day, revenue, currency, basis, default_model, \
    attributed_at_ms, record";
pub const CREDITS_COLUMNS: &str = "attribution_id, app_id, day, conversion_id, revision, model, \
    touch_id, touch_ts_ms, channel, source, medium, campaign, currency, revenue, credit, value";
pub const CONVERSIONS_COLUMNS: &str = "app_id, conversion_id, revision, attribution_id, day, \
    currency, revenue, model, source, campaign, conversions, credited_value";
pub const MERGES_COLUMNS: &str = "id, app_id, from_journey, into_journey, merged_at_ms, day, \
    record";
pub const NULL_PATHS_COLUMNS: &str = "id, app_id, journey, day, path, touches, first_touch_ms, \
    last_touch_ms, last_touch_id, closed_at_ms, record";
pub const SKAN_POSTBACKS_COLUMNS: &str = "id, app_id, dedup_key, protocol, version, \
    ad_network_id, source_identifier, did_win, postback_sequence_index, has_fine_value, \
    fine_value, coarse_value, decoded, received_at_ms, day, record";
pub const SPEND_COLUMNS: &str = "id, app_id, day, source, campaign, ad_group, spend, currency, \
    has_impressions, impressions, has_clicks, clicks, uploaded_at_ms, record";

/// The tables the sink writes, in insert order, with the column holding the record id.
pub const TABLES: [(&str, &str, &str); 8] = [
    ("events", EVENTS_COLUMNS, "id"),
    ("attributions", ATTRIBUTIONS_COLUMNS, "id"),
    ("attribution_credits", CREDITS_COLUMNS, "attribution_id"),
    ("conversion_stats", CONVERSIONS_COLUMNS, "attribution_id"),
    ("merges", MERGES_COLUMNS, "id"),
    ("null_paths", NULL_PATHS_COLUMNS, "id"),
    ("skan_postbacks", SKAN_POSTBACKS_COLUMNS, "id"),
    ("spend", SPEND_COLUMNS, "id"),
];

/// The tables (indexes into [`TABLES`]) a record of `kind` is written to: what the presence
/// check looks in.
pub fn tables_of(kind: RecordKind) -> &'static [usize] {
    match kind {
        RecordKind::Event => &[0],
        RecordKind::Attribution => &[1, 2, 3],
        RecordKind::Merge => &[4],
        RecordKind::NullPath => &[5],
        RecordKind::SkanPostback => &[6],
        RecordKind::Spend => &[7],
        // Carried out by `POST /v1/erase` itself (mutations, `erase.rs`).
        RecordKind::Erasure => &[],
    }
}

/// An `INSERT` for one table: `body` holds its rows in `RowBinary`.
pub struct Insert {
    pub table: &'static str,
    pub columns: &'static str,
    pub rows: usize,
    pub body: Vec<u8>,
}

/// Already-present record ids per table (index into [`TABLES`]).
pub type Present = [HashSet<String>; 8];

struct Out {
    body: Vec<u8>,
    rows: usize,
}

impl Out {
    fn str(&mut self, text: &str) {
        varint(&mut self.body, text.len() as u64);
        self.body.extend_from_slice(text.as_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.body.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.body.extend_from_slice(&v.to_le_bytes());
    }
    fn u8(&mut self, v: u8) {
        self.body.push(v);
    }
    fn u64(&mut self, v: u64) {
        self.body.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.body.extend_from_slice(&v.to_le_bytes());
    }
    /// `Date`: days since 1970-01-01 as UInt16 (its whole range; out-of-range days clamp).
    fn date(&mut self, ms: i64) {
        let day = day_number(ms).clamp(0, i64::from(u16::MAX)) as u16;
        self.body.extend_from_slice(&day.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        varint(&mut self.body, n as u64);
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn build(batch: &SpoolBatch, skip: Option<&Present>) -> Result<Vec<Insert>, ClickHouseError> {
    let bytes: usize = batch.entries.iter().map(|e| e.payload_len()).sum();
    let mut outs: [Out; 8] = std::array::from_fn(|i| Out {
        body: Vec::with_capacity(if i == 0 { bytes + bytes / 4 } else { 0 }),
        rows: 0,
    });
    let skipped = |table: usize, id: &str| skip.is_some_and(|p| p[table].contains(id));
    for record in batch.records() {
        let r = record?;
        match r.columns()? {
            Columns::Erasure => {}
            Columns::Event(e) => {
                if skipped(0, r.id) {
                    continue;
                }
                let o = &mut outs[0];
                let t = e.touch.as_ref();
                let touch_ts = t.map_or(e.timestamp_ms, |t| t.ts_ms);
                for text in [
                    r.id,
                    r.app_id,
                    r.journey,
                    e.message_id,
                    e.event_type.as_str(),
                ] {
                    o.str(text);
                }
                for text in [e.user_id, e.anonymous_id, e.name] {
                    o.str(text);
                }
                o.i64(e.timestamp_ms);
                o.i64(e.received_at_ms);
                o.date(e.timestamp_ms);
                o.u8(u8::from(e.is_conversion));
                o.u8(u8::from(t.is_some()));
                o.str(t.map_or("", |t| t.touch_id));
                o.i64(touch_ts);
                o.date(touch_ts);
                o.str(t.map_or("", |t| touch_kind_str(t.kind)));
                o.str(t.map_or("", |t| channel_str(t.channel)));
                o.str(t.map_or("", |t| t.source));
                o.str(t.map_or("", |t| t.medium));
                o.str(t.map_or("", |t| t.campaign));
                o.str(t.and_then(|t| t.rejected).unwrap_or(""));
                o.str(r.json);
                o.rows += 1;
            }
            Columns::Attribution(a) => {
                if !skipped(1, r.id) {
                    let o = &mut outs[1];
                    for text in [r.id, r.app_id, r.journey, a.conversion_id] {
                        o.str(text);
                    }
                    o.u32(a.revision);
                    o.str(a.name);
                    o.i64(a.ts_ms);
                    o.date(a.ts_ms);
                    o.f64(a.revenue);
                    o.str(a.currency);
                    o.str(basis_str(a.basis));
                    o.str(a.default_model.as_str());
                    o.i64(a.attributed_at_ms);
                    o.str(r.json);
                    o.rows += 1;
                }
                let credits = credit_rows(&a)?;
                if !skipped(2, r.id) {
                    let o = &mut outs[2];
                    for c in &credits {
                        o.str(r.id);
                        o.str(r.app_id);
                        o.date(a.ts_ms);
                        o.str(a.conversion_id);
                        o.u32(a.revision);
                        o.str(c.model.as_str());
                        o.str(c.touch_id);
                        o.i64(c.touch_ts_ms);
                        o.str(c.channel);
                        o.str(c.source);
                        o.str(c.medium);
                        o.str(c.campaign);
                        o.str(a.currency);
                        o.f64(a.revenue);
                        o.f64(c.credit);
                        o.f64(c.value);
                        o.rows += 1;
                    }
                }
                if !skipped(3, r.id) {
                    let o = &mut outs[3];
                    let shares = shares(&credits);
                    o.str(r.app_id);
                    o.str(a.conversion_id);
                    o.u32(a.revision);
                    o.str(r.id);
                    o.date(a.ts_ms);
                    o.str(a.currency);
                    o.f64(a.revenue);
                    o.len(shares.len());
                    for s in &shares {
                        o.str(Model::as_str(s.model));
                    }
                    o.len(shares.len());
                    for s in &shares {
                        o.str(s.source);
                    }
                    o.len(shares.len());
                    for s in &shares {
                        o.str(s.campaign);
                    }
                    o.len(shares.len());
                    for s in &shares {
                        o.f64(s.conversions);
                    }
                    o.len(shares.len());
                    for s in &shares {
                        o.f64(s.credited_value);
                    }
                    o.rows += 1;
                }
            }
            Columns::Merge(m) => {
                if skipped(4, r.id) {
                    continue;
                }
                let o = &mut outs[4];
                for text in [r.id, r.app_id, m.from, m.into] {
                    o.str(text);
                }
                o.i64(m.merged_at_ms);
                o.date(m.merged_at_ms);
                o.str(r.json);
                o.rows += 1;
            }
            Columns::NullPath(n) => {
                if skipped(5, r.id) {
                    continue;
                }
                let o = &mut outs[5];
                for text in [r.id, r.app_id, r.journey] {
                    o.str(text);
                }
                o.date(n.last_touch_ms);
                o.len(n.path.len());
                for step in &n.path {
                    o.str(step);
                }
                o.u32(n.touches);
                o.i64(n.first_touch_ms);
                o.i64(n.last_touch_ms);
                o.str(n.last_touch_id);
                o.i64(n.closed_at_ms);
                o.str(r.json);
                o.rows += 1;
            }
            Columns::SkanPostback(p) => {
                if skipped(6, r.id) {
                    continue;
                }
                let o = &mut outs[6];
                for text in [
                    r.id,
                    r.app_id,
                    p.dedup_key,
                    p.protocol,
                    p.version,
                    p.ad_network_id,
                    p.source_identifier,
                ] {
                    o.str(text);
                }
                o.u8(u8::from(p.did_win));
                o.u8(p.postback_sequence_index);
                o.u8(u8::from(p.fine_value.is_some()));
                o.u8(p.fine_value.unwrap_or(0));
                o.str(p.coarse_value);
                o.str(p.decoded);
                o.i64(p.received_at_ms);
                o.date(p.received_at_ms);
                o.str(r.json);
                o.rows += 1;
            }
            Columns::Spend(s) => {
                if skipped(7, r.id) {
                    continue;
                }
                let o = &mut outs[7];
                o.str(r.id);
                o.str(r.app_id);
                o.date(s.day_ms);
                for text in [s.source, s.campaign, s.ad_group] {
                    o.str(text);
                }
                o.f64(s.spend);
                o.str(s.currency);
                for count in [s.impressions, s.clicks] {
                    o.u8(u8::from(count.is_some()));
                    o.u64(count.unwrap_or(0));
                }
                // Upload times are after 1970: the version column is unsigned on 18.16.
                o.u64(u64::try_from(s.uploaded_at_ms).unwrap_or(0));
                o.str(r.json);
                o.rows += 1;
            }
        }
    }
    Ok(outs
        .into_iter()
        .zip(TABLES)
        .filter(|(out, _)| out.rows > 0)
        .map(|(out, (table, columns, _))| Insert {
            table,
            columns,
            rows: out.rows,
            body: out.body,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn varints_are_leb128() {
        let mut out = Vec::new();
        super::varint(&mut out, 300);
        assert_eq!(out, [0xAC, 0x02]);
        out.clear();
        super::varint(&mut out, 5);
        assert_eq!(out, [5]);
    }
}
