//! Kafka sink settings. Setting `KAFKA_BROKERS` turns the sink on.

use crate::config::sources::{non_empty, positive_u64};
use crate::config::{ConfigError, Setting, Sources};

const BROKERS: Setting = Setting::new("kafka.brokers", "KAFKA_BROKERS");
const EVENTS_TOPIC: Setting = Setting::new("kafka.events_topic", "KAFKA_EVENTS_TOPIC");
const ATTRIBUTIONS_TOPIC: Setting =
    Setting::new("kafka.attributions_topic", "KAFKA_ATTRIBUTIONS_TOPIC");
const MERGES_TOPIC: Setting = Setting::new("kafka.merges_topic", "KAFKA_MERGES_TOPIC");
const NULL_PATHS_TOPIC: Setting = Setting::new("kafka.null_paths_topic", "KAFKA_NULL_PATHS_TOPIC");
const COMPRESSION: Setting = Setting::new("kafka.compression", "KAFKA_COMPRESSION");
const LINGER_MS: Setting = Setting::new("kafka.linger_ms", "KAFKA_LINGER_MS");
const PARTITIONS: Setting = Setting::new("kafka.partitions", "KAFKA_TOPIC_PARTITIONS");
const BATCH_RECORDS: Setting = Setting::new("kafka.batch_records", "KAFKA_BATCH_RECORDS");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `host:port[,host:port]`.
    pub brokers: String,
    pub events_topic: String,
    pub attributions_topic: String,
    pub merges_topic: String,
    /// Null paths (`null_path` records): a topic of their own, so consumers of the
    /// attributions topic see only the kind they were written for.
    pub null_paths_topic: String,
    /// `lz4` (default), `gzip` or `none`.
    pub compression: String,
    pub linger_ms: u64,
    /// Partitions of topics the origin creates (existing topics are used as they are).
    pub partitions: u64,
    /// Records handed to the producer per spool batch (one cursor commit each).
    pub batch_records: usize,
}

impl KafkaConfig {
    pub const SETTINGS: [&'static Setting; 9] = [
        &BROKERS,
        &EVENTS_TOPIC,
        &ATTRIBUTIONS_TOPIC,
        &MERGES_TOPIC,
        &NULL_PATHS_TOPIC,
        &COMPRESSION,
        &LINGER_MS,
        &PARTITIONS,
        &BATCH_RECORDS,
    ];

    pub fn from_sources(sources: &Sources) -> Result<Option<Self>, ConfigError> {
        let Some(brokers) = sources.parse_opt(&BROKERS, broker_list)? else {
            return Ok(None);
        };
        Ok(Some(KafkaConfig {
            brokers,
            events_topic: sources.parse_or(&EVENTS_TOPIC, "attrib.events", topic_name)?,
            attributions_topic: sources.parse_or(
                &ATTRIBUTIONS_TOPIC,
                "attrib.attributions",
                topic_name,
            )?,
            merges_topic: sources.parse_or(&MERGES_TOPIC, "attrib.merges", topic_name)?,
            null_paths_topic: sources.parse_or(
                &NULL_PATHS_TOPIC,
                "attrib.null_paths",
                topic_name,
            )?,
            compression: sources.parse_or(&COMPRESSION, "lz4", |v| match v {
                "lz4" | "gzip" | "none" => Ok(v.to_owned()),
                _ => Err("must be lz4, gzip or none".into()),
            })?,
            linger_ms: sources.parse_or(&LINGER_MS, "5", |v| {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| "must be a whole number of milliseconds".to_string())
            })?,
            partitions: sources.parse_or(&PARTITIONS, "3", positive_u64)?,
            batch_records: sources.parse_or(&BATCH_RECORDS, "20000", positive_u64)? as usize,
        }))
    }
}

fn broker_list(value: &str) -> Result<String, String> {
    let value = non_empty(value)?;
    for broker in value.split(',') {
        let (host, port) = broker
            .trim()
            .rsplit_once(':')
            .ok_or_else(|| format!("`{broker}` is not host:port"))?;
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(format!("`{broker}` is not host:port"));
        }
    }
    Ok(value)
}

fn topic_name(value: &str) -> Result<String, String> {
    let ok = !value.is_empty()
        && value.len() <= 249
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(value.to_owned())
    } else {
        Err("a topic name is 1-249 characters of [a-zA-Z0-9._-]".into())
    }
}
