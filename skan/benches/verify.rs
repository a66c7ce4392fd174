//! Postbacks per second natively: reading alone (the baseline) beside reading and verifying,
//! on Apple's samples. `cargo bench -p attrib-skan` (add a count to change the iterations).
//! The wasm figures come from `scripts/bench-skan.sh`.

use std::hint::black_box;
use std::time::Instant;

use attrib_skan::{aak, receive_aak, receive_skan, skan, KeyPolicy};

const SKAN_4_0: &[u8] = include_bytes!("../tests/samples/skan-4.0-fine.json");
const AAK: &[u8] = include_bytes!("../tests/samples/aak-development-1.json");

fn time(label: &str, iterations: u32, mut run: impl FnMut() -> bool) {
    assert!(run(), "{label}: the sample must pass before it is timed");
    let start = Instant::now();
    for _ in 0..iterations {
        black_box(run());
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{label:<44} {:>10.0} /s   {:>8.2} µs each",
        f64::from(iterations) / secs,
        secs * 1e6 / f64::from(iterations)
    );
}

fn main() {
    let iterations = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000u32);
    println!("native, {iterations} iterations each");
    time(
        "SKAN 4.0: parse + signed string (baseline)",
        iterations,
        || skan::parse(black_box(SKAN_4_0)).is_ok_and(|p| !p.signed_message().is_empty()),
    );
    time("SKAN 4.0: parse + verify + record", iterations, || {
        receive_skan(black_box(SKAN_4_0), None).is_ok_and(|r| r.verified)
    });
    time("AAK: parse (baseline)", iterations, || {
        aak::parse(black_box(AAK)).is_ok()
    });
    time("AAK: parse + verify + record", iterations, || {
        receive_aak(black_box(AAK), None, KeyPolicy::AllowDevelopment).is_ok_and(|r| r.verified)
    });
}
