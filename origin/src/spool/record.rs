//! What the spool stores per record, and how one spool entry (an acknowledged batch) is laid
//! out on disk.
//!
//! Each record keeps the contract's JSON exactly as the Durable Object sent it, the fields
//! every sink routes by (kind, id, app, journey), and the [`columns`](super::columns) the
//! table-shaped sinks and the rollups need, extracted once at intake: no sink parses JSON.
//! Readers borrow straight from the frame ([`SpooledRecord`]); nothing is copied per record.
//!
//! Payload: `u32 MAGIC, u32 count`, then per record `u8 kind`, four strings (id, app,
//! journey, json) and the columns (`u32 length, bytes`). Payloads written before the columns
//! existed (no magic: `u32 count`, kind and the four strings) are still read: [`upgrade`]
//! parses their JSON once into the current layout.

use std::ops::Range;

use super::columns::{
    encode_attribution, encode_event, encode_merge, encode_null_path, encode_skan_postback,
    encode_spend, put_str, AttributionCols, Dec, EventCols, MergeCols, NullPathCols,
    SkanPostbackCols, SpendCols,
};
use super::dedup::{fingerprint, Fingerprint};
use super::SpoolError;
use crate::contract::view::RecordView;

/// Marks a payload with columns. A legacy payload starts with its record count, which is
/// far smaller (a batch has at most 500 records).
const MAGIC: u32 = 0xA77B_C002;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Event,
    Attribution,
    Merge,
    NullPath,
    SkanPostback,
    Spend,
    /// An erasure (issue 12): written by the origin itself (`POST /v1/erase`), never by the
    /// edge, so that it reaches each sink in spool order, after every record of the journey it
    /// erases. The Kafka sink writes a tombstone for it; the other sinks skip it.
    Erasure,
}

impl RecordKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Event => "event",
            RecordKind::Attribution => "attribution",
            RecordKind::Merge => "merge",
            RecordKind::NullPath => "null_path",
            RecordKind::SkanPostback => "skan_postback",
            RecordKind::Spend => "spend",
            RecordKind::Erasure => "erasure",
        }
    }

    fn to_byte(self) -> u8 {
        match self {
            RecordKind::Event => 1,
            RecordKind::Attribution => 2,
            RecordKind::Merge => 3,
            RecordKind::NullPath => 4,
            RecordKind::SkanPostback => 5,
            RecordKind::Spend => 6,
            RecordKind::Erasure => 7,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(RecordKind::Event),
            2 => Some(RecordKind::Attribution),
            3 => Some(RecordKind::Merge),
            4 => Some(RecordKind::NullPath),
            5 => Some(RecordKind::SkanPostback),
            6 => Some(RecordKind::Spend),
            7 => Some(RecordKind::Erasure),
            _ => None,
        }
    }

    fn of(view: &RecordView<'_>) -> Self {
        match view {
            RecordView::Event(_) => RecordKind::Event,
            RecordView::Attribution(_) => RecordKind::Attribution,
            RecordView::Merge(_) => RecordKind::Merge,
            RecordView::NullPath(_) => RecordKind::NullPath,
            RecordView::SkanPostback(_) => RecordKind::SkanPostback,
            RecordView::Spend(_) => RecordKind::Spend,
        }
    }
}

/// The records of one request, encoded at intake; the spool writer copies the ones it has
/// not seen (by fingerprint) into the next frame.
#[derive(Debug, Default, Clone)]
pub struct EncodedBatch {
    buf: Vec<u8>,
    records: Vec<(Fingerprint, Range<usize>)>,
    id: String,
}

impl EncodedBatch {
    pub fn with_capacity(bytes: usize, records: usize) -> Self {
        EncodedBatch {
            buf: Vec::with_capacity(bytes),
            records: Vec::with_capacity(records),
            id: String::new(),
        }
    }

    /// Adds a validated record; `json` is its text as received, `batch_journey` the batch's
    /// journey (merges have none of their own).
    pub fn push_view(&mut self, view: &RecordView<'_>, json: &str, batch_journey: &str) {
        let mut id = std::mem::take(&mut self.id);
        view.write_id(&mut id);
        let journey = match view {
            RecordView::Event(r) => r.journey.as_str(),
            RecordView::Attribution(r) => r.journey.as_str(),
            // Edge facts travel in their app's edge journey (`e:{app}:{kind}`).
            RecordView::Merge(_) | RecordView::SkanPostback(_) | RecordView::Spend(_) => {
                batch_journey
            }
            RecordView::NullPath(r) => r.journey.as_str(),
        };
        self.push_parts(
            RecordKind::of(view),
            &id,
            view.app_id(),
            journey,
            json,
            |out| encode_columns(view, out),
        );
        self.id = id;
    }

    /// Adds a record from its parts; `columns` writes its columns.
    pub fn push_parts(
        &mut self,
        kind: RecordKind,
        id: &str,
        app_id: &str,
        journey: &str,
        json: &str,
        columns: impl FnOnce(&mut Vec<u8>),
    ) {
        let start = self.buf.len();
        write_record(&mut self.buf, kind, [id, app_id, journey, json], columns);
        self.records.push((fingerprint(id), start..self.buf.len()));
    }

    /// Adds the erasure of `journey` ([`RecordKind::Erasure`]); `id` is new per request (the
    /// spool would drop a repeat), and names no person.
    pub fn push_erasure(&mut self, id: &str, app_id: &str, journey: &str, erased_at_ms: i64) {
        let json = serde_json::json!({
            "kind": "erasure",
            "app_id": app_id,
            "journey": journey,
            "erased_at_ms": erased_at_ms,
        })
        .to_string();
        self.push_parts(RecordKind::Erasure, id, app_id, journey, &json, |_| {});
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// (fingerprint of the id, encoded record) in order.
    pub fn records(&self) -> impl Iterator<Item = (Fingerprint, &[u8])> {
        self.records
            .iter()
            .map(|(fp, range)| (*fp, &self.buf[range.clone()]))
    }
}

/// A record's columns, by kind.
fn encode_columns(view: &RecordView<'_>, out: &mut Vec<u8>) {
    match view {
        RecordView::Event(r) => encode_event(r, out),
        RecordView::Attribution(r) => encode_attribution(r, out),
        RecordView::Merge(r) => encode_merge(r, out),
        RecordView::NullPath(r) => encode_null_path(r, out),
        RecordView::SkanPostback(r) => encode_skan_postback(r, out),
        RecordView::Spend(r) => encode_spend(r, out),
    }
}

fn write_record(
    out: &mut Vec<u8>,
    kind: RecordKind,
    texts: [&str; 4],
    columns: impl FnOnce(&mut Vec<u8>),
) {
    out.push(kind.to_byte());
    for text in texts {
        put_str(out, text);
    }
    let len_at = out.len();
    out.extend_from_slice(&[0; 4]);
    columns(out);
    let len = (out.len() - len_at - 4) as u32;
    out[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
}

/// A payload holding `record` alone (isolating refused records, storing dead letters).
pub fn single_record_payload(record: &SpooledRecord<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(record.json.len() + record.columns.len() + 64);
    payload_header(1, &mut out);
    write_record(
        &mut out,
        record.kind,
        [record.id, record.app_id, record.journey, record.json],
        |o| o.extend_from_slice(record.columns),
    );
    out
}

/// Starts a payload of `count` records; append each record's encoded bytes after it.
pub fn payload_header(count: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&(count as u32).to_le_bytes());
}

/// One spooled record, borrowed from its frame.
#[derive(Debug, Clone)]
pub struct SpooledRecord<'a> {
    pub kind: RecordKind,
    /// `OutboxRecord::id()`: the key every store deduplicates on.
    pub id: &'a str,
    pub app_id: &'a str,
    /// The journey (`u:{app}:{user}`): the Kafka key that keeps a user's records in order.
    pub journey: &'a str,
    /// The record's JSON as received (an `OutboxRecord`).
    pub json: &'a str,
    columns: &'a [u8],
}

/// A record's columns, by kind.
#[derive(Debug, Clone)]
pub enum Columns<'a> {
    Event(EventCols<'a>),
    Attribution(AttributionCols<'a>),
    Merge(MergeCols<'a>),
    NullPath(NullPathCols<'a>),
    SkanPostback(SkanPostbackCols<'a>),
    Spend(SpendCols<'a>),
    /// An erasure has no columns: its app and journey are the record's own fields.
    Erasure,
}

impl<'a> SpooledRecord<'a> {
    pub fn columns(&self) -> Result<Columns<'a>, SpoolError> {
        Ok(match self.kind {
            RecordKind::Event => Columns::Event(EventCols::decode(self.columns)?),
            RecordKind::Attribution => Columns::Attribution(AttributionCols::decode(self.columns)?),
            RecordKind::Merge => Columns::Merge(MergeCols::decode(self.columns)?),
            RecordKind::NullPath => Columns::NullPath(NullPathCols::decode(self.columns)?),
            RecordKind::SkanPostback => {
                Columns::SkanPostback(SkanPostbackCols::decode(self.columns)?)
            }
            RecordKind::Spend => Columns::Spend(SpendCols::decode(self.columns)?),
            RecordKind::Erasure => Columns::Erasure,
        })
    }

    /// The encoded columns, as stored (the rollup store keeps attributions this way).
    pub fn raw_columns(&self) -> &'a [u8] {
        self.columns
    }
}

/// The records of a current-layout payload.
pub struct Records<'a> {
    dec: Dec<'a>,
    left: u32,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<SpooledRecord<'a>, SpoolError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let record = read_record(&mut self.dec);
        if record.is_err() {
            self.left = 0;
        }
        Some(record)
    }
}

fn read_record<'a>(d: &mut Dec<'a>) -> Result<SpooledRecord<'a>, SpoolError> {
    let kind = RecordKind::from_byte(d.u8()?).ok_or(SpoolError::Corrupt("kind"))?;
    let (id, app_id, journey, json) = (d.str()?, d.str()?, d.str()?, d.str()?);
    let len = d.u32()? as usize;
    if d.0.len() < len {
        return Err(SpoolError::Corrupt("record columns"));
    }
    let (columns, rest) = d.0.split_at(len);
    d.0 = rest;
    Ok(SpooledRecord {
        kind,
        id,
        app_id,
        journey,
        json,
        columns,
    })
}

/// Iterates a payload in the current layout (see [`upgrade`] for older ones).
pub fn records(payload: &[u8]) -> Result<Records<'_>, SpoolError> {
    let left = record_count(payload)? as u32;
    Ok(Records {
        dec: Dec(&payload[8..]),
        left,
    })
}

/// An iteration over nothing.
pub fn empty() -> Records<'static> {
    Records {
        dec: Dec(&[]),
        left: 0,
    }
}

pub fn record_count(payload: &[u8]) -> Result<usize, SpoolError> {
    let mut dec = Dec(payload);
    if dec.u32()? != MAGIC {
        return Err(SpoolError::Corrupt(
            "payload without columns (not upgraded)",
        ));
    }
    Ok(dec.u32()? as usize)
}

/// The payload in the current layout: as is, or a legacy payload with its records' JSON
/// parsed once for their columns (a spool written by an older origin).
pub fn upgrade(payload: Vec<u8>) -> Result<Vec<u8>, SpoolError> {
    let mut dec = Dec(&payload);
    let count = dec.u32()?;
    if count == MAGIC {
        return Ok(payload);
    }
    let mut out = Vec::with_capacity(payload.len() * 2);
    payload_header(count as usize, &mut out);
    for _ in 0..count {
        let kind = RecordKind::from_byte(dec.u8()?).ok_or(SpoolError::Corrupt("kind"))?;
        let (id, app_id, journey, json) = (dec.str()?, dec.str()?, dec.str()?, dec.str()?);
        let view = crate::contract::parse_record(json)
            .map_err(|_| SpoolError::Corrupt("a legacy record is not an OutboxRecord"))?;
        write_record(&mut out, kind, [id, app_id, journey, json], |cols| {
            encode_columns(&view, cols)
        });
    }
    Ok(out)
}

/// The fingerprints of a payload's record ids (dedup rebuild and trimming).
pub fn fingerprints(payload: &[u8]) -> Result<Vec<Fingerprint>, SpoolError> {
    if record_count(payload).is_err() {
        return legacy_ids(payload);
    }
    records(payload)?
        .map(|r| r.map(|r| fingerprint(r.id)))
        .collect()
}

fn legacy_ids(payload: &[u8]) -> Result<Vec<Fingerprint>, SpoolError> {
    let mut dec = Dec(payload);
    let count = dec.u32()?;
    let mut out = Vec::with_capacity(count.min(10_000) as usize);
    for _ in 0..count {
        dec.u8()?;
        out.push(fingerprint(dec.str()?));
        for _ in 0..3 {
            dec.str()?;
        }
    }
    Ok(out)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A record with the given id and no meaningful columns (spool-level tests).
    pub fn batch_of(ids: &[String]) -> EncodedBatch {
        let mut batch = EncodedBatch::default();
        for id in ids {
            let json = format!("{{\"id\":\"{id}\"}}");
            batch.push_parts(RecordKind::Event, id, "app", "u:app:1", &json, |_| {});
        }
        batch
    }

    #[test]
    fn records_round_trip() {
        let batch = batch_of(&["a".into(), "ü-b".into()]);
        let mut payload = Vec::new();
        payload_header(batch.len(), &mut payload);
        for (_, bytes) in batch.records() {
            payload.extend_from_slice(bytes);
        }
        let ids: Vec<&str> = records(&payload)
            .expect("payload")
            .map(|r| r.expect("record").id)
            .collect();
        assert_eq!(ids, ["a", "ü-b"]);
        payload.truncate(payload.len() - 1);
        assert!(records(&payload).expect("header").any(|r| r.is_err()));
    }

    #[test]
    fn legacy_payloads_are_upgraded() {
        let record = attrib_origin_record();
        let json = serde_json::to_string(&record).expect("json");
        let mut legacy = Vec::new();
        legacy.extend_from_slice(&1u32.to_le_bytes());
        legacy.push(1);
        for text in [record.id().as_str(), "app", "u:app:alice", json.as_str()] {
            put_str(&mut legacy, text);
        }
        assert_eq!(
            fingerprints(&legacy).expect("ids"),
            [fingerprint(&record.id())]
        );
        let upgraded = upgrade(legacy).expect("upgrades");
        let spooled = records(&upgraded)
            .expect("payload")
            .next()
            .expect("one")
            .expect("record");
        assert_eq!(spooled.id, record.id());
        assert_eq!(spooled.json, json);
        let Columns::Event(cols) = spooled.columns().expect("columns") else {
            panic!("an event");
        };
        assert_eq!(cols.message_id, "app-alice-t-t0");
        assert!(cols.touch.is_some());
    }

    #[test]
    fn null_path_columns_round_trip() {
        let batch = crate::testkit::with_null_path(crate::testkit::journey_batch(
            "app",
            "bob",
            "t",
            4,
            false,
            1_714_521_600_000,
        ));
        let Some(attrib_core::outbox::OutboxRecord::NullPath(sent)) = batch.records.last() else {
            panic!("a null path");
        };
        let json = serde_json::to_string(batch.records.last().expect("record")).expect("json");
        let view = crate::contract::parse_record(&json).expect("view");
        let mut encoded = EncodedBatch::default();
        encoded.push_view(&view, &json, "ignored");
        let mut payload = Vec::new();
        payload_header(encoded.len(), &mut payload);
        for (_, bytes) in encoded.records() {
            payload.extend_from_slice(bytes);
        }
        let spooled = records(&payload)
            .expect("payload")
            .next()
            .expect("one")
            .expect("record");
        assert_eq!(spooled.kind, RecordKind::NullPath);
        assert_eq!(spooled.id, "null_path:app:u:app:bob:app-bob-t-t3");
        assert_eq!(spooled.journey, "u:app:bob");
        let Columns::NullPath(cols) = spooled.columns().expect("columns") else {
            panic!("null path columns");
        };
        assert_eq!(cols.path, sent.path);
        assert_eq!(
            (
                cols.touches,
                cols.first_touch_ms,
                cols.last_touch_ms,
                cols.closed_at_ms
            ),
            (
                sent.touches,
                sent.first_touch_ms,
                sent.last_touch_ms,
                sent.closed_at_ms
            )
        );
        assert_eq!(cols.last_touch_id, sent.last_touch_id);
    }

    fn attrib_origin_record() -> attrib_core::outbox::OutboxRecord {
        crate::testkit::journey_batch("app", "alice", "t", 1, false, 1_714_521_600_000)
            .records
            .remove(0)
    }
}
