use super::memory::MemoryStore;
use super::*;
use crate::attribution::{Basis, Model};
use crate::identity::JourneyKind;
use crate::testkit::*;
use proptest::prelude::*;
use serde_json::json;

fn key() -> JourneyKey {
    JourneyKey::new("app", JourneyKind::Anonymous, "anon-1")
}

fn settings() -> AppSettings {
    AppSettings::with_defaults("app")
}

fn campaign_page(id: &str, ts: i64, source: &str) -> Event {
    page(
        id,
        ts,
        &format!("https://shop.example/?utm_source={source}&utm_medium=cpc&utm_campaign=spring"),
        None,
    )
}

#[test]
fn full_journey_click_page_conversion() {
    let store = MemoryStore::default();
    let (key, settings) = (key(), settings());
    let journey = Journey::new(&store, &key, &settings);
    let t0 = 100 * DAY_MS;
    let outcomes = [
        journey.record(&campaign_page("p1", t0, "google"), t0),
        journey.record(
            &page(
                "p2",
                t0 + HOUR_MS * 30,
                "https://shop.example/",
                Some("https://news.site/a"),
            ),
            t0,
        ),
        journey.record(
            &track(
                "o1",
                "Order Completed",
                t0 + HOUR_MS * 31,
                json!({"revenue": 90, "currency": "EUR"}),
            ),
            t0,
        ),
    ];
    assert!(matches!(
        outcomes[0],
        Ok(EventOutcome::Stored {
            touch: true,
            conversion: false
        })
    ));
    assert!(matches!(
        outcomes[1],
        Ok(EventOutcome::Stored {
            touch: true,
            conversion: false
        })
    ));
    assert!(matches!(
        outcomes[2],
        Ok(EventOutcome::Stored {
            touch: false,
            conversion: true
        })
    ));

    let result = &store.all_attributions().expect("read")[0];
    assert_eq!(result.basis, Basis::Click);
    assert_eq!(result.conversion.currency, "EUR");
    let last = result.credits_of(Model::LastClick);
    assert_eq!(
        (last[0].source.as_str(), last[0].value),
        ("news.site", 90.0)
    );
    let first = result.credits_of(Model::FirstClick);
    assert_eq!(
        (first[0].source.as_str(), first[0].campaign.as_str()),
        ("google", "spring")
    );

    let kinds: Vec<&str> = store
        .outbox()
        .iter()
        .map(|r| match r {
            OutboxRecord::Event(_) => "event",
            OutboxRecord::Attribution(_) => "attribution",
            OutboxRecord::Merge(_) => "merge",
            OutboxRecord::NullPath(_) => "null_path",
            OutboxRecord::SkanPostback(_) => "skan_postback",
            OutboxRecord::Spend(_) => "spend",
        })
        .collect();
    assert_eq!(kinds, ["event", "event", "attribution", "event"]);
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let store = MemoryStore::default();
    let (key, settings) = (key(), settings());
    let journey = Journey::new(&store, &key, &settings);
    store.fail_after_writes(2);
    let conversion = track("o1", "Signed Up", DAY_MS, json!({}));
    assert!(journey.record(&conversion, DAY_MS).is_err());
    assert_eq!(store.event_count(), 0);
    assert!(store.outbox().is_empty());
    assert!(store.all_attributions().expect("read").is_empty());
    // The retry succeeds and stores everything once.
    assert!(matches!(
        journey.record(&conversion, DAY_MS),
        Ok(EventOutcome::Stored { .. })
    ));
    assert_eq!(store.event_count(), 1);
}

#[test]
fn bad_revenue_is_rejected_without_writes() {
    let store = MemoryStore::default();
    let (key, settings) = (key(), settings());
    let journey = Journey::new(&store, &key, &settings);
    let outcome = journey
        .record(
            &track("o1", "Order Completed", DAY_MS, json!({"revenue": "lots"})),
            DAY_MS,
        )
        .expect("no storage error");
    assert!(
        matches!(outcome, EventOutcome::Rejected { ref error } if error.field == "properties.revenue")
    );
    assert_eq!(store.event_count(), 0);
}

#[test]
fn repeated_order_id_is_one_conversion() {
    let store = MemoryStore::default();
    let (key, settings) = (key(), settings());
    let journey = Journey::new(&store, &key, &settings);
    let first = track(
        "o1",
        "Order Completed",
        DAY_MS,
        json!({"order_id": "A-1", "revenue": 5}),
    );
    let second = track(
        "o2",
        "Order Completed",
        DAY_MS + 1,
        json!({"order_id": "A-1", "revenue": 5}),
    );
    journey.record(&first, DAY_MS).expect("ok");
    let outcome = journey.record(&second, DAY_MS).expect("ok");
    assert_eq!(
        outcome,
        EventOutcome::Stored {
            touch: false,
            conversion: false
        }
    );
    assert_eq!(store.all_attributions().expect("read").len(), 1);
}

#[test]
fn same_campaign_within_a_visit_is_one_touch() {
    let store = MemoryStore::default();
    let (key, settings) = (key(), settings());
    let journey = Journey::new(&store, &key, &settings);
    journey
        .record(&campaign_page("p1", DAY_MS, "google"), 0)
        .expect("ok");
    journey
        .record(&campaign_page("p2", DAY_MS + 20 * 60_000, "google"), 0)
        .expect("ok");
    assert_eq!(store.all_touches().expect("read").len(), 1);
    // A new visit after the timeout is a new touch.
    journey
        .record(&campaign_page("p3", DAY_MS + 2 * HOUR_MS, "google"), 0)
        .expect("ok");
    assert_eq!(store.all_touches().expect("read").len(), 2);
    // A different campaign mid-visit is a new touch.
    journey
        .record(
            &campaign_page("p4", DAY_MS + 2 * HOUR_MS + 60_000, "bing"),
            0,
        )
        .expect("ok");
    assert_eq!(store.all_touches().expect("read").len(), 3);
}

#[test]
fn direct_visits_only_start_new_visits() {
    let store = MemoryStore::default();
    let (key, settings) = (key(), settings());
    let journey = Journey::new(&store, &key, &settings);
    journey
        .record(&page("p1", DAY_MS, "https://shop.example/", None), 0)
        .expect("ok");
    journey
        .record(
            &page("p2", DAY_MS + 60_000, "https://shop.example/b", None),
            0,
        )
        .expect("ok");
    journey
        .record(
            &page("p3", DAY_MS + 2 * HOUR_MS, "https://shop.example/c", None),
            0,
        )
        .expect("ok");
    let touches = store.all_touches().expect("read");
    assert_eq!(touches.len(), 2);
    assert!(touches.iter().all(|t| t.is_direct()));
}

#[test]
fn merge_brings_earlier_touches_into_the_user_journey() {
    let anon_store = MemoryStore::default();
    let user_store = MemoryStore::default();
    let settings = settings();
    let anon_key = key();
    let user_key = JourneyKey::new("app", JourneyKind::User, "u1");
    let anon = Journey::new(&anon_store, &anon_key, &settings);
    anon.record(&campaign_page("p1", DAY_MS, "google"), 0)
        .expect("ok");

    let user = Journey::new(&user_store, &user_key, &settings);
    let export = anon.export().expect("export");
    let summary = user.import(&anon_key, &export, 0).expect("import");
    assert_eq!((summary.events, summary.touches), (1, 1));
    assert_eq!(
        user.import(&anon_key, &export, 0).expect("again"),
        ImportSummary::default()
    );

    let mut signup = track("s1", "Signed Up", DAY_MS + HOUR_MS, json!({}));
    signup.user_id = Some("u1".into());
    user.record(&signup, 0).expect("ok");
    let result = &user_store.all_attributions().expect("read")[0];
    assert_eq!(result.credits_of(Model::LastClick)[0].source, "google");
    assert!(user_store
        .outbox()
        .iter()
        .any(|r| matches!(r, OutboxRecord::Merge(_))));
}

proptest! {
    /// Any sequence of deliveries, each event possibly retried many times, stores each event
    /// once and gives the same outbox as delivering each once.
    #[test]
    fn dedup_is_idempotent(deliveries in prop::collection::vec((0usize..6, 1usize..4), 1..30)) {
        let events: Vec<Event> = (0..6)
            .map(|i| {
                let ts = DAY_MS + i as i64 * HOUR_MS;
                if i % 3 == 2 {
                    track(&format!("m{i}"), "Order Completed", ts, json!({"revenue": i}))
                } else {
                    campaign_page(&format!("m{i}"), ts, if i % 2 == 0 { "google" } else { "bing" })
                }
            })
            .collect();
        let (key, settings) = (key(), settings());
        let retried = MemoryStore::default();
        let once = MemoryStore::default();
        let journey = Journey::new(&retried, &key, &settings);
        let reference = Journey::new(&once, &key, &settings);
        let mut delivered = std::collections::BTreeSet::new();
        for (index, times) in deliveries {
            for attempt in 0..times {
                let outcome = journey.record(&events[index], 0).expect("ok");
                let first_time = delivered.insert(index);
                prop_assert_eq!(matches!(outcome, EventOutcome::Duplicate), !(first_time && attempt == 0));
            }
            if !once.has_event(&events[index].message_id).expect("read") {
                reference.record(&events[index], 0).expect("ok");
            }
        }
        prop_assert_eq!(retried.event_count(), delivered.len());
        prop_assert_eq!(retried.outbox(), once.outbox());
    }
}

#[test]
fn record_all_rolls_the_whole_call_back_on_a_storage_failure() {
    let store = MemoryStore::default();
    let (key, settings) = (key(), settings());
    let journey = Journey::new(&store, &key, &settings);
    let events = [
        campaign_page("b1", DAY_MS, "google"),
        track("b2", "Order Completed", DAY_MS + 1, json!({"revenue": 1})),
        track("b3", "Viewed", DAY_MS + 2, json!({})),
    ];
    store.fail_after_writes(4);
    assert!(journey.record_all(&events, |_| None, 0).is_err());
    assert_eq!(store.event_count(), 0);
    assert!(store.outbox().is_empty());
    let outcomes = journey
        .record_all(&events, |_| None, 0)
        .expect("retry succeeds");
    assert_eq!(outcomes.len(), 3);
    assert_eq!(store.event_count(), 3);
    let again = journey
        .record_all(&events, |_| None, 0)
        .expect("duplicates");
    assert!(again.iter().all(|o| *o == EventOutcome::Duplicate));
}
