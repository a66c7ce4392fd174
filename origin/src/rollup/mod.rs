//! Rollups to the edge read store: complete daily stats of the (app, day) pairs that new
//! records touched, recomputed from every record of those days and pushed, debounced.
//!
//! The rollup consumer is a spool sink like the others ([`RollupSink`]): it counts touches
//! and keeps each conversion's latest attribution in a local fact store ([`facts`]) and
//! marks their days dirty in the same transaction, then commits its cursor. A separate task
//! ([`pusher`]) waits a short debounce, recomputes the dirty days (`core::rollup::daily_stats`
//! over their conversions, plus their touch counts) and sends them to every target
//! ([`targets`]: the query Worker, Turso, the embedded file). Dirty marks are
//! durable, so a crash between storing and pushing loses nothing; pushes replace whole days,
//! so repeating one is harmless.
//!
//! The same pushes carry each day's acquisition cohort and lifetime-value rows, the day taken
//! as a cohort day ([`cohort_facts`]: users, their cohorts and active days, kept with the
//! facts; `core::cohorts` computes the rows).

pub mod cohort_facts;
mod config;
pub mod facts;
mod hrana;
mod migrate;
pub mod pusher;
pub mod read_store;
pub mod targets;

use std::sync::Arc;
use std::time::Duration;

pub use config::{RollupConfig, TursoConfig};
use facts::FactStore;

use crate::sinks::{Sink, SinkError};
use crate::spool::{BatchLimits, SpoolBatch};

/// Cursor and metrics name of the rollup consumer.
pub const SINK_NAME: &str = "rollups";

#[derive(Debug, thiserror::Error)]
pub enum RollupError {
    #[error("rollup fact store: {0}")]
    Facts(#[from] libsql::Error),
    #[error("rollup fact store {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: libsql::Error,
    },
    #[error("a stored record is not valid JSON: {0}")]
    Record(#[from] serde_json::Error),
    #[error(transparent)]
    Spool(#[from] crate::spool::SpoolError),
    #[error("rollup push to the query Worker failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the query Worker answered {status}: {body}")]
    Rejected { status: u16, body: String },
    #[error("Turso: {0}")]
    Turso(String),
    #[error("Turso is unreachable: {0}")]
    TursoHttp(#[source] reqwest::Error),
    #[error("signing the rollup failed: {0}")]
    Sign(#[from] attrib_core::outbox::SignatureError),
}

/// The spool consumer half: stores facts and marks days dirty, then wakes the pusher.
pub struct RollupSink {
    facts: Arc<FactStore>,
    wake: Arc<tokio::sync::Notify>,
}

impl RollupSink {
    pub fn new(facts: Arc<FactStore>, wake: Arc<tokio::sync::Notify>) -> Self {
        RollupSink { facts, wake }
    }
}

impl Sink for RollupSink {
    fn name(&self) -> &'static str {
        SINK_NAME
    }

    fn batch_limits(&self) -> BatchLimits {
        BatchLimits {
            max_records: 10_000,
            max_wait: Duration::from_millis(100),
        }
    }

    async fn prepare(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    async fn deliver<'a>(&'a mut self, batch: &'a SpoolBatch) -> Result<(), SinkError> {
        let marked = self.facts.store(batch).await?;
        if marked > 0 {
            self.wake.notify_one();
        }
        Ok(())
    }
}
