//! The Google Play install referrer: our click id goes out in the Play URL's `referrer`
//! parameter and comes back on first open, either as the SDK's `context.referrer` object or as
//! the raw referrer string (`click_id=c_...&utm_source=...`, sometimes still URL-encoded).

use serde_json::Value;

use crate::event::Event;
use crate::identity::is_click_id;
use crate::touch::CLICK_ID_PARAM;

/// The value of the Play URL's `referrer` parameter (before the URL encodes it once more).
/// The link id rides along so a deferred deep link can find the link from the referrer alone.
pub fn play_referrer_value(click_id: &str, link_id: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair(CLICK_ID_PARAM, click_id)
        .append_pair(LINK_ID_PARAM, link_id)
        .finish()
}

pub const LINK_ID_PARAM: &str = "link_id";

/// The click id in a raw install-referrer string, if it carries one of ours.
pub fn click_id_from_referrer(raw: &str) -> Option<String> {
    referrer_param(raw, CLICK_ID_PARAM).filter(|id| is_click_id(id))
}

/// The link id in a raw install-referrer string.
pub fn link_id_from_referrer(raw: &str) -> Option<String> {
    referrer_param(raw, LINK_ID_PARAM)
}

fn referrer_param(raw: &str, param: &str) -> Option<String> {
    // A referrer handed back still encoded (`click_id%3Dc_...`) is decoded once first.
    let decoded: String = if raw.contains('=') {
        raw.to_owned()
    } else {
        url::form_urlencoded::parse(format!("x={raw}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())?
    };
    let query = decoded.split_once('?').map_or(decoded.as_str(), |(_, q)| q);
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == param)
        .map(|(_, v)| v.into_owned())
}

/// The click id an install event carries: `context.click_id`, `properties.click_id`, the SDK's
/// `context.referrer.id`, or a click id inside the raw referrer (`context.referrer` as a
/// string, or its `url`, `raw` or `install_referrer` field, or `properties.referrer`).
pub fn install_click_id(event: &Event) -> Option<String> {
    let direct = [
        event.context_str(&["click_id"]),
        event.property_str("click_id"),
        event.context_str(&["referrer", "id"]),
    ];
    if let Some(id) = direct.into_iter().flatten().find(|id| is_click_id(id)) {
        return Some(id.to_owned());
    }
    raw_referrers(event).find_map(click_id_from_referrer)
}

/// The raw referrer strings an install event carries.
pub fn raw_referrers(event: &Event) -> impl Iterator<Item = &str> {
    let raw = match event.context.get("referrer") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Object(o)) => ["url", "raw", "install_referrer", "installReferrer"]
            .iter()
            .filter_map(|k| o.get(*k).and_then(Value::as_str))
            .collect(),
        _ => vec![],
    };
    raw.into_iter()
        .chain(event.property_str("referrer"))
        .chain(event.property_str("install_referrer"))
}
