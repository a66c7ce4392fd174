//! The mobile fields of a tracking link and an app's mobile settings, with the validation the
//! management API applies before storing them (`validate_link_mobile`,
//! `parse_mobile_settings`). Stored as columns of `links` and the JSON `apps.mobile`
//! (migrations/0010_mobile.sql).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::limits::{
    DEFAULT_DEFERRED_LOOKBACK_SECS, MAX_APP_BUNDLE_IDS, MAX_CERT_FINGERPRINTS,
    MAX_DEEP_LINK_PARAMS, MAX_DEEP_LINK_PARAMS_BYTES, MAX_DEFERRED_LOOKBACK_SECS,
    MAX_MOBILE_URL_CHARS,
};
use crate::FieldError;

use super::skan_sources::{validate_skan_sources, SkanSources};

/// A link's per-platform destinations and deep link.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkMobile {
    /// App Store URL (`https://apps.apple.com/...`), used for iOS user agents.
    pub ios_url: Option<String>,
    /// Google Play URL (`https://play.google.com/store/apps/details?id=...`), for Android.
    pub android_url: Option<String>,
    /// The in-app destination handed to the app by the deferred deep link (`myapp://product/1`).
    pub deep_link: Option<String>,
    /// Flat string parameters handed with it.
    #[serde(default)]
    pub deep_link_params: Map<String, Value>,
}

impl LinkMobile {
    pub fn is_empty(&self) -> bool {
        self.ios_url.is_none() && self.android_url.is_none() && self.deep_link.is_none()
    }
}

fn checked_url(field: &str, value: &str, https: bool) -> Result<(), FieldError> {
    if value.len() > MAX_MOBILE_URL_CHARS {
        return Err(FieldError::new(
            field,
            format!("longer than {MAX_MOBILE_URL_CHARS} characters"),
        ));
    }
    let url = Url::parse(value).map_err(|e| FieldError::new(field, format!("not a URL: {e}")))?;
    if https && url.scheme() != "https" {
        return Err(FieldError::new(field, "must be an https URL"));
    }
    Ok(())
}

/// The checks on a link's mobile fields: store URLs are https (the Play URL on
/// `play.google.com`, since only it hands the referrer back); the deep link is a URL of any
/// scheme; parameters are at most [`MAX_DEEP_LINK_PARAMS`] string values.
pub fn validate_link_mobile(link: &LinkMobile) -> Result<(), FieldError> {
    if let Some(ios) = &link.ios_url {
        checked_url("ios_url", ios, true)?;
    }
    if let Some(android) = &link.android_url {
        checked_url("android_url", android, true)?;
        let host = Url::parse(android)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        if host.as_deref() != Some("play.google.com") {
            return Err(FieldError::new(
                "android_url",
                "must be a play.google.com URL (the install referrer comes only from Google Play)",
            ));
        }
    }
    if let Some(deep) = &link.deep_link {
        checked_url("deep_link", deep, false)?;
    }
    if link.deep_link_params.len() > MAX_DEEP_LINK_PARAMS {
        return Err(FieldError::new(
            "deep_link_params",
            format!("at most {MAX_DEEP_LINK_PARAMS} parameters"),
        ));
    }
    if let Some((key, _)) = link.deep_link_params.iter().find(|(_, v)| !v.is_string()) {
        return Err(FieldError::new(
            format!("deep_link_params.{key}"),
            "parameter values are strings",
        ));
    }
    let bytes = serde_json::to_string(&link.deep_link_params).map_or(usize::MAX, |s| s.len());
    if bytes > MAX_DEEP_LINK_PARAMS_BYTES {
        return Err(FieldError::new(
            "deep_link_params",
            format!("more than {MAX_DEEP_LINK_PARAMS_BYTES} bytes of JSON"),
        ));
    }
    Ok(())
}

/// Parses the stored `links.deep_link_params` column (NULL or JSON object).
pub fn parse_deep_link_params(json: Option<&str>) -> Result<Map<String, Value>, FieldError> {
    match json {
        None | Some("") => Ok(Map::new()),
        Some(s) => serde_json::from_str(s)
            .map_err(|e| FieldError::new("deep_link_params", format!("not a JSON object: {e}"))),
    }
}

/// An app's mobile settings (`apps.mobile`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MobileSettings {
    /// The App Store id (`id123456789` → 123456789); SKAN postbacks name the app by it.
    #[serde(default)]
    pub apple_app_id: Option<u64>,
    /// Apple developer team id (10 characters), for the apple-app-site-association file.
    #[serde(default)]
    pub apple_team_id: Option<String>,
    #[serde(default)]
    pub ios_bundle_ids: Vec<String>,
    #[serde(default)]
    pub android_package: Option<String>,
    /// SHA-256 fingerprints of the app's signing certificates (`AB:CD:...`, 32 bytes).
    #[serde(default)]
    pub android_sha256_cert_fingerprints: Vec<String>,
    /// How far back a deferred deep-link request looks for the click.
    #[serde(default = "default_lookback")]
    pub deferred_lookback_secs: u32,
    /// The SKAN / AdAttributionKit conversion-value schema (checked by `attrib-skan`'s
    /// `ConversionSchema::from_json` where postbacks are received).
    #[serde(default)]
    pub skan_conversion_schema: Option<Value>,
    /// Accept AdAttributionKit postbacks signed with Apple's development keys (testing only).
    #[serde(default)]
    pub aak_allow_development_keys: bool,
    /// SKAN / AdAttributionKit ad network ids → our sources and campaigns
    /// (`super::skan_sources`).
    #[serde(default, skip_serializing_if = "SkanSources::is_empty")]
    pub skan_sources: SkanSources,
}

fn default_lookback() -> u32 {
    DEFAULT_DEFERRED_LOOKBACK_SECS
}

impl Default for MobileSettings {
    fn default() -> Self {
        MobileSettings {
            apple_app_id: None,
            apple_team_id: None,
            ios_bundle_ids: Vec::new(),
            android_package: None,
            android_sha256_cert_fingerprints: Vec::new(),
            deferred_lookback_secs: DEFAULT_DEFERRED_LOOKBACK_SECS,
            skan_conversion_schema: None,
            aak_allow_development_keys: false,
            skan_sources: SkanSources::new(),
        }
    }
}

fn is_reverse_dns(id: &str) -> bool {
    let parts: Vec<&str> = id.split('.').collect();
    id.len() <= 255
        && parts.len() >= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

fn is_fingerprint(fp: &str) -> bool {
    let bytes: Vec<&str> = fp.split(':').collect();
    bytes.len() == 32
        && bytes
            .iter()
            .all(|b| b.len() == 2 && b.bytes().all(|c| c.is_ascii_hexdigit()))
}

/// Parses and checks `apps.mobile` (NULL or `{}` means defaults).
pub fn parse_mobile_settings(json: Option<&str>) -> Result<MobileSettings, FieldError> {
    let settings: MobileSettings = match json {
        None | Some("") => MobileSettings::default(),
        Some(s) => serde_json::from_str(s)
            .map_err(|e| FieldError::new("mobile", format!("not valid mobile settings: {e}")))?,
    };
    validate_mobile_settings(&settings)?;
    Ok(settings)
}

pub fn validate_mobile_settings(s: &MobileSettings) -> Result<(), FieldError> {
    if let Some(team) = &s.apple_team_id {
        if team.len() != 10 || !team.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(FieldError::new(
                "mobile.apple_team_id",
                "an Apple team id is 10 letters and digits",
            ));
        }
    }
    if s.ios_bundle_ids.len() > MAX_APP_BUNDLE_IDS {
        return Err(FieldError::new(
            "mobile.ios_bundle_ids",
            format!("at most {MAX_APP_BUNDLE_IDS}"),
        ));
    }
    if let Some(bad) = s.ios_bundle_ids.iter().find(|b| !is_reverse_dns(b)) {
        return Err(FieldError::new(
            "mobile.ios_bundle_ids",
            format!("{bad:?} is not a bundle id (reverse-DNS)"),
        ));
    }
    if !s.ios_bundle_ids.is_empty() && s.apple_team_id.is_none() {
        return Err(FieldError::new(
            "mobile.apple_team_id",
            "needed with ios_bundle_ids (app ids are TEAMID.bundle)",
        ));
    }
    if let Some(package) = &s.android_package {
        if !is_reverse_dns(package) {
            return Err(FieldError::new(
                "mobile.android_package",
                "not a package name (reverse-DNS)",
            ));
        }
    }
    if s.android_sha256_cert_fingerprints.len() > MAX_CERT_FINGERPRINTS {
        return Err(FieldError::new(
            "mobile.android_sha256_cert_fingerprints",
            format!("at most {MAX_CERT_FINGERPRINTS}"),
        ));
    }
    if let Some(bad) = s
        .android_sha256_cert_fingerprints
        .iter()
        .find(|f| !is_fingerprint(f))
    {
        return Err(FieldError::new(
            "mobile.android_sha256_cert_fingerprints",
            format!("{bad:?} is not 32 colon-separated hex bytes"),
        ));
    }
    if !s.android_sha256_cert_fingerprints.is_empty() && s.android_package.is_none() {
        return Err(FieldError::new(
            "mobile.android_package",
            "needed with android_sha256_cert_fingerprints",
        ));
    }
    if s.deferred_lookback_secs == 0 || s.deferred_lookback_secs > MAX_DEFERRED_LOOKBACK_SECS {
        return Err(FieldError::new(
            "mobile.deferred_lookback_secs",
            format!("1 to {MAX_DEFERRED_LOOKBACK_SECS} seconds"),
        ));
    }
    validate_skan_sources(&s.skan_sources)?;
    Ok(())
}
