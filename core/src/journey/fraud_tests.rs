//! Fraud verdicts and postbacks through the journey engine.

use super::memory::MemoryStore;
use super::*;
use crate::attribution::{Basis, Model};
use crate::event::EventType;
use crate::fraud::{Flag, Reason};
use crate::identity::JourneyKind;
use crate::postback::{PostbackConfig, PostbackMethod};
use crate::testkit::*;
use proptest::prelude::*;
use serde_json::json;

const T0: i64 = 100 * DAY_MS;

fn key() -> JourneyKey {
    JourneyKey::new("app", JourneyKind::Anonymous, "anon-1")
}

fn campaign_page(id: &str, ts: i64, source: &str) -> Event {
    page(
        id,
        ts,
        &format!("https://shop.example/?utm_source={source}&utm_medium=cpc&utm_campaign=spring"),
        None,
    )
}

fn link_click(id: &str, ts: i64, source: &str) -> Event {
    with_properties(
        event(id, EventType::Click, ts),
        json!({"click_id": format!("c_{id}"), "source": source, "medium": "cpc", "campaign": "spring"}),
    )
}

fn attributions(store: &MemoryStore) -> Vec<AttributionResult> {
    store.all_attributions().expect("read")
}

fn bot() -> Flag {
    Flag::new(Reason::BotUserAgent, "user agent matches \"googlebot\"")
}

#[test]
fn a_flagged_touch_is_stored_rejected_and_never_credited() {
    let store = MemoryStore::default();
    let (key, settings) = (key(), AppSettings::with_defaults("app"));
    let journey = Journey::new(&store, &key, &settings);
    journey
        .record_flagged(&campaign_page("p1", T0, "google"), Some(&bot()), T0)
        .expect("ok");
    journey
        .record(
            &track("o1", "Order Completed", T0 + HOUR_MS, json!({"revenue": 5})),
            T0,
        )
        .expect("ok");
    let touches = store.all_touches().expect("read");
    assert_eq!(touches[0].rejected.as_deref(), Some("bot_user_agent"));
    let result = &attributions(&store)[0];
    assert_eq!(result.basis, Basis::Unattributed);
    assert!(result.rejected.is_none(), "the conversion itself is fine");
    // The outbox carries the reason with the touch, for the origin to count.
    assert!(store.outbox().iter().any(|r| matches!(r,
        OutboxRecord::Event(e) if e.touch.as_ref().and_then(|t| t.rejected.as_deref()) == Some("bot_user_agent"))));
}

#[test]
fn a_flagged_conversion_is_reported_not_attributed() {
    let store = MemoryStore::default();
    let (key, mut settings) = (key(), AppSettings::with_defaults("app"));
    settings.postbacks = vec![PostbackConfig {
        network: "google".into(),
        url: "https://g.example/pb?k={idempotency_key}".into(),
        method: PostbackMethod::Get,
        events: Vec::new(),
    }];
    let journey = Journey::new(&store, &key, &settings);
    journey
        .record(&campaign_page("p1", T0, "google"), T0)
        .expect("ok");
    let flag = Flag::new(Reason::DatacenterAsn, "sent from AS16509");
    let outcome = journey
        .record_flagged(
            &track("o1", "Order Completed", T0 + HOUR_MS, json!({"revenue": 5})),
            Some(&flag),
            T0,
        )
        .expect("ok");
    assert_eq!(
        outcome,
        EventOutcome::Stored {
            touch: false,
            conversion: true
        }
    );
    let result = &attributions(&store)[0];
    assert_eq!(result.rejected.as_deref(), Some("datacenter_asn"));
    assert_eq!(result.rejected_detail.as_deref(), Some("sent from AS16509"));
    assert_eq!(
        result.basis,
        Basis::Click,
        "the basis still says what was eligible"
    );
    assert_eq!(result.models.len(), Model::ALL.len());
    assert!(result.models.iter().all(|m| m.credits.is_empty()));
    assert!(result.reengagement.is_none());
    assert!(
        store.postbacks().is_empty(),
        "no postback for a rejected conversion"
    );
    assert!(store.outbox().iter().any(|r| matches!(r,
        OutboxRecord::Attribution(a) if a.result.rejected.as_deref() == Some("datacenter_asn"))));
}

#[test]
fn an_install_seconds_after_its_click_is_click_injection() {
    let settings = AppSettings::with_defaults("app");
    let judge = |ctit_ms: i64| {
        let store = MemoryStore::default();
        let key = key();
        let journey = Journey::new(&store, &key, &settings);
        journey
            .record(&link_click("k1", T0, "dsp"), T0)
            .expect("ok");
        journey
            .record(
                &track("i1", "Application Installed", T0 + ctit_ms, json!({})),
                T0,
            )
            .expect("ok");
        attributions(&store).remove(0)
    };
    let injected = judge(3_000);
    assert_eq!(injected.rejected.as_deref(), Some("click_injection"));
    assert!(injected.credits_of(Model::LastClick).is_empty());
    let honest = judge(90_000);
    assert_eq!(honest.rejected, None);
    assert_eq!(honest.credits_of(Model::LastClick)[0].source, "dsp");
    let spammed = judge(4 * DAY_MS);
    assert_eq!(spammed.rejected.as_deref(), Some("click_spamming"));
}

#[test]
fn postbacks_are_written_with_the_attribution_or_not_at_all() {
    let (key, mut settings) = (key(), AppSettings::with_defaults("app"));
    settings.postbacks = vec![PostbackConfig {
        network: "dsp".into(),
        url: "https://dsp.example/pb?click={click_id}&k={idempotency_key}&rev={revenue}".into(),
        method: PostbackMethod::Get,
        events: Vec::new(),
    }];
    let store = MemoryStore::default();
    let journey = Journey::new(&store, &key, &settings);
    journey
        .record(&link_click("k1", T0, "dsp"), T0)
        .expect("ok");
    let order = track("o1", "Order Completed", T0 + HOUR_MS, json!({"revenue": 9}));
    // Fail on the write after the attribution: nothing of the conversion may remain.
    store.fail_after_writes(3);
    assert!(journey.record(&order, T0).is_err());
    assert!(store.postbacks().is_empty());
    assert!(attributions(&store).is_empty());
    journey.record(&order, T0 + 1).expect("retry");
    let postbacks = store.postbacks();
    assert_eq!(postbacks.len(), 1);
    assert_eq!(postbacks[0].touch_id, "c_k1");
    assert!(
        postbacks[0].url.contains("click=c_k1"),
        "{}",
        postbacks[0].url
    );
    assert!(postbacks[0].url.contains("rev=9"), "{}", postbacks[0].url);
    // A merged journey brings its attributions, not new postbacks.
    let other = MemoryStore::default();
    let user = JourneyKey::new("app", JourneyKind::User, "u1");
    Journey::new(&other, &user, &settings)
        .import(&key, &journey.export().expect("export"), T0)
        .expect("import");
    assert!(other.postbacks().is_empty());
}

proptest! {
    /// Whatever touches exist and whichever are flagged, no model ever credits a flagged one.
    #[test]
    fn rejected_touches_never_earn_credit(
        touches in prop::collection::vec((0i64..(10 * DAY_MS), any::<bool>(), any::<bool>()), 1..12),
        conversion_offset in 0i64..(10 * DAY_MS),
    ) {
        let store = MemoryStore::default();
        let (key, settings) = (key(), AppSettings::with_defaults("app"));
        let journey = Journey::new(&store, &key, &settings);
        for (i, (offset, is_link, flagged)) in touches.iter().enumerate() {
            let id = format!("t{i}");
            let event = if *is_link {
                link_click(&id, T0 + offset, &format!("net{i}"))
            } else {
                campaign_page(&id, T0 + offset, &format!("net{i}"))
            };
            let flag = flagged.then(bot);
            journey.record_flagged(&event, flag.as_ref(), T0).expect("ok");
        }
        journey
            .record(&track("o", "Order Completed", T0 + conversion_offset, json!({"revenue": 1})), T0)
            .expect("ok");
        let rejected: Vec<String> = store
            .all_touches()
            .expect("read")
            .into_iter()
            .filter(|t| t.rejected.is_some())
            .map(|t| t.touch_id)
            .collect();
        for result in attributions(&store) {
            for model in &result.models {
                for credit in &model.credits {
                    prop_assert!(!rejected.contains(&credit.touch_id), "{} credited", credit.touch_id);
                }
            }
            if let Some(r) = &result.reengagement {
                prop_assert!(!rejected.contains(&r.touch_id));
            }
        }
    }
}

/// Issue 10, scope 5: the raw ids that came beside an event reach only that event's
/// postbacks, and never the stored event or its outbox record.
#[test]
fn device_ids_reach_only_the_postbacks_of_their_own_event() {
    use crate::postback::device::{Platform, PostbackDeviceIds};
    let (key, mut settings) = (key(), AppSettings::with_defaults("app"));
    settings.postbacks = vec![PostbackConfig {
        network: "dsp".into(),
        url: "https://dsp.example/pb?ifa={idfa}&k={idempotency_key}".into(),
        method: PostbackMethod::Get,
        events: Vec::new(),
    }];
    let ids = PostbackDeviceIds {
        advertising_id: Some("6D92078A-8246-4BA4-AE5B-76104861E7DC".into()),
        vendor_id: None,
        platform: Some(Platform::Ios),
    };
    let by_message = BTreeMap::from([("o1".to_owned(), ids.clone())]);
    let store = MemoryStore::default();
    let journey = Journey::new(&store, &key, &settings).with_device_ids(&by_message);
    journey
        .record(&link_click("k1", T0, "dsp"), T0)
        .expect("ok");
    let first = track("o1", "Order Completed", T0 + HOUR_MS, json!({"revenue": 9}));
    let second = track(
        "o2",
        "Order Completed",
        T0 + 2 * HOUR_MS,
        json!({"revenue": 9}),
    );
    journey.record(&first, T0).expect("ok");
    journey.record(&second, T0).expect("ok");
    let postbacks = store.postbacks();
    let ids_of = |conversion: &str| {
        postbacks
            .iter()
            .find(|p| p.conversion_id == conversion)
            .map(|p| p.device_ids.clone())
    };
    assert_eq!(ids_of("o1"), Some(Some(ids)));
    assert_eq!(
        ids_of("o2"),
        Some(None),
        "another event's ids are not borrowed"
    );
    assert!(postbacks.iter().all(|p| p.url.contains("ifa={idfa}")));
    let stored = serde_json::to_string(&store.all_events().expect("events")).expect("json");
    assert!(!stored.contains("6D92078A"), "{stored}");
}
