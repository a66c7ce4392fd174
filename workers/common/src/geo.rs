//! `request.cf` as the geo-routing policy sees it.
//!
//! Read through `Reflect` rather than `worker::Cf`, whose accessors unwrap: a missing or
//! oddly-typed property must never panic the Worker.

use attrib_core::geo::RequestGeo;
use js_sys::Reflect;
use wasm_bindgen::JsValue;
use worker::Request;

/// The raw `cf` object of a request, or `undefined`.
pub fn cf_object(req: &Request) -> JsValue {
    Reflect::get(req.inner(), &JsValue::from_str("cf")).unwrap_or(JsValue::UNDEFINED)
}

pub fn cf_string(cf: &JsValue, key: &str) -> Option<String> {
    if !cf.is_object() {
        return None;
    }
    let value = Reflect::get(cf, &JsValue::from_str(key)).ok()?;
    value
        .as_string()
        .or_else(|| value.as_f64().map(|n| n.to_string()))
        .filter(|s| !s.is_empty())
}

pub fn cf_number(cf: &JsValue, key: &str) -> Option<f64> {
    if !cf.is_object() {
        return None;
    }
    let value = Reflect::get(cf, &JsValue::from_str(key)).ok()?;
    value
        .as_f64()
        .or_else(|| value.as_string().and_then(|s| s.trim().parse().ok()))
        .filter(|n| n.is_finite())
}

pub fn request_geo(req: &Request) -> RequestGeo {
    let cf = cf_object(req);
    RequestGeo {
        continent: cf_string(&cf, "continent"),
        country: cf_string(&cf, "country"),
        is_eu_country: cf_string(&cf, "isEUCountry").as_deref() == Some("1"),
        longitude: cf_number(&cf, "longitude").map(|lon| lon as f32),
    }
}
