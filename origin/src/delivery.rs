//! The delivery loop of one sink: read a batch from the spool at the sink's cursor, deliver
//! it (retrying with backoff until it goes through), commit the cursor, repeat. Records the
//! sink refuses for good (its `retry.rs`) are isolated and kept as dead letters
//! ([`crate::dead_letters`]), so one bad record never blocks the others; dead letters queued
//! for replay are sent between batches.
//!
//! Each sink has its own loop, reader and cursor, so a sink that is down only delays
//! itself; when it comes back it drains its backlog in full batches. On shutdown the loop
//! finishes the batch it is delivering, commits, and stops; a batch interrupted by a crash
//! is delivered again on restart (sinks are idempotent per record id).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::dead_letters::{encode_hex, DeadLetter, DeadLetters};
use crate::metrics::SinkMetrics;
use crate::sinks::{Refusal, Sink, SinkError};
use crate::spool::record::single_record_payload;
use crate::spool::{now_ms, Spool, SpoolBatch, SpoolEntry};

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Retries of a down sink never wait longer than this, so it catches up soon after it returns.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Doubling backoff, reset after a success.
pub struct Backoff(Duration);

impl Backoff {
    pub fn new() -> Self {
        Backoff(FIRST_BACKOFF)
    }

    pub fn next_delay(&mut self) -> Duration {
        let delay = self.0;
        self.0 = (self.0 * 2).min(MAX_BACKOFF);
        delay
    }

    pub fn reset(&mut self) {
        self.0 = FIRST_BACKOFF;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

/// Sleeps, or returns false early when `stop` turns true.
async fn pause(delay: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return false;
    }
    tokio::select! {
        () = tokio::time::sleep(delay) => true,
        _ = stop.changed() => !*stop.borrow(),
    }
}

pub async fn run_sink<S: Sink>(
    mut sink: S,
    spool: Spool,
    metrics: Arc<SinkMetrics>,
    dead: DeadLetters,
    mut stop: watch::Receiver<bool>,
) {
    let name = sink.name();
    let mut backoff = Backoff::new();
    loop {
        match sink.prepare().await {
            Ok(()) => break,
            Err(err) => {
                metrics.errors.inc();
                let delay = backoff.next_delay();
                tracing::warn!(sink = name, error = %err, retry_in = ?delay, "sink not ready");
                if !pause(delay, &mut stop).await {
                    return;
                }
            }
        }
    }
    backoff.reset();
    let limits = sink.batch_limits();
    let mut reader = spool.reader(name);
    let wake = dead.wake_of(name);
    while !*stop.borrow() {
        replay_queued(&mut sink, &dead, &metrics, &mut stop).await;
        let batch = match reader.next_batch_or_wake(limits, &mut stop, &wake).await {
            Ok(Some(batch)) if batch.entries.is_empty() => continue, // woken for replays
            Ok(Some(batch)) => batch,
            Ok(None) => break,
            Err(err) => {
                metrics.errors.inc();
                tracing::error!(sink = name, error = %err, "reading the spool failed");
                reader.rewind(spool.cursor(name).unwrap_or(reader.position()));
                if !pause(backoff.next_delay(), &mut stop).await {
                    break;
                }
                continue;
            }
        };
        if let Some(oldest) = batch.oldest_appended_ms() {
            metrics.set_lag_ms(now_ms().saturating_sub(oldest));
        }
        let Some(refused) = deliver(&mut sink, &batch, &metrics, &mut backoff, &mut stop).await
        else {
            tracing::info!(
                sink = name,
                "stopping with a batch undelivered; it is redelivered on restart"
            );
            return;
        };
        if !refused.is_empty()
            && !keep_dead_letters(name, &batch, &refused, &dead, &metrics, &mut stop).await
        {
            return;
        }
        backoff.reset();
        while let Err(err) = spool.commit(name, batch.next_seq).await {
            metrics.errors.inc();
            tracing::error!(sink = name, error = %err, "committing the cursor failed");
            if !pause(backoff.next_delay(), &mut stop).await {
                return;
            }
        }
        metrics
            .delivered_records
            .add((batch.record_count() - refused.len()) as u64);
        metrics.delivered_batches.inc();
        if reader.position() >= spool.stats().next_seq {
            metrics.set_lag_ms(0);
        }
    }
    tracing::info!(sink = name, "delivery stopped");
}

/// Delivers `batch`, retrying what can succeed; returns the records refused for good (the
/// rest is delivered), or `None` when `stop` came first.
async fn deliver<S: Sink>(
    sink: &mut S,
    batch: &SpoolBatch,
    metrics: &SinkMetrics,
    backoff: &mut Backoff,
    stop: &mut watch::Receiver<bool>,
) -> Option<Vec<Refusal>> {
    let name = sink.name();
    let mut attempt = 0u32;
    loop {
        let err = match sink.deliver(batch).await {
            Ok(()) => return Some(Vec::new()),
            Err(err) => err,
        };
        if let Some(refused) = err.refusals() {
            return Some(refused.to_vec());
        }
        let err = if sink.is_permanent(&err) {
            tracing::warn!(sink = name, error = %err, "a permanent refusal; isolating the refused records");
            match isolate(sink, batch).await {
                Ok(refused) => return Some(refused),
                Err(err) => err,
            }
        } else {
            err
        };
        metrics.errors.inc();
        let delay = backoff.next_delay();
        tracing::warn!(
            sink = name, error = %err, attempt, retry_in = ?delay,
            records = batch.record_count(), "delivery failed; will retry"
        );
        if !pause(delay, stop).await {
            return None;
        }
        attempt += 1;
        metrics.retries.inc();
    }
}

/// After a permanent refusal of `batch`: its entries one by one, and the records of a refused
/// entry one by one, so only the records the destination refuses on their own are refused.
/// A transient failure on the way ends the isolation (the batch is retried whole; sinks are
/// idempotent per record id).
async fn isolate<S: Sink>(sink: &mut S, batch: &SpoolBatch) -> Result<Vec<Refusal>, SinkError> {
    let mut refused = Vec::new();
    for entry in &batch.entries {
        let one = SpoolBatch {
            entries: vec![entry.clone()],
            next_seq: entry.seq + 1,
            replay: batch.replay,
        };
        match sink.deliver(&one).await {
            Ok(()) => continue,
            Err(err) if err.refusals().is_some() => {
                refused.extend(err.refusals().unwrap_or_default().iter().cloned());
                continue;
            }
            Err(err) if !sink.is_permanent(&err) => return Err(err),
            Err(_) => {}
        }
        for (index, record) in entry.records().enumerate() {
            let record = record?;
            let payload = single_record_payload(&record);
            let single = SpoolBatch {
                entries: vec![SpoolEntry::new(entry.seq, entry.appended_ms, payload)?],
                next_seq: entry.seq + 1,
                replay: batch.replay,
            };
            match sink.deliver(&single).await {
                Ok(()) => {}
                Err(err) if err.refusals().is_some() || sink.is_permanent(&err) => {
                    refused.push(Refusal {
                        seq: entry.seq,
                        index: index as u32,
                        reason: err.to_string(),
                    });
                }
                Err(err) => return Err(err),
            }
        }
    }
    Ok(refused)
}

/// The dead letters of `refused` (records of `batch`).
fn letters_of(sink: &str, batch: &SpoolBatch, refused: &[Refusal]) -> Vec<DeadLetter> {
    let mut out = Vec::with_capacity(refused.len());
    for r in refused {
        let Some(entry) = batch.entries.iter().find(|e| e.seq == r.seq) else {
            continue;
        };
        let Some(Ok(record)) = entry.records().nth(r.index as usize) else {
            continue;
        };
        out.push(DeadLetter {
            sink: sink.to_owned(),
            seq: r.seq,
            index: r.index,
            id: record.id.to_owned(),
            app_id: record.app_id.to_owned(),
            kind: record.kind.as_str().to_owned(),
            reason: r.reason.clone(),
            dead_at_ms: now_ms(),
            record: record.json.to_owned(),
            payload_hex: encode_hex(&single_record_payload(&record)),
        });
    }
    out
}

/// Stores the dead letters durably (retrying) before the cursor moves past them; false when
/// `stop` came first.
async fn keep_dead_letters(
    name: &'static str,
    batch: &SpoolBatch,
    refused: &[Refusal],
    dead: &DeadLetters,
    metrics: &SinkMetrics,
    stop: &mut watch::Receiver<bool>,
) -> bool {
    let letters = letters_of(name, batch, refused);
    let mut backoff = Backoff::new();
    loop {
        match dead.store(&letters) {
            Ok(()) => break,
            Err(err) => {
                metrics.errors.inc();
                tracing::error!(sink = name, error = %err, "storing dead letters failed");
                if !pause(backoff.next_delay(), stop).await {
                    return false;
                }
            }
        }
    }
    metrics.dead_lettered.add(letters.len() as u64);
    for letter in &letters {
        tracing::warn!(
            sink = name, id = %letter.id, app = %letter.app_id, reason = %letter.reason,
            "record refused for good; kept as a dead letter"
        );
    }
    true
}

/// Sends the dead letters queued for replay to this sink. One that goes through is removed;
/// one refused again is a dead letter again (with the new reason); a transient failure
/// leaves it queued for the next round.
async fn replay_queued<S: Sink>(
    sink: &mut S,
    dead: &DeadLetters,
    metrics: &SinkMetrics,
    stop: &mut watch::Receiver<bool>,
) {
    let name = sink.name();
    let queued = match dead.queued(name) {
        Ok(queued) => queued,
        Err(err) => {
            tracing::error!(sink = name, error = %err, "reading queued replays failed");
            return;
        }
    };
    for (path, letter, entry) in queued {
        if *stop.borrow() {
            return;
        }
        let batch = SpoolBatch {
            next_seq: entry.seq + 1,
            entries: vec![entry],
            replay: true,
        };
        let outcome = match sink.deliver(&batch).await {
            Ok(()) => Ok(None),
            Err(err) if err.refusals().is_some() || sink.is_permanent(&err) => {
                Ok(Some(err.to_string()))
            }
            Err(err) => Err(err),
        };
        match outcome {
            Ok(None) => {
                tracing::info!(sink = name, id = %letter.id, "dead letter replayed");
                metrics.delivered_records.inc();
                if let Err(err) = dead.done(&path) {
                    tracing::error!(sink = name, error = %err, "removing a replayed letter failed");
                }
            }
            Ok(Some(reason)) => {
                let again = DeadLetter {
                    reason,
                    dead_at_ms: now_ms(),
                    ..letter
                };
                if dead.store(std::slice::from_ref(&again)).is_ok() {
                    let _ = dead.done(&path);
                }
            }
            Err(err) => {
                metrics.errors.inc();
                tracing::warn!(sink = name, error = %err, "replay failed; it stays queued");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap_and_resets() {
        let mut backoff = Backoff::new();
        let delays: Vec<_> = (0..8).map(|_| backoff.next_delay()).collect();
        assert_eq!(delays[0], FIRST_BACKOFF);
        assert_eq!(delays[1], FIRST_BACKOFF * 2);
        assert_eq!(*delays.last().expect("delays"), MAX_BACKOFF);
        backoff.reset();
        assert_eq!(backoff.next_delay(), FIRST_BACKOFF);
    }

    /// A destination that refuses, for good, every batch holding a record whose id contains
    /// "bad" (while `refuse` is set), like a table constraint would.
    struct Picky {
        delivered: Arc<std::sync::Mutex<Vec<String>>>,
        refuse: Arc<std::sync::atomic::AtomicBool>,
    }

    fn refusal() -> SinkError {
        SinkError::Embedded(crate::sinks::embedded::EmbeddedError::Write(
            libsql::Error::SqliteFailure(19, "CHECK constraint failed: bad".into()),
        ))
    }

    impl Sink for Picky {
        fn name(&self) -> &'static str {
            "embedded"
        }

        fn batch_limits(&self) -> crate::spool::BatchLimits {
            crate::spool::BatchLimits {
                max_records: 1_000,
                max_wait: Duration::from_millis(10),
            }
        }

        async fn prepare(&mut self) -> Result<(), SinkError> {
            Ok(())
        }

        fn is_permanent(&self, err: &SinkError) -> bool {
            matches!(err, SinkError::Embedded(e) if crate::sinks::embedded::retry::is_permanent(e))
        }

        async fn deliver<'a>(&'a mut self, batch: &'a SpoolBatch) -> Result<(), SinkError> {
            let ids: Vec<String> = batch
                .records()
                .map(|r| r.map(|r| r.id.to_owned()))
                .collect::<Result<_, _>>()?;
            let refuse = self.refuse.load(std::sync::atomic::Ordering::Acquire);
            if refuse && ids.iter().any(|id| id.contains("bad")) {
                return Err(refusal());
            }
            self.delivered.lock().expect("lock").extend(ids);
            Ok(())
        }
    }

    /// Issue 13, finding 7 (origin side): a sink retried permanent refusals forever, so one
    /// bad record blocked everything behind it. Now the refused record is isolated and kept as
    /// a dead letter, its neighbours are delivered, and a replay sends it again.
    #[tokio::test]
    async fn sink_permanent_refusal_is_dead_lettered_not_retried_forever() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool = Spool::open(
            &crate::spool::SpoolConfig {
                dir: dir.path().join("spool"),
                segment_bytes: 1 << 20,
                dedup_retention_days: 7,
                max_queued_appends: 16,
                min_free_disk_bytes: 0,
                free_space_override: None,
            },
            &["embedded"],
        )
        .expect("spool");
        let ids = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        for batch in [
            ids(&["a1", "a2"]),
            ids(&["b1", "bad-b2", "b3"]),
            ids(&["c1"]),
        ] {
            spool
                .append(crate::spool::record::tests::batch_of(&batch))
                .await
                .expect("append");
        }
        let dead = DeadLetters::open(&dir.path().join("dead"), &["embedded"]).expect("dead");
        let delivered = Arc::new(std::sync::Mutex::new(Vec::new()));
        let refuse = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let sink = Picky {
            delivered: delivered.clone(),
            refuse: refuse.clone(),
        };
        let metrics = Arc::new(SinkMetrics::default());
        let (stop_tx, stop) = watch::channel(false);
        let task = tokio::spawn(run_sink(
            sink,
            spool.clone(),
            metrics.clone(),
            dead.clone(),
            stop,
        ));

        let wait = |what: &'static str, check: Box<dyn Fn() -> bool + Send>| async move {
            for _ in 0..200 {
                if check() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("timed out waiting for {what}");
        };
        let seen = delivered.clone();
        wait(
            "the good records",
            Box::new(move || seen.lock().expect("lock").len() == 5),
        )
        .await;
        let mut got = delivered.lock().expect("lock").clone();
        got.sort();
        assert_eq!(got, ["a1", "a2", "b1", "b3", "c1"]);
        let cursor = spool.clone();
        wait(
            "the cursor past the dead letter",
            Box::new(move || cursor.cursor("embedded") == Some(4)),
        )
        .await;
        let letters = dead.list(None).expect("list");
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0].id, "bad-b2");
        assert!(
            letters[0].reason.contains("CHECK constraint"),
            "{letters:?}"
        );
        assert_eq!(metrics.dead_lettered.get(), 1);

        // The destination is fixed; the operator replays the dead letter.
        refuse.store(false, std::sync::atomic::Ordering::Release);
        assert_eq!(dead.queue_replay("embedded", None).expect("queue"), 1);
        let seen = delivered.clone();
        wait(
            "the replayed record",
            Box::new(move || seen.lock().expect("lock").iter().any(|id| id == "bad-b2")),
        )
        .await;
        assert!(dead.list(None).expect("list").is_empty());
        stop_tx.send_replace(true);
        task.await.expect("stops");
        spool.close();
    }
}
