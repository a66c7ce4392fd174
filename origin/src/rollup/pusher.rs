//! The debounced push loop: wake on new dirty days, wait the debounce so a burst of records
//! becomes one recomputation, then recompute and push every dirty day.
//!
//! With the default 1 s debounce a conversion's stats reach the edge a second or two after
//! the origin accepted it, and a day that receives a thousand records in that second is
//! recomputed once, not a thousand times. Very large days are pushed less often (see
//! [`PUSH_COST_FACTOR`]).

use std::sync::Arc;
use std::time::Duration;

use attrib_core::rollup::RollupUpsert;
use tokio::sync::{watch, Notify};

use super::facts::FactStore;
use super::targets::Target;
use super::RollupError;
use crate::metrics::Metrics;

const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Recomputing a day costs time proportional to its records, so a huge day must not be
/// recomputed every debounce: the pause before the next push is at least this many times
/// the last push's duration, which keeps the pusher under about a quarter of a core.
const PUSH_COST_FACTOR: u32 = 3;

pub struct Pusher {
    pub facts: Arc<FactStore>,
    pub targets: Vec<Target>,
    pub debounce: Duration,
    pub max_days_per_push: usize,
    pub wake: Arc<Notify>,
    pub metrics: Arc<Metrics>,
}

impl Pusher {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        // Days left dirty by a previous run are pushed right away.
        self.wake.notify_one();
        let mut backoff = Duration::from_millis(100);
        let mut last_push = Duration::ZERO;
        loop {
            tokio::select! {
                () = self.wake.notified() => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(self.debounce.max(last_push * PUSH_COST_FACTOR)) => {}
                _ = stop.changed() => return,
            }
            let started = std::time::Instant::now();
            loop {
                match self.push_some().await {
                    Ok(0) => {
                        backoff = Duration::from_millis(100);
                        last_push = started.elapsed();
                        break;
                    }
                    Ok(_) => backoff = Duration::from_millis(100),
                    Err(err) => {
                        tracing::warn!(error = %err, retry_in = ?backoff, "rollup push failed");
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => {}
                            _ = stop.changed() => return,
                        }
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
        }
    }

    /// Pushes up to `max_days_per_push` dirty days to every target; returns how many.
    pub async fn push_some(&self) -> Result<usize, RollupError> {
        let dirty = self.facts.dirty(self.max_days_per_push).await?;
        if dirty.is_empty() {
            return Ok(0);
        }
        let days: Vec<_> = dirty.iter().map(|d| d.day.clone()).collect();
        let rollup = self.facts.rollup_of(&days).await?;
        let upsert = RollupUpsert {
            rows: rollup.rows,
            paths: Some(rollup.paths),
            fraud: Some(rollup.fraud),
            days,
        };
        for target in &self.targets {
            let result = target.push(&upsert).await;
            self.metrics.rollup_push(target.name(), result.is_ok());
            result?;
        }
        self.facts.clear(&dirty).await?;
        self.metrics.rollup_days_pushed.add(dirty.len() as u64);
        tracing::debug!(
            days = dirty.len(),
            rows = upsert.rows.len(),
            "rollups pushed"
        );
        Ok(dirty.len())
    }
}
