//! Acquisition cohorts and lifetime-value summaries computed by the origin itself: a
//! hand-built journey set goes in as the journeys send it, and the rollup push (to the query
//! Worker stand-in and the embedded file) carries the cohort rows and customer summaries
//! computed by hand below. A later purchase and later activity of an old cohort's user push
//! that cohort's day again. Needs no external service.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use attrib_core::rollup::AppDay;
use common::journeys::*;
use common::*;

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

    for b in &first_batches() {
        let (status, body) = send_batch(&client, &origin, b).await;
        assert_eq!(status, 200, "{body}");
    }
    let want = first_cells();
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

    // Later purchases and activity change only their cohorts: those days are pushed again.
    let pushes_before = receiver.received.lock().expect("lock").requests;
    for b in &later_batches() {
        let (status, body) = send_batch(&client, &origin, b).await;
        assert_eq!(status, 200, "{body}");
    }
    let want = later_cells();
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
