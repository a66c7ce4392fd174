//! Signed HTTP between the edge and the origin (`attrib_core::signing`: a keyring per
//! direction, key id, method and path signed).
//!
//! Keys: `OUTBOX_SIGNING_KEYS` (the Journey objects sign outbox batches; the first key signs)
//! and `ROLLUP_SIGNING_KEYS` (the query Worker verifies rollups; every key verifies), each
//! `id=secret[,id=secret]` as a Worker secret. Without them, one key per direction is derived
//! from `EDGE_ORIGIN_SECRET`, which is what the origin does too.

use attrib_core::outbox::{SignatureError, SIGNATURE_HEADER};
use attrib_core::signing::{Direction, Keyring};
use wasm_bindgen::JsValue;
use worker::{Date, Env, Fetch, Headers, Method, Request, RequestInit, Response};

use crate::config::{self, EDGE_ORIGIN_SECRET};
use crate::EdgeError;

/// Outbox keys (edge → origin): `id=secret,...`; the first signs.
pub const OUTBOX_SIGNING_KEYS: &str = "OUTBOX_SIGNING_KEYS";
/// Rollup keys (origin → edge): `id=secret,...`; all verify.
pub const ROLLUP_SIGNING_KEYS: &str = "ROLLUP_SIGNING_KEYS";

fn now_secs() -> i64 {
    (Date::now().as_millis() / 1000) as i64
}

/// The keyring of `direction` from its secret, else derived from `EDGE_ORIGIN_SECRET`.
pub fn keyring(env: &Env, direction: Direction) -> Result<Keyring, EdgeError> {
    let name = match direction {
        Direction::Outbox => OUTBOX_SIGNING_KEYS,
        Direction::Rollups => ROLLUP_SIGNING_KEYS,
    };
    let explicit = config::secret(env, name);
    let shared = config::secret(env, EDGE_ORIGIN_SECRET);
    Keyring::from_settings(direction, explicit.as_deref(), shared.as_deref())
        .map_err(|e| EdgeError::Config {
            name,
            reason: e.to_string(),
        })?
        .ok_or(EdgeError::Config {
            name,
            reason: format!("neither {name} nor {EDGE_ORIGIN_SECRET} is set"),
        })
}

/// POSTs a JSON body to `base` + `path`, signed for `path` with `keys`' signing key.
pub async fn post_signed(
    base: &str,
    path: &str,
    keys: &Keyring,
    body: &str,
) -> Result<Response, EdgeError> {
    let signature = keys.sign(now_secs(), "POST", path, body.as_bytes());
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set(SIGNATURE_HEADER, &signature)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(body)));
    let request = Request::new_with_init(&format!("{base}{path}"), &init)?;
    Ok(Fetch::Request(request).send().await?)
}

/// Checks the signature of a `POST path` request body against `keys`.
pub fn verify_signed(
    headers: &Headers,
    keys: &Keyring,
    path: &str,
    body: &[u8],
) -> Result<(), SignatureError> {
    let header = headers
        .get(SIGNATURE_HEADER)
        .ok()
        .flatten()
        .ok_or(SignatureError::Malformed)?;
    keys.verify(&header, "POST", path, body, now_secs())
}
