//! Device-id macros of mobile postbacks (issue 10, scope 5): `{advertising_id}`, `{idfa}`,
//! `{gaid}`, `{idfv}`, `{android_id}`.
//!
//! Matching uses keyed hashes only (`crate::mobile::device`); ad networks, however, match our
//! postback to their own click by the raw id. So the raw ids of a conversion event travel
//! beside it (never inside it) from the ingest Worker to its journey, and are kept **only** in
//! the pending postback's own storage, apart from its JSON body ([`Postback::device_ids`] is
//! never serialised): the stored URL keeps these macros as `{name}` and they are filled in
//! when a request is sent ([`request_for`]). The journey forgets them once the postback is
//! delivered or failed for good, by retention, and by erasure; the outbox, the origin, the D1
//! postback log, the journey view and the export see the URL with `{idfa}` unfilled.
//!
//! An id is kept only when the event's consent is [`Consent::Full`] (an event without
//! advertising consent sends no postback anyway), it is usable (not empty, not all zeros,
//! not an unfilled macro: [`usable`]) and, for the advertising id,
//! `context.device.adTrackingEnabled` is not `false`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{template, Postback};
use crate::event::Event;
use crate::mobile::device::{usable, DeviceIdKind};
use crate::privacy::consent::{consent_of, Consent, ConsentMapping};

/// The macros filled in only when a postback is sent.
pub const DEVICE_MACROS: [&str; 5] = ["advertising_id", "idfa", "gaid", "idfv", "android_id"];

/// What an error text shows instead of a raw id.
pub const REDACTED: &str = "[device id]";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Ios,
    Android,
}

/// The raw ids a conversion's postbacks may carry, as the SDK sent them (trimmed).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostbackDeviceIds {
    /// IDFA or GAID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertising_id: Option<String>,
    /// IDFV or Android id (`context.device.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<String>,
    /// Decides `{idfa}`/`{idfv}` versus `{gaid}`/`{android_id}`; unknown: only
    /// `{advertising_id}` is filled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

/// Never prints the ids (they must not reach a log line).
impl std::fmt::Debug for PostbackDeviceIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostbackDeviceIds")
            .field(
                "advertising_id",
                &self.advertising_id.as_ref().map(|_| REDACTED),
            )
            .field("vendor_id", &self.vendor_id.as_ref().map(|_| REDACTED))
            .field("platform", &self.platform)
            .finish()
    }
}

impl PostbackDeviceIds {
    fn is_empty(&self) -> bool {
        self.advertising_id.is_none() && self.vendor_id.is_none()
    }

    /// Every device macro's value (empty when not allowed or unknown).
    pub fn values(&self) -> BTreeMap<&'static str, String> {
        let ad = self.advertising_id.clone().unwrap_or_default();
        let vendor = self.vendor_id.clone().unwrap_or_default();
        let on = |platform: Platform, value: &str| {
            if self.platform == Some(platform) {
                value.to_owned()
            } else {
                String::new()
            }
        };
        BTreeMap::from([
            ("advertising_id", ad.clone()),
            ("idfa", on(Platform::Ios, &ad)),
            ("gaid", on(Platform::Android, &ad)),
            ("idfv", on(Platform::Ios, &vendor)),
            ("android_id", on(Platform::Android, &vendor)),
        ])
    }

    /// `text` with every id replaced by [`REDACTED`] (an error message may quote the URL).
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for id in [&self.advertising_id, &self.vendor_id]
            .into_iter()
            .flatten()
        {
            for form in [id.clone(), id.to_ascii_lowercase(), id.to_ascii_uppercase()] {
                if !form.is_empty() {
                    out = out.replace(&form, REDACTED);
                }
            }
        }
        out
    }
}

/// The raw ids `event`'s postbacks may carry (see the module docs for the rule), or `None`.
pub fn postback_device_ids(event: &Event, consent: &ConsentMapping) -> Option<PostbackDeviceIds> {
    if consent_of(event, consent) != Consent::Full {
        return None;
    }
    let device = event.context.get("device").and_then(Value::as_object)?;
    let raw = |field: &str, kind: DeviceIdKind| {
        device
            .get(field)
            .and_then(Value::as_str)
            .filter(|v| usable(kind, v).is_some())
            .map(|v| v.trim().to_owned())
    };
    let tracking_refused = device.get("adTrackingEnabled").and_then(Value::as_bool) == Some(false);
    let ids = PostbackDeviceIds {
        advertising_id: if tracking_refused {
            None
        } else {
            raw("advertisingId", DeviceIdKind::Advertising)
        },
        vendor_id: raw("id", DeviceIdKind::Vendor),
        platform: platform_of(event),
    };
    (!ids.is_empty()).then_some(ids)
}

/// iOS or Android, from `context.os.name` or else `context.device.type`.
fn platform_of(event: &Event) -> Option<Platform> {
    [["os", "name"], ["device", "type"]]
        .iter()
        .filter_map(|path| event.context_str(path))
        .find_map(|name| match name.trim().to_ascii_lowercase().as_str() {
            "ios" | "ipados" | "iphone os" => Some(Platform::Ios),
            "android" => Some(Platform::Android),
            _ => None,
        })
}

/// Whether a postback configured with `url` and `method` would carry device ids at all.
pub fn wants_device_ids(url: &str, method: super::PostbackMethod) -> bool {
    method == super::PostbackMethod::Post
        || DEVICE_MACROS
            .iter()
            .any(|name| url.contains(&format!("{{{name}}}")))
}

/// The URL and body to send for `postback`, its device macros filled from its ids (empty
/// without them). The stored URL holds no other macro: every other value was percent-encoded
/// into it when planned, and braces are never left unencoded.
pub fn request_for(postback: &Postback) -> Result<(String, Option<String>), String> {
    let ids = postback.device_ids.clone().unwrap_or_default();
    let values = ids.values();
    let url = template::expand(&postback.url, &values)?;
    let body = match &postback.body {
        Some(body) if postback.device_ids.is_some() => {
            match serde_json::from_str::<serde_json::Map<String, Value>>(body) {
                Ok(mut object) => {
                    for (name, value) in values {
                        object.insert(name.to_owned(), Value::String(value));
                    }
                    Some(Value::Object(object).to_string())
                }
                Err(_) => Some(body.clone()),
            }
        }
        other => other.clone(),
    };
    Ok((url, body))
}
