//! Fuzz harnesses for the parsers that read untrusted bytes (issue 13), and a small driver that
//! runs them without a nightly toolchain or libFuzzer.
//!
//! Each target takes raw bytes; structured inputs come from them through `arbitrary`. The
//! driver ([`run`]) feeds every target mutations of a seed corpus (valid inputs: bit flips,
//! byte edits, truncation, splices) and plain random bytes from a seeded PRNG, so a failure
//! reproduces from its seed and iteration. `tests/smoke.rs` runs a bounded number of
//! iterations (`cargo test -p attrib-fuzz --test smoke`); `scripts/fuzz.sh` runs long.
//! A crash found here becomes a regression test beside the parser, and its input joins
//! [`corpus`].
//!
//! Targets: the Segment decoder, the origin's outbox batch scanner (differentially: whatever
//! it accepts the contract types accept, with the same record count), the spool frame and
//! record reader (and the repair scan), the postback template parser.
//! Not here: the CLI's path CSV reader, which lives in the `attrib` binary crate.

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Unstructured};
use attrib_core::event::EventType;
use attrib_core::outbox::OutboxBatch;
use attrib_core::segment::{decode_request, Endpoint};

/// One harness: name and entry point.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
    pub corpus: fn() -> Vec<Vec<u8>>,
}

pub const TARGETS: [Target; 4] = [
    Target {
        name: "segment_decoder",
        run: segment_decoder,
        corpus: corpus::segment,
    },
    Target {
        name: "outbox_scanner",
        run: outbox_scanner,
        corpus: corpus::outbox,
    },
    Target {
        name: "spool_frames",
        run: spool_frames,
        corpus: corpus::frames,
    },
    Target {
        name: "postback_template",
        run: postback_template,
        corpus: corpus::templates,
    },
];

const ENDPOINTS: [&str; 8] = [
    "/v1/batch",
    "/v1/track",
    "/v1/identify",
    "/v1/page",
    "/v1/screen",
    "/v1/group",
    "/v1/alias",
    "/v1/t",
];

/// The Segment decoder on any body, at any endpoint: an answer, never a panic.
pub fn segment_decoder(data: &[u8]) {
    let (first, body) = data.split_first().unwrap_or((&0, data));
    let path = ENDPOINTS[usize::from(*first) % ENDPOINTS.len()];
    let endpoint = Endpoint::from_path(path).unwrap_or(Endpoint::Single(EventType::Track));
    let now = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
    let _ = decode_request(endpoint, body, now);
}

/// The origin's fast outbox scanner agrees with the contract types: a body it takes is a
/// valid `OutboxBatch` with as many records.
pub fn outbox_scanner(data: &[u8]) {
    if let Some(records) = attrib_origin::http::scan_outbox_batch(data) {
        let batch: OutboxBatch = match serde_json::from_slice(data) {
            Ok(batch) => batch,
            Err(err) => panic!("the scanner took a body the contract refuses: {err}"),
        };
        assert_eq!(batch.records.len(), records, "record counts differ");
    }
}

/// The spool's frame reader, record decoder and repair scan on any bytes.
pub fn spool_frames(data: &[u8]) {
    use attrib_origin::spool::{record, repair, segment};
    let mut reader = data;
    while let Ok(frame) = segment::read_frame(&mut reader) {
        if let Ok(payload) = record::upgrade(frame.payload) {
            if let Ok(records) = record::records(&payload) {
                for r in records.flatten() {
                    let _ = r.columns();
                }
            }
        }
    }
    let _ = repair::salvage(data, 0, u64::MAX);
}

/// The postback template parser and expander on any template and values.
pub fn postback_template(data: &[u8]) {
    use attrib_core::postback::template::{expand, validate};
    let mut u = Unstructured::new(data);
    let (Ok(template), Ok(pairs)) = (
        String::arbitrary(&mut u),
        Vec::<(String, String)>::arbitrary(&mut u),
    ) else {
        return;
    };
    let values: BTreeMap<&str, String> =
        pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let _ = expand(&template, &values);
    let _ = validate(&template);
}

/// xorshift64*: small, seeded, reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
}

/// Interesting bytes for JSON and binary parsers.
const DICTIONARY: [&[u8]; 14] = [
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"\\u0000",
    b"null",
    b"1e999",
    b"-0",
    b"\xff\xff\xff\xff",
    b"{campaign}",
    b"\"kind\":",
];

/// A mutation of `input` (or fresh random bytes).
pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    let edits = 1 + rng.below(8);
    for _ in 0..edits {
        match rng.below(7) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next_u64() as u8;
            }
            2 => {
                let i = rng.below(out.len() + 1);
                let word = DICTIONARY[rng.below(DICTIONARY.len())];
                out.splice(i..i, word.iter().copied());
            }
            3 if !out.is_empty() => {
                let i = rng.below(out.len());
                let n = rng.below(out.len() - i).min(64);
                out.drain(i..i + n);
            }
            4 => out.truncate(rng.below(out.len() + 1)),
            5 if !other.is_empty() => {
                let i = rng.below(out.len() + 1);
                let j = rng.below(other.len());
                out.truncate(i);
                out.extend_from_slice(&other[j..]);
            }
            _ => {
                let n = rng.below(64);
                out = (0..n).map(|_| rng.next_u64() as u8).collect();
            }
        }
    }
    out
}

/// Runs `target` for `iterations` inputs from `seed`; the seed and iteration of a failure are
/// in the panic message's context (printed before the target runs when `verbose`).
pub fn run(target: &Target, seed: u64, iterations: u64) {
    let corpus = (target.corpus)();
    for input in &corpus {
        (target.run)(input);
    }
    let mut rng = Rng::new(seed);
    let mut pool = corpus.clone();
    for iteration in 0..iterations {
        let base = pool.get(rng.below(pool.len())).cloned().unwrap_or_default();
        let other = pool.get(rng.below(pool.len())).cloned().unwrap_or_default();
        let input = mutate(&mut rng, &base, &other);
        let result = std::panic::catch_unwind(|| (target.run)(&input));
        if let Err(panic) = result {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            panic!(
                "{}: seed {seed}, iteration {iteration}: {text}\ninput (hex): {}",
                target.name,
                input.iter().map(|b| format!("{b:02x}")).collect::<String>()
            );
        }
        // Keep some inputs as new bases, so mutations wander further from the seeds.
        if iteration % 64 == 0 && pool.len() < 256 {
            pool.push(input);
        }
    }
}

pub mod corpus {
    //! Valid inputs the mutations start from.

    use attrib_origin::spool::record::payload_header;
    use attrib_origin::spool::segment::encode_frame;
    use attrib_origin::testkit::{journey_batch, with_null_path};

    pub fn segment() -> Vec<Vec<u8>> {
        let batch = br#"{"batch":[{"type":"track","userId":"u1","event":"Order Completed","messageId":"m1","timestamp":"2026-01-01T00:00:00Z","properties":{"revenue":3.5,"currency":"EUR"},"context":{"campaign":{"source":"google","medium":"cpc"},"ip":"203.0.113.9"}},{"type":"identify","anonymousId":"a1","traits":{"email":"x@example.com"}}],"sentAt":"2026-01-01T00:00:01Z","context":{"library":{"name":"analytics-node"}}}"#;
        let single = br#"{"userId":"u2","event":"Signed Up","writeKey":"wk_x","messageId":"m2"}"#;
        let page = br#"{"anonymousId":"a2","name":"Home","properties":{"url":"https://s.example/?utm_source=x"}}"#;
        vec![
            [vec![0], batch.to_vec()].concat(),
            [vec![1], single.to_vec()].concat(),
            [vec![3], page.to_vec()].concat(),
        ]
    }

    pub fn outbox() -> Vec<Vec<u8>> {
        let start = 1_714_521_600_000;
        [
            journey_batch("app", "u1", "t", 3, true, start),
            with_null_path(journey_batch("app", "u2", "t", 2, false, start)),
        ]
        .iter()
        .filter_map(|b| serde_json::to_vec(b).ok())
        .collect()
    }

    pub fn frames() -> Vec<Vec<u8>> {
        let mut payload = Vec::new();
        payload_header(0, &mut payload);
        let mut out = Vec::new();
        encode_frame(1, 1_000, &payload, &mut out);
        encode_frame(2, 1_001, b"not a payload", &mut out);
        vec![out]
    }

    pub fn templates() -> Vec<Vec<u8>> {
        vec![
            b"https://net.example/pb?c={campaign}&v={revenue}\x00campaign\x00spring".to_vec(),
            b"{{}}{unknown}{".to_vec(),
        ]
    }
}
