//! The sinks: where spooled records go. Each lives in its own directory with the same files
//! (`config.rs`: its settings; `request.rs`: turning a spool batch into what the destination
//! takes; `sink.rs`: sending it), and all meet at the [`Sink`] trait, which the delivery loop
//! ([`crate::delivery`]) drives with retries and progress markers.
//!
//! A sink's `deliver` must be idempotent per record id: after a crash between delivering and
//! committing the cursor, the same batch is delivered again.
//!
//! Each sink also says which of its failures refuse the data for good (`retry.rs` in its
//! directory, Vector's `RetryLogic` idea): those records go to the dead-letter store
//! ([`crate::dead_letters`]) instead of blocking the sink forever.

pub mod clickhouse;
pub mod embedded;
pub mod kafka;
pub mod rows;

use std::future::Future;

use crate::spool::{BatchLimits, SpoolBatch};

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Kafka(#[from] kafka::KafkaError),
    #[error(transparent)]
    ClickHouse(#[from] clickhouse::ClickHouseError),
    #[error(transparent)]
    Embedded(#[from] embedded::EmbeddedError),
    #[error(transparent)]
    Rollup(#[from] crate::rollup::RollupError),
    #[error(transparent)]
    Spool(#[from] crate::spool::SpoolError),
}

/// A record the destination refused for good, by its place in the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub seq: u64,
    /// The record's index in its spool entry.
    pub index: u32,
    pub reason: String,
}

impl SinkError {
    /// Records refused for good while the rest of the batch was delivered (Kafka reports
    /// them per message).
    pub fn refusals(&self) -> Option<&[Refusal]> {
        match self {
            SinkError::Kafka(kafka::KafkaError::Refused(list)) => Some(list),
            _ => None,
        }
    }
}

pub trait Sink: Send + 'static {
    /// Stable name: the cursor file, the metrics label, the logs.
    fn name(&self) -> &'static str;

    /// How the delivery loop cuts the spool into batches for this sink.
    fn batch_limits(&self) -> BatchLimits;

    /// Makes the destination ready (schemas, topics); retried until it succeeds.
    fn prepare(&mut self) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Whether `err` refuses the batch's data for good (retrying cannot help): the delivery
    /// loop then isolates the refused records and dead-letters them.
    fn is_permanent(&self, _err: &SinkError) -> bool {
        false
    }

    /// Stores every record of `batch`; returns only when the destination has them durably.
    /// `batch.replay` marks dead letters sent again (see [`crate::dead_letters`]).
    fn deliver<'a>(
        &'a mut self,
        batch: &'a SpoolBatch,
    ) -> impl Future<Output = Result<(), SinkError>> + Send + 'a;
}
