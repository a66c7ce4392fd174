use serde_json::{json, Map};
use url::Url;

use crate::event::{Event, EventType};
use crate::identity::new_click_id;
use crate::mobile::association::{apple_app_site_association, asset_links};
use crate::mobile::device::{
    hashed, ids_from_event, ids_from_query, usable, DeviceIdKind, DeviceTouch, TouchKind,
};
use crate::mobile::referrer::{click_id_from_referrer, install_click_id, link_id_from_referrer};
use crate::mobile::routing::{destination, Platform};
use crate::mobile::settings::{
    parse_mobile_settings, validate_link_mobile, LinkMobile, MobileSettings,
};
use crate::mobile::waterfall::{match_install, InstallMatch};

const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36";
const DESKTOP: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";

fn link() -> LinkMobile {
    LinkMobile {
        ios_url: Some("https://apps.apple.com/app/id123456789".into()),
        android_url: Some("https://play.google.com/store/apps/details?id=com.shop.app".into()),
        deep_link: Some("shop://product/42".into()),
        deep_link_params: Map::new(),
    }
}

fn install(context: serde_json::Value) -> Event {
    Event {
        message_id: "m1".into(),
        event_type: EventType::Track,
        user_id: None,
        anonymous_id: Some("a1".into()),
        previous_id: None,
        group_id: None,
        name: Some("Application Installed".into()),
        timestamp_ms: 0,
        original_timestamp_ms: None,
        sent_at_ms: None,
        received_at_ms: 0,
        context: context.as_object().cloned().unwrap_or_default(),
        properties: Map::new(),
        traits: Map::new(),
    }
}

#[test]
fn user_agents_pick_the_store() {
    assert_eq!(Platform::of_user_agent(Some(IPHONE)), Platform::Ios);
    assert_eq!(Platform::of_user_agent(Some(ANDROID)), Platform::Android);
    assert_eq!(Platform::of_user_agent(Some(DESKTOP)), Platform::Other);
    assert_eq!(Platform::of_user_agent(None), Platform::Other);
}

#[test]
fn the_play_url_carries_the_click_id_in_its_referrer_and_it_parses_back() {
    let web = Url::parse("https://shop.example/l").unwrap();
    let id = new_click_id([7; 16]);
    let play = destination(Platform::Android, &web, &link(), "click_id", &id, "spring");
    assert!(
        play.as_str()
            .contains(&format!("referrer=click_id%3D{id}%26link_id%3Dspring")),
        "{play}"
    );
    let referrer = play
        .query_pairs()
        .find(|(k, _)| k == "referrer")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(click_id_from_referrer(&referrer), Some(id.clone()));
    assert_eq!(link_id_from_referrer(&referrer).as_deref(), Some("spring"));
    // Handed back still encoded, or inside an SDK's referrer object.
    assert_eq!(
        click_id_from_referrer(&format!("click_id%3D{id}%26utm_source%3Dx")),
        Some(id.clone())
    );
    let event = install(json!({"referrer": {"type": "google_play", "url": referrer}}));
    assert_eq!(install_click_id(&event), Some(id.clone()));
    let event = install(json!({"referrer": format!("utm_source=x&click_id={id}")}));
    assert_eq!(install_click_id(&event), Some(id));
    assert_eq!(click_id_from_referrer("click_id=not-ours"), None);
}

#[test]
fn ios_goes_to_the_app_store_unchanged_and_desktop_to_the_web_with_the_click_id() {
    let web = Url::parse("https://shop.example/l?x=1").unwrap();
    let id = new_click_id([1; 16]);
    let ios = destination(Platform::Ios, &web, &link(), "click_id", &id, "l");
    assert_eq!(ios.as_str(), "https://apps.apple.com/app/id123456789");
    let desk = destination(Platform::Other, &web, &link(), "click_id", &id, "l");
    assert_eq!(
        desk.as_str(),
        format!("https://shop.example/l?x=1&click_id={id}")
    );
    let no_store = destination(
        Platform::Ios,
        &web,
        &LinkMobile::default(),
        "click_id",
        &id,
        "l",
    );
    assert_eq!(no_store.host_str(), Some("shop.example"));
}

#[test]
fn zeroed_and_unfilled_advertising_ids_are_never_used() {
    assert!(usable(
        DeviceIdKind::Advertising,
        "00000000-0000-0000-0000-000000000000"
    )
    .is_none());
    assert!(usable(DeviceIdKind::Advertising, "{idfa}").is_none());
    assert!(usable(DeviceIdKind::Advertising, "__IDFA__").is_none());
    assert!(usable(DeviceIdKind::Advertising, "").is_none());
    let id = usable(
        DeviceIdKind::Advertising,
        " 6D92078A-8246-4BA4-AE5B-76104861E7DC ",
    )
    .unwrap();
    assert_eq!(id.value, "6d92078a-8246-4ba4-ae5b-76104861e7dc");
}

#[test]
fn an_advertising_id_from_the_sdk_needs_tracking_allowed() {
    let idfa = "6D92078A-8246-4BA4-AE5B-76104861E7DC";
    let allowed = install(json!({"device": {"advertisingId": idfa, "adTrackingEnabled": true}}));
    assert_eq!(ids_from_event(&allowed).len(), 1);
    let denied = install(json!({"device": {"advertisingId": idfa, "adTrackingEnabled": false}}));
    assert!(ids_from_event(&denied).is_empty());
    let unsaid = install(json!({"device": {"advertisingId": idfa}}));
    assert!(ids_from_event(&unsaid).is_empty());
}

#[test]
fn click_query_ids_one_per_kind() {
    let pairs = [
        ("gps_adid", "00000000-0000-0000-0000-000000000000"),
        ("gaid", "abc-1"),
        ("idfv", "v-1"),
    ];
    let ids = ids_from_query(pairs.iter().map(|(k, v)| (*k, *v)));
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0].value, "abc-1");
    assert_eq!(ids[1].kind, DeviceIdKind::Vendor);
}

#[test]
fn advertising_id_click_parameter_is_used_and_unfilled_macros_are_not() {
    let gaid = "38400000-8cf0-11bd-b23e-10b96e40000d";
    let ids = ids_from_query([("advertising_id", gaid)].into_iter());
    assert_eq!(ids.len(), 1, "the advertising_id parameter carries a GAID");
    assert_eq!(ids[0].value, gaid);
    for unfilled in [
        "{idfa}",
        "__IDFA__",
        "IDFA",
        "advertising_id",
        "$(gaid)",
        "adid",
    ] {
        assert!(
            usable(DeviceIdKind::Advertising, unfilled).is_none(),
            "{unfilled} is a macro left unfilled"
        );
    }
}

#[test]
fn device_hashes_are_keyed_by_secret_and_app() {
    let id = usable(DeviceIdKind::Vendor, "v-1").unwrap();
    let a = hashed(b"s1", "app1", &id);
    assert_eq!(a.len(), 64);
    assert_ne!(
        a,
        hashed(b"s1", "app2", &id),
        "vendor ids match only within one app"
    );
    assert_ne!(a, hashed(b"s2", "app1", &id));
    assert_eq!(
        a,
        hashed(b"s1", "app1", &usable(DeviceIdKind::Vendor, "V-1").unwrap())
    );
}

fn touch(id: &str, kind: TouchKind, at_ms: i64) -> DeviceTouch {
    DeviceTouch {
        touch_id: id.into(),
        kind,
        at_ms,
        link_id: "l".into(),
        source: None,
    }
}

#[test]
fn the_waterfall_click_id_then_device_click_then_view_through() {
    let touches = [
        touch("imp", TouchKind::Impression, 9_000),
        touch("old", TouchKind::Click, 1_000),
        touch("new", TouchKind::Click, 5_000),
        touch("after", TouchKind::Click, 20_000),
    ];
    let m = match_install(Some("c_x"), &touches, 10_000, 60, 60);
    assert_eq!(m.touch_id(), Some("c_x"));
    let m = match_install(None, &touches, 10_000, 60, 60);
    assert_eq!((m.method(), m.touch_id()), ("device_id", Some("new")));
    // Clicks outside the click window (4 s): the impression within the view window.
    let m = match_install(None, &touches, 10_000, 4, 60);
    assert_eq!((m.method(), m.touch_id()), ("view_through", Some("imp")));
    // Nothing within either window: organic.
    assert_eq!(
        match_install(None, &touches, 100_000, 4, 4),
        InstallMatch::Organic
    );
}

#[test]
fn link_mobile_fields_are_validated() {
    assert!(validate_link_mobile(&link()).is_ok());
    let mut bad = link();
    bad.android_url = Some("https://example.com/app".into());
    assert_eq!(validate_link_mobile(&bad).unwrap_err().field, "android_url");
    let mut bad = link();
    bad.ios_url = Some("http://apps.apple.com/app/id1".into());
    assert_eq!(validate_link_mobile(&bad).unwrap_err().field, "ios_url");
    let mut bad = link();
    bad.deep_link_params.insert("n".into(), json!(1));
    assert_eq!(
        validate_link_mobile(&bad).unwrap_err().field,
        "deep_link_params.n"
    );
}

#[test]
fn mobile_settings_parse_with_defaults_and_refuse_by_field() {
    let s = parse_mobile_settings(None).unwrap();
    assert_eq!(s.deferred_lookback_secs, 900);
    let err = parse_mobile_settings(Some(r#"{"ios_bundle_ids":["com.shop.app"]}"#)).unwrap_err();
    assert_eq!(err.field, "mobile.apple_team_id");
    let err = parse_mobile_settings(Some(
        r#"{"android_package":"com.a","android_sha256_cert_fingerprints":["AB"]}"#,
    ))
    .unwrap_err();
    assert_eq!(err.field, "mobile.android_sha256_cert_fingerprints");
    assert!(parse_mobile_settings(Some(r#"{"nope":1}"#)).is_err());
}

#[test]
fn association_files_from_settings() {
    let fp = vec!["AB"; 32].join(":");
    let s = MobileSettings {
        apple_team_id: Some("ABCDE12345".into()),
        ios_bundle_ids: vec!["com.shop.app".into()],
        android_package: Some("com.shop.app".into()),
        android_sha256_cert_fingerprints: vec![fp.clone()],
        ..MobileSettings::default()
    };
    let aasa = apple_app_site_association(&s).unwrap();
    assert_eq!(
        aasa["applinks"]["details"][0]["appIDs"][0],
        "ABCDE12345.com.shop.app"
    );
    let links = asset_links(&s).unwrap();
    assert_eq!(
        links[0]["target"]["sha256_cert_fingerprints"][0],
        fp.as_str()
    );
    assert!(apple_app_site_association(&MobileSettings::default()).is_none());
    assert!(asset_links(&MobileSettings::default()).is_none());
}
