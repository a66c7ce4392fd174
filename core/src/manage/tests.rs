use serde_json::json;

use super::*;
use crate::keys::KeyKind;
use crate::postback::target::Targets;
use crate::privacy::consent::ConsentMapping;
use crate::privacy::ip::IpHandling;

#[test]
fn settings_patch_merges_validates_and_names_the_field() {
    let doc = SettingsDoc::parse(&json!({})).expect("defaults");
    let patched = doc
        .patched(
            &json!({"click_window_secs": 3600, "default_model": "linear",
            "fraud_rules": {"click_injection": {"min_ctit_secs": 5}}}),
        )
        .expect("valid");
    assert_eq!(patched.click_window_secs, 3600);
    assert_eq!(patched.view_window_secs, doc.view_window_secs);
    assert_eq!(patched.fraud_rules.click_injection.min_ctit_secs, 5);
    // null resets a field to its default.
    let reset = patched
        .patched(&json!({"click_window_secs": null}))
        .expect("reset");
    assert_eq!(reset.click_window_secs, doc.click_window_secs);
    for (patch, field) in [
        (json!({"click_window_secs": 0}), "click_window_secs"),
        (json!({"click_window_secs": "1h"}), "click_window_secs"),
        (json!({"click_window_secs": -1}), "click_window_secs"),
        (json!({"default_model": "best"}), "default_model"),
        (json!({"residency": "mars"}), "residency"),
        (json!({"conversion_events": [""]}), "conversion_events"),
        (
            json!({"conversion_events": "Signed Up"}),
            "conversion_events",
        ),
        (json!({"colour": "blue"}), "colour"),
        (json!({"fraud_rules": {"nope": 1}}), "fraud_rules"),
        (
            json!({"fraud_rules": {"timestamps": {"max_future_secs": 1}}}),
            "fraud_rules.timestamps.max_future_secs",
        ),
        (json!([1]), "body"),
        (json!({"reporting_currency": "euro"}), "reporting_currency"),
        (json!({"reporting_currency": 978}), "reporting_currency"),
    ] {
        let err = doc.patched(&patch).expect_err(&patch.to_string());
        assert_eq!(err.field, field, "{patch}: {err}");
    }
}

#[test]
fn reporting_currency_defaults_to_none_and_resets_with_null() {
    let doc = SettingsDoc::parse(&json!({})).expect("defaults");
    assert_eq!(doc.reporting_currency, None);
    let set = doc
        .patched(&json!({"reporting_currency": "USD"}))
        .expect("set");
    assert_eq!(set.reporting_currency.as_deref(), Some("USD"));
    let reset = set
        .patched(&json!({"reporting_currency": null}))
        .expect("reset");
    assert_eq!(reset.reporting_currency, None);
}

#[test]
fn ip_handling_defaults_to_truncate_is_checked_and_resets_with_null() {
    let doc = SettingsDoc::parse(&json!({})).expect("defaults");
    assert_eq!(doc.ip_handling, IpHandling::Truncate);
    for mode in [IpHandling::Drop, IpHandling::Hash, IpHandling::Truncate] {
        let set = doc
            .patched(&json!({"ip_handling": mode.as_str()}))
            .expect("a known mode");
        assert_eq!(set.ip_handling, mode);
        assert_eq!(set.settings("app").ip_handling, mode, "reaches the edge");
    }
    let hashed = doc.patched(&json!({"ip_handling": "hash"})).expect("hash");
    let reset = hashed
        .patched(&json!({"ip_handling": null}))
        .expect("reset");
    assert_eq!(reset.ip_handling, IpHandling::Truncate);
    for bad in [
        json!("anonymize"),
        json!("HASH"),
        json!(""),
        json!(1),
        json!(["drop"]),
    ] {
        let err = doc
            .patched(&json!({ "ip_handling": bad }))
            .expect_err("refused");
        assert_eq!(err.field, "ip_handling", "{bad}: {err}");
        assert!(err.reason.contains("truncate, drop or hash"), "{err}");
    }
}

#[test]
fn consent_mapping_defaults_to_segment_names_merges_and_names_bad_fields() {
    let doc = SettingsDoc::parse(&json!({})).expect("defaults");
    assert_eq!(doc.consent, ConsentMapping::default());
    assert_eq!(doc.consent.analytics, "Analytics");
    assert_eq!(doc.consent.advertising, "Advertising");
    let set = doc
        .patched(&json!({"consent": {"advertising": "C0004"}}))
        .expect("one purpose");
    assert_eq!(
        (
            set.consent.analytics.as_str(),
            set.consent.advertising.as_str()
        ),
        ("Analytics", "C0004")
    );
    assert_eq!(set.settings("app").consent, set.consent, "reaches the edge");
    let both = set
        .patched(&json!({"consent": {"analytics": "C0002"}}))
        .expect("merged");
    assert_eq!(
        (
            both.consent.analytics.as_str(),
            both.consent.advertising.as_str()
        ),
        ("C0002", "C0004")
    );
    let one_reset = both
        .patched(&json!({"consent": {"advertising": null}}))
        .expect("reset one");
    assert_eq!(one_reset.consent.advertising, "Advertising");
    let reset = both.patched(&json!({"consent": null})).expect("reset");
    assert_eq!(reset.consent, ConsentMapping::default());
    for (patch, field) in [
        (json!({"consent": "Analytics"}), "consent"),
        (json!({"consent": {"marketing": "x"}}), "consent.marketing"),
        (json!({"consent": {"analytics": ""}}), "consent.analytics"),
        (
            json!({"consent": {"advertising": 4}}),
            "consent.advertising",
        ),
    ] {
        let err = doc.patched(&patch).expect_err(&patch.to_string());
        assert_eq!(err.field, field, "{patch}: {err}");
    }
}

#[test]
fn merge_patch_follows_rfc_7396() {
    let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
    merge_patch(&mut target, &json!({"a": "z", "c": {"f": null}}));
    assert_eq!(target, json!({"a": "z", "c": {"d": "e"}}));
    let mut target = json!({"a": [1]});
    merge_patch(&mut target, &json!({"a": [2, 3], "b": {"c": null}}));
    assert_eq!(target, json!({"a": [2, 3], "b": {}}));
}

#[test]
fn apps_keys_and_ids_are_checked() {
    assert_eq!(
        AppInput::parse(&json!({"name": "Shop"})).expect("ok"),
        AppInput {
            id: None,
            name: "Shop".into()
        }
    );
    assert_eq!(
        AppInput::parse(&json!({"id": "a:b", "name": "x"}))
            .expect_err("colon")
            .field,
        "id"
    );
    assert_eq!(
        AppInput::parse(&json!({"id": "ok"}))
            .expect_err("name")
            .field,
        "name"
    );
    assert_eq!(
        AppInput::parse(&json!({"name": " "}))
            .expect_err("blank")
            .field,
        "name"
    );
    let req = KeyRequest::parse(&json!({"kind": "manage", "label": "ci"})).expect("ok");
    assert_eq!(req.kind, KeyKind::Manage);
    assert_eq!(req.class, None);
    assert_eq!(
        KeyRequest::parse(&json!({"kind": "admin"}))
            .expect_err("kind")
            .field,
        "kind"
    );
    assert_eq!(
        KeyRequest::parse_rotation(&json!({})),
        Ok(DEFAULT_ROTATION_OVERLAP_SECS)
    );
    assert_eq!(
        KeyRequest::parse_rotation(&json!({"overlap_secs": MAX_ROTATION_OVERLAP_SECS + 1}))
            .expect_err("long")
            .field,
        "overlap_secs"
    );
    assert_eq!(parse_version("If-Match", "\"7\""), Ok(7));
    assert_eq!(parse_version("version", "7"), Ok(7));
    assert!(parse_version("If-Match", "*").is_err());
}

#[test]
fn links_need_https_destinations_and_keep_their_id() {
    let link = LinkInput::parse(
        &json!({"id": "spring", "destination_url": "https://shop.example/x", "source": "nl"}),
        Targets::PublicOnly,
    )
    .expect("ok");
    let err = LinkInput::parse(
        &json!({"destination_url": "http://shop.example/"}),
        Targets::PublicOnly,
    )
    .expect_err("http");
    assert_eq!(err.field, "destination_url");
    let moved = link
        .patched(
            &json!({"campaign": "summer", "source": null}),
            Targets::PublicOnly,
        )
        .expect("patched");
    assert_eq!(moved.campaign.as_deref(), Some("summer"));
    assert_eq!(moved.source, None);
    assert_eq!(
        link.patched(&json!({"id": "other"}), Targets::PublicOnly)
            .expect_err("id")
            .field,
        "id"
    );
}

#[test]
fn postbacks_are_checked_as_the_edge_checks_them() {
    let pb = PostbackInput::parse(
        &json!({"network": "newsy", "url": "https://pb.newsy.example/c?id={click_id}"}),
        Targets::PublicOnly,
    )
    .expect("ok");
    assert!(pb.enabled);
    for (body, field) in [
        (
            json!({"network": "Newsy", "url": "https://n.example/"}),
            "network",
        ),
        (
            json!({"network": "n", "url": "https://{source}.example/"}),
            "url",
        ),
        (json!({"network": "n", "url": "http://10.0.0.1/"}), "url"),
        (
            json!({"network": "n", "url": "https://n.example/", "method": "PUT"}),
            "method",
        ),
        (json!({"network": "n"}), "url"),
    ] {
        let err = PostbackInput::parse(&body, Targets::PublicOnly).expect_err(&body.to_string());
        assert_eq!(err.field, field, "{body}: {err}");
    }
    let off = pb
        .patched(&json!({"enabled": false}), Targets::PublicOnly)
        .expect("off");
    assert!(!off.enabled);
}

#[test]
fn write_keys_have_a_class_client_by_default() {
    use crate::keys::WriteKeyClass;
    let class = |body: serde_json::Value| KeyRequest::parse(&body).map(|r| r.class);
    assert_eq!(
        class(json!({"kind": "write"})),
        Ok(Some(WriteKeyClass::Client))
    );
    assert_eq!(
        class(json!({"kind": "write", "class": "server"})),
        Ok(Some(WriteKeyClass::Server))
    );
    assert_eq!(
        class(json!({"kind": "write", "class": null})),
        Ok(Some(WriteKeyClass::Client))
    );
    for bad in [
        json!({"kind": "write", "class": "backend"}),
        json!({"kind": "write", "class": 1}),
        json!({"kind": "read", "class": "server"}),
        json!({"kind": "manage", "class": "client"}),
    ] {
        assert_eq!(class(bad).expect_err("class").field, "class");
    }
}
