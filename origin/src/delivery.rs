//! The delivery loop of one sink: read a batch from the spool at the sink's cursor, deliver
//! it (retrying with backoff until it goes through), commit the cursor, repeat.
//!
//! Each sink has its own loop, reader and cursor, so a sink that is down only delays
//! itself; when it comes back it drains its backlog in full batches. On shutdown the loop
//! finishes the batch it is delivering, commits, and stops; a batch interrupted by a crash
//! is delivered again on restart (sinks are idempotent per record id).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::metrics::SinkMetrics;
use crate::sinks::Sink;
use crate::spool::{now_ms, Spool};

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
    while !*stop.borrow() {
        let batch = match reader.next_batch(limits, &mut stop).await {
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
        let mut attempt = 0u32;
        loop {
            match sink.deliver(&batch).await {
                Ok(()) => break,
                Err(err) => {
                    metrics.errors.inc();
                    let delay = backoff.next_delay();
                    tracing::warn!(
                        sink = name, error = %err, attempt, retry_in = ?delay,
                        records = batch.record_count(), "delivery failed; will retry"
                    );
                    if !pause(delay, &mut stop).await {
                        tracing::info!(
                            sink = name,
                            "stopping with a batch undelivered; it is redelivered on restart"
                        );
                        return;
                    }
                    attempt += 1;
                    metrics.retries.inc();
                }
            }
        }
        backoff.reset();
        while let Err(err) = spool.commit(name, batch.next_seq).await {
            metrics.errors.inc();
            tracing::error!(sink = name, error = %err, "committing the cursor failed");
            if !pause(backoff.next_delay(), &mut stop).await {
                return;
            }
        }
        metrics.delivered_records.add(batch.record_count() as u64);
        metrics.delivered_batches.inc();
        if reader.position() >= spool.stats().next_seq {
            metrics.set_lag_ms(0);
        }
    }
    tracing::info!(sink = name, "delivery stopped");
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
}
