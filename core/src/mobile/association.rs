//! The app association files the link host serves, from the app's mobile settings:
//! `/.well-known/apple-app-site-association` (Universal Links) and
//! `/.well-known/assetlinks.json` (Android App Links). Every tracking-link path (`/c/*`) is
//! claimed, so a tap on a link opens the installed app instead of the store.

use serde_json::{json, Value};

use crate::mobile::settings::MobileSettings;

/// `None` when the app has no iOS app configured (the file is then 404).
pub fn apple_app_site_association(s: &MobileSettings) -> Option<Value> {
    let team = s.apple_team_id.as_ref()?;
    if s.ios_bundle_ids.is_empty() {
        return None;
    }
    let app_ids: Vec<String> = s
        .ios_bundle_ids
        .iter()
        .map(|b| format!("{team}.{b}"))
        .collect();
    Some(json!({
        "applinks": {
            "details": [{
                "appIDs": app_ids,
                "components": [{ "/": "/c/*", "comment": "tracking links open the app" }],
            }]
        }
    }))
}

/// `None` when the app has no Android package with certificates.
pub fn asset_links(s: &MobileSettings) -> Option<Value> {
    let package = s.android_package.as_ref()?;
    if s.android_sha256_cert_fingerprints.is_empty() {
        return None;
    }
    Some(json!([{
        "relation": ["delegate_permission/common.handle_all_urls"],
        "target": {
            "namespace": "android_app",
            "package_name": package,
            "sha256_cert_fingerprints": s.android_sha256_cert_fingerprints,
        }
    }]))
}
