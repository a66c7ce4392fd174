//! Where the platform may send requests that an app configures: postbacks and tracking-link
//! redirects (issue 13, finding 6).
//!
//! An app owner (or anyone holding a manage key) chooses these URLs, and end users choose the
//! macro values inside them. So: macros may sit only in the path and query (never the scheme,
//! user info, host or port: a value cannot pick where the request goes), and the host must be a
//! public DNS name: no IP literals (every private, link-local and metadata range is one), no
//! `localhost`, no single-label or reserved local names. Loopback (`localhost`, `127.0.0.0/8`,
//! `::1`) is allowed only under [`Targets::AllowLoopback`], which local runs and tests set
//! (`ALLOW_LOOPBACK_TARGETS`). Names that resolve to private addresses cannot be caught
//! without DNS; Cloudflare's `fetch` does not reach private networks from a Worker, and
//! redirects are never followed, so the name in the template is the host that gets the request.

use url::{Host, Url};

/// Which hosts outbound requests may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Targets {
    /// Public DNS names only (production).
    PublicOnly,
    /// Public names, and loopback for local runs and tests.
    AllowLoopback,
}

impl Targets {
    /// From the `ALLOW_LOOPBACK_TARGETS` variable: `1` or `true` allow loopback.
    pub fn from_flag(flag: Option<&str>) -> Targets {
        match flag.map(str::trim) {
            Some("1" | "true") => Targets::AllowLoopback,
            _ => Targets::PublicOnly,
        }
    }
}

/// Suffixes of names that never resolve on the public internet.
const LOCAL_SUFFIXES: [&str; 8] = [
    ".localhost",
    ".localdomain",
    ".local",
    ".internal",
    ".intranet",
    ".lan",
    ".home.arpa",
    ".corp",
];

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Checks the host of `url` against `targets`.
pub fn check_host(url: &Url, targets: Targets) -> Result<(), String> {
    let host = url.host().ok_or_else(|| "must have a host".to_string())?;
    if is_loopback(&host) {
        return match targets {
            Targets::AllowLoopback => Ok(()),
            Targets::PublicOnly => Err("must not point at loopback (localhost)".into()),
        };
    }
    match host {
        Host::Ipv4(_) | Host::Ipv6(_) => Err("must name a public host, not an IP address".into()),
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if !name.contains('.') {
                return Err(format!("host {name:?} is not a public DNS name"));
            }
            if LOCAL_SUFFIXES.iter().any(|s| name.ends_with(s)) {
                return Err(format!("host {name:?} is a local name"));
            }
            Ok(())
        }
    }
}

/// Checks a URL the platform will send to or redirect to: `http`/`https` and a permitted host.
pub fn check_url(url: &str, targets: Targets) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("is not an absolute URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry user information".into());
    }
    check_host(&parsed, targets)?;
    Ok(parsed)
}

/// A tracking link's destination: `https`, or `http` to loopback under
/// [`Targets::AllowLoopback`] (local tests). Any public host (it is where people are sent).
pub fn check_link_destination(url: &str, targets: Targets) -> Result<(), String> {
    let parsed = Url::parse(url).map_err(|e| format!("is not an absolute URL ({e})"))?;
    match parsed.scheme() {
        "https" => {}
        "http"
            if targets == Targets::AllowLoopback
                && parsed.host().is_some_and(|h| is_loopback(&h)) => {}
        "http" => return Err("must be https (http only for loopback in local runs)".into()),
        _ => return Err("must be an https URL".into()),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry user information".into());
    }
    if parsed.host().is_none() {
        return Err("must have a host".into());
    }
    Ok(())
}

/// The fixed part of a template before its first `{`: it must hold the whole scheme and
/// authority, ending where the path or query starts, so no macro can change the host.
pub fn check_macro_placement(template: &str) -> Result<(), String> {
    let Some(first) = template.find('{') else {
        return Ok(());
    };
    let prefix = &template[..first];
    let after_scheme = prefix
        .find("://")
        .map(|i| &prefix[i + 3..])
        .ok_or_else(|| "may place macros only in the path and query".to_string())?;
    let authority_end = after_scheme.find(['/', '?']);
    match authority_end {
        Some(end) if end > 0 && !after_scheme[..end].contains('#') => {}
        _ => return Err("may place macros only in the path and query".into()),
    }
    // A fragment is never sent: macros after one would be silently lost.
    if let Some(hash) = template.find('#') {
        if template[hash..].contains('{') {
            return Err("may place macros only in the path and query, not the fragment".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postback::template::validate;

    /// Issue 13, finding 6: end-user data chose the host when macros came before the path.
    #[test]
    fn finding_6_macros_only_in_path_and_query() {
        let ok = validate(
            "https://net.example/pb/{network}?c={click_id}",
            Targets::PublicOnly,
        );
        assert_eq!(ok, Ok(()));
        for bad in [
            "https://{source}.example/pb",
            "https://{source}/pb",
            "https://net.example:{revenue}/pb",
            "https://{campaign}@net.example/pb",
            "{source}://net.example/pb",
            "https://net.example{campaign}/pb",
            "https://net.example/pb#{click_id}",
        ] {
            let err = validate(bad, Targets::AllowLoopback).expect_err(bad);
            assert!(err.contains("path and query"), "{bad}: {err}");
        }
    }

    /// Issue 13, finding 6: no block on private addresses.
    #[test]
    fn finding_6_hosts_must_be_public_names() {
        for bad in [
            "http://10.0.0.1/pb",
            "http://192.168.1.1/pb",
            "http://169.254.169.254/latest/meta-data",
            "http://[fd00::1]/pb",
            "http://0x7f000001/pb",
            "http://2130706433/pb",
            "http://localhost/pb",
            "http://127.0.0.1:8080/pb",
            "http://[::1]/pb",
            "http://metadata/pb",
            "http://printer.local/pb",
            "http://db.internal/pb",
            "http://x.localhost/pb",
            "http://localhost.localdomain/pb",
            "https://user:pw@net.example/pb",
        ] {
            assert!(
                validate(bad, Targets::PublicOnly).is_err(),
                "{bad} accepted"
            );
        }
        // Loopback only when the deployment allows it (local runs and tests); private ranges never.
        assert_eq!(
            validate("http://127.0.0.1:9/pb?c={click_id}", Targets::AllowLoopback),
            Ok(())
        );
        assert_eq!(
            validate("http://localhost:9/pb", Targets::AllowLoopback),
            Ok(())
        );
        assert!(validate("http://10.1.2.3/pb", Targets::AllowLoopback).is_err());
        assert!(validate("http://169.254.169.254/", Targets::AllowLoopback).is_err());
        assert_eq!(
            validate("https://postbacks.net.example/pb", Targets::PublicOnly),
            Ok(())
        );
    }

    #[test]
    fn link_destinations_are_https_or_loopback_http() {
        assert_eq!(
            check_link_destination("https://shop.example/x?y=1", Targets::PublicOnly),
            Ok(())
        );
        assert!(check_link_destination("http://shop.example/", Targets::PublicOnly).is_err());
        assert!(check_link_destination("http://shop.example/", Targets::AllowLoopback).is_err());
        assert!(check_link_destination("http://127.0.0.1:8/", Targets::PublicOnly).is_err());
        assert_eq!(
            check_link_destination("http://127.0.0.1:8/", Targets::AllowLoopback),
            Ok(())
        );
        assert!(check_link_destination("javascript:alert(1)", Targets::AllowLoopback).is_err());
        assert!(check_link_destination("https://u:p@shop.example/", Targets::PublicOnly).is_err());
    }

    #[test]
    fn the_flag_allows_loopback_only_when_set() {
        assert_eq!(Targets::from_flag(Some("1")), Targets::AllowLoopback);
        assert_eq!(Targets::from_flag(Some("true")), Targets::AllowLoopback);
        assert_eq!(Targets::from_flag(Some("0")), Targets::PublicOnly);
        assert_eq!(Targets::from_flag(None), Targets::PublicOnly);
    }
}
