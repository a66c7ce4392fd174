//! Touches that arrive after the conversions they precede ([`super::late`]).

use super::memory::MemoryStore;
use super::window_tests::{campaign_page, key, T0};
use super::*;
use crate::outbox::OutboxRecord;
use crate::testkit::*;
use proptest::prelude::*;
use serde_json::json;

fn order(id: &str, ts: i64) -> Event {
    track(id, "Order Completed", ts, json!({"revenue": 10}))
}

fn result_of(store: &MemoryStore, id: &str) -> AttributionResult {
    store
        .all_attributions()
        .expect("read")
        .into_iter()
        .find(|a| a.conversion.conversion_id == id)
        .expect("attributed")
}

/// Who got how much, per model: what must not depend on the order of arrival.
fn credit_of(result: &AttributionResult) -> Vec<(String, Vec<(String, String)>)> {
    result
        .models
        .iter()
        .map(|m| {
            let credits = m
                .credits
                .iter()
                .map(|c| (c.touch_id.clone(), format!("{:.9}", c.credit)))
                .collect();
            (format!("{:?}", m.model), credits)
        })
        .collect()
}

fn revisions_sent(store: &MemoryStore, id: &str) -> Vec<u32> {
    store
        .outbox()
        .into_iter()
        .filter_map(|r| match r {
            OutboxRecord::Attribution(a) if a.result.conversion.conversion_id == id => {
                Some(a.result.revision)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn regression_a_touch_arriving_after_its_conversion_is_credited() {
    // Before: the order was judged on the touches stored when it arrived (none) and the
    // campaign page that preceded it, arriving in the next request, was never credited.
    let (key, settings) = (key(), AppSettings::with_defaults("app"));
    let in_order = MemoryStore::default();
    let journey = Journey::new(&in_order, &key, &settings);
    journey
        .record(&campaign_page("p1", T0 - HOUR_MS, "google"), T0)
        .expect("ok");
    journey.record(&order("o1", T0), T0).expect("ok");

    let late = MemoryStore::default();
    let journey = Journey::new(&late, &key, &settings);
    journey.record(&order("o1", T0), T0).expect("ok");
    assert!(result_of(&late, "o1")
        .models
        .iter()
        .all(|m| m.credits.is_empty()));
    journey
        .record(&campaign_page("p1", T0 - HOUR_MS, "google"), T0 + 1_000)
        .expect("ok");

    let revised = result_of(&late, "o1");
    assert_eq!(credit_of(&revised), credit_of(&result_of(&in_order, "o1")));
    assert_eq!(revised.basis, result_of(&in_order, "o1").basis);
    assert_eq!(revised.revision, 2);
    assert_eq!(revised.attributed_at_ms, T0 + 1_000);
    assert_eq!(revisions_sent(&late, "o1"), vec![1, 2]);
}

#[test]
fn late_touches_of_one_call_revise_a_conversion_once() {
    let (key, settings) = (key(), AppSettings::with_defaults("app"));
    let store = MemoryStore::default();
    let journey = Journey::new(&store, &key, &settings);
    journey.record(&order("o1", T0), T0).expect("ok");
    let events = [
        campaign_page("p1", T0 - 3 * HOUR_MS, "google"),
        campaign_page("p2", T0 - HOUR_MS, "bing"),
    ];
    journey.record_all(&events, |_| None, T0).expect("ok");
    let revised = result_of(&store, "o1");
    assert_eq!(revised.revision, 2);
    assert_eq!(revisions_sent(&store, "o1"), vec![1, 2]);
    let last_touch = revised
        .models
        .iter()
        .find(|m| m.model == settings.default_model);
    assert!(last_touch.is_some_and(|m| !m.credits.is_empty()));
}

#[test]
fn a_conversion_and_an_earlier_touch_in_one_call_end_as_in_time_order() {
    let (key, settings) = (key(), AppSettings::with_defaults("app"));
    let store = MemoryStore::default();
    Journey::new(&store, &key, &settings)
        .record_all(
            &[order("o1", T0), campaign_page("p1", T0 - HOUR_MS, "google")],
            |_| None,
            T0,
        )
        .expect("ok");
    let result = result_of(&store, "o1");
    assert!(result.models.iter().all(|m| m.credits.len() == 1));
    assert_eq!(result.revision, 2);
}

#[test]
fn touches_in_order_or_outside_the_window_revise_nothing() {
    let (key, settings) = (key(), AppSettings::with_defaults("app"));
    let store = MemoryStore::default();
    let journey = Journey::new(&store, &key, &settings);
    journey
        .record(&campaign_page("p1", T0 - HOUR_MS, "google"), T0)
        .expect("ok");
    journey.record(&order("o1", T0), T0).expect("ok");
    // After the order: in order, credits nothing before it.
    journey
        .record(&campaign_page("p2", T0 + HOUR_MS, "bing"), T0)
        .expect("ok");
    // Late, but older than every window (click 7 d, re-engagement 30 d).
    journey
        .record(&campaign_page("p0", T0 - 60 * DAY_MS, "old"), T0)
        .expect("ok");
    assert_eq!(result_of(&store, "o1").revision, 1);
    assert_eq!(revisions_sent(&store, "o1"), vec![1]);
}

#[test]
fn regression_a_merge_credits_the_touches_it_brings_to_earlier_conversions() {
    // Before: a visit from an ad on one device (an anonymous journey), a purchase signed in on
    // another, the two linked later: the merge brought the touch but the order kept no credit.
    let settings = AppSettings::with_defaults("app");
    let anon_key = JourneyKey::new("app", crate::identity::JourneyKind::Anonymous, "a1");
    let anon_store = MemoryStore::default();
    let anon = Journey::new(&anon_store, &anon_key, &settings);
    anon.record(&campaign_page("p1", T0 - HOUR_MS, "google"), T0)
        .expect("ok");
    anon.record(&order("anon-order", T0 - HOUR_MS + 1_000), T0)
        .expect("ok");

    let (user_key, user_store) = (key(), MemoryStore::default());
    let user = Journey::new(&user_store, &user_key, &settings);
    user.record(&order("o1", T0), T0).expect("ok");
    let export = anon.export().expect("export");
    user.import(&anon_key, &export, T0 + 1_000).expect("import");

    let revised = result_of(&user_store, "o1");
    assert_eq!(revised.revision, 2);
    assert_eq!(
        revised.credits_of(crate::attribution::Model::LastClick)[0].source,
        "google"
    );
    assert_eq!(revisions_sent(&user_store, "o1"), vec![1, 2]);
    // The imported conversion keeps what its own journey gave it.
    assert_eq!(
        result_of(&user_store, "anon-order"),
        result_of(&anon_store, "anon-order")
    );
    // Importing again changes nothing.
    user.import(&anon_key, &export, T0 + 2_000).expect("again");
    assert_eq!(revisions_sent(&user_store, "o1"), vec![1, 2]);
}

proptest! {
    /// Whatever order the events of a journey arrive in, one request each, every conversion
    /// ends with the credit it gets when they arrive in time order.
    #[test]
    fn the_order_of_arrival_does_not_decide_the_credit(order_of_arrival in Just((0..6).collect::<Vec<usize>>()).prop_shuffle()) {
        // Sources differ and touches are hours apart, so the visit rules keep every touch
        // whatever the order; orders are not lifecycle conversions.
        let events = [
            campaign_page("p1", T0 - 50 * HOUR_MS, "google"),
            campaign_page("p2", T0 - 20 * HOUR_MS, "bing"),
            order("o1", T0 - 10 * HOUR_MS),
            campaign_page("p3", T0 - 5 * HOUR_MS, "meta"),
            campaign_page("p4", T0 - 2 * HOUR_MS, "tiktok"),
            order("o2", T0),
        ];
        let (key, settings) = (key(), AppSettings::with_defaults("app"));
        let in_time = MemoryStore::default();
        for event in &events {
            Journey::new(&in_time, &key, &settings).record(event, T0).expect("ok");
        }
        let arrived = MemoryStore::default();
        for &i in &order_of_arrival {
            Journey::new(&arrived, &key, &settings).record(&events[i], T0).expect("ok");
        }
        for id in ["o1", "o2"] {
            prop_assert_eq!(credit_of(&result_of(&arrived, id)), credit_of(&result_of(&in_time, id)));
        }
    }
}
