use serde_json::{json, Value};

use super::*;
use crate::testkit::{track, with_context};

fn event_with(context: Value) -> Event {
    with_context(track("m-1", "Order Completed", 0, json!({})), context)
}

fn consent(preferences: Value) -> Consent {
    let event = event_with(json!({"consent": {"categoryPreferences": preferences}}));
    consent_of(&event, &ConsentMapping::default())
}

#[test]
fn without_a_consent_object_an_event_is_treated_as_today() {
    let mapping = ConsentMapping::default();
    for context in [
        json!({}),
        json!({"consent": {}}),
        json!({"consent": {"categoryPreferences": null}}),
        json!({"consent": "yes"}),
    ] {
        assert_eq!(
            consent_of(&event_with(context.clone()), &mapping),
            Consent::Full,
            "{context}"
        );
    }
}

#[test]
fn segment_category_names_by_default() {
    assert_eq!(
        consent(json!({"Analytics": true, "Advertising": true, "Functional": false})),
        Consent::Full
    );
    assert_eq!(
        consent(json!({"Analytics": true, "Advertising": false})),
        Consent::AnalyticsOnly
    );
    assert_eq!(
        consent(json!({"Analytics": false, "Advertising": true})),
        Consent::Refused,
        "advertising without analytics still stores nothing"
    );
    assert_eq!(
        consent(json!({"Analytics": false, "Advertising": false})),
        Consent::Refused
    );
}

#[test]
fn a_purpose_is_consented_only_by_an_explicit_true() {
    assert_eq!(consent(json!({"Analytics": true})), Consent::AnalyticsOnly);
    assert_eq!(consent(json!({})), Consent::Refused);
    assert_eq!(
        consent(json!({"Analytics": "true", "Advertising": 1})),
        Consent::Refused
    );
    assert_eq!(
        consent(json!({"analytics": true, "advertising": true})),
        Consent::Refused,
        "category names are case-sensitive, as CMPs send them"
    );
    assert_eq!(
        consent(json!(["Analytics", "Advertising"])),
        Consent::Refused
    );
    assert_eq!(consent(json!("all")), Consent::Refused);
}

#[test]
fn an_app_maps_its_own_category_names() {
    let onetrust = ConsentMapping {
        analytics: "C0002".into(),
        advertising: "C0004".into(),
    };
    let event = |prefs: Value| event_with(json!({"consent": {"categoryPreferences": prefs}}));
    assert_eq!(
        consent_of(&event(json!({"C0002": true, "C0004": true})), &onetrust),
        Consent::Full
    );
    assert_eq!(
        consent_of(&event(json!({"C0002": true, "C0004": false})), &onetrust),
        Consent::AnalyticsOnly
    );
    assert_eq!(
        consent_of(
            &event(json!({"Analytics": true, "Advertising": true})),
            &onetrust
        ),
        Consent::Refused
    );
}

#[test]
fn the_mapping_parses_with_defaults_and_names_bad_fields() {
    assert_eq!(
        ConsentMapping::parse(&json!({})).expect("defaults"),
        ConsentMapping::default()
    );
    assert_eq!(
        ConsentMapping::parse(&json!({"advertising": "C0004"})).expect("one set"),
        ConsentMapping {
            analytics: "Analytics".into(),
            advertising: "C0004".into()
        }
    );
    for (value, field) in [
        (json!("Analytics"), "consent"),
        (json!({"marketing": "x"}), "consent.marketing"),
        (json!({"analytics": ""}), "consent.analytics"),
        (json!({"analytics": "  "}), "consent.analytics"),
        (json!({"advertising": 4}), "consent.advertising"),
        (
            json!({"advertising": "x".repeat(101)}),
            "consent.advertising",
        ),
    ] {
        let err = ConsentMapping::parse(&value).expect_err(&value.to_string());
        assert_eq!(err.field, field, "{value}: {err}");
    }
}

#[test]
fn the_advertising_verdict_is_an_ingest_stage_reason_that_is_not_fraud() {
    let flag = no_advertising_flag(&ConsentMapping::default());
    assert_eq!(flag.reason, Reason::NoAdvertisingConsent);
    assert_eq!(flag.reason.as_str(), "no_advertising_consent");
    assert_eq!(flag.reason.stage(), crate::fraud::Stage::Ingest);
    assert!(!flag.reason.is_fraud());
    assert!(flag.detail.contains("Advertising"));
}
