//! Re-attribution and re-engagement windows, and re-runs, through the journey engine.

use super::memory::MemoryStore;
use super::*;
use crate::attribution::{Basis, Model};
use crate::event::EventType;
use crate::fraud::{Flag, Reason};
use crate::identity::JourneyKind;
use crate::testkit::*;
use proptest::prelude::*;
use serde_json::json;

pub(super) const T0: i64 = 400 * DAY_MS;

pub(super) fn key() -> JourneyKey {
    JourneyKey::new("app", JourneyKind::User, "u1")
}

pub(super) fn campaign_page(id: &str, ts: i64, source: &str) -> Event {
    page(
        id,
        ts,
        &format!("https://shop.example/?utm_source={source}&utm_medium=cpc&utm_campaign=c"),
        None,
    )
}

fn link_click(id: &str, ts: i64, source: &str) -> Event {
    with_properties(
        event(id, EventType::Click, ts),
        json!({"click_id": format!("c_{id}"), "source": source, "medium": "cpc"}),
    )
}

fn install(id: &str, ts: i64) -> Event {
    track(id, "Application Installed", ts, json!({}))
}

fn result_of(store: &MemoryStore, id: &str) -> Option<AttributionResult> {
    store
        .all_attributions()
        .expect("read")
        .into_iter()
        .find(|a| a.conversion.conversion_id == id)
}

#[test]
fn a_reinstall_inside_the_window_is_not_attributed_again() {
    let store = MemoryStore::default();
    let (key, settings) = (key(), AppSettings::with_defaults("app"));
    let journey = Journey::new(&store, &key, &settings);
    journey
        .record(&campaign_page("p1", T0 - HOUR_MS, "google"), T0)
        .expect("ok");
    journey.record(&install("i1", T0), T0).expect("ok");
    journey
        .record(&campaign_page("p2", T0 + 10 * DAY_MS, "bing"), T0)
        .expect("ok");
    let outcome = journey
        .record(&install("i2", T0 + 10 * DAY_MS + HOUR_MS), T0)
        .expect("ok");
    assert_eq!(
        outcome,
        EventOutcome::Stored {
            touch: false,
            conversion: false
        }
    );
    assert!(result_of(&store, "i2").is_none());
    // Other conversions are not lifecycle conversions: every order counts.
    let order = journey
        .record(
            &track("o1", "Order Completed", T0 + 11 * DAY_MS, json!({})),
            T0,
        )
        .expect("ok");
    assert_eq!(
        order,
        EventOutcome::Stored {
            touch: false,
            conversion: true
        }
    );
}

#[test]
fn a_user_back_after_the_window_gets_a_new_attribution() {
    let store = MemoryStore::default();
    let (key, settings) = (key(), AppSettings::with_defaults("app"));
    let journey = Journey::new(&store, &key, &settings);
    journey
        .record(&campaign_page("p1", T0 - HOUR_MS, "google"), T0)
        .expect("ok");
    journey.record(&install("i1", T0), T0).expect("ok");
    let back = T0 + 100 * DAY_MS;
    journey
        .record(&link_click("k1", back - HOUR_MS, "dsp"), back)
        .expect("ok");
    journey.record(&install("i2", back), back).expect("ok");
    let result = result_of(&store, "i2").expect("a new attribution");
    assert!(result.reattributed);
    assert_eq!(result.credits_of(Model::LastClick)[0].source, "dsp");
    assert!(
        result.reengagement.is_none(),
        "a returning user is a new user"
    );
    assert!(!result_of(&store, "i1").expect("first").reattributed);
}

#[test]
fn returning_users_ad_click_is_not_engagement() {
    // Regression: the click that brings a user back must not count as activity, or every
    // returning user would look active a minute before their reinstall.
    let store = MemoryStore::default();
    let (key, settings) = (key(), AppSettings::with_defaults("app"));
    let journey = Journey::new(&store, &key, &settings);
    journey.record(&install("i1", T0), T0).expect("ok");
    let back = T0 + 91 * DAY_MS;
    journey
        .record(&link_click("k1", back - 60_000, "dsp"), back)
        .expect("ok");
    journey.record(&install("i2", back), back).expect("ok");
    assert!(result_of(&store, "i2").is_some_and(|r| r.reattributed));
}

#[test]
fn a_rejected_install_does_not_start_a_lifecycle() {
    let store = MemoryStore::default();
    let (key, settings) = (key(), AppSettings::with_defaults("app"));
    let journey = Journey::new(&store, &key, &settings);
    let flag = Flag::new(Reason::BotUserAgent, "bot");
    journey
        .record_flagged(&install("i1", T0), Some(&flag), T0)
        .expect("ok");
    journey.record(&install("i2", T0 + DAY_MS), T0).expect("ok");
    let second = result_of(&store, "i2").expect("attributed");
    assert!(!second.reattributed && second.rejected.is_none());
}

#[test]
fn reengaged_users_credit_the_retargeting_click_too_even_past_the_click_window() {
    let store = MemoryStore::default();
    let (key, mut settings) = (key(), AppSettings::with_defaults("app"));
    settings.click_window_secs = 24 * 3600;
    let journey = Journey::new(&store, &key, &settings);
    journey
        .record(&track("s1", "Signed Up", T0, json!({})), T0)
        .expect("ok");
    journey
        .record(&campaign_page("r1", T0 + 10 * DAY_MS, "retarget"), T0)
        .expect("ok");
    journey
        .record(
            &track(
                "o1",
                "Order Completed",
                T0 + 13 * DAY_MS,
                json!({"revenue": 40}),
            ),
            T0,
        )
        .expect("ok");
    let order = result_of(&store, "o1").expect("attributed");
    assert_eq!(
        order.basis,
        Basis::Unattributed,
        "outside the 1-day click window"
    );
    let reengagement = order.reengagement.expect("re-engagement credit");
    assert_eq!(
        (
            reengagement.source.as_str(),
            reengagement.credit,
            reengagement.value
        ),
        ("retarget", 1.0, 40.0)
    );
    // Past the re-engagement window (30 days) the click no longer counts.
    journey
        .record(
            &track("o2", "Order Completed", T0 + 41 * DAY_MS, json!({})),
            T0,
        )
        .expect("ok");
    assert!(result_of(&store, "o2")
        .expect("attributed")
        .reengagement
        .is_none());
    // Before the first conversion, a click is a plain touch.
    assert!(result_of(&store, "s1")
        .expect("attributed")
        .reengagement
        .is_none());
}

fn order_with_two_touches(store: &MemoryStore, settings: &AppSettings) {
    let key = key();
    let journey = Journey::new(store, &key, settings);
    journey
        .record(&campaign_page("p1", T0 - 3 * HOUR_MS, "google"), T0)
        .expect("ok");
    journey
        .record(&campaign_page("p2", T0 - HOUR_MS, "bing"), T0)
        .expect("ok");
    journey
        .record(
            &track("o1", "Order Completed", T0, json!({"revenue": 10})),
            T0,
        )
        .expect("ok");
}

#[test]
fn a_rerun_with_the_same_settings_changes_nothing() {
    let store = MemoryStore::default();
    let settings = AppSettings::with_defaults("app");
    order_with_two_touches(&store, &settings);
    let outbox_before = store.outbox().len();
    let key = key();
    let summary = Journey::new(&store, &key, &settings)
        .reattribute(T0 + DAY_MS)
        .expect("ok");
    assert_eq!((summary.conversions, summary.revised.len()), (1, 0));
    assert_eq!(store.outbox().len(), outbox_before);
}

#[test]
fn rerun_ignores_float_noise_from_the_stored_json() {
    // Regression: a stored result comes back through JSON, and serde_json may parse a share
    // one unit in the last place off; comparing exactly made same-settings re-runs revise.
    let store = MemoryStore::default();
    let settings = AppSettings::with_defaults("app");
    order_with_two_touches(&store, &settings);
    let mut stored = result_of(&store, "o1").expect("stored");
    for model in &mut stored.models {
        for credit in &mut model.credits {
            credit.credit = f64::from_bits(credit.credit.to_bits() + 1);
            credit.value = f64::from_bits(credit.value.to_bits() - 1);
        }
    }
    store.replace_attribution(&stored).expect("write");
    let key = key();
    let summary = Journey::new(&store, &key, &settings)
        .reattribute(T0 + DAY_MS)
        .expect("ok");
    assert!(summary.revised.is_empty(), "{:?}", summary.revised);
    // A real change still counts.
    stored.models[0].credits[0].credit = 0.5;
    store.replace_attribution(&stored).expect("write");
    let summary = Journey::new(&store, &key, &settings)
        .reattribute(T0 + DAY_MS)
        .expect("ok");
    assert_eq!(summary.revised.len(), 1);
}

#[test]
fn a_rerun_with_new_settings_writes_a_new_revision() {
    let store = MemoryStore::default();
    let settings = AppSettings::with_defaults("app");
    order_with_two_touches(&store, &settings);
    let mut changed = settings.clone();
    changed.default_model = Model::FirstClick;
    changed.click_window_secs = 2 * 3600;
    let key = key();
    let journey = Journey::new(&store, &key, &changed);
    let summary = journey.reattribute(T0 + DAY_MS).expect("ok");
    assert_eq!(summary.revised.len(), 1);
    let stored = result_of(&store, "o1").expect("stored");
    assert_eq!(
        (stored.revision, stored.default_model),
        (2, Model::FirstClick)
    );
    assert_eq!(stored.attributed_at_ms, T0 + DAY_MS);
    assert_eq!(
        stored.credits_of(Model::FirstClick)[0].source,
        "bing",
        "google is outside 2 h now"
    );
    let revisions: Vec<u32> = store
        .outbox()
        .iter()
        .filter_map(|r| match r {
            OutboxRecord::Attribution(a) => Some(a.result.revision),
            _ => None,
        })
        .collect();
    assert_eq!(revisions, [1, 2]);
    assert_eq!(
        store.all_attributions().expect("read").len(),
        1,
        "replaced, not added"
    );
    // Running it again with the same new settings is a no-op.
    assert!(journey
        .reattribute(T0 + 2 * DAY_MS)
        .expect("ok")
        .revised
        .is_empty());
}

#[test]
fn reruns_judge_attribution_time_rules_again_and_keep_ingest_rejections() {
    let store = MemoryStore::default();
    let settings = AppSettings::with_defaults("app");
    let key = key();
    let journey = Journey::new(&store, &key, &settings);
    journey
        .record(&link_click("k1", T0, "dsp"), T0)
        .expect("ok");
    journey.record(&install("i1", T0 + 3_000), T0).expect("ok");
    let flag = Flag::new(Reason::BotUserAgent, "bot");
    journey
        .record_flagged(
            &track("o1", "Order Completed", T0 + HOUR_MS, json!({})),
            Some(&flag),
            T0,
        )
        .expect("ok");
    assert_eq!(
        result_of(&store, "i1").and_then(|r| r.rejected).as_deref(),
        Some("click_injection")
    );

    let mut lenient = settings.clone();
    lenient.fraud.click_injection.min_ctit_secs = 1;
    Journey::new(&store, &key, &lenient)
        .reattribute(T0 + DAY_MS)
        .expect("ok");
    let install = result_of(&store, "i1").expect("stored");
    assert_eq!((install.revision, install.rejected.as_deref()), (2, None));
    assert_eq!(install.credits_of(Model::LastClick)[0].source, "dsp");
    let order = result_of(&store, "o1").expect("stored");
    assert_eq!(
        (order.revision, order.rejected.as_deref()),
        (1, Some("bot_user_agent"))
    );

    // Switching the bot rule off lifts its rejections on the next re-run.
    lenient.fraud.bot_user_agents.enabled = false;
    Journey::new(&store, &key, &lenient)
        .reattribute(T0 + DAY_MS)
        .expect("ok");
    let order = result_of(&store, "o1").expect("stored");
    assert_eq!((order.revision, order.rejected.as_deref()), (2, None));
}

#[test]
fn a_touch_that_arrived_after_its_conversion_leaves_a_rerun_nothing_to_do() {
    let store = MemoryStore::default();
    let (key, settings) = (key(), AppSettings::with_defaults("app"));
    let journey = Journey::new(&store, &key, &settings);
    journey
        .record(&track("o1", "Order Completed", T0, json!({})), T0)
        .expect("ok");
    // A page view queued offline on the device arrives late, stamped before the order: it is
    // credited as it arrives (`super::late`), not at the next re-run.
    journey
        .record(&campaign_page("late", T0 - HOUR_MS, "google"), T0)
        .expect("ok");
    assert_eq!(
        result_of(&store, "o1")
            .expect("stored")
            .credits_of(Model::LastClick)[0]
            .source,
        "google"
    );
    let summary = journey.reattribute(T0 + DAY_MS).expect("ok");
    assert_eq!(summary.revised.len(), 0);
}

proptest! {
    /// Re-running with the settings a journey was recorded with never revises anything when
    /// events arrived in time order.
    #[test]
    fn rerun_with_unchanged_settings_is_a_no_op(
        mut events in prop::collection::vec((0i64..(60 * DAY_MS), 0u8..5), 1..15),
    ) {
        events.sort();
        let store = MemoryStore::default();
        let (key, settings) = (key(), AppSettings::with_defaults("app"));
        let journey = Journey::new(&store, &key, &settings);
        for (i, (offset, kind)) in events.iter().enumerate() {
            let id = format!("e{i}");
            let ts = T0 + offset;
            let event = match kind {
                0 => campaign_page(&id, ts, "google"),
                1 => link_click(&id, ts, "dsp"),
                2 => install(&id, ts),
                3 => track(&id, "Order Completed", ts, json!({"revenue": 3})),
                _ => track(&id, "Signed Up", ts, json!({})),
            };
            journey.record(&event, T0).expect("ok");
        }
        let summary = journey.reattribute(T0 + 90 * DAY_MS).expect("ok");
        prop_assert!(summary.revised.is_empty(), "{:?}", summary.revised);
    }
}

/// Retention (issue 12): a conversion whose look-back reaches before the retention cutoff may
/// have lost its touches; a re-run keeps its stored result instead of revising it to what is
/// left. One whose look-back is inside the retention period is judged again as usual.
#[test]
fn a_rerun_keeps_the_result_of_a_conversion_whose_touches_may_have_expired() {
    let store = MemoryStore::default();
    let settings = AppSettings::with_defaults("app");
    order_with_two_touches(&store, &settings);
    let mut changed = settings.clone();
    changed.default_model = Model::FirstClick;
    changed.click_window_secs = 2 * 3600;
    changed.retention_days = 10;
    let key = key();
    // 10 days later the order's 30-day re-engagement look-back reaches before the cutoff.
    let summary = Journey::new(&store, &key, &changed)
        .reattribute(T0 + 10 * DAY_MS)
        .expect("ok");
    assert!(summary.revised.is_empty(), "{:?}", summary.revised);
    assert_eq!(result_of(&store, "o1").expect("stored").revision, 1);
    // With the default retention the same re-run revises it.
    changed.retention_days = settings.retention_days;
    let summary = Journey::new(&store, &key, &changed)
        .reattribute(T0 + 10 * DAY_MS)
        .expect("ok");
    assert_eq!(summary.revised.len(), 1);
}
