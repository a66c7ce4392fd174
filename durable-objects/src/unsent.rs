//! Events that keep their outbox records in their own rows (schema version 7, issue 15): which
//! of them wait for the flush, found again after a restart; the rules are in
//! `attrib_core::journey::unsent`, the records' shape in `attrib_core::outbox::stored`.

use attrib_core::journey::unsent::WaitingEvent;
use serde::Deserialize;

use crate::meta::Meta;
use crate::store::{int, text, SqlJourneyStore, StoreError};

/// How many records an event's `out` holds: one per line.
const OUT_RECORDS: &str = "length(out) - length(replace(out, char(10), '')) + 1";

#[derive(Deserialize)]
struct Count {
    n: f64,
}

#[derive(Deserialize)]
struct FoundWaiting {
    seq: f64,
    message_id: String,
    records: f64,
    bytes: f64,
}

/// A waiting event's stored row, read back for the flush.
#[derive(Deserialize)]
pub struct UnsentRow {
    pub message_id: String,
    pub body: String,
    pub out: String,
}

impl SqlJourneyStore {
    /// Whether events wait for the flush (as this object knows them: see [`Self::recover_unsent`]).
    pub fn has_unsent(&self) -> bool {
        self.unsent.borrow().any()
    }

    /// The waiting events, oldest first.
    pub fn unsent(&self) -> Vec<WaitingEvent> {
        self.unsent.borrow().waiting().to_vec()
    }

    /// After a restart: finds the events an earlier life of the object wrote and did not send
    /// (a scan: `seq` has no index, which would cost a row written per event). Once per life.
    pub fn recover_unsent(&self) -> Result<(), StoreError> {
        if self.unsent.borrow().recovered() {
            return Ok(());
        }
        let sent_seq = Meta::new(self).sent_seq()?;
        let found: Vec<FoundWaiting> = self
            .sql
            .exec(
                &format!(
                    "SELECT seq, message_id, {OUT_RECORDS} AS records, \
                     length(CAST(body AS BLOB)) + length(CAST(out AS BLOB)) AS bytes \
                     FROM events WHERE seq > ? AND out IS NOT NULL ORDER BY seq"
                ),
                vec![int(sent_seq)],
            )?
            .to_array()?;
        self.unsent.borrow_mut().recover(
            found
                .into_iter()
                .map(|f| WaitingEvent {
                    seq: f.seq as i64,
                    message_id: f.message_id,
                    records: f.records as usize,
                    bytes: f.bytes as usize,
                })
                .collect(),
        );
        Ok(())
    }

    /// The stored rows of `message_ids` (rows deleted since, by retention, are missing).
    pub fn event_rows(&self, message_ids: &[&str]) -> Result<Vec<UnsentRow>, StoreError> {
        let ids = serde_json::to_string(message_ids)?;
        Ok(self
            .sql
            .exec(
                // The ids drive the join (CROSS JOIN keeps that order): one key lookup each,
                // where `IN` may scan every event of the journey.
                "SELECT e.message_id, e.body, e.out FROM json_each(?) AS ids \
                 CROSS JOIN events AS e ON e.message_id = ids.value WHERE e.out IS NOT NULL",
                vec![text(&ids)],
            )?
            .to_array()?)
    }

    /// The mark moved: events up to `seq` are sent.
    pub fn sent_through(&self, seq: i64) {
        self.unsent.borrow_mut().sent_through(seq);
    }

    /// How many records wait in events' rows, read from storage (the journey view).
    pub fn unsent_records_stored(&self) -> Result<u64, StoreError> {
        let rows: Vec<Count> = self
            .sql
            .exec(
                &format!(
                    "SELECT coalesce(sum({OUT_RECORDS}), 0) AS n FROM events \
                     WHERE seq > ? AND out IS NOT NULL"
                ),
                vec![int(Meta::new(self).sent_seq()?)],
            )?
            .to_array()?;
        Ok(rows.first().map_or(0, |c| c.n as u64))
    }

    /// The journey was emptied (erasure): nothing waits.
    pub fn forget_unsent(&self) {
        self.unsent.borrow_mut().none_stored();
    }
}
