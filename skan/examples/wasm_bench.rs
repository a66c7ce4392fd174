//! Plain `wasm32-unknown-unknown` exports (no wasm-bindgen, no imports) that
//! `scripts/bench-skan.sh` times under Node: `verify_skan(n)` and `verify_aak(n)` read and verify
//! Apple's samples n times; `parse_skan(n)` and `parse_aak(n)` only read them, and
//! `generic_verify_skan(n)` verifies the same signature with p256's generic verifier (the
//! baselines).
//! Each returns how many runs succeeded, so the caller can check the work was done.

use std::hint::black_box;

use attrib_skan::keys::APPLE_PRODUCTION_P256_SPKI;
use attrib_skan::{aak, receive_aak, receive_skan, skan, KeyPolicy};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;

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

#[no_mangle]
pub extern "C" fn generic_verify_skan(n: u32) -> u32 {
    let Ok(postback) = skan::parse(SKAN_4_0) else {
        return 0;
    };
    let message = postback.signed_message();
    let signature = STANDARD
        .decode(&postback.attribution_signature)
        .ok()
        .and_then(|der| Signature::from_der(&der).ok());
    let key = STANDARD
        .decode(APPLE_PRODUCTION_P256_SPKI)
        .ok()
        .and_then(|spki| VerifyingKey::from_public_key_der(&spki).ok());
    let (Some(signature), Some(key)) = (signature, key) else {
        return 0;
    };
    count(n, || {
        key.verify(black_box(message.as_bytes()), &signature)
            .is_ok()
    })
}

/// The first verification in a fresh instance builds the generator and key tables.
#[no_mangle]
pub extern "C" fn first_verify_skan() -> u32 {
    verify_skan(1)
}
