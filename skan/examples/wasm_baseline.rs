//! The size baseline for `scripts/bench-skan.sh`: the same `receive` export, reading the body
//! as JSON with serde_json (which every Worker already links) and nothing else. The size the
//! crate adds is `wasm_size` minus this.

#[no_mangle]
pub extern "C" fn input() -> *mut u8 {
    std::ptr::addr_of_mut!(INPUT).cast()
}

static mut INPUT: [u8; 65536] = [0; 65536];

#[no_mangle]
pub extern "C" fn receive(len: usize, kind: u32) -> u32 {
    // SAFETY: single-threaded wasm; the caller writes INPUT before calling, never during.
    let input: &[u8] = unsafe { &*std::ptr::addr_of!(INPUT) };
    let body = &input[..len.min(input.len())];
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => u32::from(map.len() > kind as usize),
        _ => 0,
    }
}
