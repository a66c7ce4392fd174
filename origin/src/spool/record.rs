//! What the spool stores per record, and how one spool entry (an acknowledged batch) is
//! laid out on disk.
//!
//! Each record keeps the contract's JSON exactly as the Durable Object sent it, plus the few
//! fields every sink routes by (id, kind, app, journey), so that delivering to Kafka never
//! re-parses or re-serialises a record.

use attrib_core::outbox::OutboxRecord;

use super::SpoolError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Event,
    Attribution,
    Merge,
}

impl RecordKind {
    pub fn of(record: &OutboxRecord) -> Self {
        match record {
            OutboxRecord::Event(_) => RecordKind::Event,
            OutboxRecord::Attribution(_) => RecordKind::Attribution,
            OutboxRecord::Merge(_) => RecordKind::Merge,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Event => "event",
            RecordKind::Attribution => "attribution",
            RecordKind::Merge => "merge",
        }
    }

    fn to_byte(self) -> u8 {
        match self {
            RecordKind::Event => 1,
            RecordKind::Attribution => 2,
            RecordKind::Merge => 3,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(RecordKind::Event),
            2 => Some(RecordKind::Attribution),
            3 => Some(RecordKind::Merge),
            _ => None,
        }
    }
}

/// One outbox record as spooled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolRecord {
    /// `OutboxRecord::id()`: the key every store deduplicates on.
    pub id: String,
    pub kind: RecordKind,
    pub app_id: String,
    /// The journey (`u:{app}:{user}`): the Kafka key that keeps a user's records in order.
    pub journey: String,
    /// The record's JSON as received (an `OutboxRecord`).
    pub json: String,
}

impl SpoolRecord {
    /// Builds the spooled form of a validated record; `json` must be its received JSON.
    pub fn new(record: &OutboxRecord, batch_journey: &str, json: String) -> Self {
        let journey = match record {
            OutboxRecord::Event(r) => r.journey.clone(),
            OutboxRecord::Attribution(r) => r.journey.clone(),
            OutboxRecord::Merge(_) => batch_journey.to_owned(),
        };
        SpoolRecord {
            id: record.id(),
            kind: RecordKind::of(record),
            app_id: record.app_id().to_owned(),
            journey,
            json,
        }
    }

    /// Parses the stored JSON back into the contract type (sinks that need columns).
    pub fn parse(&self) -> Result<OutboxRecord, serde_json::Error> {
        serde_json::from_str(&self.json)
    }
}

/// Appends the payload of one entry: `u32 count`, then per record `u8 kind` and four
/// length-prefixed strings (id, app, journey, json).
pub fn encode_records(records: &[SpoolRecord], out: &mut Vec<u8>) {
    out.extend_from_slice(&(records.len() as u32).to_le_bytes());
    for record in records {
        out.push(record.kind.to_byte());
        for text in [&record.id, &record.app_id, &record.journey, &record.json] {
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
    }
}

pub fn decode_records(mut payload: &[u8]) -> Result<Vec<SpoolRecord>, SpoolError> {
    let count = take_u32(&mut payload)? as usize;
    let mut records = Vec::with_capacity(count.min(10_000));
    for _ in 0..count {
        let (&kind, rest) = payload.split_first().ok_or(SpoolError::Corrupt("kind"))?;
        payload = rest;
        let kind = RecordKind::from_byte(kind).ok_or(SpoolError::Corrupt("kind"))?;
        let id = take_string(&mut payload)?;
        let app_id = take_string(&mut payload)?;
        let journey = take_string(&mut payload)?;
        let json = take_string(&mut payload)?;
        records.push(SpoolRecord {
            id,
            kind,
            app_id,
            journey,
            json,
        });
    }
    Ok(records)
}

fn take_u32(input: &mut &[u8]) -> Result<u32, SpoolError> {
    let (head, rest) = input
        .split_first_chunk::<4>()
        .ok_or(SpoolError::Corrupt("length"))?;
    *input = rest;
    Ok(u32::from_le_bytes(*head))
}

fn take_string(input: &mut &[u8]) -> Result<String, SpoolError> {
    let len = take_u32(input)? as usize;
    if input.len() < len {
        return Err(SpoolError::Corrupt("string"));
    }
    let (text, rest) = input.split_at(len);
    *input = rest;
    String::from_utf8(text.to_vec()).map_err(|_| SpoolError::Corrupt("utf-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn record(id: &str) -> SpoolRecord {
        SpoolRecord {
            id: id.into(),
            kind: RecordKind::Event,
            app_id: "app".into(),
            journey: "u:app:1".into(),
            json: format!("{{\"id\":\"{id}\"}}"),
        }
    }

    #[test]
    fn records_round_trip() {
        let records = vec![record("a"), record("ü-b")];
        let mut bytes = Vec::new();
        encode_records(&records, &mut bytes);
        assert_eq!(decode_records(&bytes).expect("decodes"), records);
    }

    #[test]
    fn truncated_payload_is_corrupt() {
        let mut bytes = Vec::new();
        encode_records(&[record("a")], &mut bytes);
        bytes.truncate(bytes.len() - 1);
        assert!(decode_records(&bytes).is_err());
    }
}
