//! Which of our deterministic sources (and campaigns) an app's SKAdNetwork / AdAttributionKit
//! ad networks are (`apps.mobile.skan_sources`): Apple names an ad network by its
//! `ad-network-id` (`cstr6suwn9.skadnetwork`) and a campaign by its `source-identifier`
//! (SKAN 4, AdAttributionKit) or `campaign-id` (SKAN 2 to 3), where our tracking links name
//! them by `source` and `campaign`. With this mapping `GET /v1/skan` rows carry `source` and
//! `campaign`, so the dashboard shows Apple's numbers beside the deterministic ones of the same
//! source. Unmapped networks and identifiers keep `null`.
//!
//! ```json
//! "skan_sources": {
//!   "cstr6suwn9.skadnetwork": { "source": "google", "campaigns": { "5239": "spring sale" } }
//! }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::limits::{
    MAX_CAMPAIGN_FIELD_CHARS, MAX_SKAN_AD_NETWORK_ID_CHARS, MAX_SKAN_CAMPAIGNS, MAX_SKAN_SOURCES,
};
use crate::FieldError;

/// One ad network's deterministic names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkanSource {
    /// Our source name (lower case, as touches store it: `google`, `metaads`).
    pub source: String,
    /// Campaign names by source identifier / campaign id (1 to 4 digits).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub campaigns: BTreeMap<String, String>,
}

/// Ad network id (lower case) → its names.
pub type SkanSources = BTreeMap<String, SkanSource>;

/// The `source` and `campaign` of a postback's ad network and source identifier, when mapped.
pub fn mapped<'a>(
    sources: &'a SkanSources,
    ad_network_id: Option<&str>,
    source_identifier: Option<&str>,
) -> (Option<&'a str>, Option<&'a str>) {
    let Some(network) = ad_network_id.and_then(|id| find(sources, id)) else {
        return (None, None);
    };
    let campaign = source_identifier
        .and_then(|id| network.campaigns.get(id))
        .map(String::as_str);
    (Some(network.source.as_str()), campaign)
}

/// Apple's ids are lower case; a network that sends upper case is still found.
fn find<'a>(sources: &'a SkanSources, id: &str) -> Option<&'a SkanSource> {
    sources
        .get(id)
        .or_else(|| sources.get(id.to_ascii_lowercase().as_str()))
}

fn is_ad_network_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_SKAN_AD_NETWORK_ID_CHARS
        && id.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        })
}

fn is_source_identifier(id: &str) -> bool {
    (1..=4).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

fn checked_name(field: String, value: &str, lower_case: bool) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if value.chars().count() > MAX_CAMPAIGN_FIELD_CHARS {
        return Err(FieldError::new(
            field,
            format!("longer than {MAX_CAMPAIGN_FIELD_CHARS} characters"),
        ));
    }
    if lower_case && value != value.to_lowercase() {
        return Err(FieldError::new(
            field,
            "must be lower case, as touch sources are stored",
        ));
    }
    Ok(())
}

/// Checks the mapping: at most [`MAX_SKAN_SOURCES`] ad networks with well-formed ids, at
/// most [`MAX_SKAN_CAMPAIGNS`] campaign names in all, each error naming its field.
pub fn validate_skan_sources(sources: &SkanSources) -> Result<(), FieldError> {
    const FIELD: &str = "mobile.skan_sources";
    if sources.len() > MAX_SKAN_SOURCES {
        return Err(FieldError::new(
            FIELD,
            format!("at most {MAX_SKAN_SOURCES} ad networks"),
        ));
    }
    let campaigns: usize = sources.values().map(|s| s.campaigns.len()).sum();
    if campaigns > MAX_SKAN_CAMPAIGNS {
        return Err(FieldError::new(
            FIELD,
            format!("at most {MAX_SKAN_CAMPAIGNS} campaigns in all"),
        ));
    }
    for (id, network) in sources {
        if !is_ad_network_id(id) {
            return Err(FieldError::new(
                format!("{FIELD}.{id}"),
                format!(
                    "an ad network id is 1 to {MAX_SKAN_AD_NETWORK_ID_CHARS} lower-case \
                     letters, digits, '.', '-' or '_'"
                ),
            ));
        }
        checked_name(format!("{FIELD}.{id}.source"), &network.source, true)?;
        for (key, campaign) in &network.campaigns {
            let field = format!("{FIELD}.{id}.campaigns.{key}");
            if !is_source_identifier(key) {
                return Err(FieldError::new(
                    field,
                    "a source identifier or campaign id is 1 to 4 digits",
                ));
            }
            checked_name(field, campaign, false)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::mobile::settings::parse_mobile_settings;

    fn settings(sources: serde_json::Value) -> Result<SkanSources, FieldError> {
        parse_mobile_settings(Some(&json!({ "skan_sources": sources }).to_string()))
            .map(|s| s.skan_sources)
    }

    #[test]
    fn maps_an_ad_network_and_its_campaigns_to_our_names() {
        let sources = settings(json!({
            "com.example": { "source": "newsy", "campaigns": { "5239": "spring sale", "39": "brand" } },
            "cstr6suwn9.skadnetwork": { "source": "google" }
        }))
        .expect("valid");
        assert_eq!(
            mapped(&sources, Some("com.example"), Some("5239")),
            (Some("newsy"), Some("spring sale"))
        );
        assert_eq!(
            mapped(&sources, Some("COM.EXAMPLE"), Some("39")),
            (Some("newsy"), Some("brand")),
            "found whatever the case Apple's copy uses"
        );
        assert_eq!(
            mapped(&sources, Some("com.example"), Some("7")),
            (Some("newsy"), None)
        );
        assert_eq!(
            mapped(&sources, Some("cstr6suwn9.skadnetwork"), None),
            (Some("google"), None)
        );
        assert_eq!(mapped(&sources, Some("other"), Some("5239")), (None, None));
        assert_eq!(mapped(&sources, None, Some("5239")), (None, None));
    }

    #[test]
    fn each_error_names_its_field() {
        let field = |v: serde_json::Value| settings(v).expect_err("invalid").field;
        assert_eq!(
            field(json!({ "Com.Example": { "source": "newsy" } })),
            "mobile.skan_sources.Com.Example"
        );
        assert_eq!(
            field(json!({ "com.example": { "source": "Newsy" } })),
            "mobile.skan_sources.com.example.source"
        );
        assert_eq!(
            field(json!({ "com.example": { "source": " " } })),
            "mobile.skan_sources.com.example.source"
        );
        assert_eq!(
            field(json!({ "com.example": { "source": "n", "campaigns": { "12345": "x" } } })),
            "mobile.skan_sources.com.example.campaigns.12345"
        );
        assert_eq!(
            field(json!({ "com.example": { "source": "n", "campaigns": { "12": "" } } })),
            "mobile.skan_sources.com.example.campaigns.12"
        );
        let long = "x".repeat(MAX_CAMPAIGN_FIELD_CHARS + 1);
        assert_eq!(
            field(json!({ "com.example": { "source": "n", "campaigns": { "12": long } } })),
            "mobile.skan_sources.com.example.campaigns.12"
        );
        // An unknown field is refused, not ignored.
        assert_eq!(
            field(json!({ "com.example": { "source": "n", "campaign": {} } })),
            "mobile"
        );
    }

    #[test]
    fn the_mapping_is_bounded() {
        let networks: serde_json::Map<String, serde_json::Value> = (0..=MAX_SKAN_SOURCES)
            .map(|i| (format!("n{i}.skadnetwork"), json!({ "source": "s" })))
            .collect();
        assert_eq!(
            settings(serde_json::Value::Object(networks))
                .expect_err("too many")
                .field,
            "mobile.skan_sources"
        );
        // Campaigns are counted across networks: two networks of 501 each is too many.
        let half: serde_json::Map<String, serde_json::Value> = (0..MAX_SKAN_CAMPAIGNS / 2 + 1)
            .map(|i| (i.to_string(), json!("c")))
            .collect();
        let err = settings(json!({
            "a": { "source": "s", "campaigns": half.clone() },
            "b": { "source": "s", "campaigns": half },
        }))
        .expect_err("too many");
        assert_eq!(err.field, "mobile.skan_sources");
        assert!(err.reason.contains(&MAX_SKAN_CAMPAIGNS.to_string()));
    }
}
