//! Retention at the origin (issue 12): raw events older than their app's `retention_days` are
//! removed from the embedded store every run (bounded batches) and from ClickHouse by
//! mutations once a day. With `QUERY_WORKER_URL` set, each run reads the apps' days from the
//! query Worker ([`crate::retention_source`]) and applies them per app; the deployment-wide
//! rule (`retention.days`, `ATTRIB_ORIGIN_RETENTION_DAYS`, default
//! `attrib_core::limits::DEFAULT_RETENTION_DAYS`, 0 keeps them for ever) covers the apps the
//! Worker does not name, and every app when no Worker is configured. When the Worker cannot
//! be read the run deletes nothing (a guess could delete an app's rows too early). Attribution
//! results, merges and null paths are kept, as in the journeys.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use attrib_core::app_retention::{plan, AppRetention, RetentionPlan};
use libsql::Connection;
use tokio::sync::watch;

use crate::retention_source::WorkerRetention;
use crate::sinks::clickhouse::ClickHouseSink;

pub use attrib_core::app_retention::cutoff_ms;

/// Embedded rows removed per statement, and statements per run: a backlog goes over runs.
pub const EMBEDDED_DELETE_BATCH: u64 = 10_000;
pub const EMBEDDED_BATCHES_PER_RUN: u32 = 100;
/// Runs between two ClickHouse mutations (a mutation rewrites whole parts: daily is enough).
pub const RUNS_PER_CLICKHOUSE_MUTATION: u64 = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// The deployment-wide rule; 0: off.
    pub days: u64,
    pub interval: Duration,
}

/// The plan when no Worker names apps: the deployment-wide rule for every app.
pub fn deployment_wide_plan(now_ms: i64, days: u64) -> RetentionPlan {
    let every_app = AppRetention {
        apps: Default::default(),
        complete: true,
    };
    plan(now_ms, days, &every_app)
}

/// Removes the plan's expired embedded events, at most a run's batches in all; returns how
/// many. App lists go as one JSON parameter (`json_each`), so no statement grows with them.
pub async fn remove_expired_embedded(
    conn: &Connection,
    plan: &RetentionPlan,
) -> Result<u64, libsql::Error> {
    let mut rules: Vec<(&str, String, i64)> = Vec::new();
    for rule in &plan.per_app {
        rules.push(("IN", json_list(&rule.apps), rule.cutoff_ms));
    }
    if let Some(default) = &plan.default {
        rules.push(("NOT IN", json_list(&default.except), default.cutoff_ms));
    }
    let mut removed = 0;
    let mut batches = 0;
    for (op, apps, cutoff) in rules {
        let statement = format!(
            "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE timestamp_ms < ?1 \
             AND app_id {op} (SELECT value FROM json_each(?2)) LIMIT ?3)"
        );
        loop {
            if batches >= EMBEDDED_BATCHES_PER_RUN {
                return Ok(removed);
            }
            batches += 1;
            let n = conn
                .execute(
                    &statement,
                    libsql::params![cutoff, apps.as_str(), EMBEDDED_DELETE_BATCH as i64],
                )
                .await?;
            removed += n;
            if n < EMBEDDED_DELETE_BATCH {
                break;
            }
        }
    }
    Ok(removed)
}

fn json_list(apps: &[String]) -> String {
    serde_json::to_string(apps).unwrap_or_else(|_| "[]".to_owned())
}

/// This run's plan: per app from the Worker when there is one (none if it cannot be read),
/// else the deployment-wide rule.
async fn this_runs_plan(
    config: &RetentionConfig,
    worker: Option<&WorkerRetention>,
    now_ms: i64,
) -> Option<RetentionPlan> {
    match worker {
        None => Some(deployment_wide_plan(now_ms, config.days)),
        Some(worker) => match worker.fetch().await {
            Ok(known) => {
                if !known.complete {
                    tracing::warn!(
                        apps = known.apps.len(),
                        "retention: more apps than one run reads; the deployment-wide rule \
                         is skipped this run"
                    );
                }
                Some(plan(now_ms, config.days, &known))
            }
            Err(err) => {
                tracing::warn!(%err, "retention: apps' retention unknown, nothing deleted");
                None
            }
        },
    }
}

/// Runs every `interval` until `stop`: the first run one interval after the start.
pub async fn run(
    config: RetentionConfig,
    worker: Option<WorkerRetention>,
    clickhouse: Option<ClickHouseSink>,
    embedded: Option<PathBuf>,
    mut stop: watch::Receiver<bool>,
) {
    if config.days == 0 && worker.is_none() {
        return;
    }
    let mut runs: u64 = 0;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(config.interval) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let mutate = clickhouse.is_some() && runs.is_multiple_of(RUNS_PER_CLICKHOUSE_MUTATION);
        runs += 1;
        if embedded.is_none() && !mutate {
            continue;
        }
        let Some(plan) = this_runs_plan(&config, worker.as_ref(), now_ms).await else {
            continue;
        };
        if let Some(path) = &embedded {
            match crate::sinks::embedded::open_database(path).await {
                Ok((_db, conn)) => match remove_expired_embedded(&conn, &plan).await {
                    Ok(n) if n > 0 => tracing::info!(removed = n, "retention: embedded events"),
                    Ok(_) => {}
                    Err(err) => tracing::warn!(%err, "retention: embedded delete failed"),
                },
                Err(err) => tracing::warn!(%err, "retention: embedded store unavailable"),
            }
        }
        if let (Some(clickhouse), true) = (&clickhouse, mutate) {
            if let Err(err) = clickhouse.remove_expired(&plan).await {
                tracing::warn!(%err, "retention: clickhouse mutation failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrib_core::journey::timing::DAY_MS;

    async fn store_with(
        events: &[(&str, &str, i64)],
    ) -> (tempfile::TempDir, libsql::Database, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("embedded.db");
        let (db, conn) = crate::sinks::embedded::open_database(&path).await.unwrap();
        for (id, app, ts) in events {
            conn.execute(
                "INSERT INTO events (id, app_id, journey, event_type, name, timestamp_ms, day, \
                 is_conversion, touch_source, touch_campaign, record) \
                 VALUES (?1, ?2, 'u:app:x', 'track', 'Viewed', ?3, '1970-01-01', 0, '', '', '{}')",
                libsql::params![*id, *app, *ts],
            )
            .await
            .unwrap();
        }
        (dir, db, conn)
    }

    async fn ids(conn: &Connection) -> Vec<String> {
        let mut rows = conn
            .query("SELECT id FROM events ORDER BY id", ())
            .await
            .unwrap();
        let mut out = Vec::new();
        while let Some(row) = rows.next().await.unwrap() {
            out.push(row.get::<String>(0).unwrap());
        }
        out
    }

    #[tokio::test]
    async fn expired_embedded_events_go_and_newer_ones_and_attributions_stay() {
        let (_dir, _db, conn) = store_with(&[
            ("old-1", "app", 1_000),
            ("old-2", "app", 2_000),
            ("new", "app", 9 * DAY_MS),
        ])
        .await;
        let removed = remove_expired_embedded(&conn, &deployment_wide_plan(10 * DAY_MS, 5))
            .await
            .unwrap();
        assert_eq!(removed, 2);
        assert_eq!(ids(&conn).await, vec!["new"]);
    }

    #[tokio::test]
    async fn each_named_app_keeps_its_own_days_and_the_others_the_default() {
        // Now is day 100: "short" keeps 7 days, "long" 365, "other" (not named) the default 30.
        let (_dir, _db, conn) = store_with(&[
            ("short-old", "short", 80 * DAY_MS),
            ("short-new", "short", 95 * DAY_MS),
            ("long-old", "long", 80 * DAY_MS),
            ("other-old", "other", 60 * DAY_MS),
            ("other-new", "other", 80 * DAY_MS),
        ])
        .await;
        let known = AppRetention {
            apps: [("short".to_owned(), 7), ("long".to_owned(), 365)].into(),
            complete: true,
        };
        let removed = remove_expired_embedded(&conn, &plan(100 * DAY_MS, 30, &known))
            .await
            .unwrap();
        assert_eq!(removed, 2);
        assert_eq!(ids(&conn).await, vec!["long-old", "other-new", "short-new"]);
    }
}
