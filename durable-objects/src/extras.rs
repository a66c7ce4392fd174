//! Tables a journey creates when it first needs them (issue 15). Every table and index costs
//! a page of the object's database however little it holds, and storage is billed by the
//! database's size: a journey of one event weighed 57,344 bytes (14 pages) when every table
//! was made with the object. Many journeys never hold a touch (direct visits), most never a
//! conversion, an outbox row (merges, null paths, re-runs, edge facts), a merge, a postback or
//! a dead letter, so those tables wait.
//!
//! Writers call [`SqlJourneyStore::ensure`] first; readers go through
//! [`SqlJourneyStore::reading`] (or ask [`SqlJourneyStore::has`]) and read nothing when the
//! table is not there. Objects created before this hold every table.

use std::cell::Cell;

use serde::Deserialize;

use crate::schema;
use crate::store::{SqlJourneyStore, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    Touches,
    Attributions,
    Outbox,
    MergedFrom,
    Postbacks,
    DeadLetters,
}

impl Extra {
    const ALL: [Extra; 6] = [
        Extra::Touches,
        Extra::Attributions,
        Extra::Outbox,
        Extra::MergedFrom,
        Extra::Postbacks,
        Extra::DeadLetters,
    ];

    /// The table whose presence stands for the extra (created with its others, first of them).
    pub const fn table(self) -> &'static str {
        match self {
            Extra::Touches => "touches",
            Extra::Attributions => "attributions",
            Extra::Outbox => "outbox",
            Extra::MergedFrom => "merged_from",
            Extra::Postbacks => "postbacks",
            Extra::DeadLetters => "dead_letters",
        }
    }

    fn statements(self) -> &'static [&'static str] {
        match self {
            Extra::Touches => &schema::TOUCH_TABLES,
            Extra::Attributions => &schema::ATTRIBUTION_TABLES,
            Extra::Outbox => &schema::OUTBOX_TABLES,
            Extra::MergedFrom => &schema::MERGED_FROM_TABLES,
            Extra::Postbacks => &schema::POSTBACK_TABLES,
            Extra::DeadLetters => &schema::DEAD_LETTER_TABLES,
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Which extras the database holds, once read (`None`: not known, read `sqlite_master`).
#[derive(Default)]
pub struct KnownExtras(Cell<Option<u8>>);

impl KnownExtras {
    /// A new object: none yet.
    pub fn none(&self) {
        self.0.set(Some(0));
    }

    /// Storage may have changed under what is known (a rollback): read it again when asked.
    pub fn forget(&self) {
        self.0.set(None);
    }

    /// The database holds the tables `present` (read from `sqlite_master`).
    pub fn found(&self, present: &[String]) -> u8 {
        let known = Extra::ALL
            .iter()
            .filter(|extra| present.iter().any(|name| name == extra.table()))
            .fold(0, |bits, extra| bits | extra.bit());
        self.0.set(Some(known));
        known
    }
}

/// The table names every extra stands by, for a read of `sqlite_master`.
pub const EXTRA_TABLES: [&str; 6] = [
    Extra::Touches.table(),
    Extra::Attributions.table(),
    Extra::Outbox.table(),
    Extra::MergedFrom.table(),
    Extra::Postbacks.table(),
    Extra::DeadLetters.table(),
];

#[derive(Deserialize)]
struct Name {
    name: String,
}

/// Which of `wanted` the database holds as tables.
pub fn tables_present(store: &SqlJourneyStore, wanted: &[&str]) -> Result<Vec<String>, StoreError> {
    let names: Vec<Name> = store
        .sql
        .exec(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name IN (SELECT value FROM json_each(?))",
            vec![serde_json::to_string(wanted)?.into()],
        )?
        .to_array()?;
    Ok(names.into_iter().map(|n| n.name).collect())
}

impl SqlJourneyStore {
    fn extras(&self) -> Result<u8, StoreError> {
        match self.extras.0.get() {
            Some(known) => Ok(known),
            None => Ok(self.extras.found(&tables_present(self, &EXTRA_TABLES)?)),
        }
    }

    /// Whether the database holds `extra`'s tables.
    pub fn has(&self, extra: Extra) -> Result<bool, StoreError> {
        Ok(self.extras()? & extra.bit() != 0)
    }

    /// What `read` gives when `extra`'s tables are there; nothing (the default) when they are
    /// not, without a statement.
    pub fn reading<T: Default>(
        &self,
        extra: Extra,
        read: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.has(extra)? {
            read()
        } else {
            Ok(T::default())
        }
    }

    /// Creates `extra`'s tables if they are not there yet (in the caller's transaction: a
    /// rollback takes them back, and forgets what is known).
    pub fn ensure(&self, extra: Extra) -> Result<(), StoreError> {
        let known = self.extras()?;
        if known & extra.bit() != 0 {
            return Ok(());
        }
        // One statement per `exec`, so the counted rows are all of them (`schema::CURRENT`).
        for statement in extra.statements() {
            self.sql.exec(statement, None)?;
        }
        self.extras.0.set(Some(known | extra.bit()));
        Ok(())
    }
}
