//! What a journey knows about itself: its key, its placement, whether it was merged away,
//! which journeys it absorbed, its schema version, the outbox flush's retry state, and what
//! its alarm needs to close null paths (the app's attribution windows, the null-path mark and
//! due time).

use attrib_core::attribution::Windows;
use attrib_core::geo::Placement;
use attrib_core::identity::JourneyKey;
use attrib_core::journey::timing::RetentionState;
use attrib_core::journey::NullPathState;
use attrib_core::limits::MAX_REMEMBERED_MERGE_REFUSALS;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use worker::SqlStorageValue;

use crate::extras::Extra;
use crate::store::{SqlJourneyStore, StoreError};

const KEY: &str = "key";
const PLACEMENT: &str = "placement";
const MERGED_INTO: &str = "merged_into";
const FLUSH_ATTEMPTS: &str = "flush_attempts";
const FLUSH_NEXT_MS: &str = "flush_next_ms";
const SCHEMA_VERSION: &str = "schema_version";
/// The app's attribution windows, as last sent with a request (the alarm has no request).
const WINDOWS: &str = "windows";
/// The first user id this journey was merged into (issue 13, finding 5): an anonymous id
/// seen with one user is not handed to another by a client key. Journeys merged before it was
/// recorded have `merged_into` instead (`attrib_core::identity::check_hand_over` reads both).
const BOUND_USER: &str = "bound_user";
/// Merges this journey asked for and was refused (`attrib_core::identity::MergeRefusal`).
const MERGES_REFUSED: &str = "merges_refused";
/// `merge_refused:<source object name>`: a source that refused a client key's merge (the
/// first [`MAX_REMEMBERED_MERGE_REFUSALS`]); such a refusal never turns into a yes.
const MERGE_REFUSED_PREFIX: &str = "merge_refused:";
/// When the journey was erased (issue 12): the tombstone that drops events in flight for its
/// id (`attrib_core::privacy::erasure::tombstone_holds`). Holds nothing about the person.
const ERASED_AT_MS: &str = "erased_at_ms";
/// [`NullPathState`]; `schema.rs` (version 3) writes it directly for journeys that predate it.
pub const NULL_PATHS: &str = "null_paths";
/// The outbox mark of events keeping their records in their rows: events with a higher
/// `seq` wait (`attrib_core::journey::unsent`).
const SENT_SEQ: &str = "sent_seq";
/// [`RetentionState`]: the app's `retention_days` as last sent, and when expired rows go next.
const RETENTION: &str = "retention";

/// The row holding the values a request keeps writing (issue 15): a new journey's first call
/// set five rows (key, placement, windows, null paths, retention), each billed as a row
/// written; kept in one JSON object, they are one row, written once per transaction.
/// Journeys from before keep their separate rows, read where the object lacks the value.
const PACK: &str = "journey";
const PACKED: [&str; 5] = [KEY, PLACEMENT, WINDOWS, NULL_PATHS, RETENTION];

#[derive(Deserialize)]
struct Value {
    value: String,
}

#[derive(Deserialize)]
struct Journey {
    journey: String,
}

/// Reads go through the store's meta cache (the object is the only writer of its storage, so
/// a value read once stays true until this object writes it; see `SqlJourneyStore`).
pub struct Meta<'a> {
    store: &'a SqlJourneyStore,
}

impl<'a> Meta<'a> {
    pub fn new(store: &'a SqlJourneyStore) -> Self {
        Meta { store }
    }

    fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, StoreError> {
        if PACKED.contains(&name) {
            if let Some(value) = self.packed(name)? {
                return Ok(Some(serde_json::from_value(value)?));
            }
        }
        self.row_text(name)?
            .map(|t| serde_json::from_str(&t).map_err(StoreError::from))
            .transpose()
    }

    /// A row's value as stored, through the cache.
    fn row_text(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(match self.store.cached_meta(name) {
            Some(cached) => cached,
            None => {
                let rows: Vec<Value> = self
                    .store
                    .sql
                    .exec("SELECT value FROM meta WHERE key = ?", vec![name.into()])?
                    .to_array()?;
                let text = rows.into_iter().next().map(|r| r.value);
                self.store.cache_meta(name, text.clone());
                text
            }
        })
    }

    fn packed(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        if self.store.meta_pack.borrow().is_none() {
            let pack = match self.row_text(PACK)? {
                Some(text) => serde_json::from_str(&text)?,
                None => serde_json::Map::new(),
            };
            *self.store.meta_pack.borrow_mut() = Some(pack);
        }
        Ok(self
            .store
            .meta_pack
            .borrow()
            .as_ref()
            .and_then(|pack| pack.get(name).cloned()))
    }

    /// Writes only a changed value (a row written is billed, the cache says what is stored).
    fn put<T: Serialize>(&self, name: &str, value: &T) -> Result<(), StoreError> {
        if PACKED.contains(&name) {
            return self.put_packed(name, serde_json::to_value(value)?);
        }
        let text = serde_json::to_string(value)?;
        if self.store.cached_meta(name).flatten().as_deref() == Some(text.as_str()) {
            return Ok(());
        }
        self.write_row(name, text)
    }

    fn write_row(&self, name: &str, text: String) -> Result<(), StoreError> {
        self.store.sql.exec(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            vec![name.into(), SqlStorageValue::String(text.clone())],
        )?;
        self.store.cache_meta(name, Some(text));
        Ok(())
    }

    /// Inside a transaction the row is written once, at its end ([`Self::write_pack`]).
    fn put_packed(&self, name: &str, value: serde_json::Value) -> Result<(), StoreError> {
        let current = match self.packed(name)? {
            Some(packed) => Some(packed),
            None => self
                .row_text(name)?
                .map(|t| serde_json::from_str::<serde_json::Value>(&t))
                .transpose()?,
        };
        if current.as_ref() == Some(&value) {
            return Ok(());
        }
        if let Some(pack) = self.store.meta_pack.borrow_mut().as_mut() {
            pack.insert(name.to_owned(), value);
        }
        self.store.meta_pack_waiting.set(true);
        if self.store.in_transaction() {
            return Ok(());
        }
        self.write_pack()
    }

    /// Writes the packed values if they changed since last written.
    pub fn write_pack(&self) -> Result<(), StoreError> {
        if !self.store.meta_pack_waiting.get() {
            return Ok(());
        }
        let text = match self.store.meta_pack.borrow().as_ref() {
            Some(pack) => serde_json::to_string(pack)?,
            None => return Ok(()),
        };
        self.write_row(PACK, text)?;
        self.store.meta_pack_waiting.set(false);
        Ok(())
    }

    pub fn key(&self) -> Result<Option<JourneyKey>, StoreError> {
        self.get(KEY)
    }

    pub fn placement(&self) -> Result<Option<Placement>, StoreError> {
        self.get(PLACEMENT)
    }

    /// Records the journey's identity and placement the first time; later calls keep the first.
    pub fn adopt(&self, key: &JourneyKey, placement: &Placement) -> Result<Placement, StoreError> {
        if self.key()?.is_none() {
            self.put(KEY, key)?;
        }
        match self.placement()? {
            Some(existing) => Ok(existing),
            None => {
                self.put(PLACEMENT, placement)?;
                Ok(*placement)
            }
        }
    }

    pub fn merged_into(&self) -> Result<Option<JourneyKey>, StoreError> {
        self.get(MERGED_INTO)
    }

    pub fn set_merged_into(&self, target: &JourneyKey) -> Result<(), StoreError> {
        self.put(MERGED_INTO, target)
    }

    pub fn bound_user(&self) -> Result<Option<String>, StoreError> {
        self.get(BOUND_USER)
    }

    pub fn set_bound_user(&self, user_id: &str) -> Result<(), StoreError> {
        self.put(BOUND_USER, &user_id)
    }

    pub fn merges_refused(&self) -> Result<u64, StoreError> {
        Ok(self.get(MERGES_REFUSED)?.unwrap_or(0))
    }

    /// Counts a refusal of `source` and remembers it while fewer than
    /// [`MAX_REMEMBERED_MERGE_REFUSALS`] are.
    pub fn count_merge_refused(&self, source: &JourneyKey) -> Result<(), StoreError> {
        let before = self.merges_refused()?;
        if before < MAX_REMEMBERED_MERGE_REFUSALS {
            self.put(&refusal_name(source), &true)?;
        }
        self.put(MERGES_REFUSED, &before.saturating_add(1))
    }

    /// Whether `source` refused a client key's merge before (and is remembered).
    pub fn refused_before(&self, source: &JourneyKey) -> Result<bool, StoreError> {
        Ok(self.get::<bool>(&refusal_name(source))?.is_some())
    }

    pub fn merged_from(&self) -> Result<Vec<String>, StoreError> {
        self.store.reading(Extra::MergedFrom, || {
            let rows: Vec<Journey> = self
                .store
                .sql
                .exec(
                    "SELECT journey FROM merged_from ORDER BY merged_at_ms, journey",
                    None,
                )?
                .to_array()?;
            Ok(rows.into_iter().map(|r| r.journey).collect())
        })
    }

    /// A merge, once seen, stays (only erasure removes it, and drops the cache).
    pub fn has_merged(&self, source: &JourneyKey) -> Result<bool, StoreError> {
        let name = source.object_name();
        if self.store.known_merged(&name) {
            return Ok(true);
        }
        if !self.store.has(Extra::MergedFrom)? {
            return Ok(false);
        }
        let rows: Vec<Journey> = self
            .store
            .sql
            .exec(
                "SELECT journey FROM merged_from WHERE journey = ?",
                vec![name.clone().into()],
            )?
            .to_array()?;
        let merged = !rows.is_empty();
        if merged {
            self.store.note_merged(name);
        }
        Ok(merged)
    }

    pub fn mark_merged(&self, source: &JourneyKey, now_ms: i64) -> Result<(), StoreError> {
        self.store.ensure(Extra::MergedFrom)?;
        self.store.sql.exec(
            "INSERT OR IGNORE INTO merged_from (journey, merged_at_ms) VALUES (?, ?)",
            vec![
                source.object_name().into(),
                SqlStorageValue::Integer(now_ms),
            ],
        )?;
        Ok(())
    }

    pub fn flush_attempts(&self) -> Result<u32, StoreError> {
        Ok(self.get(FLUSH_ATTEMPTS)?.unwrap_or(0))
    }

    /// Writes only a change: a journey that never failed a flush has no row (0), and a
    /// successful flush sets 0 (issue 15: a new journey's first flush wrote two rows of zeros).
    pub fn set_flush_attempts(&self, attempts: u32) -> Result<(), StoreError> {
        if self.flush_attempts()? == attempts {
            return Ok(());
        }
        self.put(FLUSH_ATTEMPTS, &attempts)
    }

    pub fn sent_seq(&self) -> Result<i64, StoreError> {
        Ok(self.get(SENT_SEQ)?.unwrap_or(0))
    }

    pub fn set_sent_seq(&self, seq: i64) -> Result<(), StoreError> {
        self.put(SENT_SEQ, &seq)
    }

    /// When the outbox may be flushed again after a failure (0: any time).
    pub fn flush_next_ms(&self) -> Result<i64, StoreError> {
        Ok(self.get(FLUSH_NEXT_MS)?.unwrap_or(0))
    }

    /// Writes only a change (absent is 0), like [`Self::set_flush_attempts`].
    pub fn set_flush_next_ms(&self, at_ms: i64) -> Result<(), StoreError> {
        if self.flush_next_ms()? == at_ms {
            return Ok(());
        }
        self.put(FLUSH_NEXT_MS, &at_ms)
    }

    /// The app's windows as last recorded; `None` before the first request that sent them.
    pub fn windows(&self) -> Result<Option<Windows>, StoreError> {
        self.get(WINDOWS)
    }

    /// Keeps the app's current windows for the alarm; writes only when they changed.
    pub fn keep_windows(&self, windows: &Windows) -> Result<(), StoreError> {
        if self.windows()?.as_ref() != Some(windows) {
            self.put(WINDOWS, windows)?;
        }
        Ok(())
    }

    pub fn null_path_state(&self) -> Result<NullPathState, StoreError> {
        Ok(self.get(NULL_PATHS)?.unwrap_or_default())
    }

    pub fn set_null_path_state(&self, state: &NullPathState) -> Result<(), StoreError> {
        self.put(NULL_PATHS, state)
    }

    pub fn erased_at_ms(&self) -> Result<Option<i64>, StoreError> {
        self.get(ERASED_AT_MS)
    }

    pub fn set_erased_at_ms(&self, at_ms: i64) -> Result<(), StoreError> {
        self.put(ERASED_AT_MS, &at_ms)
    }

    /// Lifts an expired tombstone: the id is collected afresh.
    pub fn clear_erased(&self) -> Result<(), StoreError> {
        self.store
            .sql
            .exec("DELETE FROM meta WHERE key = ?", vec![ERASED_AT_MS.into()])?;
        self.store.cache_meta(ERASED_AT_MS, None);
        Ok(())
    }

    /// 1 for a journey created before versions were recorded.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(self.get(SCHEMA_VERSION)?.unwrap_or(1))
    }

    pub fn set_schema_version(&self, version: u32) -> Result<(), StoreError> {
        self.put(SCHEMA_VERSION, &version)
    }

    /// Retention's days and due time (`crate::retention`); `None` before the first request.
    pub fn retention(&self) -> Result<Option<RetentionState>, StoreError> {
        self.get(RETENTION)
    }

    pub fn set_retention(&self, state: &RetentionState) -> Result<(), StoreError> {
        self.put(RETENTION, state)
    }
}

fn refusal_name(source: &JourneyKey) -> String {
    format!("{MERGE_REFUSED_PREFIX}{}", source.object_name())
}
