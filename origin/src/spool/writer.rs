//! The spool's single writer: deduplicates, appends and fsyncs, with group commit.
//!
//! It runs on its own OS thread because every acknowledgement waits for `fdatasync`; batches
//! that arrive while one sync runs are written together and share the next sync, so the
//! number of syncs does not grow with the request rate. Dedup happens here too, in the same
//! order as the appends, so two concurrent copies of a batch cannot both be spooled.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use tokio::sync::{oneshot, watch};

use super::dedup::{day_of_ms, DedupIndex, Fingerprint};
use super::record::{payload_header, EncodedBatch};
use super::segment::{encode_frame, segment_path};
use super::{now_ms, sync_dir, AppendOutcome, SpoolError};

/// Requests drained into one group commit at most.
const MAX_GROUP: usize = 512;

pub struct AppendRequest {
    pub batch: EncodedBatch,
    pub reply: oneshot::Sender<Result<AppendOutcome, SpoolError>>,
    /// Start a new segment after this append: an erasure (issue 12) closes the segment that
    /// holds the erased person's records, so it is deleted once every sink is past it rather
    /// than when it fills.
    pub roll_after: bool,
}

pub struct Writer {
    pub dir: PathBuf,
    pub segment_bytes: u64,
    pub active: File,
    pub active_len: u64,
    pub next_seq: u64,
    pub dedup: DedupIndex,
    pub durable: watch::Sender<u64>,
    pub poisoned: Arc<AtomicBool>,
}

impl Writer {
    pub fn run(mut self, requests: mpsc::Receiver<AppendRequest>) {
        let mut day = day_of_ms(now_ms());
        while let Ok(first) = requests.recv() {
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match requests.try_recv() {
                    Ok(request) => group.push(request),
                    Err(_) => break,
                }
            }
            let today = day_of_ms(now_ms());
            if today != day {
                day = today;
                if let Err(err) = self.dedup.expire(now_ms()) {
                    tracing::warn!(error = %err, "expiring old dedup generations failed");
                }
            }
            self.commit_group(group);
        }
        tracing::debug!("spool writer stopped: no more senders");
    }

    fn commit_group(&mut self, group: Vec<AppendRequest>) {
        if self.poisoned.load(Ordering::Acquire) {
            for request in group {
                let _ = request.reply.send(Err(SpoolError::Poisoned));
            }
            return;
        }
        let now = now_ms();
        let mut buffer = Vec::new();
        let mut payload = Vec::new();
        let mut added: Vec<Fingerprint> = Vec::new();
        let mut outcomes = Vec::with_capacity(group.len());
        let mut seq = self.next_seq;
        for request in &group {
            payload.clear();
            payload_header(0, &mut payload);
            let mut fresh = 0usize;
            for (fp, bytes) in request.batch.records() {
                if self.dedup.insert(fp, now) {
                    added.push(fp);
                    payload.extend_from_slice(bytes);
                    fresh += 1;
                }
            }
            let outcome = AppendOutcome {
                accepted: fresh,
                duplicates: request.batch.len() - fresh,
            };
            if fresh > 0 {
                // The header was written for 0 records; now the count is known.
                let mut header = Vec::with_capacity(8);
                payload_header(fresh, &mut header);
                payload[..8].copy_from_slice(&header);
                encode_frame(seq, now, &payload, &mut buffer);
                seq += 1;
            }
            outcomes.push(outcome);
        }

        let written = if buffer.is_empty() {
            Ok(())
        } else {
            self.active
                .write_all(&buffer)
                .and_then(|()| self.active.sync_data())
        };
        match written {
            Ok(()) => {
                self.active_len += buffer.len() as u64;
                self.next_seq = seq;
                self.durable.send_replace(seq);
                // Roll before answering, so an acknowledged append never races a roll.
                let asked = group.iter().any(|r| r.roll_after) && self.active_len > 0;
                if self.active_len >= self.segment_bytes || asked {
                    if let Err(err) = self.roll() {
                        self.poison(&err);
                    }
                }
                for (request, outcome) in group.into_iter().zip(outcomes) {
                    let _ = request.reply.send(Ok(outcome));
                }
            }
            Err(err) => {
                for fp in added {
                    self.dedup.remove(fp);
                }
                // A failed write (most often a full disk) may have left part of the group in
                // the file: cut it back to the last acknowledged byte and go on, so intake
                // recovers once space is back (issue 13, finding 8). Only if the cut fails
                // too is the file's state unknown: then refuse appends until a restart.
                let cut = self
                    .active
                    .set_len(self.active_len)
                    .and_then(|()| self.active.sync_data());
                let (kind, text) = (err.kind(), err.to_string());
                let err = SpoolError::io("appending to the spool", err);
                match cut {
                    Ok(()) => {
                        tracing::warn!(error = %err, "spool write failed; the partial write was cut, intake goes on")
                    }
                    Err(_) => self.poison(&err),
                }
                for request in group {
                    let failed = SpoolError::io(
                        "appending to the spool",
                        std::io::Error::new(kind, text.clone()),
                    );
                    let _ = request.reply.send(Err(failed));
                }
            }
        }
    }

    /// After a failed write or sync the file's state is unknown: refuse appends until a
    /// restart recovers the spool from what is really on disk.
    fn poison(&self, err: &SpoolError) {
        tracing::error!(error = %err, "spool write failed; refusing batches until restart");
        self.poisoned.store(true, Ordering::Release);
    }

    fn roll(&mut self) -> Result<(), SpoolError> {
        let path = segment_path(&self.dir, self.next_seq);
        self.active = open_segment(&path)?;
        self.active_len = 0;
        sync_dir(&self.dir)
    }
}

pub fn open_segment(path: &PathBuf) -> Result<File, SpoolError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| SpoolError::io("opening the active segment", e))
}
