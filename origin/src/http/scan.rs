//! The fast path of `POST /v1/outbox`: one pass over a valid batch. The top-level object is
//! walked by hand so that each record's exact text (spooled as received) is known while
//! serde parses it into borrowed views; no second pass over the records.
//!
//! Anything unexpected (escaped keys, duplicate keys, `journey` after `records`, too many
//! records, any invalid value) returns `None`: the caller then checks the batch with the
//! contract types, which give the precise error or take the unusual shape.

use attrib_core::geo::OriginRegion;
use attrib_core::limits::MAX_OUTBOX_RECORDS_PER_BATCH;
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::contract::view::TagFirst;
use crate::contract::{parse_record, RecordView};
use crate::spool::EncodedBatch;

struct Scan<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scan<'a> {
    fn ws(&mut self) {
        let bytes = self.text.as_bytes();
        while self.pos < bytes.len() && matches!(bytes[self.pos], b' ' | b'\n' | b'\t' | b'\r') {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.ws();
        (self.text.as_bytes().get(self.pos) == Some(&byte)).then(|| self.pos += 1)
    }

    /// One JSON value of type `T` at the current position.
    fn value<T: Deserialize<'a>>(&mut self) -> Option<T> {
        self.ws();
        let rest = self.text.get(self.pos..)?;
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<T>();
        let value = stream.next()?.ok()?;
        self.pos += stream.byte_offset();
        Some(value)
    }

    /// The records array, each record encoded into `out` as soon as it is parsed.
    fn records(&mut self, journey: &str, out: &mut EncodedBatch) -> Option<()> {
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            self.ws();
            let start = self.pos;
            let TagFirst(view) = self.value::<TagFirst<'a>>()?;
            let raw = &self.text[start..self.pos];
            let view = match view {
                Some(view) => view,
                None => parse_record(raw).ok()?,
            };
            if missing_identity(&view) || out.len() >= MAX_OUTBOX_RECORDS_PER_BATCH {
                return None;
            }
            out.push_view(&view, raw, journey);
            if self.eat(b',').is_none() {
                return self.eat(b']');
            }
        }
    }
}

/// Empty keys would make every record of a kind collide on one id; a null path without a
/// step could not be counted (see `http::outbox::missing_identity`, the same rules).
pub fn missing_identity(view: &RecordView<'_>) -> bool {
    view.app_id().is_empty()
        || match view {
            RecordView::Event(r) => r.event.message_id.as_str().is_empty(),
            RecordView::Attribution(r) => r.result.conversion.conversion_id.as_str().is_empty(),
            RecordView::Merge(_) => false,
            RecordView::NullPath(r) => {
                r.journey.as_str().is_empty()
                    || r.last_touch_id.as_str().is_empty()
                    || r.path.is_empty()
            }
            RecordView::SkanPostback(r) => r.dedup_key.as_str().is_empty(),
            RecordView::Spend(r) => {
                crate::spool::columns::day_ms(r.day.as_str()).is_none() || !r.spend.is_finite()
            }
        }
}

/// The batch encoded for the spool, or `None` to take the slow path.
pub fn parse_batch(body: &[u8]) -> Option<EncodedBatch> {
    let text = std::str::from_utf8(body).ok()?;
    let mut scan = Scan { text, pos: 0 };
    let mut out = EncodedBatch::with_capacity(body.len() + body.len() / 2, 64);
    let (mut journey, mut region, mut records) = (None::<String>, false, false);
    scan.eat(b'{')?;
    if scan.eat(b'}').is_none() {
        loop {
            let key: &str = scan.value()?;
            scan.eat(b':')?;
            match key {
                "journey" if journey.is_none() => journey = Some(scan.value()?),
                "region" if !region => {
                    scan.value::<OriginRegion>()?;
                    region = true;
                }
                "records" if !records => {
                    scan.records(journey.as_deref()?, &mut out)?;
                    records = true;
                }
                "journey" | "region" | "records" => return None,
                _ => {
                    scan.value::<IgnoredAny>()?;
                }
            }
            if scan.eat(b',').is_none() {
                scan.eat(b'}')?;
                break;
            }
        }
    }
    scan.ws();
    (scan.pos == text.len() && journey.is_some() && region && records).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::journey_batch;

    #[test]
    fn takes_the_edge_shape_and_declines_the_rest() {
        let batch = journey_batch("app", "alice", "t", 3, true, 1_714_521_600_000);
        let body = serde_json::to_vec(&batch).expect("json");
        let out = parse_batch(&body).expect("fast path");
        assert_eq!(out.len(), batch.records.len());
        let spaced = serde_json::to_vec_pretty(&batch).expect("json");
        assert_eq!(
            parse_batch(&spaced).expect("fast path").len(),
            batch.records.len()
        );

        let text = String::from_utf8(body).expect("utf-8");
        let records_first = text.replacen("{\"journey\"", "{\"records\":[],\"journey\"", 1);
        assert!(
            parse_batch(records_first.as_bytes()).is_none(),
            "duplicate key"
        );
        assert!(parse_batch(&text.as_bytes()[..text.len() - 1]).is_none());
        assert!(parse_batch(format!("{text} x").as_bytes()).is_none());
        assert!(parse_batch(b"{}").is_none());
    }
}
