//! The management API's resources other than settings: what a client may send for each.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::doc::{field, merge_patch, object, required};
use super::{
    check_id, DEFAULT_ROTATION_OVERLAP_SECS, MAX_APP_NAME_CHARS, MAX_KEY_LABEL_CHARS,
    MAX_ROTATION_OVERLAP_SECS,
};
use crate::error::FieldError;
use crate::keys::{KeyKind, WriteKeyClass};
use crate::limits::MAX_CAMPAIGN_FIELD_CHARS;
use crate::postback::target::{check_link_destination, Targets};
use crate::postback::{validate_configs, PostbackConfig, PostbackMethod};

fn check_text(field: &str, text: &str, max: usize) -> Result<(), FieldError> {
    if text.trim().is_empty() || text.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must not hold control characters"));
    }
    Ok(())
}

/// `POST /admin/v1/apps`: `{"id"?, "name"}` (the id is generated when absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppInput {
    pub id: Option<String>,
    pub name: String,
}

impl AppInput {
    pub fn parse(value: &Value) -> Result<AppInput, FieldError> {
        let map = object(value, "", &["id", "name"])?;
        let id: Option<String> = field(map, "", "id", "a string")?;
        if let Some(id) = &id {
            check_id("id", id)?;
        }
        let name: String = required(map, "", "name", "a string")?;
        check_text("name", &name, MAX_APP_NAME_CHARS)?;
        Ok(AppInput { id, name })
    }

    /// `PATCH /admin/v1/apps/{app}`: only the name changes (settings have their own resource).
    pub fn parse_update(value: &Value) -> Result<String, FieldError> {
        let map = object(value, "", &["name", "version"])?;
        let name: String = required(map, "", "name", "a string")?;
        check_text("name", &name, MAX_APP_NAME_CHARS)?;
        Ok(name)
    }
}

/// `POST /admin/v1/apps/{app}/keys`: `{"kind": "write"|"read"|"manage", "label"?, "class"?}`.
/// `class` (`client`, the default, or `server`) is a write key's only: what its events may
/// merge (issue 13, finding 5; `crate::identity::check_hand_over`).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRequest {
    pub kind: KeyKind,
    pub label: Option<String>,
    /// `Some` exactly for write keys.
    pub class: Option<WriteKeyClass>,
}

impl KeyRequest {
    pub fn parse(value: &Value) -> Result<KeyRequest, FieldError> {
        let map = object(value, "", &["kind", "label", "class"])?;
        let kind: String = required(map, "", "kind", "write, read or manage")?;
        let kind = KeyKind::parse(&kind)
            .ok_or_else(|| FieldError::new("kind", "must be write, read or manage"))?;
        let label: Option<String> = field(map, "", "label", "a string")?;
        if let Some(label) = &label {
            check_text("label", label, MAX_KEY_LABEL_CHARS)?;
        }
        let class: Option<String> = field(map, "", "class", "client or server")?;
        let class = match (kind, class) {
            (KeyKind::Write, None) => Some(WriteKeyClass::Client),
            (KeyKind::Write, Some(class)) => Some(
                WriteKeyClass::parse(&class)
                    .ok_or_else(|| FieldError::new("class", "must be client or server"))?,
            ),
            (_, None) => None,
            (_, Some(_)) => {
                return Err(FieldError::new("class", "only write keys have a class"));
            }
        };
        Ok(KeyRequest { kind, label, class })
    }

    /// `POST .../keys/{id}/rotate`: `{"overlap_secs"?}`: how long the old key keeps working.
    pub fn parse_rotation(value: &Value) -> Result<u32, FieldError> {
        let map = object(value, "", &["overlap_secs"])?;
        let overlap: u32 = field(map, "", "overlap_secs", "a whole number of seconds")?
            .unwrap_or(DEFAULT_ROTATION_OVERLAP_SECS);
        if overlap > MAX_ROTATION_OVERLAP_SECS {
            return Err(FieldError::new(
                "overlap_secs",
                format!("must be between 0 and {MAX_ROTATION_OVERLAP_SECS}"),
            ));
        }
        Ok(overlap)
    }
}

/// A tracking link: `{"id"?, "destination_url", "source"?, "medium"?, "campaign"?,
/// "content"?, "term"?, "ios_url"?, "android_url"?, "deep_link"?, "deep_link_params"?}`; the
/// mobile fields are checked by `crate::mobile::settings::validate_link_mobile`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkInput {
    pub id: Option<String>,
    pub destination_url: String,
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub content: Option<String>,
    pub term: Option<String>,
    #[serde(flatten)]
    pub mobile: crate::mobile::settings::LinkMobile,
}

const LINK_FIELDS: [&str; 11] = [
    "id",
    "destination_url",
    "source",
    "medium",
    "campaign",
    "content",
    "term",
    "ios_url",
    "android_url",
    "deep_link",
    "deep_link_params",
];

impl LinkInput {
    pub fn parse(value: &Value, targets: Targets) -> Result<LinkInput, FieldError> {
        let map = object(value, "", &LINK_FIELDS)?;
        let id: Option<String> = field(map, "", "id", "a string")?;
        if let Some(id) = &id {
            check_id("id", id)?;
        }
        let destination_url: String = required(map, "", "destination_url", "a URL")?;
        check_link_destination(&destination_url, targets)
            .map_err(|reason| FieldError::new("destination_url", reason))?;
        let text = |name: &str| -> Result<Option<String>, FieldError> {
            let value: Option<String> = field(map, "", name, "a string")?;
            if let Some(v) = &value {
                check_text(name, v, MAX_CAMPAIGN_FIELD_CHARS)?;
            }
            Ok(value)
        };
        let deep_link_params = match map.get("deep_link_params") {
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(params)) => params.clone(),
            Some(_) => {
                return Err(FieldError::new(
                    "deep_link_params",
                    "must be an object of string values",
                ))
            }
        };
        let mobile = crate::mobile::settings::LinkMobile {
            ios_url: field(map, "", "ios_url", "an https App Store URL")?,
            android_url: field(map, "", "android_url", "an https Google Play URL")?,
            deep_link: field(map, "", "deep_link", "a URL")?,
            deep_link_params,
        };
        crate::mobile::settings::validate_link_mobile(&mobile)?;
        Ok(LinkInput {
            id,
            destination_url,
            source: text("source")?,
            medium: text("medium")?,
            campaign: text("campaign")?,
            content: text("content")?,
            term: text("term")?,
            mobile,
        })
    }

    /// This link with `patch` (RFC 7396) applied; the id cannot change.
    pub fn patched(&self, patch: &Value, targets: Targets) -> Result<LinkInput, FieldError> {
        if patch
            .get("id")
            .is_some_and(|id| id.as_str() != self.id.as_deref())
        {
            return Err(FieldError::new("id", "cannot change; create a new link"));
        }
        let mut value = serde_json::to_value(self)
            .map_err(|e| FieldError::new("body", format!("cannot be applied ({e})")))?;
        merge_patch(&mut value, patch);
        strip_nulls(&mut value);
        LinkInput::parse(&value, targets)
    }
}

/// A postback configuration as the API shows it: core's [`PostbackConfig`] plus `enabled`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostbackInput {
    pub network: String,
    pub url: String,
    pub method: PostbackMethod,
    pub events: Vec<String>,
    pub enabled: bool,
}

impl PostbackInput {
    pub fn parse(value: &Value, targets: Targets) -> Result<PostbackInput, FieldError> {
        let map = object(
            value,
            "",
            &["network", "url", "method", "events", "enabled"],
        )?;
        let network: String = required(map, "", "network", "a touch source or *")?;
        let url: String = required(map, "", "url", "a URL template")?;
        let method = match field::<String>(map, "", "method", "GET or POST")?.as_deref() {
            None | Some("GET") => PostbackMethod::Get,
            Some("POST") => PostbackMethod::Post,
            Some(_) => return Err(FieldError::new("method", "must be GET or POST")),
        };
        let events: Vec<String> =
            field(map, "", "events", "an array of event names")?.unwrap_or_default();
        let enabled: bool = field(map, "", "enabled", "true or false")?.unwrap_or(true);
        let config = PostbackConfig {
            network,
            url,
            method,
            events,
        };
        // The one check the edge also runs when it loads postbacks; its field names
        // (`postbacks[0].url`) are made the body's own (`url`).
        validate_configs(std::slice::from_ref(&config), targets).map_err(|e| FieldError {
            field: e.field.trim_start_matches("postbacks[0].").to_owned(),
            reason: e.reason,
        })?;
        Ok(PostbackInput {
            network: config.network,
            url: config.url,
            method: config.method,
            events: config.events,
            enabled,
        })
    }

    pub fn config(&self) -> PostbackConfig {
        PostbackConfig {
            network: self.network.clone(),
            url: self.url.clone(),
            method: self.method,
            events: self.events.clone(),
        }
    }

    /// This configuration with `patch` applied; the network (its key) cannot change.
    pub fn patched(&self, patch: &Value, targets: Targets) -> Result<PostbackInput, FieldError> {
        if patch
            .get("network")
            .is_some_and(|n| n.as_str() != Some(self.network.as_str()))
        {
            return Err(FieldError::new(
                "network",
                "cannot change; create another postback",
            ));
        }
        let mut value = serde_json::to_value(self)
            .map_err(|e| FieldError::new("body", format!("cannot be applied ({e})")))?;
        merge_patch(&mut value, patch);
        PostbackInput::parse(&value, targets)
    }
}

fn strip_nulls(value: &mut Value) {
    if let Value::Object(map) = value {
        map.retain(|_, v| !v.is_null());
    }
}
