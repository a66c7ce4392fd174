//! Retention at the origin (issue 12): raw events older than `retention.days`
//! (`ATTRIB_ORIGIN_RETENTION_DAYS`, default `attrib_core::limits::DEFAULT_RETENTION_DAYS`,
//! 0 keeps them for ever) are removed from the embedded store every run (bounded batches) and
//! from ClickHouse by a mutation once a day. One deployment-wide rule: the origin does not
//! know each app's `retention_days` (the journeys apply those); attribution results, merges
//! and null paths are kept, as in the journeys.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use attrib_core::journey::timing::DAY_MS;
use libsql::Connection;
use tokio::sync::watch;

use crate::sinks::clickhouse::ClickHouseSink;

/// Embedded rows removed per statement, and statements per run: a backlog goes over runs.
pub const EMBEDDED_DELETE_BATCH: u64 = 10_000;
pub const EMBEDDED_BATCHES_PER_RUN: u32 = 100;
/// Runs between two ClickHouse mutations (a mutation rewrites whole parts: daily is enough).
pub const RUNS_PER_CLICKHOUSE_MUTATION: u64 = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// 0: off.
    pub days: u64,
    pub interval: Duration,
}

/// Raw events before this time have expired.
pub fn cutoff_ms(now_ms: i64, days: u64) -> i64 {
    now_ms.saturating_sub(
        i64::try_from(days)
            .unwrap_or(i64::MAX)
            .saturating_mul(DAY_MS),
    )
}

/// Removes expired embedded events, at most a run's batches; returns how many.
pub async fn remove_expired_embedded(
    conn: &Connection,
    cutoff_ms: i64,
) -> Result<u64, libsql::Error> {
    let mut removed = 0;
    for _ in 0..EMBEDDED_BATCHES_PER_RUN {
        let n = conn
            .execute(
                "DELETE FROM events WHERE id IN \
                 (SELECT id FROM events WHERE timestamp_ms < ?1 LIMIT ?2)",
                libsql::params![cutoff_ms, EMBEDDED_DELETE_BATCH as i64],
            )
            .await?;
        removed += n;
        if n < EMBEDDED_DELETE_BATCH {
            break;
        }
    }
    Ok(removed)
}

/// Runs every `interval` until `stop`: the first run one interval after the start.
pub async fn run(
    config: RetentionConfig,
    clickhouse: Option<ClickHouseSink>,
    embedded: Option<PathBuf>,
    mut stop: watch::Receiver<bool>,
) {
    if config.days == 0 {
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
        let cutoff = cutoff_ms(now_ms, config.days);
        if let Some(path) = &embedded {
            match crate::sinks::embedded::open_database(path).await {
                Ok((_db, conn)) => match remove_expired_embedded(&conn, cutoff).await {
                    Ok(n) if n > 0 => tracing::info!(removed = n, "retention: embedded events"),
                    Ok(_) => {}
                    Err(err) => tracing::warn!(%err, "retention: embedded delete failed"),
                },
                Err(err) => tracing::warn!(%err, "retention: embedded store unavailable"),
            }
        }
        if let Some(clickhouse) = &clickhouse {
            if runs.is_multiple_of(RUNS_PER_CLICKHOUSE_MUTATION) {
                if let Err(err) = clickhouse.remove_expired(cutoff).await {
                    tracing::warn!(%err, "retention: clickhouse mutation failed");
                }
            }
        }
        runs += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_whole_days_back() {
        assert_eq!(cutoff_ms(10 * DAY_MS, 3), 7 * DAY_MS);
        assert!(cutoff_ms(0, u64::MAX) < -DAY_MS, "no overflow");
    }

    #[tokio::test]
    async fn expired_embedded_events_go_and_newer_ones_and_attributions_stay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("embedded.db");
        let (_db, conn) = crate::sinks::embedded::open_database(&path).await.unwrap();
        for (id, ts) in [("old-1", 1_000), ("old-2", 2_000), ("new", 9 * DAY_MS)] {
            conn.execute(
                "INSERT INTO events (id, app_id, journey, event_type, name, timestamp_ms, day, \
                 is_conversion, touch_source, touch_campaign, record) \
                 VALUES (?1, 'app', 'u:app:x', 'track', 'Viewed', ?2, '1970-01-01', 0, '', '', '{}')",
                libsql::params![id, ts],
            )
            .await
            .unwrap();
        }
        let removed = remove_expired_embedded(&conn, cutoff_ms(10 * DAY_MS, 5))
            .await
            .unwrap();
        assert_eq!(removed, 2);
        let mut rows = conn.query("SELECT id FROM events", ()).await.unwrap();
        let row = rows.next().await.unwrap().unwrap();
        assert_eq!(row.get::<String>(0).unwrap(), "new");
        assert!(rows.next().await.unwrap().is_none());
    }
}
