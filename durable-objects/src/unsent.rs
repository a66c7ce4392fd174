//! Events that keep their outbox records in their own rows (schema version 7, issue 15): which
//! of them wait for the flush, found again after a restart; the rules are in
//! `attrib_core::journey::unsent`, the records' shape in `attrib_core::outbox::stored`.

use std::collections::HashMap;

use attrib_core::attribution::AttributionResult;
use attrib_core::journey::unsent::WaitingEvent;
use attrib_core::outbox::stored::{
    attribution_line_start, attribution_row_line, attribution_rows, Owner,
};
use serde::Deserialize;

use crate::extras::Extra;
use crate::meta::Meta;
use crate::store::{int, text, SqlJourneyStore, StoreError};

/// How many records an event's `out` holds: one per line.
const OUT_RECORDS: &str = "length(out) - length(replace(out, char(10), '')) + 1";
/// The bytes of the attribution a conversion's `out` names (`attrib_core::outbox::stored`):
/// its own, kept under the event's time and message id.
const NAMED_BYTES: &str = "coalesce((SELECT length(CAST(a.body AS BLOB)) FROM attributions AS a \
     WHERE a.ts_ms = events.ts_ms AND a.conversion_id = events.message_id \
     AND instr(events.out, '\"attribution_row\"') > 0), 0)";

#[derive(Deserialize)]
struct NamedAttribution {
    ts_ms: f64,
    conversion_id: String,
    body: String,
}

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
        // Without the attributions table no `out` names a row in it.
        let named_bytes = if self.has(Extra::Attributions)? {
            NAMED_BYTES
        } else {
            "0"
        };
        let found: Vec<FoundWaiting> = self
            .sql
            .exec(
                &format!(
                    "SELECT seq, message_id, {OUT_RECORDS} AS records, \
                     length(CAST(body AS BLOB)) + length(CAST(out AS BLOB)) + {named_bytes} \
                     AS bytes FROM events WHERE seq > ? AND out IS NOT NULL ORDER BY seq"
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

    /// The attributions the `out` of `rows` name, by (time, conversion id), read at once.
    pub fn named_attributions(
        &self,
        rows: &[UnsentRow],
    ) -> Result<HashMap<(i64, String), String>, StoreError> {
        let named: Vec<(i64, String)> = rows
            .iter()
            .flat_map(|row| attribution_rows(&row.out))
            .map(|n| (n.ts_ms, n.conversion_id))
            .collect();
        if named.is_empty() || !self.has(Extra::Attributions)? {
            return Ok(HashMap::new());
        }
        let found: Vec<NamedAttribution> = self
            .sql
            .exec(
                "SELECT a.ts_ms, a.conversion_id, a.body FROM json_each(?) AS n \
                 CROSS JOIN attributions AS a ON a.ts_ms = json_extract(n.value, '$[0]') \
                 AND a.conversion_id = json_extract(n.value, '$[1]')",
                vec![text(&serde_json::to_string(&named)?)],
            )?
            .to_array()?;
        Ok(found
            .into_iter()
            .map(|a| ((a.ts_ms as i64, a.conversion_id), a.body))
            .collect())
    }

    /// Before `result` replaces its conversion's stored attribution: if the conversion's event
    /// is not sent yet, its `out` names that row, so the revision being replaced goes into
    /// `out` whole (the origin gets every revision, this one before the new). One statement,
    /// which changes nothing when the event was sent: a re-run over history reads no body.
    pub fn keep_unsent_revision(&self, result: &AttributionResult) -> Result<(), StoreError> {
        self.reading(Extra::Attributions, || {
            let conversion = &result.conversion;
            let meta = Meta::new(self);
            let Some(key) = meta.key()? else {
                return Ok(());
            };
            let journey = key.object_name();
            let owner = Owner {
                app_id: &key.app_id,
                journey: &journey,
            };
            let named = attribution_row_line(conversion.ts_ms, &conversion.conversion_id)?;
            self.write_event_rows()?;
            self.sql.exec(
                "UPDATE events SET out = replace(out, ?1, ?2 || \
                 (SELECT body FROM attributions WHERE ts_ms = ?3 AND conversion_id = ?4) || '}') \
                 WHERE message_id = ?4 AND seq > ?5 AND instr(out, ?1) > 0 \
                 AND EXISTS (SELECT 1 FROM attributions WHERE ts_ms = ?3 AND conversion_id = ?4)",
                vec![
                    text(&named),
                    text(&attribution_line_start(owner)),
                    int(conversion.ts_ms),
                    text(&conversion.conversion_id),
                    int(meta.sent_seq()?),
                ],
            )?;
            Ok(())
        })
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
