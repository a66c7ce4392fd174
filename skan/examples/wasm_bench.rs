//! Plain `wasm32-unknown-unknown` exports (no wasm-bindgen, no imports) that
//! `scripts/bench-skan.sh` times under Node: `verify_skan(n)` and `verify_aak(n)` read and verify
//! Apple's samples n times; `parse_skan(n)` and `parse_aak(n)` only read them (the baseline).
//! Each returns how many runs succeeded, so the caller can check the work was done.

use std::hint::black_box;

use attrib_skan::{aak, receive_aak, receive_skan, skan, KeyPolicy};

const SKAN_4_0: &[u8] = include_bytes!("../tests/samples/skan-4.0-fine.json");
const AAK: &[u8] = include_bytes!("../tests/samples/aak-development-1.json");

fn count(n: u32, mut run: impl FnMut() -> bool) -> u32 {
    (0..n).map(|_| u32::from(black_box(run()))).sum()
}

#[no_mangle]
pub extern "C" fn verify_skan(n: u32) -> u32 {
    count(n, || {
        receive_skan(black_box(SKAN_4_0), None).is_ok_and(|r| r.verified)
    })
}

#[no_mangle]
pub extern "C" fn parse_skan(n: u32) -> u32 {
    count(n, || {
        skan::parse(black_box(SKAN_4_0)).is_ok_and(|p| !p.signed_message().is_empty())
    })
}

#[no_mangle]
pub extern "C" fn verify_aak(n: u32) -> u32 {
    count(n, || {
        receive_aak(black_box(AAK), None, KeyPolicy::AllowDevelopment).is_ok_and(|r| r.verified)
    })
}

#[no_mangle]
pub extern "C" fn parse_aak(n: u32) -> u32 {
    count(n, || aak::parse(black_box(AAK)).is_ok())
}
