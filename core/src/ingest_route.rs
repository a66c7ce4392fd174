//! Which ingest endpoint a request path names, as every SDK spells it.
//!
//! - Segment's HTTP API and server SDKs: `/v1/{track,identify,page,screen,group,alias}`,
//!   `/v1/batch`; classic analytics-android posts to `/v1/import`.
//! - analytics.js (analytics-next) posts single calls to `/v1/{t,p,i,g,a,s}` (the first letter of
//!   the type, `plugins/segmentio/index.ts`) and batches to `/v1/b`; the mobile SDKs use `/v1/b`.
//! - RudderStack's JS SDK (v3) falls back to `navigator.sendBeacon` at
//!   `/beacon/v1/batch?writeKey=...` (the key in the query, the body `text/plain`).
//! - The SDKs' settings document: `/v1/projects/{writeKey}/settings` (analytics.js, cdnURL) and
//!   `/projects/{writeKey}/settings` (mobile SDKs, whose settings host already ends in `/v1`).
//!
//! First-party collection serves all of this under a path prefix on the customer's own domain
//! (`https://shop.example/t/v1/b`); [`strip_prefix`] removes it first.

use crate::error::FieldError;
use crate::event::EventType;
use crate::segment::Endpoint;

/// Most path prefixes one deployment may serve ingest under.
pub const MAX_PATH_PREFIXES: usize = 16;
/// Longest path prefix.
pub const MAX_PATH_PREFIX_CHARS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestRoute<'a> {
    /// A Segment Tracking API call (JSON body, key in Basic auth or in the body).
    Segment(Endpoint),
    /// RudderStack's beacon batch: the write key travels in the query string.
    Beacon,
    /// The SDK settings document for a write key.
    Settings { write_key: &'a str },
}

impl<'a> IngestRoute<'a> {
    pub fn from_path(path: &'a str) -> Option<IngestRoute<'a>> {
        if let Some(call) = path.strip_prefix("/v1/") {
            if let Some(key) = settings_key(call) {
                return Some(IngestRoute::Settings { write_key: key });
            }
            return segment_endpoint(call.trim_end_matches('/')).map(IngestRoute::Segment);
        }
        if let Some(key) = settings_key(path.strip_prefix('/')?) {
            return Some(IngestRoute::Settings { write_key: key });
        }
        match path.trim_end_matches('/') {
            "/beacon/v1/batch" => Some(IngestRoute::Beacon),
            _ => None,
        }
    }
}

/// `projects/{key}/settings`, with a non-empty key of one path segment.
fn settings_key(rest: &str) -> Option<&str> {
    let key = rest
        .strip_prefix("projects/")?
        .trim_end_matches('/')
        .strip_suffix("/settings")?;
    (!key.is_empty() && !key.contains('/')).then_some(key)
}

fn segment_endpoint(call: &str) -> Option<Endpoint> {
    let single = match call {
        "batch" | "b" | "import" => return Some(Endpoint::Batch),
        "t" => EventType::Track,
        "p" => EventType::Page,
        "i" => EventType::Identify,
        "g" => EventType::Group,
        "a" => EventType::Alias,
        "s" => EventType::Screen,
        other => return EventType::parse_segment_call(other).map(Endpoint::Single),
    };
    Some(Endpoint::Single(single))
}

/// Parses `PATH_PREFIXES`: comma-separated prefixes such as `/t, /collect`. Each starts with `/`,
/// has no trailing `/`, no query, no `..`; the longest match is stripped first.
pub fn parse_path_prefixes(var: &str) -> Result<Vec<String>, FieldError> {
    let mut prefixes = Vec::new();
    for raw in var.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let prefix = raw.trim_end_matches('/');
        let valid = prefix.starts_with('/')
            && prefix.len() > 1
            && prefix.len() <= MAX_PATH_PREFIX_CHARS
            && !prefix.contains("..")
            && !prefix.contains("//")
            && prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/-_.~".contains(c));
        if !valid {
            return Err(FieldError::new(
                "PATH_PREFIXES",
                format!("{raw:?} is not a path prefix like /t (letters, digits, -_.~ and /)"),
            ));
        }
        prefixes.push(prefix.to_owned());
    }
    if prefixes.len() > MAX_PATH_PREFIXES {
        return Err(FieldError::new(
            "PATH_PREFIXES",
            format!("has more than {MAX_PATH_PREFIXES} prefixes"),
        ));
    }
    prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
    Ok(prefixes)
}

/// The path with the first matching prefix removed, and the prefix (empty when none matched).
/// A prefix matches whole segments only: `/t` strips `/t/v1/b` but not `/track`.
pub fn strip_prefix<'p>(path: &'p str, prefixes: &'p [String]) -> (&'p str, &'p str) {
    for prefix in prefixes {
        if let Some(rest) = path.strip_prefix(prefix.as_str()) {
            if rest.starts_with('/') {
                return (rest, prefix);
            }
        }
    }
    (path, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sdk_path_is_recognised() {
        let single = |t| Some(IngestRoute::Segment(Endpoint::Single(t)));
        let batch = Some(IngestRoute::Segment(Endpoint::Batch));
        for (path, want) in [
            ("/v1/t", single(EventType::Track)),
            ("/v1/p", single(EventType::Page)),
            ("/v1/i", single(EventType::Identify)),
            ("/v1/g", single(EventType::Group)),
            ("/v1/a", single(EventType::Alias)),
            ("/v1/s", single(EventType::Screen)),
            ("/v1/track", single(EventType::Track)),
            ("/v1/screen/", single(EventType::Screen)),
            ("/v1/b", batch),
            ("/v1/batch", batch),
            ("/v1/import", batch),
            ("/beacon/v1/batch", Some(IngestRoute::Beacon)),
            (
                "/v1/projects/wk_1/settings",
                Some(IngestRoute::Settings { write_key: "wk_1" }),
            ),
            (
                "/projects/wk_1/settings",
                Some(IngestRoute::Settings { write_key: "wk_1" }),
            ),
            ("/v1/projects//settings", None),
            ("/projects/a/b/settings", None),
            ("/v1/x", None),
            ("/t", None),
            ("/c/abc", None),
        ] {
            assert_eq!(IngestRoute::from_path(path), want, "{path}");
        }
    }

    #[test]
    fn prefixes_strip_whole_segments_longest_first() {
        let prefixes = parse_path_prefixes(" /t, /t/deep/ ,").unwrap();
        assert_eq!(prefixes, vec!["/t/deep".to_owned(), "/t".to_owned()]);
        assert_eq!(strip_prefix("/t/v1/b", &prefixes), ("/v1/b", "/t"));
        assert_eq!(
            strip_prefix("/t/deep/v1/t", &prefixes),
            ("/v1/t", "/t/deep")
        );
        assert_eq!(strip_prefix("/track", &prefixes), ("/track", ""));
        assert_eq!(strip_prefix("/v1/b", &prefixes), ("/v1/b", ""));
    }

    #[test]
    fn bad_prefixes_are_refused_naming_the_variable() {
        for bad in ["t", "/", "/a/../b", "/a?x=1", "/a b"] {
            let err = parse_path_prefixes(bad).unwrap_err();
            assert_eq!(err.field, "PATH_PREFIXES", "{bad}");
        }
        assert_eq!(parse_path_prefixes("").unwrap(), Vec::<String>::new());
    }
}
