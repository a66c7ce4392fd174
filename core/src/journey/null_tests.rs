//! Null paths through the journey engine: when a run of touches closes, what it records, and
//! that each one is written once however often, and whenever, closing runs.

use super::memory::MemoryStore;
use super::*;
use crate::event::EventType;
use crate::fraud::{Flag, Reason};
use crate::identity::JourneyKind;
use crate::outbox::NullPathRecord;
use crate::rollup::MAX_PATH_STEPS;
use crate::testkit::*;
use proptest::prelude::*;
use serde_json::json;

const T0: i64 = 500 * DAY_MS;
const CLICK_WINDOW_SECS: u32 = 3600;
const VIEW_WINDOW_SECS: u32 = 600;
const CLICK_MS: i64 = CLICK_WINDOW_SECS as i64 * 1000;
const VIEW_MS: i64 = VIEW_WINDOW_SECS as i64 * 1000;

fn key(id: &str) -> JourneyKey {
    JourneyKey::new("app", JourneyKind::User, id)
}

fn settings() -> AppSettings {
    let mut settings = AppSettings::with_defaults("app");
    settings.click_window_secs = CLICK_WINDOW_SECS;
    settings.view_window_secs = VIEW_WINDOW_SECS;
    settings
}

fn windows() -> Windows {
    Windows::of(&settings())
}

fn link_click(id: &str, ts: i64, source: &str) -> Event {
    with_properties(
        event(id, EventType::Click, ts),
        json!({"click_id": format!("c_{id}"), "source": source, "medium": "cpc"}),
    )
}

fn impression(id: &str, ts: i64, source: &str) -> Event {
    with_properties(
        event(id, EventType::Impression, ts),
        json!({"source": source, "medium": "display"}),
    )
}

fn order(id: &str, ts: i64) -> Event {
    track(id, "Order Completed", ts, json!({"revenue": 10}))
}

fn nulls_of(store: &MemoryStore) -> Vec<NullPathRecord> {
    store
        .outbox()
        .into_iter()
        .filter_map(|r| match r {
            OutboxRecord::NullPath(n) => Some(n),
            _ => None,
        })
        .collect()
}

fn close(store: &MemoryStore, key: &JourneyKey, now: i64) -> PathClosure {
    close_null_paths(store, key, &windows(), now).expect("closes")
}

#[test]
fn touches_without_a_conversion_close_once_after_their_window() {
    let store = MemoryStore::default();
    let (key, settings) = (key("u1"), settings());
    let journey = Journey::new(&store, &key, &settings);
    for (i, (source, ts)) in [("google", T0), ("google", T0 + 1_000), ("bing", T0 + 2_000)]
        .into_iter()
        .enumerate()
    {
        journey
            .record(&link_click(&format!("k{i}"), ts, source), ts)
            .expect("recorded");
    }
    let due = T0 + 2_000 + CLICK_MS + 1;
    assert_eq!(
        store.null_path_state().expect("state").due_ms,
        Some(T0 + CLICK_MS + 1)
    );

    // Early runs decide nothing and learn the exact due time.
    let early = close(&store, &key, T0 + CLICK_MS + 1);
    assert!(early.closed.is_empty());
    assert_eq!(early.next_due_ms, Some(due));
    assert!(close(&store, &key, due - 1).closed.is_empty());

    let closure = close(&store, &key, due);
    assert_eq!(
        closure.closed,
        vec![NullPathRecord {
            app_id: "app".into(),
            journey: "u:app:u1".into(),
            path: vec!["google".into(), "bing".into()],
            touches: 3,
            first_touch_ms: T0,
            last_touch_ms: T0 + 2_000,
            last_touch_id: "c_k2".into(),
            closed_at_ms: due,
        }]
    );
    assert_eq!(closure.next_due_ms, None);
    assert_eq!(
        OutboxRecord::NullPath(closure.closed[0].clone()).id(),
        "null_path:app:u:app:u1:c_k2"
    );
    // The alarm firing again, much later, writes nothing more.
    for later in [due, due + 1, due + 30 * DAY_MS] {
        assert!(close(&store, &key, later).closed.is_empty());
    }
    assert_eq!(nulls_of(&store).len(), 1);
    assert_eq!(
        store.null_path_state().expect("state"),
        NullPathState {
            closed_through_ms: Some(T0 + 2_000),
            due_ms: None
        }
    );
}

#[test]
fn a_conversion_inside_the_window_takes_the_touches_in() {
    let store = MemoryStore::default();
    let (key, settings) = (key("u2"), settings());
    let journey = Journey::new(&store, &key, &settings);
    journey
        .record(&link_click("k1", T0, "google"), T0)
        .expect("ok");
    let converted = T0 + CLICK_MS; // the last millisecond the click can be credited
    journey
        .record(&order("o1", converted), converted)
        .expect("ok");
    // The conversion brought closing forward: it runs and advances the mark, writing nothing.
    assert_eq!(
        store.null_path_state().expect("state").due_ms,
        Some(converted)
    );
    let closure = close(&store, &key, converted);
    assert!(closure.closed.is_empty());
    assert_eq!(closure.next_due_ms, None);
    assert_eq!(
        store.null_path_state().expect("state").closed_through_ms,
        Some(T0)
    );
    assert!(close(&store, &key, T0 + 90 * DAY_MS).closed.is_empty());
    assert!(nulls_of(&store).is_empty());
}

#[test]
fn a_conversion_after_the_window_does_not_take_them_in_however_late_closing_runs() {
    let store = MemoryStore::default();
    let (key, settings) = (key("u3"), settings());
    let journey = Journey::new(&store, &key, &settings);
    journey
        .record(&link_click("k1", T0, "google"), T0)
        .expect("ok");
    let too_late = T0 + CLICK_MS + 1;
    journey
        .record(&order("o1", too_late), too_late)
        .expect("ok");
    let result = &store.all_attributions().expect("read")[0];
    assert_eq!(result.basis, crate::attribution::Basis::Unattributed);
    // The alarm only runs now, after the conversion: the click is still a null path.
    let closure = close(&store, &key, too_late + 5_000);
    assert_eq!(closure.closed.len(), 1);
    assert_eq!(closure.closed[0].path, ["google"]);
}

#[test]
fn sequences_are_cut_by_conversions_and_by_gaps_longer_than_the_window() {
    let store = MemoryStore::default();
    let (key, settings) = (key("u4"), settings());
    let journey = Journey::new(&store, &key, &settings);
    let events = [
        link_click("a", T0, "google"),
        // Due at T0 + CLICK_MS + 1: a null path before the next click comes.
        link_click("b", T0 + CLICK_MS + 1, "bing"),
        order("o1", T0 + CLICK_MS + 2), // takes "b" in
        impression("v", T0 + CLICK_MS + 10, "display-net"),
        link_click("c", T0 + CLICK_MS + 20, "email"),
    ];
    for e in &events {
        journey.record(e, e.timestamp_ms).expect("ok");
    }
    let end = T0 + 2 * CLICK_MS + 21;
    let closure = close(&store, &key, end);
    let paths: Vec<_> = closure.closed.iter().map(|n| n.path.clone()).collect();
    assert_eq!(paths, [vec!["google"], vec!["display-net", "email"]]);
    assert_eq!(closure.closed[1].touches, 2);
}

#[test]
fn views_close_after_the_view_window_and_rejected_touches_are_left_out() {
    let store = MemoryStore::default();
    let (key, settings) = (key("u5"), settings());
    let journey = Journey::new(&store, &key, &settings);
    journey
        .record(&impression("v1", T0, "dsp"), T0)
        .expect("ok");
    let bot = Flag::new(Reason::BotUserAgent, "test");
    journey
        .record_flagged(&link_click("k1", T0 + 1, "spam"), Some(&bot), T0 + 1)
        .expect("ok");
    assert_eq!(
        store.null_path_state().expect("state").due_ms,
        Some(T0 + VIEW_MS + 1),
        "a rejected click does not keep the sequence open"
    );
    let closure = close(&store, &key, T0 + VIEW_MS + 1);
    assert_eq!(closure.closed.len(), 1);
    assert_eq!(closure.closed[0].path, ["dsp"]);
    assert_eq!(closure.closed[0].touches, 1);
}

#[test]
fn long_sequences_keep_their_last_steps() {
    let store = MemoryStore::default();
    let (key, settings) = (key("u6"), settings());
    let journey = Journey::new(&store, &key, &settings);
    let n = MAX_PATH_STEPS as i64 + 5;
    for i in 0..n {
        let source = format!("s{i}");
        journey
            .record(&link_click(&format!("k{i}"), T0 + i, &source), T0 + i)
            .expect("ok");
    }
    let closure = close(&store, &key, T0 + n + CLICK_MS);
    let record = &closure.closed[0];
    assert_eq!(record.path.len(), MAX_PATH_STEPS);
    assert_eq!(record.path.first().map(String::as_str), Some("s5"));
    assert_eq!(record.touches as i64, n);
}

#[test]
fn a_failed_closing_writes_nothing_and_the_retry_writes_once() {
    let store = MemoryStore::default();
    let (key, settings) = (key("u7"), settings());
    let journey = Journey::new(&store, &key, &settings);
    journey
        .record(&link_click("k1", T0, "google"), T0)
        .expect("ok");
    let before = store.outbox().len();
    store.fail_after_writes(1); // the record lands, the mark does not
    assert!(close_null_paths(&store, &key, &windows(), T0 + CLICK_MS + 1).is_err());
    assert_eq!(store.outbox().len(), before);
    assert_eq!(close(&store, &key, T0 + CLICK_MS + 1).closed.len(), 1);
    assert_eq!(nulls_of(&store).len(), 1);
}

#[test]
fn merged_journeys_do_not_close_the_same_touches_twice() {
    let settings = settings();
    let (anon, user) = (
        JourneyKey::new("app", JourneyKind::Anonymous, "a1"),
        key("u8"),
    );
    let (source, target) = (MemoryStore::default(), MemoryStore::default());
    let from = Journey::new(&source, &anon, &settings);
    from.record(&link_click("k1", T0, "google"), T0)
        .expect("ok");
    let closed_at = T0 + CLICK_MS + 1;
    assert_eq!(close(&source, &anon, closed_at).closed.len(), 1);
    // A later touch of the anonymous journey, still open when it is merged.
    from.record(&link_click("k2", closed_at + 10, "bing"), closed_at + 10)
        .expect("ok");

    let into = Journey::new(&target, &user, &settings);
    let export = from.export().expect("export");
    assert_eq!(export.paths_closed_through_ms, Some(T0));
    // An export through JSON, as the Durable Objects exchange it; and one from an older
    // journey, without the mark, still reads.
    let export: JourneyExport =
        serde_json::from_str(&serde_json::to_string(&export).expect("json")).expect("reads");
    let old: JourneyExport =
        serde_json::from_str(r#"{"events":[],"touches":[],"attributions":[]}"#).expect("reads");
    assert_eq!(old.paths_closed_through_ms, None);

    into.import(&anon, &export, closed_at + 20)
        .expect("imported");
    into.import(&anon, &export, closed_at + 30).expect("again");
    let state = target.null_path_state().expect("state");
    assert_eq!(state.closed_through_ms, Some(T0));
    assert_eq!(state.due_ms, Some(closed_at + 20), "closing is due at once");
    let end = closed_at + 10 + CLICK_MS + 1;
    let closure = close(&target, &user, end);
    let paths: Vec<_> = closure.closed.iter().map(|n| n.path.clone()).collect();
    assert_eq!(paths, [vec!["bing"]], "k1 was closed by the source already");
    assert!(close(&target, &user, end + DAY_MS).closed.is_empty());
}

/// One generated event: a click, an impression or a conversion, `gap` ms after the previous.
#[derive(Debug, Clone)]
enum Step {
    Click(usize, i64),
    View(usize, i64),
    Convert(i64),
}

fn step() -> impl Strategy<Value = Step> {
    let gap = prop_oneof![0i64..5_000, 0i64..(2 * CLICK_MS)];
    prop_oneof![
        (0usize..3, gap.clone()).prop_map(|(s, g)| Step::Click(s, g)),
        (0usize..3, gap.clone()).prop_map(|(s, g)| Step::View(s, g)),
        gap.prop_map(Step::Convert),
    ]
}

/// Records `steps` in time order; closes whenever the stored due time has come (a prompt
/// alarm) if `prompt`, and in every case once more at the end.
fn run(steps: &[Step], prompt: bool, extra_runs: bool) -> (MemoryStore, Vec<NullPathRecord>) {
    let store = MemoryStore::default();
    let (key, settings) = (key("p"), settings());
    let journey = Journey::new(&store, &key, &settings);
    let mut now = T0;
    for (i, step) in steps.iter().enumerate() {
        let (event, gap) = match step {
            Step::Click(s, g) => (link_click(&format!("e{i}"), now + g, &format!("s{s}")), g),
            Step::View(s, g) => (impression(&format!("e{i}"), now + g, &format!("s{s}")), g),
            Step::Convert(g) => (order(&format!("e{i}"), now + g), g),
        };
        let next = now + gap;
        if prompt {
            while let Some(due) = store.null_path_state().expect("state").due_ms {
                if due > next {
                    break;
                }
                close(&store, &key, due);
            }
        }
        if extra_runs {
            close(&store, &key, next);
        }
        now = next;
        journey.record(&event, now).expect("recorded");
    }
    close(&store, &key, now + 3 * CLICK_MS);
    let mut nulls = nulls_of(&store);
    nulls.iter_mut().for_each(|n| n.closed_at_ms = 0);
    (store, nulls)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// When closing runs (promptly at each due time, at every event, or once at the end)
    /// changes nothing: the same null paths, each written once.
    #[test]
    fn closing_is_independent_of_when_it_runs(steps in prop::collection::vec(step(), 1..25)) {
        let (_, once) = run(&steps, false, false);
        let (_, prompt) = run(&steps, true, false);
        let (store, often) = run(&steps, true, true);
        prop_assert_eq!(&once, &prompt);
        prop_assert_eq!(&once, &often);
        let ids: std::collections::BTreeSet<String> = store
            .outbox()
            .iter()
            .filter(|r| matches!(r, OutboxRecord::NullPath(_)))
            .map(OutboxRecord::id)
            .collect();
        prop_assert_eq!(ids.len(), often.len());
        // Every touch is decided at the end, in at most one null path.
        let in_nulls: u32 = once.iter().map(|n| n.touches).sum();
        prop_assert!(in_nulls as usize <= store.all_touches().expect("read").len());
        prop_assert_eq!(store.null_path_state().expect("state").due_ms, None);
    }

    /// A null path never holds a touch that a conversion could credit: no conversion falls
    /// between its first touch and its due time.
    #[test]
    fn no_conversion_could_credit_a_null_path(steps in prop::collection::vec(step(), 1..25)) {
        let (store, nulls) = run(&steps, true, false);
        let conversions = store.conversion_times_since(i64::MIN).expect("read");
        let touches = store.all_touches().expect("read");
        for null in &nulls {
            let members: Vec<&Touch> = touches
                .iter()
                .filter(|t| t.ts_ms >= null.first_touch_ms && t.ts_ms <= null.last_touch_ms)
                .collect();
            let due = nulls::closes_at(&members, &windows());
            prop_assert!(
                !conversions.iter().any(|c| *c >= null.first_touch_ms && *c < due),
                "{null:?} / {conversions:?}"
            );
        }
    }
}
