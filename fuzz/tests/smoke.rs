//! Bounded fuzz runs of every harness (issue 13): `cargo test -p attrib-fuzz --test smoke`.
//! `ATTRIB_FUZZ_ITERATIONS` (default 3,000 per target) and `ATTRIB_FUZZ_SEED` (default fixed)
//! change the run; scripts/fuzz.sh runs long ones with fresh seeds.

fn iterations() -> u64 {
    std::env::var("ATTRIB_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000)
}

fn seed() -> u64 {
    std::env::var("ATTRIB_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_2026)
}

fn run(name: &str) {
    let target = attrib_fuzz::TARGETS
        .iter()
        .find(|t| t.name == name)
        .expect("a target");
    attrib_fuzz::run(target, seed(), iterations());
}

#[test]
fn fuzz_segment_decoder() {
    run("segment_decoder");
}

#[test]
fn fuzz_outbox_scanner() {
    run("outbox_scanner");
}

#[test]
fn fuzz_spool_frames() {
    run("spool_frames");
}

#[test]
fn fuzz_postback_template() {
    run("postback_template");
}
