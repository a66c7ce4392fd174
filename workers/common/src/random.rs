//! Cryptographic randomness from the runtime's Web Crypto.

use js_sys::{Function, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use crate::EdgeError;

pub fn random_bytes<const N: usize>() -> Result<[u8; N], EdgeError> {
    let global = js_sys::global();
    let crypto =
        Reflect::get(&global, &JsValue::from_str("crypto")).map_err(worker::Error::from)?;
    let fill = Reflect::get(&crypto, &JsValue::from_str("getRandomValues"))
        .and_then(|f| f.dyn_into::<Function>())
        .map_err(worker::Error::from)?;
    let buffer = Uint8Array::new_with_length(N as u32);
    fill.call1(&crypto, &buffer).map_err(worker::Error::from)?;
    let mut out = [0u8; N];
    buffer.copy_to(&mut out);
    Ok(out)
}
