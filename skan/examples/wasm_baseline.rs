//! The size baseline for `scripts/bench-skan.sh`: the same `receive` export using only what
//! every Worker already links through `core` (serde_json, base64, sha2): parse the body,
//! base64-decode one field, hash it. The size the crate adds is `wasm_size` minus this.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

static mut INPUT: [u8; 65536] = [0; 65536];

/// Where the caller writes the input of [`receive`].
#[no_mangle]
pub extern "C" fn input() -> *mut u8 {
    std::ptr::addr_of_mut!(INPUT).cast()
}

#[no_mangle]
pub extern "C" fn receive(len: usize, kind: u32) -> u32 {
    // SAFETY: single-threaded wasm; the caller writes INPUT before calling, never during.
    let input: &[u8] = unsafe { &*std::ptr::addr_of!(INPUT) };
    let body = &input[..len.min(input.len())];
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return 0;
    };
    let field = if kind == 0 {
        "attribution-signature"
    } else {
        "jws-string"
    };
    let decoded = map
        .get(field)
        .and_then(|v| v.as_str())
        .and_then(|s| STANDARD.decode(s).ok())
        .unwrap_or_default();
    u32::from(Sha256::digest(decoded)[0])
}
