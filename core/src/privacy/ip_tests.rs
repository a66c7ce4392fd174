use serde_json::{json, Value};

use super::*;
use crate::testkit::{track, with_context};

const SECRET: &[u8] = b"test-ip-secret";

fn event_with(context: Value) -> Event {
    with_context(track("m-1", "Viewed", 0, json!({})), context)
}

fn kept(raw: &str, handling: IpHandling) -> Option<String> {
    handled(raw, handling, Some(SECRET), "app")
}

#[test]
fn ipv4_is_truncated_to_its_24() {
    assert_eq!(
        kept("203.0.113.77", IpHandling::Truncate).as_deref(),
        Some("203.0.113.0")
    );
    assert_eq!(
        kept(" 10.1.2.255 ", IpHandling::Truncate).as_deref(),
        Some("10.1.2.0")
    );
    assert_eq!(
        kept("255.255.255.255", IpHandling::Truncate).as_deref(),
        Some("255.255.255.0")
    );
}

#[test]
fn ipv6_is_truncated_to_its_48() {
    assert_eq!(
        kept(
            "2001:db8:1234:5678:9abc:def0:1234:5678",
            IpHandling::Truncate
        )
        .as_deref(),
        Some("2001:db8:1234::")
    );
    assert_eq!(
        kept("2001:DB8:ABCD:FFFF::1", IpHandling::Truncate).as_deref(),
        Some("2001:db8:abcd::")
    );
    assert_eq!(kept("::1", IpHandling::Truncate).as_deref(), Some("::"));
}

#[test]
fn an_ipv4_mapped_ipv6_address_is_its_ipv4_address() {
    assert_eq!(
        kept("::ffff:198.51.100.23", IpHandling::Truncate).as_deref(),
        Some("198.51.100.0")
    );
    assert_eq!(
        kept("::ffff:198.51.100.23", IpHandling::Hash),
        kept("198.51.100.23", IpHandling::Hash),
        "one client, one hash, however its address was written"
    );
}

#[test]
fn garbage_is_removed_in_every_mode() {
    for garbage in [
        "",
        "   ",
        "not an ip",
        "203.0.113",
        "203.0.113.7:443",
        "[2001:db8::1]",
        "fe80::1%eth0",
        "1.2.3.4, 5.6.7.8",
        "999.1.1.1",
    ] {
        for handling in [IpHandling::Truncate, IpHandling::Drop, IpHandling::Hash] {
            assert_eq!(
                kept(garbage, handling),
                None,
                "{garbage:?} under {handling:?}"
            );
        }
    }
}

#[test]
fn drop_keeps_nothing() {
    assert_eq!(kept("203.0.113.7", IpHandling::Drop), None);
    assert_eq!(kept("2001:db8::1", IpHandling::Drop), None);
}

#[test]
fn hash_is_keyed_by_the_secret_and_the_app() {
    let a = handled("203.0.113.7", IpHandling::Hash, Some(SECRET), "app-a");
    let a_again = handled("203.0.113.7", IpHandling::Hash, Some(SECRET), "app-a");
    let other_app = handled("203.0.113.7", IpHandling::Hash, Some(SECRET), "app-b");
    let other_secret = handled("203.0.113.7", IpHandling::Hash, Some(b"other"), "app-a");
    let neighbour = handled("203.0.113.8", IpHandling::Hash, Some(SECRET), "app-a");
    let a = a.expect("hashed");
    assert!(a.starts_with(HASHED_IP_PREFIX));
    assert_eq!(a.len(), HASHED_IP_PREFIX.len() + 64);
    assert!(!a.contains("203.0.113"));
    assert_eq!(Some(&a), a_again.as_ref());
    for other in [other_app, other_secret, neighbour] {
        assert_ne!(Some(&a), other.as_ref());
    }
}

#[test]
fn hash_without_a_secret_keeps_nothing() {
    assert_eq!(handled("203.0.113.7", IpHandling::Hash, None, "app"), None);
}

#[test]
fn apply_to_event_rewrites_or_removes_context_ip_and_nothing_else() {
    let mut truncated = event_with(json!({"ip": "203.0.113.7", "locale": "en"}));
    apply_to_event(&mut truncated, IpHandling::Truncate, None, "app");
    assert_eq!(truncated.context["ip"], "203.0.113.0");
    assert_eq!(truncated.context["locale"], "en");

    let mut dropped = event_with(json!({"ip": "203.0.113.7", "locale": "en"}));
    apply_to_event(&mut dropped, IpHandling::Drop, Some(SECRET), "app");
    assert!(!dropped.context.contains_key("ip"));
    assert_eq!(dropped.context["locale"], "en");

    let mut not_a_string = event_with(json!({"ip": {"v4": "203.0.113.7"}}));
    apply_to_event(&mut not_a_string, IpHandling::Truncate, None, "app");
    assert!(!not_a_string.context.contains_key("ip"));

    let mut none = event_with(json!({"locale": "en"}));
    apply_to_event(&mut none, IpHandling::Hash, Some(SECRET), "app");
    assert!(!none.context.contains_key("ip"));
}

#[test]
fn names_round_trip() {
    for handling in [IpHandling::Truncate, IpHandling::Drop, IpHandling::Hash] {
        assert_eq!(IpHandling::parse(handling.as_str()), Some(handling));
        assert_eq!(
            serde_json::to_value(handling).expect("serializes"),
            json!(handling.as_str())
        );
    }
    assert_eq!(IpHandling::parse("TRUNCATE"), None);
    assert_eq!(IpHandling::default(), IpHandling::Truncate);
}
