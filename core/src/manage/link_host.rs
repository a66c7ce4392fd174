//! Link hosts: the host names whose `/c/` links and `/.well-known` association files
//! (`apple-app-site-association`, `assetlinks.json`) speak for an app. A host belongs to at most
//! one app (D1 `link_hosts`, primary key `host`).

use crate::error::FieldError;

/// Longest host name (RFC 1035), as D1's CHECK says.
pub const MAX_HOST_CHARS: usize = 253;
/// Longest label between dots.
pub const MAX_HOST_LABEL_CHARS: usize = 63;
/// Link hosts one app may claim.
pub const MAX_LINK_HOSTS_PER_APP: usize = 20;

/// The host as stored (lower case), or why it is not a host name: letters, digits and hyphens
/// in dot-separated labels, no port, no scheme, no trailing dot.
pub fn parse_link_host(raw: &str) -> Result<String, FieldError> {
    let bad = |reason: &str| FieldError::new("host", reason);
    let host = raw.to_ascii_lowercase();
    if host.is_empty() || host.len() > MAX_HOST_CHARS {
        return Err(bad(&format!("must be 1 to {MAX_HOST_CHARS} characters")));
    }
    for label in host.split('.') {
        if label.is_empty() || label.len() > MAX_HOST_LABEL_CHARS {
            return Err(bad(&format!(
                "has an empty label or one longer than {MAX_HOST_LABEL_CHARS} characters"
            )));
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(bad(
                "may hold only letters, digits, hyphens and dots (no scheme, port or path)",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("has a label that starts or ends with a hyphen"));
        }
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_are_lower_cased_and_checked() {
        assert_eq!(
            parse_link_host("Go.Shop.Example").expect("ok"),
            "go.shop.example"
        );
        assert_eq!(parse_link_host("localhost").expect("ok"), "localhost");
        for bad in [
            "",
            "https://go.example",
            "go.example:443",
            "go.example/c",
            "go..example",
            "go.example.",
            "-go.example",
            "go_link.example",
            "gö.example",
        ] {
            assert_eq!(parse_link_host(bad).expect_err(bad).field, "host", "{bad}");
        }
        assert!(parse_link_host(&format!("{}.example", "a".repeat(64))).is_err());
        assert!(parse_link_host("a.".repeat(127).trim_end_matches('.')).is_ok());
        assert!(parse_link_host("ab.".repeat(90).trim_end_matches('.')).is_err());
    }
}
