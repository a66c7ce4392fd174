//! The rollup fact store: what daily stats are computed from, and the days whose stats must
//! be pushed again.
//!
//! Kept locally (libsql file) rather than read back from a sink, so rollups are exact and
//! prompt whichever sinks are configured and however far behind they are. Per record it is
//! cheap: touches are counted per (app, day, source, campaign) as they arrive (integers, so
//! the count is exact), null paths per (app, day of their last touch, path) likewise, and
//! each conversion keeps only its latest attribution (its JSON). Recomputing a day reads its
//! counts and its conversions, never its events.
//!
//! Each record is counted once: the spool stores each id once, and the store records the
//! spool position it has applied in the same transaction as the counts, so a batch
//! redelivered after a crash (before the cursor commit) is skipped.
//!
//! Erasure (issue 12): an `erasure` record (spooled by `POST /v1/erase`, so it comes after
//! every record of its journey) anonymises that journey's kept attributions
//! (`attrib_core::privacy::erasure::anonymise_attribution`: no journey, order id or fraud
//! detail; the rollups read none of them) and marks their days dirty, so they are pushed again
//! with the same counts: aggregates are kept as anonymous counts, as everywhere else.
//! `conversion_journeys` finds a journey's conversions.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use attrib_core::attribution::Model;
use attrib_core::cohorts::{
    cohort_rows_with_activity, is_activity, ltv_summaries, user_conversions, CohortRow, LtvSummary,
    UserActivity,
};
use attrib_core::fraud::counts::{fraud_counts, is_fraud_code};
use attrib_core::outbox::OutboxRecord;
use attrib_core::privacy::erasure::anonymise_attribution;
use attrib_core::rollup::{
    combine_paths, conversion_paths, daily_stats, null_row, path_steps, AppDay, DailyStat,
    FraudCount, PathStat, StatKey, StatValues,
};
use attrib_core::time::day_of_millis;
use libsql::{Connection, Database, Transaction};
use tokio::sync::Mutex;

use super::cohort_facts;
use super::RollupError;
use crate::spool::{Columns, SpoolBatch};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS touch_counts (
    app_id TEXT NOT NULL, day TEXT NOT NULL, source TEXT NOT NULL, campaign TEXT NOT NULL,
    touches INTEGER NOT NULL,
    PRIMARY KEY (app_id, day, source, campaign)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS touch_rejections (
    app_id TEXT NOT NULL, day TEXT NOT NULL, reason TEXT NOT NULL,
    rejections INTEGER NOT NULL,
    PRIMARY KEY (app_id, day, reason)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS conversions (
    app_id TEXT NOT NULL, conversion_id TEXT NOT NULL, day TEXT NOT NULL,
    revision INTEGER NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (app_id, conversion_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS conversions_by_day ON conversions (app_id, day);
CREATE TABLE IF NOT EXISTS conversion_journeys (
    app_id TEXT NOT NULL, journey TEXT NOT NULL, conversion_id TEXT NOT NULL,
    PRIMARY KEY (app_id, journey, conversion_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS null_path_counts (
    app_id TEXT NOT NULL, day TEXT NOT NULL, path TEXT NOT NULL,
    nulls INTEGER NOT NULL,
    PRIMARY KEY (app_id, day, path)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dirty_days (
    app_id TEXT NOT NULL, day TEXT NOT NULL, generation INTEGER NOT NULL,
    PRIMARY KEY (app_id, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS applied (
    id INTEGER PRIMARY KEY CHECK (id = 0), next_seq INTEGER NOT NULL
);
";

/// (app, day number, source, campaign): one touch counter.
type TouchKey<'a> = (&'a str, i64, &'a str, &'a str);

/// What one push sends for its days.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayRollup {
    pub rows: Vec<DailyStat>,
    pub paths: Vec<PathStat>,
    pub fraud: Vec<FraudCount>,
    /// Cohort rows of the days as cohort days (their users' whole first 90 days).
    pub cohorts: Vec<CohortRow>,
    /// Lifetime-value summaries of the customers who first bought on the days.
    pub ltv_customers: Vec<LtvSummary>,
    /// Days among them that are the observation day and have customers: those customers
    /// join `ltv_customers` only from the next day (see [`FactStore::clear`]).
    pub young_cohorts: Vec<AppDay>,
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
    /// Spool entries before this one are in the counts.
    applied: AtomicU64,
    /// Facts of an older origin (one row per record) are still kept to recognise a batch
    /// it stored but did not commit; see [`super::migrate`].
    legacy: AtomicBool,
}

async fn single_i64(conn: &Connection, sql: &str) -> Result<i64, RollupError> {
    let mut rows = conn.query(sql, ()).await?;
    Ok(match rows.next().await? {
        Some(row) => row.get::<i64>(0)?,
        None => 0,
    })
}

impl FactStore {
    pub async fn open(path: &Path) -> Result<Self, RollupError> {
        let schema = format!("{SCHEMA}{}", cohort_facts::SCHEMA);
        let (db, conn) = crate::local_db::open(path, &schema)
            .await
            .map_err(|source| RollupError::Open {
                path: path.display().to_string(),
                source,
            })?;
        super::migrate::from_record_facts(&conn).await?;
        cohort_facts::backfill(&conn).await?;
        // A store written before `conversion_journeys` existed: fill it once from the records.
        if single_i64(&conn, "SELECT count(*) FROM conversion_journeys").await? == 0 {
            conn.execute(
                "INSERT OR IGNORE INTO conversion_journeys (app_id, journey, conversion_id) \
                 SELECT app_id, json_extract(record, '$.journey'), conversion_id FROM conversions \
                 WHERE json_extract(record, '$.journey') IS NOT NULL",
                (),
            )
            .await?;
        }
        let legacy = single_i64(
            &conn,
            "SELECT count(*) FROM sqlite_master WHERE name = 'facts_legacy'",
        )
        .await?
            > 0;
        let last = single_i64(&conn, "SELECT COALESCE(MAX(generation), 0) FROM dirty_days").await?;
        let applied = single_i64(&conn, "SELECT COALESCE(MAX(next_seq), 0) FROM applied").await?;
        Ok(FactStore {
            _db: db,
            conn: Mutex::new(conn),
            generation: AtomicI64::new(last),
            applied: AtomicU64::new(applied as u64),
            legacy: AtomicBool::new(legacy),
        })
    }

    /// The spool position the facts have applied up to (grows with every stored batch).
    pub fn applied_seq(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }

    /// Counts the batch's touches, keeps its attributions and marks their days dirty, in one
    /// transaction with the spool position; returns the number of day marks written.
    pub async fn store(&self, batch: &SpoolBatch) -> Result<usize, RollupError> {
        let applied = self.applied.load(Ordering::Acquire);
        let legacy = self.legacy.load(Ordering::Acquire);
        let mut touches: HashMap<TouchKey, i64> = HashMap::new();
        // (app, day number, reason): touches a fraud rule refused. Older origins stored no
        // rejected touches, so these need no check against their facts.
        let mut rejections: HashMap<(&str, i64, &str), i64> = HashMap::new();
        // (app, touch time, record id, counter key): touches to check against legacy facts.
        let mut touch_ids: Vec<(&str, i64, &str, TouchKey)> = Vec::new();
        let mut attributions = Vec::new();
        // (app, day number, path as canonical JSON): null paths, counted like touches.
        let mut nulls: HashMap<(&str, i64, String), i64> = HashMap::new();
        // (app, journey, day number): returning activity for cohorts.
        let mut activity: std::collections::BTreeSet<(&str, &str, i64)> = Default::default();
        let mut merges: Vec<(&str, &str, &str)> = Vec::new();
        // (app, journey) erased, in spool order after the batch's attributions.
        let mut erasures: Vec<(&str, &str)> = Vec::new();
        for entry in batch.entries.iter().filter(|e| e.seq >= applied) {
            for record in entry.records() {
                let r = record?;
                match r.columns()? {
                    Columns::Event(e) => {
                        if is_activity(e.event_type) {
                            let day = crate::sinks::rows::day_number(e.timestamp_ms);
                            activity.insert((r.app_id, r.journey, day));
                        }
                        let Some(t) = e.touch else {
                            continue;
                        };
                        if let Some(reason) = t.rejected {
                            // A touch without advertising consent is rejected but not fraud
                            // (`attrib_core::privacy::consent`): in neither count.
                            if is_fraud_code(reason) {
                                let day = crate::sinks::rows::day_number(t.ts_ms);
                                *rejections.entry((r.app_id, day, reason)).or_default() += 1;
                            }
                            continue;
                        }
                        let key = (
                            r.app_id,
                            crate::sinks::rows::day_number(t.ts_ms),
                            t.source,
                            t.campaign,
                        );
                        if legacy {
                            touch_ids.push((r.app_id, t.ts_ms, r.id, key));
                        } else {
                            *touches.entry(key).or_default() += 1;
                        }
                    }
                    Columns::Attribution(a) => {
                        let counted = a.rejected.is_none();
                        attributions.push((
                            r.app_id,
                            r.journey,
                            a.conversion_id,
                            a.ts_ms,
                            a.revision,
                            r.json,
                            counted,
                        ));
                    }
                    Columns::NullPath(n) => {
                        // The steps as `core::rollup::null_paths` counts them.
                        let steps = path_steps(n.path.iter().copied());
                        if steps.is_empty() {
                            continue;
                        }
                        let day = crate::sinks::rows::day_number(n.last_touch_ms);
                        *nulls
                            .entry((r.app_id, day, serde_json::to_string(&steps)?))
                            .or_default() += 1;
                    }
                    // A merge carries the merged journey's activity to the surviving one.
                    Columns::Merge(m) => merges.push((r.app_id, m.from, m.into)),
                    // Not in the rollups: spend joins the stats at read time at the edge.
                    Columns::SkanPostback(_) | Columns::Spend(_) => {}
                    Columns::Erasure => erasures.push((r.app_id, r.journey)),
                }
            }
        }
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let conn = self.conn.lock().await;
        let tx = conn.transaction().await?;
        let mut day_names: HashMap<i64, String> = HashMap::new();
        let mut name_of = |ms: i64| -> String {
            day_names
                .entry(crate::sinks::rows::day_number(ms))
                .or_insert_with(|| day_of_millis(ms))
                .clone()
        };
        let mut legacy_seen = 0usize;
        for (app_id, ts_ms, id, key) in touch_ids {
            if super::migrate::is_legacy_fact(&tx, app_id, &name_of(ts_ms), id).await? {
                legacy_seen += 1;
            } else {
                *touches.entry(key).or_default() += 1;
            }
        }
        let mut days = std::collections::BTreeSet::new();
        let add = tx
            .prepare(
                "INSERT INTO touch_counts (app_id, day, source, campaign, touches) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (app_id, day, source, campaign) \
                 DO UPDATE SET touches = touches + excluded.touches",
            )
            .await?;
        for ((app_id, day, source, campaign), count) in &touches {
            let day_name = name_of(day * 86_400_000);
            add.execute((*app_id, day_name.as_str(), *source, *campaign, *count))
                .await?;
            add.reset();
            days.insert((app_id.to_string(), day_name));
        }
        let reject = tx
            .prepare(
                "INSERT INTO touch_rejections (app_id, day, reason, rejections) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (app_id, day, reason) \
                 DO UPDATE SET rejections = rejections + excluded.rejections",
            )
            .await?;
        for ((app_id, day, reason), count) in &rejections {
            let day_name = name_of(day * 86_400_000);
            reject
                .execute((*app_id, day_name.as_str(), *reason, *count))
                .await?;
            reject.reset();
            days.insert((app_id.to_string(), day_name));
        }
        let add_nulls = tx
            .prepare(
                "INSERT INTO null_path_counts (app_id, day, path, nulls) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (app_id, day, path) DO UPDATE SET nulls = nulls + excluded.nulls",
            )
            .await?;
        for ((app_id, day, path), count) in &nulls {
            let day_name = name_of(day * 86_400_000);
            add_nulls
                .execute((*app_id, day_name.as_str(), path.as_str(), *count))
                .await?;
            add_nulls.reset();
            days.insert((app_id.to_string(), day_name));
        }
        let mut users = std::collections::BTreeSet::new();
        for (app_id, journey, conversion_id, ts_ms, revision, json, counted) in attributions {
            let day = name_of(ts_ms);
            let kept = Conversion {
                app_id,
                journey,
                conversion_id,
                day: &day,
                revision,
                json,
            };
            if let Some(old_day) = keep_conversion(&tx, &kept).await? {
                cohort_facts::note_conversion(
                    &tx,
                    (app_id, conversion_id),
                    (journey, &day, counted),
                    &mut users,
                )
                .await?;
                days.insert((app_id.to_owned(), old_day));
                days.insert((app_id.to_owned(), day));
            }
        }
        // After the conversions, so a user's first conversion in this batch gives their
        // activity in it a cohort.
        days.extend(cohort_facts::settle_users(&tx, &users).await?);
        days.extend(cohort_facts::note_activity(&tx, &activity).await?);
        for (app_id, from, into) in merges {
            days.extend(cohort_facts::note_merge(&tx, app_id, from, into).await?);
        }
        // Last, in spool order after the batch's other records: the erased journey's
        // conversions lose their person, and its cohort rows move to a pseudonym (same counts).
        for &(app_id, journey) in &erasures {
            for day in anonymise_journey(&tx, app_id, journey).await? {
                days.insert((app_id.to_owned(), day));
            }
            cohort_facts::anonymise_user(&tx, app_id, journey).await?;
        }
        let mark = tx
            .prepare(
                "INSERT INTO dirty_days (app_id, day, generation) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (app_id, day) DO UPDATE SET generation = excluded.generation",
            )
            .await?;
        for (app_id, day) in &days {
            mark.execute((app_id.as_str(), day.as_str(), generation))
                .await?;
            mark.reset();
        }
        tx.execute(
            "INSERT INTO applied (id, next_seq) VALUES (0, ?1) \
             ON CONFLICT (id) DO UPDATE SET next_seq = excluded.next_seq",
            [batch.next_seq as i64],
        )
        .await?;
        let drop_legacy = legacy && legacy_seen == 0;
        if drop_legacy {
            tx.execute("DROP TABLE IF EXISTS facts_legacy", ()).await?;
        }
        tx.commit().await?;
        // The erased journeys' old values are zeroed in their pages (secure_delete); the
        // write-ahead log's older copies of those pages go with it emptied. This connection is
        // the file's only one, so no reader can keep it from being emptied.
        if !erasures.is_empty() && !crate::local_db::checkpoint_truncate(&conn).await? {
            tracing::warn!(
                "the rollup fact store's write-ahead log could not be emptied after an erasure"
            );
        }
        self.applied.store(batch.next_seq, Ordering::Release);
        if drop_legacy {
            self.legacy.store(false, Ordering::Release);
        }
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

    /// Everything pushed for `days`: their complete daily stats (`core::rollup::daily_stats`
    /// over their latest attributions, with their touch counts added: touches are integers
    /// and independent of the other columns, so this equals `daily_stats` over every record
    /// of those days), their paths (converting paths from the attributions and null paths
    /// from their counters, combined per key: `core::rollup::all_paths` over every record of
    /// those days), and their fraud counts (rejected conversions from the attributions,
    /// rejected touches from their counters).
    ///
    /// And the cohort rows and lifetime-value summaries of the days as cohort days
    /// (`core::cohorts` over every conversion and active day of their users), observed on the
    /// UTC day of `observed_ms`.
    pub async fn rollup_of(
        &self,
        days: &[AppDay],
        observed_ms: i64,
    ) -> Result<DayRollup, RollupError> {
        let conn = self.conn.lock().await;
        let mut cohort_records: Vec<OutboxRecord> = Vec::new();
        let mut cohort_activity: Vec<(String, String, i64)> = Vec::new();
        for day in days {
            let inputs = cohort_facts::inputs_of(&conn, &day.app_id, &day.day).await?;
            for (user, json) in inputs.records {
                let mut record: OutboxRecord = serde_json::from_str(&json)?;
                if let OutboxRecord::Attribution(a) = &mut record {
                    a.journey = user;
                }
                cohort_records.push(record);
            }
            cohort_activity.extend(
                inputs
                    .activity
                    .into_iter()
                    .map(|(user, n)| (day.app_id.clone(), user, n)),
            );
        }
        let mut attributions: Vec<OutboxRecord> = Vec::new();
        let mut counts = Vec::new();
        let mut rejected_touches = Vec::new();
        let mut null_rows = Vec::new();
        let conversions = conn
            .prepare("SELECT record FROM conversions WHERE app_id = ?1 AND day = ?2")
            .await?;
        let touches = conn
            .prepare(
                "SELECT source, campaign, touches FROM touch_counts WHERE app_id = ?1 AND day = ?2",
            )
            .await?;
        let rejections = conn
            .prepare(
                "SELECT reason, rejections FROM touch_rejections WHERE app_id = ?1 AND day = ?2",
            )
            .await?;
        let null_counts = conn
            .prepare("SELECT path, nulls FROM null_path_counts WHERE app_id = ?1 AND day = ?2")
            .await?;
        for day in days {
            let key = (day.app_id.as_str(), day.day.as_str());
            let mut rows = conversions.query(key).await?;
            while let Some(row) = rows.next().await? {
                let json: String = row.get(0)?;
                attributions.push(serde_json::from_str(&json)?);
            }
            drop(rows);
            conversions.reset();
            let mut rows = touches.query(key).await?;
            while let Some(row) = rows.next().await? {
                let (source, campaign, n): (String, String, i64) =
                    (row.get(0)?, row.get(1)?, row.get(2)?);
                counts.push((day.clone(), source, campaign, n));
            }
            drop(rows);
            touches.reset();
            let mut rows = rejections.query(key).await?;
            while let Some(row) = rows.next().await? {
                let (reason, n): (String, i64) = (row.get(0)?, row.get(1)?);
                rejected_touches.push((day.clone(), reason, n));
            }
            drop(rows);
            rejections.reset();
            let mut rows = null_counts.query(key).await?;
            while let Some(row) = rows.next().await? {
                let (path, n): (String, i64) = (row.get(0)?, row.get(1)?);
                let steps: Vec<String> = serde_json::from_str(&path)?;
                null_rows.push(null_row(
                    day.app_id.clone(),
                    day.day.clone(),
                    steps,
                    n.max(0) as u64,
                ));
            }
            drop(rows);
            null_counts.reset();
        }
        drop(conn);
        let mut stats: BTreeMap<StatKey, StatValues> = daily_stats(&attributions)
            .into_iter()
            .map(|s| (s.key, s.values))
            .collect();
        for (day, source, campaign, n) in counts {
            for model in Model::ALL {
                let key = StatKey {
                    app_id: day.app_id.clone(),
                    day: day.day.clone(),
                    source: source.clone(),
                    campaign: campaign.clone(),
                    model,
                    currency: String::new(),
                };
                stats.entry(key).or_default().touches += n as u64;
            }
        }
        let mut fraud: BTreeMap<(String, String, String), u64> = fraud_counts(&attributions)
            .into_iter()
            .map(|f| ((f.app_id, f.day, f.reason), f.count))
            .collect();
        for (day, reason, n) in rejected_touches {
            *fraud.entry((day.app_id, day.day, reason)).or_default() += n as u64;
        }
        let conversions = user_conversions(&cohort_records);
        let activity: Vec<UserActivity> = cohort_activity
            .iter()
            .map(|(app_id, user, day)| UserActivity {
                app_id,
                user,
                day: *day,
            })
            .collect();
        let observed_day = day_of_millis(observed_ms);
        let cohorts = cohort_rows_with_activity(&conversions, &activity);
        let young_cohorts = days
            .iter()
            .filter(|d| d.day == observed_day)
            .filter(|d| {
                cohorts
                    .iter()
                    .any(|r| r.app_id == d.app_id && r.day == d.day)
            })
            .cloned()
            .collect();
        Ok(DayRollup {
            cohorts,
            ltv_customers: ltv_summaries(&conversions, observed_ms),
            young_cohorts,
            rows: stats
                .into_iter()
                .map(|(key, values)| DailyStat { key, values })
                .collect(),
            paths: combine_paths(conversion_paths(&attributions).into_iter().chain(null_rows)),
            fraud: fraud
                .into_iter()
                .map(|((app_id, day, reason), count)| FraudCount {
                    app_id,
                    day,
                    reason,
                    count,
                })
                .collect(),
        })
    }

    /// Clears the marks that were pushed; a day marked again since it was read stays dirty.
    /// `young` cohort days (pushed on their own day, their customers not yet in the lifetime
    /// values) are kept in the same transaction to be pushed again after the day
    /// ([`FactStore::promote_young_cohorts`]).
    pub async fn clear(&self, pushed: &[DirtyDay], young: &[AppDay]) -> Result<(), RollupError> {
        let conn = self.conn.lock().await;
        let tx = conn.transaction().await?;
        let young: Vec<(String, String)> = young
            .iter()
            .map(|d| (d.app_id.clone(), d.day.clone()))
            .collect();
        cohort_facts::defer_ltv(&tx, &young).await?;
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

impl FactStore {
    /// Marks the young cohort days kept by [`FactStore::clear`] dirty once `today` (UTC
    /// `YYYY-MM-DD`) is after them; returns how many.
    pub async fn promote_young_cohorts(&self, today: &str) -> Result<u64, RollupError> {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        let conn = self.conn.lock().await;
        cohort_facts::promote_ltv(&conn, today, generation).await
    }
}

/// Keeps `json` as the conversion's attribution if its revision is newer than the kept one;
/// returns the day of the one it replaced (the conversion's own day if it is new), or `None`
/// when nothing changed.
/// One attribution to keep, as the spool gave it.
struct Conversion<'a> {
    app_id: &'a str,
    journey: &'a str,
    conversion_id: &'a str,
    day: &'a str,
    revision: u32,
    json: &'a str,
}

async fn keep_conversion(
    tx: &Transaction,
    c: &Conversion<'_>,
) -> Result<Option<String>, RollupError> {
    let mut rows = tx
        .query(
            "SELECT day, revision FROM conversions WHERE app_id = ?1 AND conversion_id = ?2",
            (c.app_id, c.conversion_id),
        )
        .await?;
    let old = match rows.next().await? {
        Some(row) => Some((row.get::<String>(0)?, row.get::<i64>(1)?)),
        None => None,
    };
    drop(rows);
    if old
        .as_ref()
        .is_some_and(|(_, old_revision)| *old_revision >= i64::from(c.revision))
    {
        return Ok(None);
    }
    tx.execute(
        "INSERT INTO conversions (app_id, conversion_id, day, revision, record) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (app_id, conversion_id) DO UPDATE SET \
         day = excluded.day, revision = excluded.revision, record = excluded.record",
        (
            c.app_id,
            c.conversion_id,
            c.day,
            i64::from(c.revision),
            c.json,
        ),
    )
    .await?;
    tx.execute(
        "INSERT OR IGNORE INTO conversion_journeys (app_id, journey, conversion_id) \
         VALUES (?1, ?2, ?3)",
        (c.app_id, c.journey, c.conversion_id),
    )
    .await?;
    Ok(Some(old.map_or_else(|| c.day.to_owned(), |(d, _)| d)))
}

/// Anonymises the kept attributions of `journey`; returns their days (to push again).
async fn anonymise_journey(
    tx: &Transaction,
    app_id: &str,
    journey: &str,
) -> Result<Vec<String>, RollupError> {
    let mut rows = tx
        .query(
            "SELECT c.conversion_id, c.day, c.record FROM conversion_journeys j \
             JOIN conversions c ON c.app_id = j.app_id AND c.conversion_id = j.conversion_id \
             WHERE j.app_id = ?1 AND j.journey = ?2",
            (app_id, journey),
        )
        .await?;
    let mut found: Vec<(String, String, String)> = Vec::new();
    while let Some(row) = rows.next().await? {
        found.push((row.get(0)?, row.get(1)?, row.get(2)?));
    }
    drop(rows);
    let mut days = Vec::with_capacity(found.len());
    for (conversion_id, day, json) in found {
        let mut record: OutboxRecord = serde_json::from_str(&json)?;
        if let OutboxRecord::Attribution(attribution) = &mut record {
            anonymise_attribution(attribution);
        }
        tx.execute(
            "UPDATE conversions SET record = ?3 WHERE app_id = ?1 AND conversion_id = ?2",
            (
                app_id,
                conversion_id.as_str(),
                serde_json::to_string(&record)?,
            ),
        )
        .await?;
        days.push(day);
    }
    tx.execute(
        "DELETE FROM conversion_journeys WHERE app_id = ?1 AND journey = ?2",
        (app_id, journey),
    )
    .await?;
    Ok(days)
}
