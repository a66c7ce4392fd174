//! Finds, for every partition of the sink's topics, the spool position of its last message:
//! anything at or before it on that partition is already in Kafka and must not be sent again.
//!
//! Correct because one producer writes these partitions in spool order and the idempotent
//! producer keeps that order: if a partition's last message is at position P, every message
//! for that partition up to P is there too.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::request::{parse_position, Position, SPOOL_POSITION_HEADER};
use super::KafkaError;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Last delivered position per (topic, partition); `client` holds the brokers and the
/// passthrough properties (TLS, SASL). Blocking: run off the async runtime.
pub fn last_positions(
    mut client: ClientConfig,
    topics: &[(String, i32)],
) -> Result<HashMap<(String, i32), Position>, KafkaError> {
    let consumer: BaseConsumer = client
        .set("group.id", "attrib-origin-recovery")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()?;
    let mut last = HashMap::new();
    for (topic, partitions) in topics {
        for partition in 0..*partitions {
            let (low, high) = consumer.fetch_watermarks(topic, partition, TIMEOUT)?;
            if high <= low {
                continue;
            }
            let mut assignment = TopicPartitionList::new();
            assignment.add_partition_offset(topic, partition, Offset::Offset(high - 1))?;
            consumer.assign(&assignment)?;
            let deadline = std::time::Instant::now() + TIMEOUT;
            loop {
                if std::time::Instant::now() > deadline {
                    return Err(KafkaError::Topic {
                        topic: topic.clone(),
                        reason: format!("could not read the last message of partition {partition}"),
                    });
                }
                let Some(result) = consumer.poll(Duration::from_millis(200)) else {
                    continue;
                };
                let message = result?;
                let position = message.headers().and_then(|headers| {
                    headers
                        .iter()
                        .find(|h| h.key == SPOOL_POSITION_HEADER)
                        .and_then(|h| h.value)
                        .and_then(|v| std::str::from_utf8(v).ok())
                        .and_then(parse_position)
                });
                if let Some(position) = position {
                    last.insert((topic.clone(), partition), position);
                }
                break;
            }
        }
    }
    Ok(last)
}
