//! The size figure of `scripts/bench-skan.sh`: one `receive` export running the whole crate
//! (SKAdNetwork, AdAttributionKit, schema validation) on input the caller writes. The size the
//! crate adds is this module minus `wasm_baseline`, built the same way.

use attrib_skan::{receive_aak, receive_skan, ConversionSchema, KeyPolicy, PostbackRecord};

/// Where the caller writes the input of [`receive`].
#[no_mangle]
pub extern "C" fn input() -> *mut u8 {
    std::ptr::addr_of_mut!(INPUT).cast()
}

static mut INPUT: [u8; 65536] = [0; 65536];

/// kind 0: SKAdNetwork body; 1: AdAttributionKit body; 2: a conversion-value schema.
/// Returns 2 for a verified postback or a valid schema, 1 for a readable but unverified
/// postback, 0 for a refused input.
#[no_mangle]
pub extern "C" fn receive(len: usize, kind: u32) -> u32 {
    // SAFETY: single-threaded wasm; the caller writes INPUT before calling, never during.
    let input: &[u8] = unsafe { &*std::ptr::addr_of!(INPUT) };
    let body = &input[..len.min(input.len())];
    let verified = |r: PostbackRecord| if r.verified { 2 } else { 1 };
    match kind {
        0 => receive_skan(body, None).map_or(0, verified),
        1 => receive_aak(body, None, KeyPolicy::ProductionOnly).map_or(0, verified),
        _ => ConversionSchema::from_json(body).map_or(0, |_| 2),
    }
}
