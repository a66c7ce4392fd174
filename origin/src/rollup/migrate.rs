//! Upgrading a fact store written by an older origin, which kept one row per record
//! (`facts`: app, day, id, JSON) and recomputed days from all of them.
//!
//! On open, those rows become touch counts and latest attributions, in one transaction, and
//! the old table is renamed `facts_legacy`. It is kept until the store has applied a batch
//! none of whose touches it holds: the old origin may have stored a batch without
//! committing its cursor, and that batch is delivered again after the upgrade.

use std::collections::{BTreeMap, HashMap};

use attrib_core::outbox::OutboxRecord;
use attrib_core::time::day_of_millis;
use libsql::{Connection, Transaction};

use super::RollupError;

pub async fn from_record_facts(conn: &Connection) -> Result<(), RollupError> {
    let mut rows = conn
        .query(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'facts'",
            (),
        )
        .await?;
    let exists = match rows.next().await? {
        Some(row) => row.get::<i64>(0)? > 0,
        None => false,
    };
    drop(rows);
    if !exists {
        return Ok(());
    }
    let tx = conn.transaction().await?;
    let mut touches: HashMap<(String, String, String, String), i64> = HashMap::new();
    let mut latest: BTreeMap<(String, String), (u32, String, String)> = BTreeMap::new();
    let mut rows = tx.query("SELECT record FROM facts", ()).await?;
    let mut migrated = 0usize;
    while let Some(row) = rows.next().await? {
        let json: String = row.get(0)?;
        migrated += 1;
        match serde_json::from_str::<OutboxRecord>(&json)? {
            OutboxRecord::Event(r) => {
                if let Some(t) = r.touch.as_ref().filter(|t| t.rejected.is_none()) {
                    let key = (
                        r.app_id.clone(),
                        day_of_millis(t.ts_ms),
                        t.source.clone(),
                        t.campaign.clone(),
                    );
                    *touches.entry(key).or_default() += 1;
                }
            }
            OutboxRecord::Attribution(r) => {
                let key = (r.app_id.clone(), r.result.conversion.conversion_id.clone());
                let revision = r.result.revision;
                if latest.get(&key).is_none_or(|(old, _, _)| *old < revision) {
                    let day = day_of_millis(r.result.conversion.ts_ms);
                    latest.insert(key, (revision, day, json));
                }
            }
            // Older origins stored no null paths (the kind did not exist yet).
            OutboxRecord::Merge(_)
            | OutboxRecord::NullPath(_)
            | OutboxRecord::SkanPostback(_)
            | OutboxRecord::Spend(_) => {}
        }
    }
    drop(rows);
    for ((app_id, day, source, campaign), n) in touches {
        tx.execute(
            "INSERT INTO touch_counts (app_id, day, source, campaign, touches) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (app_id, day, source, campaign) \
             DO UPDATE SET touches = touches + excluded.touches",
            (app_id, day, source, campaign, n),
        )
        .await?;
    }
    for ((app_id, conversion_id), (revision, day, json)) in latest {
        tx.execute(
            "INSERT OR REPLACE INTO conversions (app_id, conversion_id, day, revision, record) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            (app_id, conversion_id, day, i64::from(revision), json),
        )
        .await?;
    }
    tx.execute("ALTER TABLE facts RENAME TO facts_legacy", ())
        .await?;
    tx.commit().await?;
    tracing::info!(
        migrated,
        "rollup facts of an older origin migrated to counts"
    );
    Ok(())
}

/// Whether the old store already held this record (see the module docs).
pub async fn is_legacy_fact(
    tx: &Transaction,
    app_id: &str,
    day: &str,
    id: &str,
) -> Result<bool, RollupError> {
    let mut rows = tx
        .query(
            "SELECT 1 FROM facts_legacy WHERE app_id = ?1 AND day = ?2 AND id = ?3",
            (app_id, day, id),
        )
        .await?;
    Ok(rows.next().await?.is_some())
}
