//! EU residency of the postback attempt log (issue 12 item 8).
//!
//! D1's `postback_attempts` (the log behind `GET /v1/postbacks`) is one database outside any
//! jurisdiction. A journey placed in the EU jurisdiction keeps its full attempt log in its own
//! Durable Object (in the EU); what it copies to D1 holds no personal identifier:
//! - `journey`: its keyed hash, `h:` + [`keyed_hash`](crate::mobile::device::keyed_hash)
//!   (label `journey`, the suppression secret), so an erasure or an export that knows the
//!   journey names still finds the rows, and nobody else can;
//! - `url`: its origin only (`https://network.example/…`): the path and query carry the click
//!   ids, the network's click id, the order id;
//! - `error`: with the URL, and its query, cut out (a fetch error may quote it).
//!
//! Kept: the app, network, conversion id (the conversion event's message id), event name,
//! method, status, outcome, times: what the dashboard and the API filter and show.

use crate::geo::{Jurisdiction, Placement};
use crate::identity::JourneyKey;
use crate::mobile::device::keyed_hash;

/// Marks a hashed journey in the log.
pub const LOGGED_JOURNEY_PREFIX: &str = "h:";
/// The label of journey names in [`keyed_hash`].
pub const JOURNEY_HASH_LABEL: &str = "journey";
/// What replaces the path and query of a logged URL.
pub const REDACTED: &str = "…";

/// Whether a journey placed at `placement` keeps personal data in the EU.
pub fn is_eu(placement: Option<&Placement>) -> bool {
    placement.and_then(|p| p.jurisdiction) == Some(Jurisdiction::Eu)
}

/// The journey column of an EU journey's log rows.
pub fn logged_journey(secret: &[u8], app_id: &str, journey: &str) -> String {
    format!(
        "{LOGGED_JOURNEY_PREFIX}{}",
        keyed_hash(secret, app_id, JOURNEY_HASH_LABEL, journey)
    )
}

/// How a journey is named in the Workers' logs (issue 12, item 7): never its user or
/// anonymous id. With the suppression secret, the same keyed hash the EU postback log uses
/// (so an operator holding the journey's name can find its lines); without one, only the app.
pub fn journey_log_label(secret: Option<&[u8]>, key: &JourneyKey) -> String {
    match secret {
        Some(secret) => logged_journey(secret, &key.app_id, &key.object_name()),
        None => format!("a journey of app {}", key.app_id),
    }
}

/// Every name the log may hold for `journeys` of `app_id`: each as is (journeys outside the EU,
/// rows from before) and hashed (EU journeys), for erasures and exports.
pub fn log_names(secret: Option<&[u8]>, app_id: &str, journeys: &[String]) -> Vec<String> {
    let mut names = journeys.to_vec();
    if let Some(secret) = secret {
        names.extend(journeys.iter().map(|j| logged_journey(secret, app_id, j)));
    }
    names
}

/// The URL's scheme and host (and port), then [`REDACTED`] if it had more; a text that is not
/// a URL becomes [`REDACTED`].
pub fn redacted_url(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url) else {
        return REDACTED.to_owned();
    };
    let origin = parsed.origin().ascii_serialization();
    if origin == "null" {
        return REDACTED.to_owned();
    }
    let rest = &url[url.len().min(origin.len())..];
    if rest.is_empty() || rest == "/" {
        format!("{origin}/")
    } else {
        format!("{origin}/{REDACTED}")
    }
}

/// `error` with `url` and anything of its path or query cut out.
pub fn redacted_error(error: &str, url: &str) -> String {
    let mut out = error.replace(url, &redacted_url(url));
    if let Ok(parsed) = url::Url::parse(url) {
        if let Some(query) = parsed.query().filter(|q| !q.is_empty()) {
            out = out.replace(query, REDACTED);
        }
        let path = parsed.path();
        if path.len() > 1 {
            out = out.replace(path, &format!("/{REDACTED}"));
        }
    }
    out
}

/// The fields of an attempt as D1's log holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedAttempt {
    pub journey: String,
    pub url: String,
    pub error: Option<String>,
}

/// What D1's log holds of an attempt of `journey`: as is, or for an EU journey (`eu_secret`
/// is the suppression secret) the journey's hash, the URL's origin and the error without it.
pub fn logged_attempt(
    eu_secret: Option<&[u8]>,
    app_id: &str,
    journey: &str,
    url: &str,
    error: Option<&str>,
) -> LoggedAttempt {
    match eu_secret {
        None => LoggedAttempt {
            journey: journey.to_owned(),
            url: url.to_owned(),
            error: error.map(str::to_owned),
        },
        Some(secret) => LoggedAttempt {
            journey: logged_journey(secret, app_id, journey),
            url: redacted_url(url),
            error: error.map(|e| redacted_error(e, url)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::OriginRegion;

    const URL: &str = "https://net.example:8443/pb/u-77?click_id=clk_9&gclid=G-1&order=o-5";

    #[test]
    fn a_journey_is_logged_without_its_user_id() {
        let key = crate::identity::JourneyKey::new(
            "shop",
            crate::identity::JourneyKind::User,
            "alice@example.com",
        );
        let hashed = journey_log_label(Some(b"secret"), &key);
        assert!(!hashed.contains("alice"), "{hashed}");
        assert_eq!(
            hashed,
            logged_journey(b"secret", "shop", &key.object_name())
        );
        let bare = journey_log_label(None, &key);
        assert!(!bare.contains("alice"), "{bare}");
        assert!(bare.contains("shop"), "{bare}");
    }

    #[test]
    fn an_eu_journeys_row_holds_no_journey_click_or_order_id() {
        let row = logged_attempt(
            Some(b"secret"),
            "shop",
            "u:shop:alice",
            URL,
            Some(&format!("fetch {URL} failed: connection reset")),
        );
        assert_eq!(row.url, "https://net.example:8443/…");
        assert!(row.journey.starts_with("h:") && !row.journey.contains("alice"));
        assert_eq!(
            row.journey,
            logged_journey(b"secret", "shop", "u:shop:alice")
        );
        let error = row.error.expect("error kept");
        assert!(
            error.starts_with("fetch https://net.example:8443/… failed"),
            "{error}"
        );
        let logged = format!("{} {} {error}", row.journey, row.url);
        for id in ["alice", "u-77", "clk_9", "G-1", "o-5"] {
            assert!(!logged.contains(id), "{id} in {logged}");
        }
    }

    #[test]
    fn a_journey_outside_the_eu_is_logged_as_is() {
        let row = logged_attempt(None, "shop", "u:shop:alice", URL, None);
        assert_eq!(
            row,
            LoggedAttempt {
                journey: "u:shop:alice".into(),
                url: URL.into(),
                error: None
            }
        );
    }

    #[test]
    fn urls_keep_their_origin_only() {
        assert_eq!(redacted_url("https://a.example"), "https://a.example/");
        assert_eq!(redacted_url("https://a.example/"), "https://a.example/");
        assert_eq!(
            redacted_url("http://127.0.0.1:9/x?y=1"),
            "http://127.0.0.1:9/…"
        );
        assert_eq!(redacted_url("not a url"), "…");
        assert_eq!(redacted_url("mailto:alice@example.com"), "…");
    }

    #[test]
    fn eu_is_the_placements_jurisdiction_and_log_names_cover_both_forms() {
        let eu = Placement {
            jurisdiction: Some(Jurisdiction::Eu),
            location_hint: None,
            origin_region: OriginRegion::Eu,
        };
        let global = Placement {
            jurisdiction: None,
            ..eu
        };
        assert!(is_eu(Some(&eu)));
        assert!(!is_eu(Some(&global)) && !is_eu(None));
        let names = log_names(Some(b"s"), "shop", &["u:shop:a".into()]);
        assert_eq!(
            names,
            [
                "u:shop:a".to_owned(),
                logged_journey(b"s", "shop", "u:shop:a")
            ]
        );
        assert_eq!(log_names(None, "shop", &["u:shop:a".into()]), ["u:shop:a"]);
    }
}
