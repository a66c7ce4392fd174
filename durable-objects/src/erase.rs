//! Erasure of one journey (issue 12, `POST /erase`): every table that holds the person is
//! emptied in one transaction, the meta rows (key, placement, merge links, bound user) go with
//! them, and a tombstone is left: the erasure time, nothing about the person. While it holds
//! (`attrib_core::privacy::erasure::tombstone_holds`), `/record` drops events for this id and
//! `/merge` hands over nothing, so events in flight do not bring the person back.
//!
//! Erasing twice is harmless: the tables are already empty, the tombstone is renewed. The
//! caller (the query Worker's regulations) finds the journeys linked to this one before it
//! erases any, since an erased journey no longer knows its links.

use attrib_core::journey::JourneyStore;
use attrib_core::protocol::EraseReply;

use crate::meta::Meta;
use crate::store::{SqlJourneyStore, StoreError, Table};

/// Every table with facts about the person. `meta` is handled apart (the schema version stays).
const PERSONAL_TABLES: [&str; 8] = [
    "events",
    "touches",
    "attributions",
    "outbox",
    "dead_letters",
    "postbacks",
    "postback_attempts",
    "merged_from",
];

pub fn erase(store: &SqlJourneyStore, now_ms: i64) -> Result<EraseReply, StoreError> {
    let meta = Meta::new(store);
    let existed = meta.key()?.is_some() || store.count(Table::Events)? > 0;
    store.atomically(|| {
        for table in PERSONAL_TABLES {
            store.sql.exec(&format!("DELETE FROM {table}"), None)?;
        }
        store
            .sql
            .exec("DELETE FROM meta WHERE key <> 'schema_version'", None)?;
        Ok::<_, StoreError>(())
    })?;
    // The rows under the cache are gone.
    store.forget_meta();
    meta.set_erased_at_ms(now_ms)?;
    Ok(EraseReply {
        existed,
        erased_at_ms: now_ms,
    })
}
