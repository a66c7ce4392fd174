//! The events of one call, looked up and written together (issue 15): one statement finds
//! which of the call's message ids are stored, and the new rows go out as one multi-row insert
//! at the end of the call's transaction, instead of a lookup and an insert per event.
//!
//! Rows waiting to be written are written before any read of the events table, so a read in
//! the transaction sees them (most calls read none: the latest activity is remembered).

use std::collections::HashSet;

use attrib_core::event::Event;
use serde::Deserialize;

use crate::store::{int, text, SqlJourneyStore, StoreError};

/// Event rows per multi-row insert (five bound values each).
const EVENT_ROWS_PER_INSERT: usize = 20;

/// A new event's row.
pub struct EventRow {
    pub message_id: String,
    pub ts_ms: i64,
    pub seq: i64,
    pub body: String,
    pub out: String,
}

#[derive(Default)]
pub struct EventBatch {
    /// The call's message ids, and those of them stored (before the call or during it).
    lookup: Option<(HashSet<String>, HashSet<String>)>,
    rows: Vec<EventRow>,
}

#[derive(Deserialize)]
struct Stored {
    message_id: String,
}

impl SqlJourneyStore {
    /// Looks the call's message ids up at once; kept until the transaction ends.
    pub fn look_up_call_events(&self, events: &[Event]) -> Result<(), StoreError> {
        let ids: Vec<&str> = events.iter().map(|e| e.message_id.as_str()).collect();
        let stored: Vec<Stored> = self
            .sql
            .exec(
                // The ids drive the join: one key lookup each.
                "SELECT e.message_id FROM json_each(?) AS ids \
                 CROSS JOIN events AS e ON e.message_id = ids.value",
                vec![text(&serde_json::to_string(&ids)?)],
            )?
            .to_array()?;
        self.event_batch.borrow_mut().lookup = Some((
            ids.into_iter().map(str::to_owned).collect(),
            stored.into_iter().map(|s| s.message_id).collect(),
        ));
        Ok(())
    }

    /// Whether `message_id` is stored, if the call's lookup knows.
    pub fn known_stored(&self, message_id: &str) -> Option<bool> {
        let batch = self.event_batch.borrow();
        let (ids, stored) = batch.lookup.as_ref()?;
        ids.contains(message_id)
            .then(|| stored.contains(message_id))
    }

    /// `message_id` is stored now (written, or waiting to be).
    pub fn note_stored(&self, message_id: &str) {
        if let Some((_, stored)) = self.event_batch.borrow_mut().lookup.as_mut() {
            stored.insert(message_id.to_owned());
        }
    }

    /// Keeps a new event's row for [`Self::write_event_rows`].
    pub fn queue_event_row(&self, row: EventRow) {
        self.note_stored(&row.message_id);
        self.event_batch.borrow_mut().rows.push(row);
    }

    /// Writes the waiting rows: before a read of the events table, and at commit.
    pub fn write_event_rows(&self) -> Result<(), StoreError> {
        let rows = std::mem::take(&mut self.event_batch.borrow_mut().rows);
        for chunk in rows.chunks(EVENT_ROWS_PER_INSERT) {
            let placeholders = vec!["(?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            let mut binds = Vec::with_capacity(chunk.len() * 5);
            for row in chunk {
                binds.push(text(&row.message_id));
                binds.push(int(row.ts_ms));
                binds.push(int(row.seq));
                binds.push(text(&row.body));
                binds.push(text(&row.out));
            }
            let cursor = self.sql.exec(
                &format!(
                    "INSERT INTO events (message_id, ts_ms, seq, body, out) VALUES {placeholders}"
                ),
                binds,
            )?;
            for row in cursor.raw() {
                row?;
            }
        }
        Ok(())
    }

    /// The transaction ended: its lookup is stale, and rows not written are rolled back.
    pub fn end_event_batch(&self) {
        let mut batch = self.event_batch.borrow_mut();
        batch.lookup = None;
        batch.rows.clear();
    }
}
