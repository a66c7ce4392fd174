//! Erasure of one journey (issue 12, `POST /erase`): every table that holds the person is
//! emptied in one transaction, the meta rows (key, placement, merge links, bound user) go with
//! them, and a tombstone is left: the erasure time, nothing about the person. While it holds
//! (`attrib_core::privacy::erasure::tombstone_holds`), `/record` drops events for this id and
//! `/merge` hands over nothing, so events in flight do not bring the person back.
//!
//! Erasing twice is harmless: the tables are already empty, the tombstone is renewed. The
//! merge links (`merged_from`, meta `merged_into`: names of the person's other journeys) are
//! kept until the caller (the query Worker's regulations) reports every store done
//! (`forget_links`): a regulation sent again after a failed store still finds every journey.

use attrib_core::journey::JourneyStore;
use attrib_core::protocol::{EraseReply, EraseRequest};

use crate::extras::Extra;
use crate::meta::Meta;
use crate::store::{SqlJourneyStore, StoreError, Table};

/// Every table with facts about the person, with the extra it comes with when it is made on
/// first use (`crate::extras`). `meta` is handled apart (the schema version stays);
/// `merged_from` goes with `forget_links`.
const PERSONAL_TABLES: [(&str, Option<Extra>); 7] = [
    ("events", None),
    ("touches", Some(Extra::Touches)),
    ("attributions", Some(Extra::Attributions)),
    ("outbox", Some(Extra::Outbox)),
    ("dead_letters", Some(Extra::DeadLetters)),
    ("postbacks", Some(Extra::Postbacks)),
    ("postback_attempts", Some(Extra::Postbacks)),
];

pub fn erase(
    store: &SqlJourneyStore,
    request: &EraseRequest,
    now_ms: i64,
) -> Result<EraseReply, StoreError> {
    let meta = Meta::new(store);
    let existed = meta.key()?.is_some() || store.count(Table::Events)? > 0;
    store.atomically(|| {
        for (table, extra) in PERSONAL_TABLES {
            if extra.map_or(Ok(true), |e| store.has(e))? {
                store.sql.exec(&format!("DELETE FROM {table}"), None)?;
            }
        }
        if request.forget_links {
            if store.has(Extra::MergedFrom)? {
                store.sql.exec("DELETE FROM merged_from", None)?;
            }
            store
                .sql
                .exec("DELETE FROM meta WHERE key <> 'schema_version'", None)?;
        } else {
            store.sql.exec(
                "DELETE FROM meta WHERE key NOT IN ('schema_version', 'merged_into')",
                None,
            )?;
        }
        // Nothing cached may be written back at the transaction's end.
        store.forget_meta();
        Ok::<_, StoreError>(())
    })?;
    // The rows under the cache are gone.
    store.forget_meta();
    store.forget_unsent();
    meta.set_erased_at_ms(now_ms)?;
    Ok(EraseReply {
        existed,
        erased_at_ms: now_ms,
    })
}
