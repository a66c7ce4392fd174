//! [`JourneyStore`] on the Durable Object's SQLite storage.
//!
//! Every SQL statement crosses from wasm into workerd, so the hot path keeps their number
//! down: a call's events are looked up in one statement and written in one multi-row insert at
//! the end of its transaction, each with its own outbox records (`crate::event_batch`,
//! `crate::unsent`); other outbox rows written in a transaction go out as one multi-row insert
//! at its end; and meta values are read once per object (the object is its storage's only writer, so a
//! cached value stays true until it writes it; a rolled-back transaction drops the cache).
//! Events have no time index (a row written per event): the latest activity comes from the
//! two latest events, remembered the same way ([`RecentActivity`]), or from a scan when an
//! event arrives older than them.

use attrib_core::attribution::AttributionResult;
use attrib_core::event::Event;
use attrib_core::journey::activity::{Answer, RecentActivity, Seen};
use attrib_core::journey::unsent::{UnsentEvents, WaitingEvent};
use attrib_core::journey::{JourneyStore, NullPathState};
use attrib_core::outbox::stored::event_row_out;
use attrib_core::outbox::OutboxRecord;
use attrib_core::postback::Postback;
use attrib_core::touch::Touch;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};

use worker::{SqlStorageValue, Storage};

use crate::event_batch::{EventBatch, EventRow};
use crate::extras::{Extra, KnownExtras};
use crate::flush::now_ms;
use crate::meta::Meta;
use crate::sql::CountedSql;
use crate::tx::{self, TransactionError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("SQL failed: {0}")]
    Sql(#[from] worker::Error),
    #[error("stored JSON is unreadable: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Transaction(#[from] TransactionError),
}

pub struct SqlJourneyStore {
    pub storage: Storage,
    pub sql: CountedSql,
    /// Nesting depth of [`JourneyStore::atomically`]; outbox rows are buffered while > 0.
    depth: Cell<u32>,
    pending_outbox: RefCell<Vec<String>>,
    /// Meta values by key (`None`: known absent), as JSON text.
    meta_cache: RefCell<HashMap<String, Option<String>>>,
    /// Every meta value is in `meta_cache`: a key not there is absent (a new object).
    meta_complete: Cell<bool>,
    /// The values `crate::meta` keeps together in one row, as stored or about to be (`None`:
    /// not read yet), and whether they changed inside the transaction and wait for its end.
    pub(crate) meta_pack: RefCell<Option<serde_json::Map<String, serde_json::Value>>>,
    pub(crate) meta_pack_waiting: Cell<bool>,
    /// The latest stored events (`None`: not read yet, or forgotten).
    activity: RefCell<Option<RecentActivity>>,
    /// Whether the outbox has rows, as last written or read (`None`: unknown).
    outbox_rows: Cell<Option<bool>>,
    /// A flush is sending the outbox rows up to this `seq`: new records must not be appended
    /// to them (the flush deletes them once acknowledged).
    flushing_through: Cell<Option<i64>>,
    /// Known: no pending postback and no attempt left to log (the alarm skips postbacks).
    postbacks_idle: Cell<bool>,
    /// Journeys known to be merged into this one (web events name their anonymous id on
    /// every call: its merge is looked up once, not per call).
    merged: RefCell<HashSet<String>>,
    /// Events whose records wait in their own rows (`crate::unsent`).
    pub(crate) unsent: RefCell<UnsentEvents>,
    /// The call's events, looked up and written together (`crate::event_batch`).
    pub(crate) event_batch: RefCell<EventBatch>,
    /// Which tables made on first use exist (`crate::extras`).
    pub(crate) extras: KnownExtras,
}

/// Records in one outbox row: the records of one call share a row (one row written and one
/// deleted per call instead of per record), up to this many and [`MAX_OUTBOX_ROW_BYTES`].
const MAX_RECORDS_PER_OUTBOX_ROW: usize = 200;
const MAX_OUTBOX_ROW_BYTES: usize = 1024 * 1024;
/// Outbox rows per multi-row insert (three bound values each).
const OUTBOX_ROWS_PER_INSERT: usize = 32;

#[derive(Deserialize)]
struct Body {
    body: String,
}

#[derive(Deserialize)]
struct MaybeTime {
    ts: Option<f64>,
}

#[derive(Deserialize)]
struct Time {
    ts: f64,
}

#[derive(Deserialize)]
struct LatestRow {
    ts: f64,
    id: String,
    r#type: Option<String>,
}

#[derive(Deserialize)]
struct Count {
    n: f64,
}

impl SqlJourneyStore {
    /// `counting`: count rows read and written ([`CountedSql`]), for the benchmark.
    pub fn new(storage: Storage, counting: bool) -> Self {
        let sql = CountedSql::new(storage.sql(), counting);
        SqlJourneyStore {
            storage,
            sql,
            depth: Cell::new(0),
            pending_outbox: RefCell::new(Vec::new()),
            meta_cache: RefCell::new(HashMap::new()),
            meta_complete: Cell::new(false),
            meta_pack: RefCell::new(None),
            meta_pack_waiting: Cell::new(false),
            activity: RefCell::new(None),
            outbox_rows: Cell::new(None),
            flushing_through: Cell::new(None),
            postbacks_idle: Cell::new(false),
            merged: RefCell::new(HashSet::new()),
            unsent: RefCell::new(UnsentEvents::default()),
            event_batch: RefCell::new(EventBatch::default()),
            extras: KnownExtras::default(),
        }
    }

    pub fn cached_meta(&self, key: &str) -> Option<Option<String>> {
        match self.meta_cache.borrow().get(key) {
            Some(value) => Some(value.clone()),
            None => self.meta_complete.get().then_some(None),
        }
    }

    /// The object was just created, its storage empty but for the schema: nothing needs
    /// reading to be known (issue 15: a new user's first call read a dozen absent values).
    pub fn created_empty(&self) {
        self.meta_complete.set(true);
        *self.activity.borrow_mut() = Some(RecentActivity::from_latest(Vec::new()));
        self.outbox_rows.set(Some(false));
        self.postbacks_idle.set(true);
        self.unsent.borrow_mut().none_stored();
    }

    /// Inside [`JourneyStore::atomically`]: writes may wait for its end.
    pub fn in_transaction(&self) -> bool {
        self.depth.get() > 0
    }

    pub fn cache_meta(&self, key: &str, value: Option<String>) {
        self.meta_cache.borrow_mut().insert(key.to_owned(), value);
    }

    /// Drops every cached value (meta and the latest events): after a rollback, or writes
    /// made around the cache.
    pub fn forget_meta(&self) {
        self.meta_cache.borrow_mut().clear();
        self.meta_complete.set(false);
        self.meta_pack.borrow_mut().take();
        self.meta_pack_waiting.set(false);
        self.forget_activity();
        self.outbox_rows.set(None);
        self.postbacks_idle.set(false);
        self.merged.borrow_mut().clear();
        self.extras.forget();
    }

    pub fn known_merged(&self, journey: &str) -> bool {
        self.merged.borrow().contains(journey)
    }

    pub fn note_merged(&self, journey: String) {
        self.merged.borrow_mut().insert(journey);
    }

    pub fn postbacks_idle(&self) -> bool {
        self.postbacks_idle.get()
    }

    pub fn set_postbacks_idle(&self, idle: bool) {
        self.postbacks_idle.set(idle);
    }

    /// A flush sends the rows up to `seq` (`None`: it is over, whatever became of them).
    pub fn set_flushing_through(&self, seq: Option<i64>) {
        self.flushing_through.set(seq);
        if seq.is_none() {
            self.outbox_rows.set(None);
        }
    }

    /// Events were deleted (retention): the remembered latest ones may be gone.
    pub fn forget_activity(&self) {
        self.activity.borrow_mut().take();
    }

    /// Answers from the remembered latest events, reading them first if needed.
    fn recent_answer<T>(&self, ask: impl Fn(&RecentActivity) -> T) -> Result<T, StoreError> {
        if let Some(recent) = self.activity.borrow().as_ref() {
            return Ok(ask(recent));
        }
        self.write_event_rows()?;
        // The two latest by time, then their types: only two bodies are read.
        let rows: Vec<LatestRow> = self
            .sql
            .exec(
                "SELECT ts_ms AS ts, message_id AS id, json_extract(body, '$.type') AS type \
                 FROM events WHERE message_id IN \
                 (SELECT message_id FROM events ORDER BY ts_ms DESC LIMIT 2)",
                None,
            )?
            .to_array()?;
        let recent = RecentActivity::from_latest(
            rows.into_iter()
                .map(|r| Seen {
                    ts_ms: r.ts as i64,
                    message_id: r.id,
                    engaged: !matches!(r.r#type.as_deref(), Some("click" | "impression")),
                })
                .collect(),
        );
        let answer = ask(&recent);
        *self.activity.borrow_mut() = Some(recent);
        Ok(answer)
    }

    /// The latest other event time at or before `ts_ms` by a scan of the events (no index).
    fn scan_latest(
        &self,
        ts_ms: i64,
        excluding: &str,
        engaged_only: bool,
    ) -> Result<Option<i64>, StoreError> {
        let query = if engaged_only {
            "SELECT max(ts_ms) AS ts FROM events WHERE ts_ms <= ? AND message_id != ? \
             AND json_extract(body, '$.type') NOT IN ('click', 'impression')"
        } else {
            "SELECT max(ts_ms) AS ts FROM events WHERE ts_ms <= ? AND message_id != ?"
        };
        self.write_event_rows()?;
        let rows: Vec<MaybeTime> = self
            .sql
            .exec(query, vec![int(ts_ms), text(excluding)])?
            .to_array()?;
        Ok(rows.first().and_then(|r| r.ts).map(|t| t as i64))
    }

    /// Writes `records` (outbox JSON, oldest first) as few rows as the row bounds allow:
    /// appended to the newest row while it waits for its flush and has room (calls within a
    /// flush delay write one row, updated, and the flush deletes one), else in new rows.
    pub fn insert_outbox_rows(&self, records: &[String]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        self.ensure(Extra::Outbox)?;
        let mut rows = pack_records(records);
        if self.outbox_rows.get() != Some(false) && self.append_outbox(&rows[0])? {
            rows.remove(0);
        }
        self.outbox_rows.set(Some(true));
        for chunk in rows.chunks(OUTBOX_ROWS_PER_INSERT) {
            let placeholders = vec!["(?, ?, ?)"; chunk.len()].join(", ");
            let mut binds = Vec::with_capacity(chunk.len() * 3);
            for (count, body) in chunk {
                binds.push(int(*count as i64));
                binds.push(int(body.len() as i64));
                binds.push(text(body));
            }
            self.sql.exec(
                &format!("INSERT INTO outbox (records, bytes, body) VALUES {placeholders}"),
                binds,
            )?;
        }
        Ok(())
    }

    /// Appends one packed row's records to the newest outbox row if it is not being flushed
    /// and stays within the row bounds; `false` when it did not.
    fn append_outbox(&self, (count, body): &(usize, String)) -> Result<bool, StoreError> {
        let cursor = self.sql.exec(
            "UPDATE outbox SET body = body || char(10) || ?, records = records + ?, \
             bytes = bytes + 1 + ? WHERE seq = (SELECT max(seq) FROM outbox) AND seq > ? \
             AND records + ? <= ? AND bytes + 1 + ? <= ?",
            vec![
                text(body),
                int(*count as i64),
                int(body.len() as i64),
                int(self.flushing_through.get().unwrap_or(-1)),
                int(*count as i64),
                int(MAX_RECORDS_PER_OUTBOX_ROW as i64),
                int(body.len() as i64),
                int(MAX_OUTBOX_ROW_BYTES as i64),
            ],
        )?;
        for row in cursor.raw() {
            row?;
        }
        Ok(cursor.rows_written() > 0)
    }

    fn exists(&self, query: &str, binds: Vec<SqlStorageValue>) -> Result<bool, StoreError> {
        let rows: Vec<serde_json::Value> = self.sql.exec(query, binds)?.to_array()?;
        Ok(!rows.is_empty())
    }

    pub fn bodies<T: DeserializeOwned>(
        &self,
        query: &str,
        binds: Vec<SqlStorageValue>,
    ) -> Result<Vec<T>, StoreError> {
        let rows: Vec<Body> = self.sql.exec(query, binds)?.to_array()?;
        rows.iter()
            .map(|r| serde_json::from_str(&r.body).map_err(StoreError::from))
            .collect()
    }

    pub fn count(&self, table: Table) -> Result<u64, StoreError> {
        let query = match table {
            Table::Events => "SELECT count(*) AS n FROM events",
            // A row holds the records of one call.
            Table::Outbox => "SELECT coalesce(sum(records), 0) AS n FROM outbox",
        };
        let counted = match table {
            Table::Outbox if !self.has(Extra::Outbox)? => 0,
            _ => {
                let rows: Vec<Count> = self.sql.exec(query, None)?.to_array()?;
                rows.first().map_or(0, |c| c.n as u64)
            }
        };
        Ok(match table {
            Table::Events => counted,
            Table::Outbox => counted + self.unsent_records_stored()?,
        })
    }
}

impl SqlJourneyStore {
    /// Read once, then kept: only this object's writes change it.
    pub fn outbox_has_rows(&self) -> Result<bool, StoreError> {
        if let Some(known) = self.outbox_rows.get() {
            return Ok(known);
        }
        let rows = self.has(Extra::Outbox)?
            && self.exists("SELECT 1 AS found FROM outbox LIMIT 1", Vec::new())?;
        self.outbox_rows.set(Some(rows));
        Ok(rows)
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Table {
    Events,
    Outbox,
}

/// Joins records into row bodies, one record per line (compact JSON has no raw newline).
fn pack_records(records: &[String]) -> Vec<(usize, String)> {
    let mut rows: Vec<(usize, String)> = Vec::new();
    for record in records {
        match rows.last_mut() {
            Some((count, body))
                if *count < MAX_RECORDS_PER_OUTBOX_ROW
                    && body.len() + 1 + record.len() <= MAX_OUTBOX_ROW_BYTES =>
            {
                body.push('\n');
                body.push_str(record);
                *count += 1;
            }
            _ => rows.push((1, record.clone())),
        }
    }
    rows
}

pub fn int(v: i64) -> SqlStorageValue {
    SqlStorageValue::Integer(v)
}

/// JavaScript's largest exact integer: SQL parameters cross into JS as numbers.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// A time bound as a SQL parameter. Open bounds (`i64::MIN`, "from the beginning") are
/// brought into JavaScript's exact range; no stored time is anywhere near its ends.
fn time_bound(ms: i64) -> SqlStorageValue {
    int(ms.clamp(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER))
}

pub fn text(v: &str) -> SqlStorageValue {
    SqlStorageValue::String(v.to_owned())
}

impl JourneyStore for SqlJourneyStore {
    type Error = StoreError;

    fn atomically<T, E: From<Self::Error>>(
        &self,
        work: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let outermost = self.depth.get() == 0;
        self.depth.set(self.depth.get() + 1);
        let result = tx::atomically(
            &self.storage,
            || {
                let value = work()?;
                if outermost {
                    self.write_event_rows().map_err(E::from)?;
                    Meta::new(self).write_pack().map_err(E::from)?;
                    let bodies = std::mem::take(&mut *self.pending_outbox.borrow_mut());
                    self.insert_outbox_rows(&bodies).map_err(E::from)?;
                }
                Ok(value)
            },
            |t| E::from(StoreError::Transaction(t)),
        );
        self.depth.set(self.depth.get() - 1);
        if outermost {
            self.unsent.borrow_mut().transaction_ended(result.is_ok());
            self.end_event_batch();
        }
        if result.is_err() && outermost {
            // Rolled back: nothing buffered or cached during it may be kept.
            self.pending_outbox.borrow_mut().clear();
            self.forget_meta();
        }
        result
    }

    fn look_up_events(&self, events: &[Event]) -> Result<(), StoreError> {
        if self.depth.get() == 0 {
            return Ok(());
        }
        self.look_up_call_events(events)
    }

    fn has_event(&self, message_id: &str) -> Result<bool, StoreError> {
        if let Some(known) = self.known_stored(message_id) {
            return Ok(known);
        }
        self.write_event_rows()?;
        self.exists(
            "SELECT 1 AS found FROM events WHERE message_id = ?",
            vec![text(message_id)],
        )
    }

    fn insert_event_if_new(&self, event: &Event) -> Result<bool, StoreError> {
        self.write_event_rows()?;
        let cursor = self.sql.exec(
            "INSERT INTO events (message_id, ts_ms, body) VALUES (?, ?, ?) \
             ON CONFLICT (message_id) DO NOTHING",
            vec![
                text(&event.message_id),
                int(event.timestamp_ms),
                text(&serde_json::to_string(event)?),
            ],
        )?;
        // An insert yields no rows; running the cursor out makes its row count final.
        for row in cursor.raw() {
            row?;
        }
        let stored = cursor.rows_written() > 0;
        if stored {
            self.note_stored(&event.message_id);
            if let Some(recent) = self.activity.borrow_mut().as_mut() {
                recent.stored(Seen::of(event));
            }
        }
        Ok(stored)
    }

    fn insert_recorded_event(
        &self,
        event: &Event,
        records: &[OutboxRecord],
    ) -> Result<(), StoreError> {
        let Some(stored) = event_row_out(records)? else {
            self.insert_event_if_new(event)?;
            return records.iter().try_for_each(|record| self.enqueue(record));
        };
        let (out, named_bytes) = (stored.out, stored.named_bytes);
        let body = serde_json::to_string(event)?;
        let sent_seq = Meta::new(self).sent_seq()?;
        let seq = self.unsent.borrow_mut().next_seq(sent_seq, now_ms());
        let records_bytes = body.len() + out.len() + named_bytes;
        let in_transaction = self.depth.get() > 0;
        let row = EventRow {
            message_id: event.message_id.clone(),
            ts_ms: event.timestamp_ms,
            seq,
            body,
            out,
        };
        self.queue_event_row(row);
        if !in_transaction {
            self.write_event_rows()?;
        }
        if let Some(recent) = self.activity.borrow_mut().as_mut() {
            recent.stored(Seen::of(event));
        }
        self.unsent.borrow_mut().written(
            WaitingEvent {
                seq,
                message_id: event.message_id.clone(),
                records: records.len(),
                bytes: records_bytes,
            },
            in_transaction,
        );
        Ok(())
    }

    fn latest_activity(&self, ts_ms: i64, excluding: &str) -> Result<Option<i64>, StoreError> {
        match self.recent_answer(|r| r.latest_activity(ts_ms, excluding))? {
            Answer::Known(latest) => Ok(latest),
            Answer::Look => self.scan_latest(ts_ms, excluding, false),
        }
    }

    fn has_event_since(&self, ts_ms: i64, excluding: &str) -> Result<bool, StoreError> {
        self.recent_answer(|r| r.any_since(ts_ms, excluding))
    }

    fn latest_engagement(&self, ts_ms: i64, excluding: &str) -> Result<Option<i64>, StoreError> {
        match self.recent_answer(|r| r.latest_engagement(ts_ms, excluding))? {
            Answer::Known(latest) => Ok(latest),
            Answer::Look => self.scan_latest(ts_ms, excluding, true),
        }
    }

    fn has_touch(&self, touch: &Touch) -> Result<bool, StoreError> {
        self.reading(Extra::Touches, || {
            self.exists(
                "SELECT 1 AS found FROM touches WHERE ts_ms = ? AND touch_id = ?",
                vec![int(touch.ts_ms), text(&touch.touch_id)],
            )
        })
    }

    fn insert_touch(&self, touch: &Touch) -> Result<(), StoreError> {
        self.ensure(Extra::Touches)?;
        self.sql.exec(
            "INSERT INTO touches (touch_id, ts_ms, body) VALUES (?, ?, ?)",
            vec![
                text(&touch.touch_id),
                int(touch.ts_ms),
                text(&serde_json::to_string(touch)?),
            ],
        )?;
        Ok(())
    }

    fn latest_touch(&self, ts_ms: i64) -> Result<Option<Touch>, StoreError> {
        self.reading(Extra::Touches, || {
            Ok(self
                .bodies(
                    "SELECT body FROM touches WHERE ts_ms <= ? ORDER BY ts_ms DESC, touch_id DESC LIMIT 1",
                    vec![int(ts_ms)],
                )?
                .pop())
        })
    }

    fn touches_since(&self, from_ms: i64) -> Result<Vec<Touch>, StoreError> {
        self.reading(Extra::Touches, || {
            self.bodies(
                "SELECT body FROM touches WHERE ts_ms >= ?",
                vec![time_bound(from_ms)],
            )
        })
    }

    fn touches_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<Touch>, StoreError> {
        self.reading(Extra::Touches, || {
            let mut touches: Vec<Touch> = self.bodies(
                "SELECT body FROM touches WHERE ts_ms >= ? AND ts_ms <= ? \
                 ORDER BY ts_ms DESC, touch_id DESC LIMIT ?",
                vec![time_bound(from_ms), time_bound(to_ms), int(limit as i64)],
            )?;
            touches.reverse();
            Ok(touches)
        })
    }

    fn has_order(&self, conversion_name: &str, order_id: &str) -> Result<bool, StoreError> {
        self.reading(Extra::Attributions, || {
            self.exists(
                "SELECT 1 AS found FROM attributions WHERE name = ? AND order_id = ?",
                vec![text(conversion_name), text(order_id)],
            )
        })
    }

    fn has_attribution(&self, result: &AttributionResult) -> Result<bool, StoreError> {
        self.reading(Extra::Attributions, || {
            self.exists(
                "SELECT 1 AS found FROM attributions WHERE ts_ms = ? AND conversion_id = ?",
                vec![
                    int(result.conversion.ts_ms),
                    text(&result.conversion.conversion_id),
                ],
            )
        })
    }

    fn insert_attribution(&self, result: &AttributionResult) -> Result<(), StoreError> {
        self.ensure(Extra::Attributions)?;
        let c = &result.conversion;
        self.sql.exec(
            "INSERT INTO attributions (conversion_id, ts_ms, name, order_id, rejected, body) \
             VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                text(&c.conversion_id),
                int(c.ts_ms),
                text(&c.name),
                c.order_id.as_deref().map_or(SqlStorageValue::Null, text),
                result
                    .rejected
                    .as_deref()
                    .map_or(SqlStorageValue::Null, text),
                text(&serde_json::to_string(result)?),
            ],
        )?;
        Ok(())
    }

    fn replace_attribution(&self, result: &AttributionResult) -> Result<(), StoreError> {
        self.reading(Extra::Attributions, || {
            self.keep_unsent_revision(result)?;
            self.sql.exec(
                "UPDATE attributions SET rejected = ?, body = ? WHERE ts_ms = ? AND conversion_id = ?",
                vec![
                    result
                        .rejected
                        .as_deref()
                        .map_or(SqlStorageValue::Null, text),
                    text(&serde_json::to_string(result)?),
                    int(result.conversion.ts_ms),
                    text(&result.conversion.conversion_id),
                ],
            )?;
            Ok(())
        })
    }

    fn latest_conversion_named(
        &self,
        name: &str,
        before_ms: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.reading(Extra::Attributions, || {
            let rows: Vec<MaybeTime> = self
                .sql
                .exec(
                    // Walks the conversions back in time and stops at the first kept one of the name.
                    "SELECT ts_ms AS ts FROM attributions \
                     WHERE name = ? AND ts_ms < ? AND rejected IS NULL ORDER BY ts_ms DESC LIMIT 1",
                    vec![text(name), int(before_ms)],
                )?
                .to_array()?;
            Ok(rows.first().and_then(|r| r.ts).map(|t| t as i64))
        })
    }

    fn first_conversion_before(&self, before_ms: i64) -> Result<Option<i64>, StoreError> {
        self.reading(Extra::Attributions, || {
            let rows: Vec<MaybeTime> = self
                .sql
                .exec(
                    "SELECT ts_ms AS ts FROM attributions WHERE ts_ms < ? AND rejected IS NULL \
                     ORDER BY ts_ms LIMIT 1",
                    vec![int(before_ms)],
                )?
                .to_array()?;
            Ok(rows.first().and_then(|r| r.ts).map(|t| t as i64))
        })
    }

    fn enqueue(&self, record: &OutboxRecord) -> Result<(), StoreError> {
        let body = serde_json::to_string(record)?;
        if self.depth.get() > 0 {
            self.pending_outbox.borrow_mut().push(body);
            Ok(())
        } else {
            self.insert_outbox_rows(&[body])
        }
    }

    fn enqueue_postback(&self, postback: &Postback) -> Result<(), StoreError> {
        self.ensure(Extra::Postbacks)?;
        self.postbacks_idle.set(false);
        self.sql.exec(
            "INSERT OR IGNORE INTO postbacks (key, conversion_id, network, created_ms, status, \
             attempts, next_attempt_ms, body, device_ids) \
             VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
            vec![
                text(&postback.key),
                text(&postback.conversion_id),
                text(&postback.network),
                int(postback.created_at_ms),
                int(postback.created_at_ms),
                text(&serde_json::to_string(postback)?),
                // The raw ids stay apart from the body (which never holds them).
                match &postback.device_ids {
                    Some(ids) => text(&serde_json::to_string(ids)?),
                    None => worker::SqlStorageValue::Null,
                },
            ],
        )?;
        Ok(())
    }

    fn all_events(&self) -> Result<Vec<Event>, StoreError> {
        self.write_event_rows()?;
        self.bodies(
            "SELECT body FROM events ORDER BY ts_ms, message_id",
            Vec::new(),
        )
    }

    fn all_touches(&self) -> Result<Vec<Touch>, StoreError> {
        self.reading(Extra::Touches, || {
            self.bodies(
                "SELECT body FROM touches ORDER BY ts_ms, touch_id",
                Vec::new(),
            )
        })
    }

    fn all_attributions(&self) -> Result<Vec<AttributionResult>, StoreError> {
        self.reading(Extra::Attributions, || {
            self.bodies(
                "SELECT body FROM attributions ORDER BY ts_ms, conversion_id",
                Vec::new(),
            )
        })
    }

    fn attributions_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<AttributionResult>, StoreError> {
        self.reading(Extra::Attributions, || {
            self.bodies(
                "SELECT body FROM attributions WHERE ts_ms >= ? AND ts_ms <= ? \
                 ORDER BY ts_ms, conversion_id LIMIT ?",
                vec![time_bound(from_ms), time_bound(to_ms), int(limit as i64)],
            )
        })
    }

    fn conversion_times_since(&self, from_ms: i64) -> Result<Vec<i64>, StoreError> {
        self.reading(Extra::Attributions, || {
            // Covered by `attributions_by_time` (schema version 3): no JSON body is read.
            let rows: Vec<Time> = self
                .sql
                .exec(
                    "SELECT ts_ms AS ts FROM attributions WHERE ts_ms >= ? ORDER BY ts_ms",
                    vec![time_bound(from_ms)],
                )?
                .to_array()?;
            Ok(rows.into_iter().map(|r| r.ts as i64).collect())
        })
    }

    fn null_path_state(&self) -> Result<NullPathState, StoreError> {
        Meta::new(self).null_path_state()
    }

    fn set_null_path_state(&self, state: &NullPathState) -> Result<(), StoreError> {
        Meta::new(self).set_null_path_state(state)
    }
}
