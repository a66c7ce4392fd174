//! The Kafka sink: events, attributions, merges and null paths on their topics, keyed by the
//! journey's keyed hash ([`keys`]: `{app}:{hmac}`, never the user id) so one user's records
//! stay in order on one partition; an erasure is a tombstone at that key on each of them.
//!
//! Exactly once, in three layers: the spool never re-sends a batch the sink acknowledged;
//! the idempotent producer (acks=all) removes duplicates from its own retries; and the gap
//! in between (the origin crashing after Kafka took a batch but before the cursor commit) is
//! closed by [`recovery`]: every message carries its spool position in a header, the sink
//! chooses partitions itself, and on start it reads the last message of each partition so
//! it can skip what is already there.

mod config;
pub mod keys;
mod recovery;
mod request;
pub mod retry;
pub mod security;
mod sink;

pub use config::{KafkaConfig, DEFAULT_RETENTION_MS};
pub use request::{partition_for, SPOOL_POSITION_HEADER};
pub use security::{KafkaSecurity, SaslMechanism, SecurityProtocol};
pub use sink::KafkaSink;

/// Cursor and metrics name.
pub const SINK_NAME: &str = "kafka";

#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("Kafka client: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    #[error("Kafka topic {topic}: {reason}")]
    Topic { topic: String, reason: String },
    #[error("{failed} of {total} messages were not acknowledged: {first}")]
    Undelivered {
        failed: usize,
        total: usize,
        first: rdkafka::error::KafkaError,
    },
    #[error(transparent)]
    Spool(#[from] crate::spool::SpoolError),
    #[error("the Kafka key secret could not be read or created: {0}")]
    KeySecret(std::io::Error),
    #[error("a Kafka client task failed: {0}")]
    Task(String),
    /// The rest of the batch is in Kafka; these messages were refused for good.
    #[error("{} messages refused for good, the first: {}", .0.len(), .0.first().map_or("", |r| r.reason.as_str()))]
    Refused(Vec<crate::sinks::Refusal>),
}
