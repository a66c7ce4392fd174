//! The rollup fact store: every record that counts in daily stats, by (app, day), and the
//! days whose stats must be pushed again.
//!
//! Kept locally (libsql file) rather than read back from a sink, so rollups are exact and
//! prompt whichever sinks are configured and however far behind they are. Only records that
//! `core::rollup::affected_days` assigns to a day are kept (touch events, attributions).

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use attrib_core::outbox::OutboxRecord;
use attrib_core::rollup::{affected_days, AppDay};
use libsql::{Connection, Database};
use tokio::sync::Mutex;

use super::RollupError;
use crate::spool::{RecordKind, SpoolBatch};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS facts (
    app_id TEXT NOT NULL, day TEXT NOT NULL, id TEXT NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (app_id, day, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dirty_days (
    app_id TEXT NOT NULL, day TEXT NOT NULL, generation INTEGER NOT NULL,
    PRIMARY KEY (app_id, day)
) WITHOUT ROWID;
";

/// The record as kept for recomputing stats: events lose their context, properties and
/// traits (daily stats read only the message id and the touch), which makes the facts a
/// fraction of the size and every recomputation correspondingly cheaper.
fn slim_json(record: OutboxRecord) -> Result<String, serde_json::Error> {
    let slim = match record {
        OutboxRecord::Event(mut r) => {
            r.event.context.clear();
            r.event.properties.clear();
            r.event.traits.clear();
            OutboxRecord::Event(r)
        }
        other => other,
    };
    serde_json::to_string(&slim)
}

/// A day waiting to be pushed, with the mark it had when read (see [`FactStore::clear`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirtyDay {
    pub day: AppDay,
    pub generation: i64,
}

pub struct FactStore {
    _db: Database,
    conn: Mutex<Connection>,
    generation: AtomicI64,
}

impl FactStore {
    pub async fn open(path: &Path) -> Result<Self, RollupError> {
        let open_err = |source| RollupError::Open {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let db = libsql::Builder::new_local(path)
            .build()
            .await
            .map_err(open_err)?;
        let conn = db.connect().map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(open_err)?;
        conn.execute_batch(SCHEMA).await.map_err(open_err)?;
        let mut rows = conn
            .query("SELECT COALESCE(MAX(generation), 0) FROM dirty_days", ())
            .await?;
        let last = match rows.next().await? {
            Some(row) => row.get::<i64>(0)?,
            None => 0,
        };
        Ok(FactStore {
            _db: db,
            conn: Mutex::new(conn),
            generation: AtomicI64::new(last),
        })
    }

    /// Stores the batch's facts and marks their days dirty, in one transaction; returns the
    /// number of day marks written.
    pub async fn store(&self, batch: &SpoolBatch) -> Result<usize, RollupError> {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let conn = self.conn.lock().await;
        let tx = conn.transaction().await?;
        let insert_fact = tx
            .prepare(
                "INSERT OR IGNORE INTO facts (app_id, day, id, record) VALUES (?1, ?2, ?3, ?4)",
            )
            .await?;
        let mut days = std::collections::BTreeSet::new();
        for spooled in batch.records() {
            if spooled.kind == RecordKind::Merge {
                continue;
            }
            let record: OutboxRecord = spooled.parse()?;
            let days_of_record = affected_days([&record]);
            if days_of_record.is_empty() {
                continue;
            }
            let fact = slim_json(record)?;
            for day in days_of_record {
                insert_fact
                    .execute((
                        day.app_id.as_str(),
                        day.day.as_str(),
                        spooled.id.as_str(),
                        fact.as_str(),
                    ))
                    .await?;
                insert_fact.reset();
                days.insert(day);
            }
        }
        let mark = tx
            .prepare(
                "INSERT INTO dirty_days (app_id, day, generation) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (app_id, day) DO UPDATE SET generation = excluded.generation",
            )
            .await?;
        for day in &days {
            mark.execute((day.app_id.as_str(), day.day.as_str(), generation))
                .await?;
            mark.reset();
        }
        tx.commit().await?;
        Ok(days.len())
    }

    /// Up to `limit` dirty days, oldest mark first.
    pub async fn dirty(&self, limit: usize) -> Result<Vec<DirtyDay>, RollupError> {
        let conn = self.conn.lock().await;
        let mut rows = conn
            .query(
                "SELECT app_id, day, generation FROM dirty_days ORDER BY generation LIMIT ?1",
                [limit as i64],
            )
            .await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            out.push(DirtyDay {
                day: AppDay {
                    app_id: row.get(0)?,
                    day: row.get(1)?,
                },
                generation: row.get(2)?,
            });
        }
        Ok(out)
    }

    /// Every stored record of `days`.
    pub async fn records_of(&self, days: &[AppDay]) -> Result<Vec<OutboxRecord>, RollupError> {
        let conn = self.conn.lock().await;
        let statement = conn
            .prepare("SELECT record FROM facts WHERE app_id = ?1 AND day = ?2")
            .await?;
        let mut records = Vec::new();
        for day in days {
            let mut rows = statement
                .query((day.app_id.as_str(), day.day.as_str()))
                .await?;
            while let Some(row) = rows.next().await? {
                let json: String = row.get(0)?;
                records.push(serde_json::from_str(&json)?);
            }
            drop(rows);
            statement.reset();
        }
        Ok(records)
    }

    /// Clears the marks that were pushed; a day marked again since it was read stays dirty.
    pub async fn clear(&self, pushed: &[DirtyDay]) -> Result<(), RollupError> {
        let conn = self.conn.lock().await;
        let tx = conn.transaction().await?;
        let delete = tx
            .prepare("DELETE FROM dirty_days WHERE app_id = ?1 AND day = ?2 AND generation = ?3")
            .await?;
        for dirty in pushed {
            delete
                .execute((
                    dirty.day.app_id.as_str(),
                    dirty.day.day.as_str(),
                    dirty.generation,
                ))
                .await?;
            delete.reset();
        }
        tx.commit().await?;
        Ok(())
    }
}
