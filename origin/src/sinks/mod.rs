//! The sinks: where spooled records go. Each lives in its own directory with the same files
//! (`config.rs`: its settings; `request.rs`: turning a spool batch into what the destination
//! takes; `sink.rs`: sending it), and all meet at the [`Sink`] trait, which the delivery loop
//! ([`crate::delivery`]) drives with retries and progress markers.
//!
//! A sink's `deliver` must be idempotent per record id: after a crash between delivering and
//! committing the cursor, the same batch is delivered again.

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

pub trait Sink: Send + 'static {
    /// Stable name: the cursor file, the metrics label, the logs.
    fn name(&self) -> &'static str;

    /// How the delivery loop cuts the spool into batches for this sink.
    fn batch_limits(&self) -> BatchLimits;

    /// Makes the destination ready (schemas, topics); retried until it succeeds.
    fn prepare(&mut self) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Stores every record of `batch`; returns only when the destination has them durably.
    fn deliver<'a>(
        &'a mut self,
        batch: &'a SpoolBatch,
    ) -> impl Future<Output = Result<(), SinkError>> + Send + 'a;
}
