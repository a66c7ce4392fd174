//! Edge configuration from Worker vars and secrets (see wrangler.toml and README.md).

use std::collections::BTreeMap;

use attrib_core::geo::OriginRegion;
use worker::Env;

use crate::EdgeError;

/// Shared HMAC secret between the edge and the origin (`wrangler secret put EDGE_ORIGIN_SECRET`).
pub const EDGE_ORIGIN_SECRET: &str = "EDGE_ORIGIN_SECRET";
/// JSON object: origin region → base URL, e.g. `{"us": "https://us.origin.example"}`.
pub const ORIGIN_URLS: &str = "ORIGIN_URLS";
/// The region for requests without geo data, and for regions with no URL of their own.
pub const DEFAULT_ORIGIN_REGION: &str = "DEFAULT_ORIGIN_REGION";
/// `enforce` (production) or `record-only`: workerd does not implement jurisdictions, so local
/// runs record the decision without asking the runtime for it.
pub const DO_JURISDICTIONS: &str = "DO_JURISDICTIONS";
/// The device-touches Durable Objects (one per app and keyed device hash).
pub const DEVICE_BINDING: &str = "DEVICE";
/// The key of the device hashes that name them (the same on both Workers: the ingest Worker
/// names the objects, the query Worker erases them).
pub const DEVICE_ID_SECRET: &str = "DEVICE_ID_SECRET";
/// The key of the Journey Durable Objects' names (`JourneyKey::durable_object_name`; the same
/// on both Workers). Unset: objects are named by the journey's name, user id included, as
/// before it existed (README, Privacy: identifiers in names and logs).
pub const JOURNEY_NAME_SECRET: &str = "JOURNEY_NAME_SECRET";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JurisdictionMode {
    Enforce,
    RecordOnly,
}

pub fn jurisdiction_mode(env: &Env) -> Result<JurisdictionMode, EdgeError> {
    match var(env, DO_JURISDICTIONS).as_deref() {
        None | Some("enforce") => Ok(JurisdictionMode::Enforce),
        Some("record-only") => Ok(JurisdictionMode::RecordOnly),
        Some(other) => Err(EdgeError::Config {
            name: DO_JURISDICTIONS,
            reason: format!("{other:?} is not enforce or record-only"),
        }),
    }
}

pub fn default_region(env: &Env) -> Result<OriginRegion, EdgeError> {
    match var(env, DEFAULT_ORIGIN_REGION).as_deref() {
        None | Some("us") => Ok(OriginRegion::Us),
        Some("eu") => Ok(OriginRegion::Eu),
        Some("apac") => Ok(OriginRegion::Apac),
        Some(other) => Err(EdgeError::Config {
            name: DEFAULT_ORIGIN_REGION,
            reason: format!("{other:?} is not us, eu or apac"),
        }),
    }
}

/// The origin base URL for `region`, falling back to the default region's.
pub fn origin_url(env: &Env, region: OriginRegion) -> Result<Option<String>, EdgeError> {
    let Some(raw) = var(env, ORIGIN_URLS) else {
        return Ok(None);
    };
    let urls: BTreeMap<String, String> =
        serde_json::from_str(&raw).map_err(|e| EdgeError::Config {
            name: ORIGIN_URLS,
            reason: e.to_string(),
        })?;
    let fallback = default_region(env)?;
    Ok(urls
        .get(region.as_str())
        .or_else(|| urls.get(fallback.as_str()))
        .map(|u| u.trim_end_matches('/').to_owned()))
}

pub fn secret(env: &Env, name: &'static str) -> Option<String> {
    env.secret(name)
        .ok()
        .map(|s| s.to_string())
        .or_else(|| var(env, name))
        .filter(|s| !s.is_empty())
}

pub fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}
