//! Turns a spool batch into Kafka messages: topic by record kind, key = the journey's keyed
//! hash ([`super::keys`]), partition chosen here from the key (Kafka's murmur2 rule, as the
//! Java client's default partitioner does) so recovery knows where each message went, and
//! headers naming the record. An erasure becomes a tombstone (no value) at its journey's key
//! on every journey topic, in spool order after the journey's records.

use std::sync::Arc;

use crate::spool::{RecordKind, SpoolBatch, SpoolError};

use super::config::KafkaConfig;
use super::keys::KeyHasher;

/// `"{spool seq}:{index in entry}"`: where the message came from, for crash recovery.
pub const SPOOL_POSITION_HEADER: &str = "attrib-spool-pos";
pub const ID_HEADER: &str = "attrib-id";
pub const KIND_HEADER: &str = "attrib-kind";

/// A message's place in the spool; ordered like the spool.
pub type Position = (u64, u32);

pub struct Message<'a> {
    pub topic: &'a str,
    pub partition: i32,
    /// Shared by the messages of one journey (computed once per run of its records).
    pub key: Arc<str>,
    /// `None`: a tombstone (an erasure).
    pub payload: Option<&'a str>,
    pub id: &'a str,
    pub kind: &'static str,
    pub position: Position,
    /// Which of the messages of one spool record this is (an erasure makes one per topic).
    pub fan: u8,
}

pub fn topic_of(config: &KafkaConfig, kind: RecordKind) -> &str {
    match kind {
        RecordKind::Event => &config.events_topic,
        RecordKind::Attribution => &config.attributions_topic,
        RecordKind::Merge => &config.merges_topic,
        RecordKind::NullPath => &config.null_paths_topic,
        RecordKind::SkanPostback => &config.skan_postbacks_topic,
        RecordKind::Spend => &config.spend_topic,
        // Not used for erasures, which go to every journey topic (`build`).
        RecordKind::Erasure => &config.events_topic,
    }
}

pub fn build<'a>(
    batch: &'a SpoolBatch,
    config: &'a KafkaConfig,
    keys: &mut KeyHasher,
    partitions_of: impl Fn(&str) -> i32,
) -> Result<Vec<Message<'a>>, SpoolError> {
    let mut messages = Vec::with_capacity(batch.record_count());
    let journey_topics = config.journey_topics();
    // Records of one journey come in runs: hash once per run.
    let mut last: Option<(&str, &str, Arc<str>)> = None;
    for entry in &batch.entries {
        for (index, record) in entry.records().enumerate() {
            let record = record?;
            let key = match &last {
                Some((app, journey, key))
                    if *app == record.app_id && *journey == record.journey =>
                {
                    key.clone()
                }
                _ => {
                    let key: Arc<str> = keys.key(record.app_id, record.journey).into();
                    last = Some((record.app_id, record.journey, key.clone()));
                    key
                }
            };
            let position = (entry.seq, index as u32);
            if record.kind == RecordKind::Erasure {
                for (fan, topic) in journey_topics.iter().enumerate() {
                    messages.push(Message {
                        topic,
                        partition: partition_for(key.as_bytes(), partitions_of(topic)),
                        key: key.clone(),
                        payload: None,
                        id: record.id,
                        kind: record.kind.as_str(),
                        position,
                        fan: fan as u8,
                    });
                }
                continue;
            }
            let topic = topic_of(config, record.kind);
            messages.push(Message {
                topic,
                partition: partition_for(key.as_bytes(), partitions_of(topic)),
                key,
                payload: Some(record.json),
                id: record.id,
                kind: record.kind.as_str(),
                position,
                fan: 0,
            });
        }
    }
    Ok(messages)
}

/// Writes the header value of `position` into `out` (cleared first; reused per message).
pub fn write_position(out: &mut String, (seq, index): Position) {
    use std::fmt::Write;
    out.clear();
    // Writing to a String cannot fail.
    let _ = write!(out, "{seq}:{index}");
}

pub fn parse_position(text: &str) -> Option<Position> {
    let (seq, index) = text.split_once(':')?;
    Some((seq.parse().ok()?, index.parse().ok()?))
}

/// Kafka's default partitioner: `toPositive(murmur2(key)) % partitions`.
pub fn partition_for(key: &[u8], partitions: i32) -> i32 {
    if partitions <= 1 {
        return 0;
    }
    ((murmur2(key) & 0x7fff_ffff) % partitions as u32) as i32
}

/// MurmurHash2 as in Kafka's `Utils.murmur2` (seed 0x9747b28c).
fn murmur2(data: &[u8]) -> u32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka() {
        // Values from Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21") as i32, -973932308);
        assert_eq!(murmur2(b"foobar") as i32, -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string") as i32, -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string") as i32, -1486304829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") as i32,
            -58897971
        );
        assert_eq!(murmur2(b"abc") as i32, 479470107);
    }

    #[test]
    fn positions_round_trip_and_order() {
        let mut text = String::new();
        write_position(&mut text, (42, 7));
        assert_eq!(parse_position(&text), Some((42, 7)));
        assert_eq!(parse_position("x"), None);
        assert!((3, 9) < (4, 0));
    }

    #[test]
    fn one_journey_one_partition() {
        let a = partition_for(b"u:app:alice", 6);
        assert_eq!(a, partition_for(b"u:app:alice", 6));
        assert!((0..6).contains(&a));
        assert_eq!(partition_for(b"anything", 1), 0);
    }
}
