//! Issue 12, scope 5: an event without advertising consent through the journey engine: kept
//! for analytics, never used for attribution or postbacks, and so after a re-run.

use super::memory::MemoryStore;
use super::*;
use crate::attribution::Basis;
use crate::identity::JourneyKind;
use crate::postback::{PostbackConfig, PostbackMethod};
use crate::privacy::consent::{no_advertising_flag, ConsentMapping};
use crate::testkit::*;
use serde_json::json;

const T0: i64 = 100 * DAY_MS;

fn campaign_page(id: &str, ts: i64) -> Event {
    page(
        id,
        ts,
        "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=spring",
        None,
    )
}

fn with_postbacks() -> AppSettings {
    let mut settings = AppSettings::with_defaults("app");
    settings.postbacks = vec![PostbackConfig {
        network: "google".into(),
        url: "https://g.example/pb?k={idempotency_key}".into(),
        method: PostbackMethod::Get,
        events: Vec::new(),
    }];
    settings
}

#[test]
fn a_touch_without_advertising_consent_is_kept_but_never_credited_nor_postbacked() {
    let store = MemoryStore::default();
    let key = JourneyKey::new("app", JourneyKind::Anonymous, "anon-1");
    let settings = with_postbacks();
    let journey = Journey::new(&store, &key, &settings);
    let flag = no_advertising_flag(&ConsentMapping::default());
    journey
        .record_flagged(&campaign_page("p1", T0), Some(&flag), T0)
        .expect("stored");
    journey
        .record(
            &track("o1", "Order Completed", T0 + HOUR_MS, json!({"revenue": 5})),
            T0,
        )
        .expect("stored");
    let touches = store.all_touches().expect("read");
    assert_eq!(touches.len(), 1, "the touch is stored for analytics");
    assert_eq!(
        touches[0].rejected.as_deref(),
        Some("no_advertising_consent")
    );
    let result = &store.all_attributions().expect("read")[0];
    assert_eq!(result.basis, Basis::Unattributed);
    assert!(result.rejected.is_none());
    assert!(
        store.postbacks().is_empty(),
        "nothing credited, nothing sent"
    );

    journey.reattribute(T0 + 2 * HOUR_MS).expect("re-run");
    let rerun = &store.all_attributions().expect("read")[0];
    assert_eq!(
        rerun.basis,
        Basis::Unattributed,
        "a re-run keeps the refusal"
    );
    assert!(store.postbacks().is_empty());
}

#[test]
fn a_conversion_without_advertising_consent_is_reported_not_attributed() {
    let store = MemoryStore::default();
    let key = JourneyKey::new("app", JourneyKind::Anonymous, "anon-2");
    let settings = with_postbacks();
    let journey = Journey::new(&store, &key, &settings);
    journey
        .record(&campaign_page("p1", T0), T0)
        .expect("stored");
    let flag = no_advertising_flag(&ConsentMapping::default());
    journey
        .record_flagged(
            &track("o1", "Order Completed", T0 + HOUR_MS, json!({"revenue": 5})),
            Some(&flag),
            T0,
        )
        .expect("stored");
    let result = &store.all_attributions().expect("read")[0];
    assert_eq!(result.rejected.as_deref(), Some("no_advertising_consent"));
    assert!(result.models.iter().all(|m| m.credits.is_empty()));
    assert!(store.postbacks().is_empty(), "no postback fires for it");
    journey.reattribute(T0 + 2 * HOUR_MS).expect("re-run");
    let rerun = &store.all_attributions().expect("read")[0];
    assert_eq!(rerun.rejected.as_deref(), Some("no_advertising_consent"));
    assert!(store.postbacks().is_empty());
}
