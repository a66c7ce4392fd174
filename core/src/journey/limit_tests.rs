//! Issue 13, finding 4: journeys are bounded.

use super::memory::MemoryStore;
use super::*;
use crate::identity::JourneyKind;
use crate::limits::{JOURNEY_FULL_REASON, MAX_JOURNEY_BYTES};
use crate::testkit::*;

#[test]
fn finding_4_a_full_journey_refuses_new_events_clearly_and_keeps_what_it_holds() {
    let store = MemoryStore::default();
    let key = JourneyKey::new("app", JourneyKind::User, "flooded");
    let settings = AppSettings::with_defaults("app");
    let t0 = 100 * DAY_MS;
    let stored = page("p1", t0, "https://shop.example/?utm_source=google", None);
    let below = Journey::new(&store, &key, &settings).using_bytes(MAX_JOURNEY_BYTES - 1);
    assert!(matches!(
        below.record(&stored, t0),
        Ok(EventOutcome::Stored { .. })
    ));

    let full = Journey::new(&store, &key, &settings).using_bytes(MAX_JOURNEY_BYTES);
    let fresh = page("p2", t0 + 1, "https://shop.example/?utm_source=bing", None);
    match full.record(&fresh, t0) {
        Ok(EventOutcome::Rejected { error }) => {
            assert_eq!(error.field, "journey");
            assert_eq!(error.reason, JOURNEY_FULL_REASON);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(!store.has_event("p2").expect("read"));
    // A retry of what it already holds is still a duplicate, not an error.
    assert_eq!(
        full.record(&stored, t0).expect("record"),
        EventOutcome::Duplicate
    );
    assert_eq!(store.all_touches().expect("read").len(), 1);
}

#[test]
fn finding_4_a_conversion_reads_a_bounded_number_of_touches() {
    let store = MemoryStore::default();
    let key = JourneyKey::new("app", JourneyKind::User, "flooded");
    let settings = AppSettings::with_defaults("app");
    let journey = Journey::new(&store, &key, &settings);
    let t0 = 100 * DAY_MS;
    for i in 0..5 {
        let url = format!("https://shop.example/?utm_source=s{i}&utm_medium=cpc");
        let event = page(&format!("p{i}"), t0 + i * 60_000, &url, None);
        journey.record(&event, t0).expect("record");
    }
    let newest = store
        .touches_between(i64::MIN, t0 + 3 * 60_000, 2)
        .expect("read");
    let times: Vec<i64> = newest.iter().map(|t| t.ts_ms).collect();
    assert_eq!(times, vec![t0 + 2 * 60_000, t0 + 3 * 60_000]);
    const {
        assert!(
            crate::limits::MAX_TOUCHES_READ_PER_CONVERSION
                >= crate::limits::MAX_TOUCHES_PER_ATTRIBUTION
        );
    }
}
