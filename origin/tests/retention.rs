//! Retention at the origin (issue 12, `src/retention.rs`): with `ATTRIB_ORIGIN_RETENTION_DAYS`
//! set, raw events older than that leave the embedded store and ClickHouse while newer ones and
//! the attribution rows stay. The embedded test needs no service; the ClickHouse one needs
//! ATTRIB_IT_CLICKHOUSE_URL (scripts/test-origin.sh starts Debian's ClickHouse 18.16) and
//! FAILS without it, like `tests/services.rs`.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use attrib_core::outbox::{OutboxBatch, OutboxRecord};
use attrib_origin::testkit::journey_batch;
use common::stores::clickhouse_query;
use common::*;

const OLD_MS: i64 = 1_714_521_600_000; // 2024-05-01T00:00:00Z

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn event_ids(batch: &OutboxBatch) -> Vec<String> {
    batch
        .records
        .iter()
        .filter(|r| matches!(r, OutboxRecord::Event(_)))
        .map(|r| r.id())
        .collect()
}

fn retention_env() -> Vec<(&'static str, String)> {
    vec![
        ("ATTRIB_ORIGIN_RETENTION_DAYS", "1".into()),
        ("ATTRIB_ORIGIN_RETENTION_INTERVAL_SECS", "1".into()),
    ]
}

async fn embedded_event_ids(path: &std::path::Path) -> Vec<String> {
    let db = libsql::Builder::new_local(path).build().await.expect("db");
    let conn = db.connect().expect("conn");
    let mut rows = conn
        .query("SELECT id FROM events", ())
        .await
        .expect("query");
    let mut ids = Vec::new();
    while let Some(row) = rows.next().await.expect("row") {
        ids.push(row.get::<String>(0).expect("id"));
    }
    ids.sort();
    ids
}

async fn embedded_attributions(path: &std::path::Path) -> i64 {
    let db = libsql::Builder::new_local(path).build().await.expect("db");
    let conn = db.connect().expect("conn");
    let mut rows = conn
        .query("SELECT count(*) FROM attributions", ())
        .await
        .expect("query");
    let row = rows.next().await.expect("row").expect("one row");
    row.get::<i64>(0).expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_events_leave_the_embedded_store_and_new_ones_and_attributions_stay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(&dir.path().join("origin"), &retention_env());
    origin.start().await;
    let client = reqwest::Client::new();
    let old = journey_batch("app", "old-user", "o", 2, true, OLD_MS);
    let new = journey_batch("app", "new-user", "n", 2, true, now_ms() - 60_000);
    for batch in [&old, &new] {
        let (status, body) = send_batch(&client, &origin, batch).await;
        assert_eq!(status, 200, "{body}");
    }
    let db = dir.path().join("origin/origin.db");
    let mut want = event_ids(&new);
    want.sort();
    let db_path = db.clone();
    eventually(Duration::from_secs(60), "only the new events left", || {
        let (db, want) = (db_path.clone(), want.clone());
        async move { embedded_event_ids(&db).await == want }
    })
    .await;
    assert_eq!(embedded_attributions(&db).await, 2, "both conversions kept");
    origin.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_events_leave_clickhouse_by_a_mutation() {
    let url = require_env("ATTRIB_IT_CLICKHOUSE_URL");
    let database = unique("retention");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = retention_env();
    env.extend([
        ("CLICKHOUSE_URL", url.clone()),
        ("CLICKHOUSE_DATABASE", database.clone()),
        ("CLICKHOUSE_BATCH_WAIT_MS", "300".into()),
    ]);
    let mut origin = Origin::new(&dir.path().join("origin"), &env);
    origin.start().await;
    let client = reqwest::Client::new();
    let old = journey_batch("app", "old-user", "o", 2, true, OLD_MS);
    let new = journey_batch("app", "new-user", "n", 2, true, now_ms() - 60_000);
    for batch in [&old, &new] {
        let (status, body) = send_batch(&client, &origin, batch).await;
        assert_eq!(status, 200, "{body}");
    }
    let mut want = event_ids(&new);
    want.sort();
    let query = format!("SELECT id FROM {database}.events FINAL ORDER BY id");
    // The mutation runs on the first retention run and every 24th after (1 s apart here).
    ids_become(
        &url,
        &query,
        &want,
        Duration::from_secs(90),
        "only the new events in ClickHouse",
    )
    .await;
    let attributions = clickhouse_query(
        &url,
        &format!("SELECT count() FROM {database}.attributions FINAL"),
    )
    .await
    .expect("count");
    assert_eq!(attributions.trim(), "2", "both conversions kept");
    origin.terminate();
}

// Per app (issue 12 item 6): the query Worker names "short" (30 days) and "long" (10 years);
// "other" is not named and follows the deployment-wide rule (1 day here). Every app has events
// from 100 days ago and from a minute ago.
const PER_APP: [(&str, u32); 2] = [("short", 30), ("long", 3_650)];

fn per_app_batches() -> Vec<OutboxBatch> {
    let old = now_ms() - 100 * 86_400_000;
    let new = now_ms() - 60_000;
    let mut out = Vec::new();
    for app in ["short", "long", "other"] {
        out.push(journey_batch(app, "old-user", "o", 2, false, old));
        out.push(journey_batch(app, "new-user", "n", 2, false, new));
    }
    out
}

/// Events each app should keep: "long" everything, the others only the new ones (batches as
/// [`per_app_batches`] orders them: short old, short new, long old, long new, other old, other
/// new).
fn kept_ids(batches: &[OutboxBatch]) -> Vec<String> {
    assert!(
        !event_ids(&batches[2]).is_empty(),
        "long has old events to keep"
    );
    let mut want: Vec<String> = batches
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 1 || *i == 2)
        .flat_map(|(_, b)| event_ids(b))
        .collect();
    want.sort();
    want
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_app_keeps_its_own_retention_in_the_embedded_store() {
    let worker = common::retention_worker::start(SECRET, &PER_APP).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = retention_env();
    env.push(("QUERY_WORKER_URL", worker.url.clone()));
    let mut origin = Origin::new(&dir.path().join("origin"), &env);
    origin.start().await;
    let client = reqwest::Client::new();
    let batches = per_app_batches();
    for batch in &batches {
        let (status, body) = send_batch(&client, &origin, batch).await;
        assert_eq!(status, 200, "{body}");
    }
    let want = kept_ids(&batches);
    let db = dir.path().join("origin/origin.db");
    eventually(
        Duration::from_secs(60),
        "each app's expired events gone",
        || {
            let (db, want) = (db.clone(), want.clone());
            async move { embedded_event_ids(&db).await == want }
        },
    )
    .await;
    assert!(
        worker.signed_reads() > 0,
        "the apps' days came from the Worker"
    );
    assert_eq!(worker.bad_signatures(), 0, "every read was signed");
    origin.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_app_keeps_its_own_retention_in_clickhouse() {
    let url = require_env("ATTRIB_IT_CLICKHOUSE_URL");
    // Besides "short" and "long", 5,000 apps with the longest ids (five pages to follow, and a
    // mutation of about 700 KB: over the 256 KiB ClickHouse takes by default).
    let mut apps: std::collections::BTreeMap<String, u32> = (0..5_000)
        .map(|i| (format!("filler{i:0>58}"), 1 + i % 400))
        .collect();
    apps.extend(PER_APP.iter().map(|(a, d)| ((*a).to_owned(), *d)));
    let worker = common::retention_worker::start_with(SECRET, apps).await;
    let database = unique("retention_apps");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = retention_env();
    env.extend([
        ("QUERY_WORKER_URL", worker.url.clone()),
        ("CLICKHOUSE_URL", url.clone()),
        ("CLICKHOUSE_DATABASE", database.clone()),
        ("CLICKHOUSE_BATCH_WAIT_MS", "300".into()),
    ]);
    let mut origin = Origin::new(&dir.path().join("origin"), &env);
    origin.start().await;
    let client = reqwest::Client::new();
    let batches = per_app_batches();
    for batch in &batches {
        let (status, body) = send_batch(&client, &origin, batch).await;
        assert_eq!(status, 200, "{body}");
    }
    let want = kept_ids(&batches);
    let query = format!("SELECT id FROM {database}.events FINAL ORDER BY id");
    // Mutations run on the first retention run and every 24th after (1 s apart here); rows
    // that arrive after a run wait for the next mutation run.
    ids_become(
        &url,
        &query,
        &want,
        Duration::from_secs(120),
        "each app's expired events gone from ClickHouse",
    )
    .await;
    assert_eq!(worker.bad_signatures(), 0, "every read was signed");
    assert!(worker.signed_reads() >= 6, "every page was read");
    origin.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_deleted_while_the_apps_retention_cannot_be_read() {
    // The stand-in holds another secret, so it refuses the origin's reads (401): the origin
    // must not fall back to its deployment-wide rule (1 day here), which would delete "long"'s
    // rows that the app keeps for ten years.
    let worker = common::retention_worker::start("another-deployment-secret", &PER_APP).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = retention_env();
    env.push(("QUERY_WORKER_URL", worker.url.clone()));
    let mut origin = Origin::new(&dir.path().join("origin"), &env);
    origin.start().await;
    let client = reqwest::Client::new();
    let batches = per_app_batches();
    for batch in &batches {
        let (status, body) = send_batch(&client, &origin, batch).await;
        assert_eq!(status, 200, "{body}");
    }
    let db = dir.path().join("origin/origin.db");
    let mut all: Vec<String> = batches.iter().flat_map(event_ids).collect();
    all.sort();
    eventually(Duration::from_secs(30), "every event stored", || {
        let (db, all) = (db.clone(), all.clone());
        async move { embedded_event_ids(&db).await == all }
    })
    .await;
    let refused = worker.bad_signatures();
    eventually(Duration::from_secs(30), "three more refused reads", || {
        let worker = worker.clone();
        async move { worker.bad_signatures() >= refused + 3 }
    })
    .await;
    assert_eq!(embedded_event_ids(&db).await, all, "nothing deleted");
    origin.terminate();
}

/// Waits until `query` (one id per row) answers exactly `want`, in order.
async fn ids_become(url: &str, query: &str, want: &[String], within: Duration, what: &str) {
    eventually(within, what, || async move {
        clickhouse_query(url, query).await.is_some_and(|text| {
            text.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
                == want
        })
    })
    .await;
}
