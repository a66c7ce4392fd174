use super::*;
use crate::identity::new_click_id;
use crate::testkit::*;
use serde_json::json;

fn classified(event: &Event) -> Touch {
    classify(event).expect("a touch").touch
}

#[test]
fn utm_parameters_make_a_campaign_touch() {
    let t = classified(&page(
        "p",
        0,
        "https://shop.example/?utm_source=Google&utm_medium=CPC&utm_campaign=Spring+Sale&utm_term=shoes",
        None,
    ));
    assert_eq!(
        (t.source.as_str(), t.medium.as_str(), t.campaign.as_str()),
        ("google", "cpc", "Spring Sale")
    );
    assert_eq!((t.channel, t.kind), (Channel::PaidSearch, TouchKind::Click));
    assert_eq!(t.term.as_deref(), Some("shoes"));
}

#[test]
fn context_campaign_wins_over_the_url() {
    let e = with_context(
        page("p", 0, "https://shop.example/?utm_source=url", None),
        json!({"campaign": {"source": "newsletter", "medium": "email", "name": "weekly"},
               "page": {"url": "https://shop.example/?utm_source=url"}}),
    );
    let t = classified(&e);
    assert_eq!(
        (t.source.as_str(), t.channel),
        ("newsletter", Channel::Email)
    );
}

#[test]
fn ad_click_ids_name_the_network() {
    for (param, source, channel) in [
        ("gclid", "google", Channel::PaidSearch),
        ("fbclid", "facebook", Channel::PaidSocial),
        ("msclkid", "bing", Channel::PaidSearch),
        ("ttclid", "tiktok", Channel::PaidSocial),
    ] {
        let t = classified(&page(
            "p",
            0,
            &format!("https://shop.example/?{param}=XYZ"),
            None,
        ));
        assert_eq!((t.source.as_str(), t.channel), (source, channel), "{param}");
        assert_eq!(t.ad_click_id, Some(format!("{param}:XYZ")));
    }
}

#[test]
fn referrers_are_search_social_or_referral() {
    let cases = [
        (
            "https://www.google.co.uk/search?q=x",
            Channel::OrganicSearch,
            "google",
        ),
        ("https://t.co/abc", Channel::OrganicSocial, "twitter"),
        (
            "https://blog.example.org/post",
            Channel::Referral,
            "blog.example.org",
        ),
    ];
    for (referrer, channel, source) in cases {
        let t = classified(&page("p", 0, "https://shop.example/", Some(referrer)));
        assert_eq!(
            (t.channel, t.source.as_str()),
            (channel, source),
            "{referrer}"
        );
    }
}

#[test]
fn internal_navigation_is_not_a_touch() {
    let e = page(
        "p",
        0,
        "https://shop.example/b",
        Some("https://www.shop.example/a"),
    );
    assert!(classify(&e).is_none());
}

#[test]
fn no_campaign_no_referrer_is_a_direct_visit() {
    let c = classify(&page("p", 0, "https://shop.example/", None)).expect("touch");
    assert_eq!(c.recording, Recording::OnlyNewVisit);
    assert_eq!(c.touch.channel, Channel::Direct);
}

#[test]
fn landing_page_of_a_tracking_link_defers_to_the_click() {
    let click_id = new_click_id([9; 16]);
    let e = page(
        "p",
        0,
        &format!("https://shop.example/?utm_source=x&click_id={click_id}"),
        None,
    );
    assert!(classify(&e).is_none());
}

#[test]
fn plain_track_calls_are_not_touches() {
    assert!(classify(&track("t", "Added to Cart", 0, json!({}))).is_none());
    let deep_link = with_context(
        track("t", "Deep Link Opened", 0, json!({})),
        json!({"campaign": {"source": "braze", "medium": "push"}}),
    );
    assert_eq!(classified(&deep_link).source, "braze");
}

#[test]
fn tracking_link_events_carry_the_link_fields() {
    let click_id = new_click_id([3; 16]);
    let e = with_properties(
        crate::testkit::event("m", EventType::Click, 0),
        json!({"link_id": "spring", "click_id": click_id, "source": "Meta", "medium": "paid_social", "campaign": "c1"}),
    );
    let c = classify(&e).expect("touch");
    assert_eq!(c.recording, Recording::Always);
    assert_eq!(c.touch.touch_id, click_id);
    assert_eq!(
        (c.touch.source.as_str(), c.touch.channel),
        ("meta", Channel::PaidSocial)
    );
    let view = with_properties(
        crate::testkit::event("m2", EventType::Impression, 0),
        json!({"link_id": "spring", "source": "dsp", "medium": "display"}),
    );
    let v = classify(&view).expect("touch").touch;
    assert_eq!((v.kind, v.touch_id.as_str()), (TouchKind::View, "m2"));
}

#[test]
fn absurdly_long_utm_values_are_cut_not_rejected() {
    let long = "a".repeat(5_000);
    let t = classified(&page(
        "p",
        0,
        &format!("https://s.example/?utm_source={long}"),
        None,
    ));
    assert_eq!(
        t.source.chars().count(),
        crate::limits::MAX_CAMPAIGN_FIELD_CHARS
    );
}
