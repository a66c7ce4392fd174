//! One sink's view of the spool: batches of durable entries from its cursor on.
//!
//! A batch closes at `max_records` or when the oldest entry in it has waited `max_wait`,
//! whichever comes first, so a quiet stream still flows within about `max_wait` and a
//! backlog drains in full-size batches. Only durable entries are ever read.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use super::record::{record_count, upgrade, Records, SpooledRecord};
use super::segment::SegmentCursor;
use super::{now_ms, SpoolError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub max_records: usize,
    pub max_wait: Duration,
}

#[derive(Debug, Clone)]
pub struct SpoolEntry {
    pub seq: u64,
    pub appended_ms: u64,
    /// The frame's payload, in the current record layout.
    payload: Vec<u8>,
    count: usize,
}

impl SpoolEntry {
    pub fn new(seq: u64, appended_ms: u64, payload: Vec<u8>) -> Result<Self, SpoolError> {
        let payload = upgrade(payload)?;
        let count = record_count(&payload)?;
        Ok(SpoolEntry {
            seq,
            appended_ms,
            payload,
            count,
        })
    }

    /// The records, borrowed from the payload; an error ends the iteration.
    pub fn records(&self) -> Records<'_> {
        // `new` checked the header, so this cannot fail; an empty iteration if it did.
        super::record::records(&self.payload).unwrap_or_else(|_| super::record::empty())
    }

    pub fn len(&self) -> usize {
        self.count
    }

    /// Bytes of the encoded records (to size buffers).
    pub fn payload_len(&self) -> usize {
        self.payload.len()
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[derive(Debug, Clone, Default)]
pub struct SpoolBatch {
    pub entries: Vec<SpoolEntry>,
    /// The cursor to commit once the batch is delivered.
    pub next_seq: u64,
    /// Dead letters sent again: not in the destination, whatever the positions say.
    pub replay: bool,
}

impl SpoolBatch {
    pub fn records(&self) -> impl Iterator<Item = Result<SpooledRecord<'_>, SpoolError>> {
        self.entries.iter().flat_map(SpoolEntry::records)
    }

    pub fn record_count(&self) -> usize {
        self.entries.iter().map(SpoolEntry::len).sum()
    }

    pub fn oldest_appended_ms(&self) -> Option<u64> {
        self.entries.first().map(|e| e.appended_ms)
    }
}

pub struct SpoolReader {
    next_seq: u64,
    segments: SegmentCursor,
    durable: watch::Receiver<u64>,
}

impl SpoolReader {
    pub(super) fn new(dir: PathBuf, next_seq: u64, durable: watch::Receiver<u64>) -> Self {
        SpoolReader {
            next_seq,
            segments: SegmentCursor::new(dir),
            durable,
        }
    }

    pub fn position(&self) -> u64 {
        self.next_seq
    }

    /// Rewinds to `seq` (after a failed delivery is retried from the committed cursor).
    pub fn rewind(&mut self, seq: u64) {
        self.next_seq = seq;
    }

    /// The next batch; `None` when `stop` turns true while nothing is pending.
    pub async fn next_batch(
        &mut self,
        limits: BatchLimits,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Option<SpoolBatch>, SpoolError> {
        self.next_batch_or_wake(limits, stop, &Notify::new()).await
    }

    /// [`Self::next_batch`], which also returns an *empty* batch when `wake` is notified while
    /// nothing is pending (the delivery loop then looks at dead letters queued for replay).
    pub async fn next_batch_or_wake(
        &mut self,
        limits: BatchLimits,
        stop: &mut watch::Receiver<bool>,
        wake: &Notify,
    ) -> Result<Option<SpoolBatch>, SpoolError> {
        let mut batch = SpoolBatch {
            entries: Vec::new(),
            next_seq: self.next_seq,
            replay: false,
        };
        let mut records = 0;
        loop {
            let durable = *self.durable.borrow_and_update();
            while self.next_seq < durable && records < limits.max_records {
                let frame = self.segments.read(self.next_seq)?;
                let entry = SpoolEntry::new(frame.seq, frame.appended_ms, frame.payload)?;
                records += entry.len();
                batch.entries.push(entry);
                self.next_seq += 1;
                batch.next_seq = self.next_seq;
            }
            if records >= limits.max_records {
                return Ok(Some(batch));
            }
            if *stop.borrow() {
                return Ok((!batch.entries.is_empty()).then_some(batch));
            }
            let deadline = batch.oldest_appended_ms().map(|appended| {
                let due = appended + limits.max_wait.as_millis() as u64;
                Duration::from_millis(due.saturating_sub(now_ms()))
            });
            if deadline == Some(Duration::ZERO) {
                return Ok(Some(batch));
            }
            let wait_for_more = async {
                match deadline {
                    Some(left) => {
                        let _ = tokio::time::timeout(left, self.durable.changed()).await;
                    }
                    None => {
                        if self.durable.changed().await.is_err() {
                            // The writer is gone: nothing more will come.
                            std::future::pending::<()>().await;
                        }
                    }
                }
            };
            let idle = batch.entries.is_empty();
            tokio::select! {
                () = wait_for_more => {}
                // Nothing taken yet: returning here loses nothing.
                () = wake.notified(), if idle => return Ok(Some(batch)),
                changed = stop.changed() => {
                    if changed.is_err() {
                        return Ok((!batch.entries.is_empty()).then_some(batch));
                    }
                }
            }
        }
    }
}
