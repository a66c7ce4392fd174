//! Every fuzz target, a bounded number of iterations (see `attrib_fuzz::engine::Budget`): part
//! of `cargo test --workspace`. scripts/fuzz.sh runs the same targets for longer.

use attrib_fuzz::engine::{run, Budget};
use attrib_fuzz::{corpus, targets};

fn smoke(name: &str, corpus: Vec<Vec<u8>>, target: fn(&[u8])) {
    assert!(!corpus.is_empty(), "{name} has no seed corpus");
    let budget = Budget::from_env();
    let report = run(name, &corpus, target, &budget);
    eprintln!(
        "fuzz {name}: {} iterations in {:.2?} ({:.0}/s), {} seeds",
        report.iterations,
        report.elapsed,
        report.per_second(),
        corpus.len()
    );
}

#[test]
fn fuzz_segment_decoder() {
    smoke("segment", corpus::segment(), targets::segment);
}

#[test]
fn fuzz_decompress_stays_within_its_limit() {
    smoke(
        "decompress",
        corpus::decompress(),
        targets::decompress_bounded,
    );
}

#[test]
fn fuzz_outbox_batch_scanner() {
    smoke("outbox", corpus::outbox(), targets::outbox);
}

#[test]
fn fuzz_spool_frame_reader() {
    smoke("spool", corpus::spool(), targets::spool);
}

#[test]
fn fuzz_postback_template_parser() {
    smoke("postback", corpus::postback(), targets::postback);
}

#[test]
fn fuzz_path_csv_reader() {
    smoke("path_csv", corpus::path_csv(), targets::path_csv);
}
