//! Signed HTTP between the edge and the origin (HMAC, see `attrib_core::outbox`).

use attrib_core::outbox::{sign, verify, SignatureError, SIGNATURE_HEADER};
use wasm_bindgen::JsValue;
use worker::{Date, Fetch, Headers, Method, Request, RequestInit, Response};

use crate::EdgeError;

fn now_secs() -> i64 {
    (Date::now().as_millis() / 1000) as i64
}

/// POSTs a signed JSON body to `url`.
pub async fn post_signed(url: &str, secret: &str, body: &str) -> Result<Response, EdgeError> {
    let signature =
        sign(secret.as_bytes(), now_secs(), body.as_bytes()).map_err(|e| EdgeError::Config {
            name: "EDGE_ORIGIN_SECRET",
            reason: e.to_string(),
        })?;
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set(SIGNATURE_HEADER, &signature)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(body)));
    let request = Request::new_with_init(url, &init)?;
    Ok(Fetch::Request(request).send().await?)
}

/// Checks the signature of a request body against `secret`.
pub fn verify_signed(headers: &Headers, secret: &str, body: &[u8]) -> Result<(), SignatureError> {
    let header = headers
        .get(SIGNATURE_HEADER)
        .ok()
        .flatten()
        .ok_or(SignatureError::Malformed)?;
    verify(secret.as_bytes(), &header, body, now_secs())
}
