//! Per-conversion attribution cost for journeys of 1, 10 and 100 touches, native, one core.
//!
//! Two figures per size:
//! - `engine`: what the journey computes for a conversion, without storage: eligible touches,
//!   attribution-time fraud rules, every heuristic model, the re-engagement touch, postback
//!   planning (a `*` postback configuration, so every size plans one postback).
//! - `record`: `Journey::record` of the conversion on the in-memory store (reading the touches,
//!   writing the attribution, outbox records and postback). The memory store snapshots its
//!   whole state per transaction (for rollback), a cost the SQLite store does not have.
//!
//! Each figure is the median (and 90th percentile) of many timed calls.

use std::hint::black_box;
use std::time::{Duration, Instant};

use attrib_core::attribution::{credit, eligible_touches, Windows};
use attrib_core::conversion::Conversion;
use attrib_core::event::{Event, EventType};
use attrib_core::fraud::screen::judge_conversion;
use attrib_core::identity::{JourneyKey, JourneyKind};
use attrib_core::journey::memory::MemoryStore;
use attrib_core::journey::Journey;
use attrib_core::lifecycle::reengagement_touch;
use attrib_core::postback::{plan, PostbackConfig, PostbackMethod};
use attrib_core::settings::AppSettings;
use attrib_core::touch::{Channel, Touch, TouchKind};
use serde_json::{json, Map, Value};

const NOW: i64 = 1_750_000_000_000;
const MINUTE: i64 = 60_000;
const SIZES: [usize; 3] = [1, 10, 100];

fn settings() -> AppSettings {
    let mut s = AppSettings::with_defaults("bench");
    s.postbacks = vec![PostbackConfig {
        network: "*".into(),
        url: "https://net.example/pb?k={idempotency_key}&c={click_id}&r={revenue}&cr={credit}"
            .into(),
        method: PostbackMethod::Get,
        events: Vec::new(),
    }];
    s
}

fn touches(n: usize) -> Vec<Touch> {
    (0..n)
        .map(|i| Touch {
            touch_id: format!("t{i:04}"),
            message_id: format!("t{i:04}"),
            ts_ms: NOW - (n - i) as i64 * MINUTE,
            kind: TouchKind::Click,
            channel: Channel::PaidSearch,
            source: format!("net{}", i % 7),
            medium: "cpc".into(),
            campaign: format!("campaign-{}", i % 3),
            term: None,
            content: None,
            link_id: None,
            click_id: Some(format!("c_{i}")),
            ad_click_id: None,
            rejected: None,
        })
        .collect()
}

fn conversion() -> Conversion {
    Conversion {
        conversion_id: "conv".into(),
        name: "Order Completed".into(),
        ts_ms: NOW,
        revenue: 42.0,
        currency: "USD".into(),
        order_id: None,
    }
}

fn event(id: &str, kind: EventType, ts_ms: i64, properties: Value) -> Event {
    Event {
        message_id: id.into(),
        event_type: kind,
        user_id: Some("u".into()),
        anonymous_id: None,
        previous_id: None,
        group_id: None,
        name: None,
        timestamp_ms: ts_ms,
        original_timestamp_ms: None,
        sent_at_ms: None,
        received_at_ms: ts_ms,
        context: Map::new(),
        properties: properties.as_object().cloned().unwrap_or_default(),
        traits: Map::new(),
    }
}

fn engine(settings: &AppSettings, touches: &[Touch], conversion: &Conversion) -> usize {
    let windows = Windows::of(settings);
    let (basis, eligible) = eligible_touches(conversion.ts_ms, touches, &windows);
    let flag = judge_conversion(conversion, basis, &eligible, &settings.fraud);
    let mut result = credit(conversion, basis, &eligible, settings, NOW);
    result.reengagement = reengagement_touch(
        conversion.ts_ms,
        touches,
        Some(NOW - 40 * 24 * 3600 * 1000),
        settings.reengagement_window_ms(),
    )
    .map(|t| attrib_core::attribution::credited(t, 1.0, conversion.revenue));
    flag.is_some() as usize + plan(&result, touches, settings).len()
}

/// Median and 90th percentile of `samples` timed runs of `run` (after `setup`, untimed).
fn measure<S>(
    samples: usize,
    mut setup: impl FnMut() -> S,
    mut run: impl FnMut(S),
) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..samples)
        .map(|_| {
            let state = setup();
            let started = Instant::now();
            run(state);
            started.elapsed()
        })
        .collect();
    times.sort();
    (times[samples / 2], times[samples * 9 / 10])
}

fn main() {
    let settings = settings();
    let key = JourneyKey::new("bench", JourneyKind::User, "u");
    println!(
        "per-conversion attribution cost, native ({}), all 6 heuristic models",
        std::env::consts::ARCH
    );
    println!(
        "{:>8} {:>14} {:>14} {:>14} {:>14}",
        "touches", "engine p50", "engine p90", "record p50", "record p90"
    );
    for n in SIZES {
        let made = touches(n);
        let conv = conversion();
        // Warm up, then time batches of 100 engine calls (one call is close to timer resolution).
        for _ in 0..1_000 {
            black_box(engine(&settings, &made, &conv));
        }
        let (engine50, engine90) = measure(
            500,
            || (),
            |()| {
                for _ in 0..100 {
                    black_box(engine(
                        black_box(&settings),
                        black_box(&made),
                        black_box(&conv),
                    ));
                }
            },
        );
        let (record50, record90) = measure(
            300,
            || {
                let store = MemoryStore::default();
                let journey = Journey::new(&store, &key, &settings);
                for i in 0..n {
                    let page = event(
                        &format!("p{i}"),
                        EventType::Click,
                        NOW - (n - i) as i64 * MINUTE,
                        json!({"click_id": format!("c_{i}"), "source": format!("net{}", i % 7), "medium": "cpc"}),
                    );
                    let _ = journey.record(&page, NOW);
                }
                store
            },
            |store| {
                let journey = Journey::new(&store, &key, &settings);
                let mut order = event("order", EventType::Track, NOW, json!({"revenue": 42}));
                order.name = Some("Order Completed".into());
                black_box(journey.record(&order, NOW).is_ok());
            },
        );
        println!(
            "{n:>8} {:>14?} {:>14?} {:>14?} {:>14?}",
            engine50 / 100,
            engine90 / 100,
            record50,
            record90
        );
    }
}
