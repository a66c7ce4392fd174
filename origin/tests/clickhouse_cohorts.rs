//! The ClickHouse cohort views (schema/clickhouse.sql: cohort_retention, cohort_revenue) over
//! what a real origin wrote, against the real ClickHouse scripts/test-origin.sh starts
//! (Debian's 18.16; the views use only what it has): the hand-built journey set of the
//! embedded cohort test gives the same cells as the origin's pushed rows, computed by hand.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::journeys::*;
use common::stores::{clickhouse_counts, clickhouse_query};
use common::*;

async fn view_cells(url: &str, db: &str) -> Option<BTreeSet<Cell>> {
    let mut cells = BTreeSet::new();
    let retention = clickhouse_query(
        url,
        &format!(
            "SELECT cohort_day, source, campaign, day_offset, users, active_users \
             FROM {db}.cohort_retention WHERE app_id = '{APP}' FORMAT TSV"
        ),
    )
    .await?;
    for line in retention.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let (users, active) = (f[4].parse().ok()?, f[5].parse().ok()?);
        cells.insert(cell(
            f[0],
            (f[1], f[2]),
            f[3].parse().ok()?,
            "",
            (users, active),
            0.0,
        ));
    }
    let revenue = clickhouse_query(
        url,
        &format!(
            "SELECT cohort_day, source, campaign, day_offset, currency, revenue \
             FROM {db}.cohort_revenue WHERE app_id = '{APP}' FORMAT TSV"
        ),
    )
    .await?;
    for line in revenue.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let amount: f64 = f[5].parse().ok()?;
        cells.insert(cell(
            f[0],
            (f[1], f[2]),
            f[3].parse().ok()?,
            f[4],
            (0, 0),
            amount,
        ));
    }
    Some(cells)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_cohort_views_equal_the_hand_computed_cohorts() {
    let url = require_env("ATTRIB_IT_CLICKHOUSE_URL");
    let db = unique("cohorts");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(
        &dir.path().join("origin"),
        &[
            ("CLICKHOUSE_URL", url.clone()),
            ("CLICKHOUSE_DATABASE", db.clone()),
            ("CLICKHOUSE_BATCH_WAIT_MS", "300".into()),
        ],
    );
    origin.start().await;
    let client = reqwest::Client::new();
    let send = |batches: Vec<attrib_core::outbox::OutboxBatch>| {
        let (client, origin) = (&client, &origin);
        async move {
            for b in &batches {
                let (status, body) = send_batch(client, origin, b).await;
                assert_eq!(status, 200, "{body}");
            }
            batches
        }
    };
    let first = send(first_batches()).await;
    let records = |batches: &[attrib_core::outbox::OutboxBatch]| {
        batches
            .iter()
            .flat_map(|b| &b.records)
            .filter(|r| !matches!(r, attrib_core::outbox::OutboxRecord::Merge(_)))
            .count() as u64
    };
    let want_records = records(&first);
    eventually(
        Duration::from_secs(60),
        "the first records in ClickHouse",
        || async {
            clickhouse_counts(&url, &db)
                .await
                .is_some_and(|(n, _)| n == want_records)
        },
    )
    .await;
    assert_eq!(view_cells(&url, &db).await, Some(first_cells()));

    // A later purchase and activity under a merged journey: the views follow.
    let later = send(later_batches()).await;
    let want_records = want_records + records(&later);
    eventually(
        Duration::from_secs(60),
        "the later records in ClickHouse",
        || async {
            let merged =
                clickhouse_query(&url, &format!("SELECT count() FROM {db}.merges FORMAT TSV"))
                    .await
                    .is_some_and(|n| n.trim() == "1");
            merged
                && clickhouse_counts(&url, &db)
                    .await
                    .is_some_and(|(n, _)| n == want_records)
        },
    )
    .await;
    assert_eq!(view_cells(&url, &db).await, Some(later_cells()));
    origin.terminate();
}
