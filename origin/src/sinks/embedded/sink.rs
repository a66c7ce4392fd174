//! Writes a batch in one transaction with prepared `INSERT OR IGNORE` statements: the
//! primary key on the record id makes a redelivered batch a no-op. Spend upserts on its
//! business key instead, the latest upload winning (`request::UPSERT_SPEND`).

use std::path::Path;
use std::time::Duration;

use libsql::{Connection, Database};

use super::request::{
    self, INSERT_ATTRIBUTION, INSERT_EVENT, INSERT_MERGE, INSERT_NULL_PATH, INSERT_SKAN_POSTBACK,
    UPSERT_SPEND,
};
use super::{EmbeddedError, SCHEMA, SINK_NAME};
use crate::sinks::{Sink, SinkError};
use crate::spool::{BatchLimits, SpoolBatch};

/// Opens the database file (creating its directory) and applies the schema.
pub async fn open_database(path: &Path) -> Result<(Database, Connection), EmbeddedError> {
    crate::local_db::open(path, SCHEMA)
        .await
        .map_err(|source| EmbeddedError::Open {
            path: path.display().to_string(),
            source,
        })
}

pub struct EmbeddedSink {
    // Kept so the connection's database stays open.
    _db: Database,
    conn: Connection,
}

impl EmbeddedSink {
    pub async fn open(path: &Path) -> Result<Self, EmbeddedError> {
        let (db, conn) = open_database(path).await?;
        Ok(EmbeddedSink { _db: db, conn })
    }

    async fn write(&self, batch: &SpoolBatch) -> Result<(), EmbeddedError> {
        let inserts = request::build(batch)?;
        let tx = self.conn.transaction().await?;
        for (sql, rows) in [
            (INSERT_EVENT, inserts.events),
            (INSERT_ATTRIBUTION, inserts.attributions),
            (INSERT_MERGE, inserts.merges),
            (INSERT_NULL_PATH, inserts.null_paths),
            (INSERT_SKAN_POSTBACK, inserts.skan_postbacks),
            (UPSERT_SPEND, inserts.spend),
        ] {
            if rows.is_empty() {
                continue;
            }
            let statement = tx.prepare(sql).await?;
            for params in rows {
                statement.execute(params).await?;
                statement.reset();
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

impl Sink for EmbeddedSink {
    fn name(&self) -> &'static str {
        SINK_NAME
    }

    fn batch_limits(&self) -> BatchLimits {
        BatchLimits {
            max_records: 10_000,
            max_wait: Duration::from_millis(200),
        }
    }

    async fn prepare(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    fn is_permanent(&self, err: &SinkError) -> bool {
        matches!(err, SinkError::Embedded(e) if super::retry::is_permanent(e))
    }

    async fn deliver<'a>(&'a mut self, batch: &'a SpoolBatch) -> Result<(), SinkError> {
        self.write(batch).await.map_err(SinkError::from)
    }
}
