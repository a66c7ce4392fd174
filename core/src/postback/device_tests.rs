//! The device-id macros (issue 10, scope 5): which raw ids a postback may carry, that they
//! never enter the postback's stored form, and that they are filled in only for sending.

use serde_json::json;

use super::device::{postback_device_ids, request_for, Platform, PostbackDeviceIds, REDACTED};
use super::*;
use crate::attribution::attribute;
use crate::conversion::Conversion;
use crate::privacy::consent::ConsentMapping;
use crate::testkit::*;

const NOW: i64 = 100 * DAY_MS;
const IDFA: &str = "6D92078A-8246-4BA4-AE5B-76104861E7DC";
const IDFV: &str = "3F2504E0-4F89-11D3-9A0C-0305E82C3301";

fn install(device: serde_json::Value, os: &str) -> crate::event::Event {
    with_context(
        track("m-1", "Application Installed", NOW, json!({})),
        json!({ "device": device, "os": { "name": os } }),
    )
}

fn ids(device: serde_json::Value, os: &str) -> Option<PostbackDeviceIds> {
    postback_device_ids(&install(device, os), &ConsentMapping::default())
}

fn install_conversion() -> Conversion {
    Conversion {
        conversion_id: "conv-1".into(),
        name: "Application Installed".into(),
        ts_ms: NOW,
        revenue: 0.0,
        currency: "USD".into(),
        order_id: None,
    }
}

fn planned(url: &str, method: PostbackMethod, device: Option<&PostbackDeviceIds>) -> Postback {
    let mut touch = click("n", NOW - 3_600_000);
    touch.source = "newsy".into();
    touch.ad_click_id = Some("network_click_id:NET-7".into());
    let mut settings = AppSettings::with_defaults("app");
    settings.postbacks = vec![PostbackConfig {
        network: "newsy".into(),
        url: url.into(),
        method,
        events: Vec::new(),
    }];
    let touches = vec![touch];
    let result = attribute(&install_conversion(), &touches, &settings, NOW);
    plan_with_device(&result, &touches, &settings, device).remove(0)
}

fn ios_ids() -> PostbackDeviceIds {
    PostbackDeviceIds {
        advertising_id: Some(IDFA.into()),
        vendor_id: Some(IDFV.into()),
        platform: Some(Platform::Ios),
    }
}

#[test]
fn an_allowed_advertising_id_is_kept_raw_with_its_platform() {
    let kept = ids(
        json!({ "advertisingId": IDFA, "adTrackingEnabled": true, "id": IDFV }),
        "iOS",
    )
    .expect("ids");
    assert_eq!(kept, ios_ids(), "as sent, case kept");
    // adTrackingEnabled absent is not a refusal (the rule is "not false").
    let absent = ids(json!({ "advertisingId": IDFA }), "Android").expect("ids");
    assert_eq!(absent.advertising_id.as_deref(), Some(IDFA));
    assert_eq!(absent.platform, Some(Platform::Android));
}

#[test]
fn no_advertising_id_when_tracking_is_off_zeroed_or_a_macro() {
    let off = ids(
        json!({ "advertisingId": IDFA, "adTrackingEnabled": false, "id": IDFV }),
        "iOS",
    )
    .expect("the vendor id stays");
    assert_eq!(off.advertising_id, None);
    assert_eq!(off.vendor_id.as_deref(), Some(IDFV));
    for refused in [
        "00000000-0000-0000-0000-000000000000",
        "",
        "{idfa}",
        "__IDFA__",
    ] {
        assert_eq!(
            ids(
                json!({ "advertisingId": refused, "adTrackingEnabled": true }),
                "iOS"
            ),
            None,
            "{refused:?}"
        );
    }
}

#[test]
fn no_ids_without_advertising_consent() {
    let mut event = install(
        json!({ "advertisingId": IDFA, "adTrackingEnabled": true }),
        "iOS",
    );
    event.context.insert(
        "consent".into(),
        json!({ "categoryPreferences": { "Analytics": true, "Advertising": false } }),
    );
    assert_eq!(
        postback_device_ids(&event, &ConsentMapping::default()),
        None
    );
    event.context.insert(
        "consent".into(),
        json!({ "categoryPreferences": { "Analytics": true, "Advertising": true } }),
    );
    assert!(postback_device_ids(&event, &ConsentMapping::default()).is_some());
}

#[test]
fn the_stored_postback_keeps_device_macros_unfilled_and_no_raw_id() {
    let ids = ios_ids();
    let pb = planned(
        "https://newsy.example/pb?nc={network_click_id}&ifa={idfa}&g={gaid}&a={advertising_id}&v={idfv}",
        PostbackMethod::Get,
        Some(&ids),
    );
    assert_eq!(
        pb.url,
        "https://newsy.example/pb?nc=NET-7&ifa={idfa}&g={gaid}&a={advertising_id}&v={idfv}"
    );
    let stored = serde_json::to_string(&pb).expect("json");
    assert!(!stored.contains(IDFA) && !stored.contains(IDFV), "{stored}");
    assert!(!format!("{pb:?}").contains(IDFA), "Debug prints no id");
    let back: Postback = serde_json::from_str(&stored).expect("read back");
    assert_eq!(
        back.device_ids, None,
        "the ids are not part of the stored body"
    );

    let (url, _) = request_for(&pb).expect("fills");
    assert_eq!(
        url,
        format!("https://newsy.example/pb?nc=NET-7&ifa={IDFA}&g=&a={IDFA}&v={IDFV}")
    );
    // Without its ids (forgotten, or none allowed) every device macro is empty.
    let (url, _) = request_for(&back).expect("fills");
    assert_eq!(url, "https://newsy.example/pb?nc=NET-7&ifa=&g=&a=&v=");
}

#[test]
fn android_ids_fill_gaid_and_android_id() {
    let ids = PostbackDeviceIds {
        advertising_id: Some("38400000-8cf0-11bd-b23e-10b96e40000d".into()),
        vendor_id: Some("9774d56d682e549c".into()),
        platform: Some(Platform::Android),
    };
    let pb = planned(
        "https://n.example/?ifa={idfa}&g={gaid}&aid={android_id}",
        PostbackMethod::Get,
        Some(&ids),
    );
    let (url, _) = request_for(&pb).expect("fills");
    assert_eq!(
        url,
        "https://n.example/?ifa=&g=38400000-8cf0-11bd-b23e-10b96e40000d&aid=9774d56d682e549c"
    );
}

#[test]
fn ids_are_kept_only_for_templates_that_use_them() {
    let ids = ios_ids();
    let pb = planned(
        "https://n.example/?nc={network_click_id}",
        PostbackMethod::Get,
        Some(&ids),
    );
    assert_eq!(pb.device_ids, None);
    let pb = planned(
        "https://n.example/?ifa={idfa}",
        PostbackMethod::Get,
        Some(&ids),
    );
    assert_eq!(pb.device_ids, Some(ids.clone()));
    // POST bodies carry every macro: stored empty, filled when sent.
    let pb = planned("https://n.example/pb", PostbackMethod::Post, Some(&ids));
    let stored = pb.body.clone().expect("body");
    assert!(!stored.contains(IDFA), "{stored}");
    let (_, body) = request_for(&pb).expect("fills");
    let body: serde_json::Value = serde_json::from_str(&body.expect("body")).expect("json");
    assert_eq!(body["idfa"], IDFA);
    assert_eq!(body["gaid"], "");
    assert_eq!(body["network_click_id"], "NET-7");
}

#[test]
fn a_value_cannot_open_a_device_macro() {
    // Planning percent-encodes braces, so a campaign named "{idfa}" is text, never a macro.
    let mut touch = click("n", NOW - 1000);
    touch.source = "newsy".into();
    touch.campaign = "{idfa}".into();
    let mut settings = AppSettings::with_defaults("app");
    settings.postbacks = vec![PostbackConfig {
        network: "newsy".into(),
        url: "https://n.example/?c={campaign}".into(),
        method: PostbackMethod::Get,
        events: Vec::new(),
    }];
    let touches = vec![touch];
    let result = attribute(&install_conversion(), &touches, &settings, NOW);
    let ids = ios_ids();
    let pb = plan_with_device(&result, &touches, &settings, Some(&ids)).remove(0);
    let (url, _) = request_for(&pb).expect("fills");
    assert_eq!(url, "https://n.example/?c=%7Bidfa%7D");
}

#[test]
fn errors_are_redacted() {
    let ids = ios_ids();
    let text = format!(
        "fetch failed for https://n.example/?a={} b={IDFV}",
        IDFA.to_lowercase()
    );
    assert_eq!(
        ids.redact(&text),
        format!("fetch failed for https://n.example/?a={REDACTED} b={REDACTED}")
    );
}

#[test]
fn the_test_fire_fills_device_macros_recognisably() {
    let config = PostbackConfig {
        network: "newsy".into(),
        url: "https://n.example/?ifa={idfa}&g={gaid}&a={advertising_id}&v={idfv}&aid={android_id}"
            .into(),
        method: PostbackMethod::Get,
        events: Vec::new(),
    };
    let pb = test_postback(&config, "app", NOW, "n1").expect("test postback");
    assert_eq!(
        pb.url,
        "https://n.example/?ifa=7E571DFA-7E57-4000-8000-00000000000A\
         &g=7e576a1d-7e57-4000-8000-00000000000b&a=7E571DFA-7E57-4000-8000-00000000000A\
         &v=7E571DF5-7E57-4000-8000-00000000000C&aid=7e57a4d401d0000d"
    );
}
