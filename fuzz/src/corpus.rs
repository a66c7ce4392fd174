//! Seed corpora: the files under `fuzz/corpus/<target>/` (copied from the project's test
//! fixtures) plus seeds built from the same fixtures in their binary forms (compressed bodies,
//! spool frames), prefixed with the selector byte each target reads first.

use std::path::PathBuf;

use attrib_origin::spool::record::{payload_header, EncodedBatch};
use attrib_origin::spool::segment::encode_frame;
use attrib_origin::testkit::{journey_batch, with_null_path};
use miniz_oxide::deflate::{compress_to_vec, compress_to_vec_zlib};

fn files(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn with_selectors(seeds: &[Vec<u8>], selectors: &[u8]) -> Vec<Vec<u8>> {
    seeds
        .iter()
        .flat_map(|seed| {
            selectors.iter().map(move |s| {
                let mut out = vec![*s];
                out.extend_from_slice(seed);
                out
            })
        })
        .collect()
}

pub fn segment() -> Vec<Vec<u8>> {
    // 0: /v1/batch, 1: /v1/track, 6: /v1/alias.
    with_selectors(&files("segment"), &[0, 1, 6])
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.extend(compress_to_vec(data, 6));
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

pub fn decompress() -> Vec<Vec<u8>> {
    let bodies = files("segment");
    let bomb = vec![b'0'; 4 << 20];
    let mut out = Vec::new();
    for body in bodies.iter().chain([&bomb]) {
        // Selector: coding = s % 3 (gzip, deflate, identity); limit index = s / 3 % 4.
        out.push([&[3u8][..], &gzip(body)[..]].concat());
        out.push([&[3 * 3][..], &gzip(body)[..]].concat());
        out.push([&[1 + 3 * 2][..], &compress_to_vec_zlib(body, 6)[..]].concat());
        out.push([&[1 + 3 * 3][..], &compress_to_vec(body, 1)[..]].concat());
    }
    // Two gzip members back to back.
    let two = [gzip(b"{\"a\":1}"), gzip(b"{\"b\":2}")].concat();
    out.push([&[3 * 2][..], &two[..]].concat());
    out.extend(with_selectors(&files("decompress"), &[0, 1, 2]));
    out
}

fn batches() -> Vec<Vec<u8>> {
    let base = journey_batch("app", "alice", "t", 3, true, 1_714_521_600_000);
    let null = with_null_path(journey_batch(
        "app",
        "bob",
        "n",
        2,
        false,
        1_714_521_600_000,
    ));
    [base, null]
        .iter()
        .map(|b| serde_json::to_vec(b).expect("a batch serialises"))
        .collect()
}

pub fn outbox() -> Vec<Vec<u8>> {
    let mut out = batches();
    out.extend(files("outbox"));
    out
}

/// A segment file of frames whose payloads are the outbox fixtures encoded as the origin
/// encodes them; and the payloads alone.
pub fn spool() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut file = Vec::new();
    for (seq, body) in batches().iter().enumerate() {
        let batch: EncodedBatch =
            attrib_origin::http::scan::parse_batch(body).expect("the fixture takes the fast path");
        let mut payload = Vec::new();
        payload_header(batch.len(), &mut payload);
        for (_, bytes) in batch.records() {
            payload.extend_from_slice(bytes);
        }
        let mut frame = Vec::new();
        encode_frame(seq as u64 + 1, 1_714_521_600_000, &payload, &mut frame);
        file.extend_from_slice(&frame);
        out.push(frame);
        out.push(payload);
    }
    out.push(file);
    out.extend(files("spool"));
    out
}

pub fn postback() -> Vec<Vec<u8>> {
    files("postback")
}

pub fn path_csv() -> Vec<Vec<u8>> {
    // Selector: delimiter = s % 3 (',', ';', tab); bit 2 picks the " > " separator.
    let seeds = files("path_csv");
    let mut out = with_selectors(&seeds[..1.min(seeds.len())], &[0, 4]);
    out.extend(with_selectors(&seeds[1.min(seeds.len())..], &[1]));
    out
}
