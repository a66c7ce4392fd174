//! The management API's rules, with no IO: what an app, a key request, a tracking link, a
//! postback configuration and an app's settings may look like, and how a JSON merge-patch
//! (RFC 7396) applies to them.
//!
//! This is the one place these are validated: the query Worker calls it when a change is
//! written (`/admin/v1/...`), and the edge's settings loader runs the same
//! [`crate::settings::AppSettings::validate`] and [`crate::postback::validate_configs`] when it
//! reads them back. Every refusal is a [`FieldError`] naming the field as the client sent it.

pub mod doc;
pub mod link_host;
pub mod resources;
pub mod settings;

pub use doc::merge_patch;
pub use resources::{AppInput, KeyRequest, LinkInput, PostbackInput};
pub use settings::SettingsDoc;

use crate::error::FieldError;

/// Longest app name.
pub const MAX_APP_NAME_CHARS: usize = 200;
/// Longest key label.
pub const MAX_KEY_LABEL_CHARS: usize = 200;
/// Longest id of an app or a link (D1's CHECK says the same).
pub const MAX_RESOURCE_ID_CHARS: usize = 64;
/// A rotated key keeps working this long by default, beside its replacement.
pub const DEFAULT_ROTATION_OVERLAP_SECS: u32 = 24 * 3600;
/// At most this long (a week): a leaked key must not outlive its rotation for long.
pub const MAX_ROTATION_OVERLAP_SECS: u32 = 7 * 24 * 3600;
/// Live keys per app (issued and not revoked or expired).
pub const MAX_LIVE_KEYS_PER_APP: usize = 50;
/// Tracking links per app.
pub const MAX_LINKS_PER_APP: usize = 10_000;
/// A management request body.
pub const MAX_ADMIN_BODY_BYTES: usize = 64 * 1024;
/// Rows in one page of a list (apps, links, audit).
pub const MAX_LIST_ROWS: usize = 1_000;
/// Rows in one page of a list when the client names no `limit`.
pub const DEFAULT_LIST_ROWS: usize = 100;
/// Apps in one deployment.
pub const MAX_APPS: usize = 10_000;
/// The answer body a postback test-fire shows (the rest is cut).
pub const MAX_TEST_FIRE_BODY_CHARS: usize = 4_096;

/// An app or link id: 1 to [`MAX_RESOURCE_ID_CHARS`] of `A-Z a-z 0-9 - _ .`; no `:` (ids are
/// joined with `:` in keys elsewhere) and nothing a URL path would need to escape.
pub fn check_id(field: &str, id: &str) -> Result<(), FieldError> {
    if id.is_empty() || id.chars().count() > MAX_RESOURCE_ID_CHARS {
        return Err(FieldError::new(
            field,
            format!("must be 1 to {MAX_RESOURCE_ID_CHARS} characters"),
        ));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(FieldError::new(
            field,
            "may hold only letters, digits, '-', '_' and '.'",
        ));
    }
    Ok(())
}

/// A version precondition: `If-Match` (an ETag `"<n>"`, or `<n>`) or a body's `version`.
pub fn parse_version(field: &str, text: &str) -> Result<i64, FieldError> {
    let bare = text.trim().trim_start_matches("W/").trim_matches('"');
    bare.parse::<i64>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| FieldError::new(field, "must be a version number, as the ETag gave it"))
}

#[cfg(test)]
mod tests;
