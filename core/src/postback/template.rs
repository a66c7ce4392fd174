//! Postback URL templates: `{macro}` placeholders replaced by percent-encoded values.
//!
//! A template is checked when the app's settings are loaded: every macro must be known
//! ([`MACROS`]), braces must pair, and the URL must be absolute `http` or `https` once filled
//! in. Values are percent-encoded (everything but RFC 3986 unreserved characters), so a value
//! can never add a parameter or change the host. Macros may sit only in the path and query, and
//! the host must be one [`super::target`] permits (issue 13, finding 6).

use std::collections::BTreeMap;

use super::target::{check_macro_placement, check_url, Targets};
use crate::limits::{MAX_POSTBACK_TEMPLATE_CHARS, MAX_POSTBACK_URL_CHARS};

/// Every macro a template may use (see `super::Macros` for their meaning).
pub const MACROS: [&str; 32] = [
    "idempotency_key",
    "conversion_id",
    "event_name",
    "revenue",
    "currency",
    "order_id",
    "conversion_ts",
    "conversion_time",
    "attributed_ts",
    "attributed_time",
    "model",
    "credit",
    "credited_value",
    "network",
    "source",
    "medium",
    "campaign",
    "content",
    "term",
    "touch_id",
    "touch_ts",
    "touch_time",
    "click_id",
    "network_click_id",
    "link_id",
    "app_id",
    "revision",
    // Device ids (`super::device`): filled in only when the postback is sent.
    "advertising_id",
    "idfa",
    "gaid",
    "idfv",
    "android_id",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part<'a> {
    Text(&'a str),
    Macro(&'a str),
}

fn parse(template: &str) -> Result<Vec<Part<'_>>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(format!("has a '}}' without '{{' at {:?}", &rest[open..]));
        }
        if open > 0 {
            parts.push(Part::Text(&rest[..open]));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| "has a '{' without '}'".to_string())?;
        let name = &after[..close];
        if !MACROS.contains(&name) {
            return Err(format!(
                "uses unknown macro {{{name}}}; known: {}",
                MACROS.join(", ")
            ));
        }
        parts.push(Part::Macro(name));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    Ok(parts)
}

/// Checks a template as the app configured it, with the hosts `targets` permits.
pub fn validate(template: &str, targets: Targets) -> Result<(), String> {
    if template.chars().count() > MAX_POSTBACK_TEMPLATE_CHARS {
        return Err(format!(
            "is longer than {MAX_POSTBACK_TEMPLATE_CHARS} characters"
        ));
    }
    let sample: BTreeMap<&str, String> = MACROS.iter().map(|m| (*m, "x".to_owned())).collect();
    let url = expand(template, &sample)?;
    check_macro_placement(template)?;
    check_url(&url, targets)?;
    Ok(())
}

/// Fills in `template` from `values` (a macro without a value becomes empty).
pub fn expand(template: &str, values: &BTreeMap<&str, String>) -> Result<String, String> {
    expand_keeping(template, values, &[])
}

/// [`expand`], but the macros named in `keep` stay as `{name}`, to be filled in later: the
/// result is itself a template using only those (every value is percent-encoded, so no
/// value can bring a brace).
pub fn expand_keeping(
    template: &str,
    values: &BTreeMap<&str, String>,
    keep: &[&str],
) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 64);
    for part in parse(template)? {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Macro(name) if keep.contains(&name) => {
                out.push('{');
                out.push_str(name);
                out.push('}');
            }
            Part::Macro(name) => {
                if let Some(value) = values.get(name) {
                    percent_encode(value, &mut out);
                }
            }
        }
    }
    if out.len() > MAX_POSTBACK_URL_CHARS {
        return Err(format!(
            "expands to more than {MAX_POSTBACK_URL_CHARS} characters"
        ));
    }
    Ok(out)
}

fn percent_encode(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 15)]));
        }
    }
}
