//! Reaching a journey's Durable Object: the namespace (and jurisdiction), the name, the
//! location hint, and JSON calls to it.

use attrib_core::geo::{Jurisdiction, Placement};
use attrib_core::identity::JourneyKey;
use js_sys::{Function, Reflect};
use serde::{de::DeserializeOwned, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use worker::{Env, Headers, Method, ObjectNamespace, Request, RequestInit, Stub};

use crate::config::{self, JurisdictionMode};
use crate::EdgeError;

/// The Durable Object binding of the Journey class, in every Worker that reaches journeys.
pub const JOURNEY_BINDING: &str = "JOURNEY";
/// Durable Object requests need an absolute URL; the host is never resolved.
const JOURNEY_ORIGIN: &str = "https://journey.internal";

/// The namespace journeys with `jurisdiction` live in.
pub fn namespace(
    env: &Env,
    jurisdiction: Option<Jurisdiction>,
    mode: JurisdictionMode,
) -> Result<ObjectNamespace, EdgeError> {
    namespace_of(env, JOURNEY_BINDING, jurisdiction, mode)
}

/// The namespace of the Durable Object class bound as `binding`, scoped to `jurisdiction`.
pub fn namespace_of(
    env: &Env,
    binding: &str,
    jurisdiction: Option<Jurisdiction>,
    mode: JurisdictionMode,
) -> Result<ObjectNamespace, EdgeError> {
    let ns = env.durable_object(binding)?;
    match (jurisdiction, mode) {
        (Some(j), JurisdictionMode::Enforce) => {
            let raw: &JsValue = ns.as_ref();
            let scoped = Reflect::get(raw, &JsValue::from_str("jurisdiction"))
                .and_then(|f| f.dyn_into::<Function>())
                .and_then(|f| f.call1(raw, &JsValue::from_str(j.as_str())))
                .map_err(worker::Error::from)?;
            Ok(scoped.unchecked_into::<ObjectNamespace>())
        }
        _ => Ok(ns),
    }
}

/// The stub of `key`'s journey, created at `placement` if it does not exist yet; named by the
/// keyed hash of the journey when the deployment has a `JOURNEY_NAME_SECRET`.
pub fn stub(
    env: &Env,
    key: &JourneyKey,
    placement: &Placement,
    mode: JurisdictionMode,
) -> Result<Stub, EdgeError> {
    let ns = namespace(env, placement.jurisdiction, mode)?;
    let secret = config::secret(env, config::JOURNEY_NAME_SECRET);
    let name = key.durable_object_name(secret.as_deref().map(str::as_bytes));
    let stub = match placement.location_hint {
        Some(hint) => ns.get_by_name_with_location_hint(&name, hint.as_str())?,
        None => ns.get_by_name(&name)?,
    };
    Ok(stub)
}

/// POSTs `body` as JSON to `path` on the journey and decodes the JSON reply.
pub async fn post<Req: Serialize, Rep: DeserializeOwned>(
    stub: &Stub,
    path: &str,
    body: &Req,
) -> Result<Rep, EdgeError> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&serde_json::to_string(body)?)));
    let request = Request::new_with_init(&format!("{JOURNEY_ORIGIN}{path}"), &init)?;
    decode(stub.fetch_with_request(request).await?).await
}

pub async fn get<Rep: DeserializeOwned>(stub: &Stub, path: &str) -> Result<Rep, EdgeError> {
    decode(
        stub.fetch_with_str(&format!("{JOURNEY_ORIGIN}{path}"))
            .await?,
    )
    .await
}

async fn decode<Rep: DeserializeOwned>(response: worker::Response) -> Result<Rep, EdgeError> {
    let status = response.status_code();
    // The runtime reads the whole body at once; `worker::Response::text` would read a
    // fetched body chunk by chunk, a round trip to JS each.
    let raw: worker::web_sys::Response = response.into();
    let text =
        worker::wasm_bindgen_futures::JsFuture::from(raw.text().map_err(worker::Error::from)?)
            .await
            .map_err(worker::Error::from)?
            .as_string()
            .unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(EdgeError::Journey { status, body: text });
    }
    Ok(serde_json::from_str(&text)?)
}
