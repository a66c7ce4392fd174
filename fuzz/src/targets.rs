//! One function per parser of untrusted bytes. Each takes arbitrary bytes, must not panic and
//! asserts the bound its parser promises.

use std::collections::BTreeMap;
use std::io::Cursor;

use attrib_core::decompress::{decompress, ContentEncoding};
use attrib_core::limits::{MAX_BATCH_BYTES, MAX_OUTBOX_RECORDS_PER_BATCH, MAX_POSTBACK_URL_CHARS};
use attrib_core::postback::target::Targets;
use attrib_core::postback::template;
use attrib_core::segment::{decode_request, peek_write_key, Endpoint};
use attrib_origin::spool::record;
use attrib_origin::spool::segment::{read_frame, FrameEnd};
use chrono::{TimeZone, Utc};

use crate::cli_input::{read_from, InputSpec};

/// Paths the ingest Worker routes to the decoder (first input byte picks one).
const SEGMENT_PATHS: &[&str] = &[
    "/v1/batch",
    "/v1/track",
    "/v1/identify",
    "/v1/page",
    "/v1/screen",
    "/v1/group",
    "/v1/alias",
    "/v1/b",
];

/// The Segment decoder: first byte picks the endpoint, the rest is the body.
pub fn segment(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let path = SEGMENT_PATHS[usize::from(pick) % SEGMENT_PATHS.len()];
    let endpoint = Endpoint::from_path(path).expect("a routed path");
    let _ = peek_write_key(body);
    let received = Utc
        .timestamp_millis_opt(1_714_521_600_000)
        .single()
        .expect("a valid instant");
    if let Ok(decoded) = decode_request(endpoint, body, received) {
        assert!(body.len() <= MAX_BATCH_BYTES, "an oversized body decoded");
        for event in &decoded.events {
            // Every rejection or event must be reportable without panicking.
            let _ = format!("{:?}", event.outcome.as_ref().map(|_| ()));
        }
    }
}

/// The gzip/deflate front end: first byte picks the coding and a limit; the output never
/// exceeds the limit, whatever the input inflates to.
pub fn decompress_bounded(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let encoding = match pick % 3 {
        0 => ContentEncoding::Gzip,
        1 => ContentEncoding::Deflate,
        _ => ContentEncoding::Identity,
    };
    // Small limits (down to 0) exercise the bound; the real one is MAX_BATCH_BYTES.
    let limit = match pick / 3 % 4 {
        0 => 0,
        1 => 100,
        2 => 64 * 1024,
        _ => MAX_BATCH_BYTES,
    };
    if let Ok(out) = decompress(encoding, body, limit) {
        assert!(
            out.len() <= limit,
            "{encoding:?} inflated to {} bytes over the {limit}-byte limit",
            out.len()
        );
    }
    let _ = ContentEncoding::parse(std::str::from_utf8(body).ok());
}

/// The outbox batch scanner (`POST /v1/outbox` fast path) and the record contract it falls
/// back to.
pub fn outbox(data: &[u8]) {
    if let Some(batch) = attrib_origin::http::scan::parse_batch(data) {
        assert!(
            batch.len() <= MAX_OUTBOX_RECORDS_PER_BATCH,
            "the scanner took {} records",
            batch.len()
        );
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(view) = attrib_origin::contract::view::parse_record(text) {
            let mut id = String::new();
            view.write_id(&mut id);
        }
    }
}

/// The spool frame reader: frames from a segment file's bytes, then every frame's payload
/// (and the input itself, as a payload) through the record decoder.
pub fn spool(data: &[u8]) {
    let mut reader = Cursor::new(data);
    let mut frames = 0usize;
    loop {
        match read_frame(&mut reader) {
            Ok(frame) => {
                frames += 1;
                assert!(
                    frame.payload.len() <= data.len(),
                    "a frame longer than its file"
                );
                spool_payload(&frame.payload);
            }
            Err(FrameEnd::Eof | FrameEnd::Torn) => break,
            Err(FrameEnd::Io(e)) => panic!("a cursor cannot fail to read: {e}"),
        }
    }
    assert!(frames <= data.len() / 24 + 1);
    spool_payload(data);
}

fn spool_payload(payload: &[u8]) {
    if let Ok(records) = record::records(payload) {
        for record in records.take(100_000) {
            match record {
                Ok(record) => {
                    let _ = record.columns();
                }
                Err(_) => break,
            }
        }
    }
    let _ = record::fingerprints(payload);
    if let Ok(upgraded) = record::upgrade(payload.to_vec()) {
        if let Ok(records) = record::records(&upgraded) {
            for record in records.take(100_000).flatten() {
                let _ = record.columns();
            }
        }
    }
}

/// The postback template parser: validation, and expansion with hostile values.
pub fn postback(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for targets in [Targets::PublicOnly, Targets::AllowLoopback] {
        let _ = template::validate(&text, targets);
    }
    let (template, value) = text.split_at(
        text.char_indices()
            .nth(text.len() / 2)
            .map_or(0, |(i, _)| i),
    );
    let values: BTreeMap<&str, String> = template::MACROS
        .into_iter()
        .map(|m| (m, value.to_owned()))
        .collect();
    if let Ok(url) = template::expand(template, &values) {
        assert!(
            url.len() <= MAX_POSTBACK_URL_CHARS,
            "expanded past the URL bound"
        );
    }
}

/// The path CSV reader of `attrib run`: first byte picks the delimiter.
pub fn path_csv(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let spec = InputSpec {
        file: "fuzz.csv".into(),
        delimiter: [b',', b';', b'\t'][usize::from(pick) % 3],
        separator: if pick & 4 == 0 {
            ">".into()
        } else {
            " > ".into()
        },
        path_column: "path".into(),
        conversions_column: "total_conversions".into(),
        nulls_column: None,
        value_column: None,
        ignore_value: pick & 8 != 0,
        show_progress: false,
    };
    if let Ok(paths) = read_from(Cursor::new(body), &spec) {
        let _ = format!("{paths:?}");
    }
}
