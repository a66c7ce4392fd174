//! Postbacks per second natively: reading alone (the baseline) beside reading and verifying,
//! on Apple's samples. `cargo bench -p attrib-skan` (add a count to change the iterations).
//! The wasm figures come from `scripts/bench-skan.sh`.

use std::hint::black_box;
use std::time::Instant;

use attrib_skan::keys::APPLE_PRODUCTION_P256_SPKI;
use attrib_skan::{aak, receive_aak, receive_skan, skan, KeyPolicy};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;

const SKAN_4_0: &[u8] = include_bytes!("../tests/samples/skan-4.0-fine.json");
const AAK: &[u8] = include_bytes!("../tests/samples/aak-development-1.json");

/// This thread's CPU time in ns (Linux), so figures hold on a busy shared machine.
fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

fn time(label: &str, iterations: u32, mut run: impl FnMut() -> bool) {
    // Also builds the key tables, once per process, outside the timing.
    assert!(run(), "{label}: the sample must pass before it is timed");
    let cpu_start = thread_cpu_ns();
    let start = Instant::now();
    for _ in 0..iterations {
        black_box(run());
    }
    let secs = start.elapsed().as_secs_f64();
    let n = f64::from(iterations);
    let cpu = match (cpu_start, thread_cpu_ns()) {
        (Some(a), Some(b)) => format!("{:>8.2} µs CPU", (b - a) as f64 / 1e3 / n),
        _ => "CPU n/a".to_owned(),
    };
    println!(
        "{label:<44} {:>10.0} /s   {:>8.2} µs wall   {cpu} each",
        n / secs,
        secs * 1e6 / n
    );
}

fn main() {
    let iterations = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000u32);
    println!("native, {iterations} iterations each");
    let start = Instant::now();
    assert!(receive_skan(SKAN_4_0, None).is_ok_and(|r| r.verified));
    println!(
        "first verification (builds the generator and key tables)  {:>8.0} µs wall",
        start.elapsed().as_secs_f64() * 1e6
    );
    time(
        "SKAN 4.0: parse + signed string (baseline)",
        iterations,
        || skan::parse(black_box(SKAN_4_0)).is_ok_and(|p| !p.signed_message().is_empty()),
    );
    let postback = skan::parse(SKAN_4_0).expect("Apple's sample");
    let message = postback.signed_message();
    let der = STANDARD
        .decode(&postback.attribution_signature)
        .expect("base64");
    let signature = Signature::from_der(&der).expect("DER");
    let spki = STANDARD.decode(APPLE_PRODUCTION_P256_SPKI).expect("base64");
    let key = VerifyingKey::from_public_key_der(&spki).expect("SPKI");
    time(
        "SKAN 4.0: p256's generic verify (baseline)",
        iterations,
        || {
            key.verify(black_box(message.as_bytes()), &signature)
                .is_ok()
        },
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
