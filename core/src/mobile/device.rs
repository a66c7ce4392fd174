//! Device identifiers: where they come from (tracking-link query parameters as ad networks
//! fill them in; the SDK's `context.device`), when one may be used, and the keyed hash that is
//! all we ever store of one.
//!
//! - Advertising ids (IDFA, GAID: `idfa`, `gaid`, `gps_adid`, `advertising_id`) match only
//!   when not all zeros, and (from an SDK event) only when `context.device.adTrackingEnabled`
//!   is `true`: with tracking not authorised, iOS hands out a zeroed IDFA and some plugins put
//!   the IDFV in `advertisingId`.
//! - Vendor ids (IDFV `idfv`, Android id `android_id`; the SDK's `context.device.id`) are
//!   scoped to a vendor or app signing key, so they match only within one app: the hash
//!   key and the Durable Object name both carry the app.
//!
//! Ids are compared case-insensitively (networks send IDFAs upper- or lower-case).

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use crate::event::Event;
use crate::limits::MAX_DEVICE_ID_CHARS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceIdKind {
    Advertising,
    Vendor,
}

impl DeviceIdKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceIdKind::Advertising => "advertising",
            DeviceIdKind::Vendor => "vendor",
        }
    }
}

/// A usable identifier, normalised (trimmed, lower-case), not yet hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceId {
    pub kind: DeviceIdKind,
    pub value: String,
}

/// Click-URL parameters and the kind of id each carries.
pub const DEVICE_ID_PARAMS: [(&str, DeviceIdKind); 6] = [
    ("idfa", DeviceIdKind::Advertising),
    ("gaid", DeviceIdKind::Advertising),
    ("gps_adid", DeviceIdKind::Advertising),
    ("advertising_id", DeviceIdKind::Advertising),
    ("idfv", DeviceIdKind::Vendor),
    ("android_id", DeviceIdKind::Vendor),
];

/// `raw` as an id of `kind`, if it may be used at all: not empty, not too long, not a
/// template macro left unfilled (`{idfa}`, `__IDFA__`), not all zeros.
pub fn usable(kind: DeviceIdKind, raw: &str) -> Option<DeviceId> {
    let value = raw.trim().to_ascii_lowercase();
    let well_formed = !value.is_empty()
        && value.len() <= MAX_DEVICE_ID_CHARS
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let zeroed = value.bytes().all(|b| b == b'0' || b == b'-');
    // A network that did not fill its macro sends the macro's name (`idfa`, `__IDFA__`);
    // braces and `$()` forms are already refused as not well formed.
    let macro_left = value.starts_with("__")
        || DEVICE_ID_PARAMS.iter().any(|(name, _)| value == *name)
        || value == "adid";
    (well_formed && !zeroed && !macro_left).then_some(DeviceId { kind, value })
}

/// The ids a tracking-link click or impression carries in its query, at most one per kind
/// (the first usable parameter in [`DEVICE_ID_PARAMS`] order).
pub fn ids_from_query<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) -> Vec<DeviceId> {
    let mut ids: Vec<DeviceId> = Vec::new();
    for (param, kind) in DEVICE_ID_PARAMS {
        if ids.iter().any(|i| i.kind == kind) {
            continue;
        }
        if let Some(id) = pairs
            .clone()
            .filter(|(k, _)| *k == param)
            .find_map(|(_, v)| usable(kind, v))
        {
            ids.push(id);
        }
    }
    ids
}

/// The ids an SDK event carries: `context.device.advertisingId` only when
/// `context.device.adTrackingEnabled` is `true`, and `context.device.id` as a vendor id.
pub fn ids_from_event(event: &Event) -> Vec<DeviceId> {
    let device = event.context.get("device").and_then(Value::as_object);
    let Some(device) = device else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    let tracking = device.get("adTrackingEnabled").and_then(Value::as_bool) == Some(true);
    if tracking {
        if let Some(id) = device
            .get("advertisingId")
            .and_then(Value::as_str)
            .and_then(|v| usable(DeviceIdKind::Advertising, v))
        {
            ids.push(id);
        }
    }
    if let Some(id) = device
        .get("id")
        .and_then(Value::as_str)
        .and_then(|v| usable(DeviceIdKind::Vendor, v))
    {
        ids.push(id);
    }
    ids
}

/// The keyed hash of `id` for `app_id`: HMAC-SHA256 under a key that is itself
/// HMAC(secret, app id), so the same device in two apps has unrelated hashes and nobody
/// without the deployment secret can test a guessed id. Hex, 64 characters.
pub fn hashed(secret: &[u8], app_id: &str, id: &DeviceId) -> String {
    keyed_hash(secret, app_id, id.kind.as_str(), &id.value)
}

/// HMAC-SHA256 of `label:value` under HMAC(secret, app id), hex: the one keyed hash of
/// personal ids (device ids here, suppressed subjects in `crate::privacy`).
pub fn keyed_hash(secret: &[u8], app_id: &str, label: &str, value: &str) -> String {
    let mut app_key = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key");
    app_key.update(app_id.as_bytes());
    let key = app_key.finalize().into_bytes();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes any key");
    mac.update(label.as_bytes());
    mac.update(b":");
    mac.update(value.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The device object's name: app and hash (app ids never contain `:`).
pub fn object_name(app_id: &str, hash: &str) -> String {
    format!("d:{app_id}:{hash}")
}

/// What the device object stores of one touch: no raw id, only ours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceTouch {
    pub touch_id: String,
    pub kind: TouchKind,
    pub at_ms: i64,
    pub link_id: String,
    #[serde(default)]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TouchKind {
    Click,
    Impression,
}

/// Device object routes: add a touch; list the touches; keep the first deferred answer.
pub const DEVICE_TOUCH_PATH: &str = "/touch";
pub const DEVICE_TOUCHES_PATH: &str = "/touches";
pub const DEVICE_ANSWER_PATH: &str = "/answer";
/// Erase the device object's touches and answer (a `DEVICE_ID` erasure, issue 12).
pub const DEVICE_ERASE_PATH: &str = "/erase";
/// A device object forgets everything this long after its last touch (the longest click
/// window an app may set).
pub const DEVICE_RETENTION_MS: i64 = 90 * 24 * 3600 * 1000;

/// Events that are an app's install or first open: the waterfall runs for these.
pub const INSTALL_EVENTS: [&str; 2] = ["Application Installed", "Install"];

pub fn is_install(event: &Event) -> bool {
    event.event_type == crate::event::EventType::Track
        && event
            .name
            .as_deref()
            .is_some_and(|n| INSTALL_EVENTS.contains(&n))
}

/// Replaces `context.device.advertisingId` by its keyed hash (`hmac:` + hex), or removes it
/// when no secret is configured, so a raw advertising id is never stored. The vendor id
/// (`context.device.id`) is left as sent: Segment SDKs use it as their own device id.
pub fn redact_advertising_id(event: &mut Event, secret: Option<&[u8]>, app_id: &str) {
    let Some(device) = event
        .context
        .get_mut("device")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let Some(raw) = device.get("advertisingId").and_then(Value::as_str) else {
        return;
    };
    let hashed_value = match (secret, usable(DeviceIdKind::Advertising, raw)) {
        (Some(secret), Some(id)) => Some(format!("hmac:{}", hashed(secret, app_id, &id))),
        _ => None,
    };
    match hashed_value {
        Some(h) => {
            device.insert("advertisingId".into(), Value::String(h));
        }
        None => {
            device.remove("advertisingId");
        }
    }
}
