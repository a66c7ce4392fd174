//! Acquisition cohorts and lifetime-value summaries computed by the origin itself: a
//! hand-built journey set goes in as the journeys send it, and the rollup push (to the query
//! Worker stand-in and the embedded file) carries the cohort rows and customer summaries
//! computed by hand below. A later purchase and later activity of an old cohort's user push
//! that cohort's day again. Needs no external service.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use attrib_core::attribution::attribute;
use attrib_core::conversion::Conversion;
use attrib_core::geo::OriginRegion;
use attrib_core::outbox::{AttributionRecord, EventRecord, MergeRecord, OutboxBatch, OutboxRecord};
use attrib_core::rollup::AppDay;
use attrib_core::settings::AppSettings;
use attrib_origin::testkit::{event, touch};
use common::*;

const DAY_MS: i64 = 86_400_000;
/// 2026-03-01T10:00:00Z: the first cohort day.
const T0: i64 = 1_772_359_200_000;
const APP: &str = "shop";

fn journey(user: &str) -> String {
    format!("u:{APP}:{user}")
}

fn batch(user: &str, records: Vec<OutboxRecord>) -> OutboxBatch {
    OutboxBatch {
        journey: journey(user),
        region: OriginRegion::Us,
        records,
    }
}

/// A page view: activity without a purchase.
fn visit(user: &str, id: &str, ts_ms: i64) -> OutboxRecord {
    OutboxRecord::Event(Box::new(EventRecord {
        app_id: APP.into(),
        journey: journey(user),
        event: event(id, user, ts_ms, None),
        touch: None,
        is_conversion: false,
    }))
}

/// A purchase, attributed over `touches` (source indexes of testkit's sources: 0 google,
/// 1 facebook, 2 newsletter; none: organic), each touch an hour before it.
fn purchase(
    user: &str,
    id: &str,
    ts_ms: i64,
    touches: &[usize],
    (revenue, currency): (f64, &str),
) -> Vec<OutboxRecord> {
    let mut records = Vec::new();
    let mut made = Vec::new();
    for (i, source) in touches.iter().enumerate() {
        let touch_id = format!("{id}-t{i}");
        let ts = ts_ms - 3_600_000 + i as i64;
        let t = touch(&touch_id, ts, *source);
        made.push(t.clone());
        records.push(OutboxRecord::Event(Box::new(EventRecord {
            app_id: APP.into(),
            journey: journey(user),
            event: event(&touch_id, user, ts, None),
            touch: Some(t),
            is_conversion: false,
        })));
    }
    records.push(OutboxRecord::Event(Box::new(EventRecord {
        app_id: APP.into(),
        journey: journey(user),
        event: event(id, user, ts_ms, Some("Order Completed")),
        touch: None,
        is_conversion: true,
    })));
    let conversion = Conversion {
        conversion_id: id.into(),
        name: "Order Completed".into(),
        ts_ms,
        revenue,
        currency: currency.into(),
        order_id: None,
    };
    let result = attribute(&conversion, &made, &AppSettings::with_defaults(APP), ts_ms);
    records.push(OutboxRecord::Attribution(Box::new(AttributionRecord {
        app_id: APP.into(),
        journey: journey(user),
        result,
    })));
    records
}

/// (cohort day, source, campaign, offset, currency, users, active users, revenue).
type Cell = (String, String, String, u32, String, u64, u64, String);

fn cell(
    day: &str,
    (source, campaign): (&str, &str),
    offset: u32,
    currency: &str,
    (users, active): (u64, u64),
    revenue: f64,
) -> Cell {
    (
        day.into(),
        source.into(),
        campaign.into(),
        offset,
        currency.into(),
        users,
        active,
        format!("{revenue:.2}"),
    )
}

fn pushed_cells(receiver: &receiver::Receiver) -> BTreeSet<Cell> {
    let received = receiver.received.lock().expect("lock");
    received
        .cohorts
        .values()
        .flatten()
        .map(|r| {
            (
                r.day.clone(),
                r.source.clone(),
                r.campaign.clone(),
                r.day_offset,
                r.currency.clone(),
                r.users,
                r.active_users,
                format!("{:.2}", r.revenue),
            )
        })
        .collect()
}

const GOOGLE: (&str, &str) = ("google", "spring-0");
const FACEBOOK: (&str, &str) = ("facebook", "spring-1");
const ORGANIC: (&str, &str) = ("(organic)", "(none)");
const D1: &str = "2026-03-01";
const D2: &str = "2026-03-02";
const D4: &str = "2026-03-04";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_origin_pushes_cohorts_and_ltv_customers_computed_from_its_facts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = receiver::start(SECRET).await;
    let mut origin = Origin::new(
        &dir.path().join("origin"),
        &[("QUERY_WORKER_URL", receiver.url.clone())],
    );
    origin.start().await;
    let client = reqwest::Client::new();

    // ann: google on day 0 (10 USD), again on day 2 (20 USD, newsletter's touch: she stays in
    // the google cohort), a visit on day 5. bob: facebook on day 0 (5 USD), a visit on day 1.
    // cy: organic on 03-02 (7 EUR). dan visits on 03-01 but first buys on 03-04 (google):
    // the visit is before his cohort.
    let first = [
        batch("ann", purchase("ann", "ann-1", T0, &[0], (10.0, "USD"))),
        batch(
            "ann",
            purchase("ann", "ann-2", T0 + 2 * DAY_MS, &[2], (20.0, "USD")),
        ),
        batch("ann", vec![visit("ann", "ann-v5", T0 + 5 * DAY_MS)]),
        batch(
            "bob",
            purchase("bob", "bob-1", T0 + 60_000, &[1], (5.0, "USD")),
        ),
        batch("bob", vec![visit("bob", "bob-v1", T0 + DAY_MS)]),
        batch("cy", purchase("cy", "cy-1", T0 + DAY_MS, &[], (7.0, "EUR"))),
        batch("dan", vec![visit("dan", "dan-v0", T0)]),
        batch(
            "dan",
            purchase("dan", "dan-1", T0 + 3 * DAY_MS, &[0], (3.0, "USD")),
        ),
    ];
    for b in &first {
        let (status, body) = send_batch(&client, &origin, b).await;
        assert_eq!(status, 200, "{body}");
    }
    let mut want: BTreeSet<Cell> = [
        cell(D1, GOOGLE, 0, "", (1, 1), 0.0),
        cell(D1, GOOGLE, 0, "USD", (0, 0), 10.0),
        cell(D1, GOOGLE, 2, "", (1, 1), 0.0),
        cell(D1, GOOGLE, 2, "USD", (0, 0), 20.0),
        cell(D1, GOOGLE, 5, "", (1, 1), 0.0),
        cell(D1, FACEBOOK, 0, "", (1, 1), 0.0),
        cell(D1, FACEBOOK, 0, "USD", (0, 0), 5.0),
        cell(D1, FACEBOOK, 1, "", (1, 1), 0.0),
        cell(D2, ORGANIC, 0, "", (1, 1), 0.0),
        cell(D2, ORGANIC, 0, "EUR", (0, 0), 7.0),
        cell(D4, GOOGLE, 0, "", (1, 1), 0.0),
        cell(D4, GOOGLE, 0, "USD", (0, 0), 3.0),
    ]
    .into_iter()
    .collect();
    eventually(
        Duration::from_secs(30),
        "the first cohorts pushed",
        || async { pushed_cells(&receiver) == want },
    )
    .await;

    // Lifetime value: daily purchase periods, aged to today.
    let today = chrono::Utc::now().timestamp_millis().div_euclid(DAY_MS);
    let age = |first_ms: i64| (today - first_ms.div_euclid(DAY_MS)) as f64;
    let ltv = || {
        let received = receiver.received.lock().expect("lock");
        let mut rows: Vec<_> = received
            .ltv_customers
            .values()
            .flatten()
            .map(|c| {
                (
                    c.day.clone(),
                    c.source.clone(),
                    c.currency.clone(),
                    c.frequency,
                    c.recency,
                    c.t,
                    c.monetary_value,
                )
            })
            .collect();
        rows.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
        rows
    };
    let mut want_ltv = vec![
        (
            D1.into(),
            "facebook".into(),
            "USD".into(),
            0,
            0.0,
            age(T0),
            0.0,
        ),
        (
            D1.into(),
            "google".into(),
            "USD".into(),
            1,
            2.0,
            age(T0),
            20.0,
        ),
        (
            D2.into(),
            "(organic)".into(),
            "EUR".into(),
            0,
            0.0,
            age(T0 + DAY_MS),
            0.0,
        ),
        (
            D4.into(),
            "google".into(),
            "USD".into(),
            0,
            0.0,
            age(T0 + 3 * DAY_MS),
            0.0,
        ),
    ];
    assert_eq!(ltv(), want_ltv);

    // The embedded file holds the same cohort rows and customers.
    let db_path = origin.data_dir.join("origin.db");
    let embedded = || async {
        let db = libsql::Builder::new_local(&db_path)
            .build()
            .await
            .expect("db");
        let conn = db.connect().expect("conn");
        let mut rows = conn
            .query(
                "SELECT (SELECT count(*) FROM cohort_days), \
                 (SELECT sum(active_users) FROM cohort_days), \
                 (SELECT count(*) FROM ltv_customers)",
                (),
            )
            .await
            .expect("query");
        let row = rows.next().await.expect("row").expect("row");
        (
            row.get::<i64>(0).expect("n"),
            row.get::<Option<i64>>(1).expect("sum").unwrap_or(0),
            row.get::<i64>(2).expect("n"),
        )
    };
    eventually(
        Duration::from_secs(30),
        "cohorts in the embedded file",
        || async { embedded().await == (12, 7, 4) },
    )
    .await;

    // Later: bob buys again on day 3 (8 USD) and cy comes back on her day 1, under another
    // journey merged into hers. Only their cohorts change; both days are pushed again.
    let pushes_before = receiver.received.lock().expect("lock").requests;
    let later = [
        batch(
            "bob",
            purchase("bob", "bob-2", T0 + 3 * DAY_MS, &[1], (8.0, "USD")),
        ),
        batch(
            "cy-phone",
            vec![visit("cy-phone", "cy-v1", T0 + 2 * DAY_MS)],
        ),
        OutboxBatch {
            journey: journey("cy"),
            region: OriginRegion::Us,
            records: vec![OutboxRecord::Merge(MergeRecord {
                app_id: APP.into(),
                from: journey("cy-phone"),
                into: journey("cy"),
                merged_at_ms: T0 + 2 * DAY_MS,
            })],
        },
    ];
    for b in &later {
        let (status, body) = send_batch(&client, &origin, b).await;
        assert_eq!(status, 200, "{body}");
    }
    want.insert(cell(D1, FACEBOOK, 3, "", (1, 1), 0.0));
    want.insert(cell(D1, FACEBOOK, 3, "USD", (0, 0), 8.0));
    want.insert(cell(D2, ORGANIC, 1, "", (1, 1), 0.0));
    eventually(
        Duration::from_secs(30),
        "the changed cohorts pushed",
        || async { pushed_cells(&receiver) == want },
    )
    .await;
    want_ltv[0] = (
        D1.into(),
        "facebook".into(),
        "USD".into(),
        1,
        3.0,
        age(T0),
        8.0,
    );
    assert_eq!(ltv(), want_ltv);
    assert!(receiver.received.lock().expect("lock").requests > pushes_before);
    let days: BTreeSet<AppDay> = receiver
        .received
        .lock()
        .expect("lock")
        .cohorts
        .keys()
        .cloned()
        .collect();
    assert!(days.iter().all(|d| d.app_id == APP));
    origin.terminate();
}
