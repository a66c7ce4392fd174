//! Kafka sink settings. Setting `KAFKA_BROKERS` turns the sink on.

use crate::config::sources::{non_empty, positive_u64};
use crate::config::{ConfigError, Setting, Sources};

use super::security::{self, KafkaSecurity};

const BROKERS: Setting = Setting::new("kafka.brokers", "KAFKA_BROKERS");
const EVENTS_TOPIC: Setting = Setting::new("kafka.events_topic", "KAFKA_EVENTS_TOPIC");
const ATTRIBUTIONS_TOPIC: Setting =
    Setting::new("kafka.attributions_topic", "KAFKA_ATTRIBUTIONS_TOPIC");
const MERGES_TOPIC: Setting = Setting::new("kafka.merges_topic", "KAFKA_MERGES_TOPIC");
const NULL_PATHS_TOPIC: Setting = Setting::new("kafka.null_paths_topic", "KAFKA_NULL_PATHS_TOPIC");
const SKAN_POSTBACKS_TOPIC: Setting =
    Setting::new("kafka.skan_postbacks_topic", "KAFKA_SKAN_POSTBACKS_TOPIC");
const SPEND_TOPIC: Setting = Setting::new("kafka.spend_topic", "KAFKA_SPEND_TOPIC");
const COMPRESSION: Setting = Setting::new("kafka.compression", "KAFKA_COMPRESSION");
const LINGER_MS: Setting = Setting::new("kafka.linger_ms", "KAFKA_LINGER_MS");
const PARTITIONS: Setting = Setting::new("kafka.partitions", "KAFKA_TOPIC_PARTITIONS");
const BATCH_RECORDS: Setting = Setting::new("kafka.batch_records", "KAFKA_BATCH_RECORDS");
const PROPERTIES: Setting = Setting::new("kafka.properties", "KAFKA_PROPERTIES");
const KEY_SECRET: Setting = Setting::new("kafka.key_secret", "KAFKA_KEY_SECRET");
const RETENTION_MS: Setting = Setting::new("kafka.retention_ms", "KAFKA_RETENTION_MS");

/// `retention.ms` of the topics the origin creates: 7 days (Kafka's own default), so an
/// erased person's records leave the broker within a week of being written (README, Kafka
/// topics and erasure).
pub const DEFAULT_RETENTION_MS: u64 = 7 * 24 * 3_600_000;

/// librdkafka properties the origin sets itself: a passthrough may not change them, since
/// exactly-once delivery depends on them.
const RESERVED_PROPERTIES: [&str; 5] = [
    "bootstrap.servers",
    "enable.idempotence",
    "acks",
    "partitioner",
    "group.id",
];

#[derive(Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `host:port[,host:port]`.
    pub brokers: String,
    pub events_topic: String,
    pub attributions_topic: String,
    pub merges_topic: String,
    /// Null paths (`null_path` records): a topic of their own, so consumers of the
    /// attributions topic see only the kind they were written for.
    pub null_paths_topic: String,
    /// Verified SKAdNetwork / AdAttributionKit postbacks (`skan_postback` records).
    pub skan_postbacks_topic: String,
    /// Ad-spend rows (`spend` records); a re-upload is a new message with a later
    /// `uploaded_at_ms`: consumers keep the latest per (app, day, source, campaign, ad group).
    pub spend_topic: String,
    /// `lz4` (default), `gzip` or `none`.
    pub compression: String,
    pub linger_ms: u64,
    /// Partitions of topics the origin creates (existing topics are used as they are).
    pub partitions: u64,
    /// Records handed to the producer per spool batch (one cursor commit each).
    pub batch_records: usize,
    /// TLS and SASL (`KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`, `KAFKA_SSL_CA_FILE`).
    pub security: KafkaSecurity,
    /// Extra librdkafka client properties (`KAFKA_PROPERTIES`: `key=value;key=value`), e.g. a
    /// client certificate (`ssl.certificate.location`), given to the producer, the admin
    /// client and the recovery consumer alike.
    pub properties: Vec<(String, String)>,
    /// The secret of the message keys ([`super::keys`]); `None`: one kept under the data dir.
    pub key_secret: Option<String>,
    /// `retention.ms` of the topics the origin creates (`cleanup.policy=delete`).
    pub retention_ms: u64,
}

/// Logged at start: values of properties that look like secrets are not.
impl std::fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let properties: Vec<(&str, &str)> = self
            .properties
            .iter()
            .map(|(k, v)| {
                let secret = ["password", "secret", "key", "token"]
                    .iter()
                    .any(|s| k.contains(s));
                (k.as_str(), if secret { "<redacted>" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("events_topic", &self.events_topic)
            .field("attributions_topic", &self.attributions_topic)
            .field("merges_topic", &self.merges_topic)
            .field("null_paths_topic", &self.null_paths_topic)
            .field("skan_postbacks_topic", &self.skan_postbacks_topic)
            .field("spend_topic", &self.spend_topic)
            .field("compression", &self.compression)
            .field("linger_ms", &self.linger_ms)
            .field("partitions", &self.partitions)
            .field("batch_records", &self.batch_records)
            .field("security", &self.security)
            .field("properties", &properties)
            .field(
                "key_secret",
                &self.key_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("retention_ms", &self.retention_ms)
            .finish()
    }
}

impl KafkaConfig {
    /// Every topic the sink writes, once each (two kinds may share a topic).
    pub fn topics(&self) -> Vec<&str> {
        let mut topics: Vec<&str> = Vec::with_capacity(6);
        for topic in self.journey_topics().into_iter().chain([
            self.skan_postbacks_topic.as_str(),
            self.spend_topic.as_str(),
        ]) {
            if !topics.contains(&topic) {
                topics.push(topic);
            }
        }
        topics
    }

    /// The topics keyed by a person's journey (an erasure writes a tombstone on each), once
    /// each. The edge facts' topics are keyed by the app's edge journey, never a person's.
    pub fn journey_topics(&self) -> Vec<&str> {
        let mut topics: Vec<&str> = Vec::with_capacity(4);
        for topic in [
            &self.events_topic,
            &self.attributions_topic,
            &self.merges_topic,
            &self.null_paths_topic,
        ] {
            if !topics.contains(&topic.as_str()) {
                topics.push(topic);
            }
        }
        topics
    }

    pub const SETTINGS: [&'static Setting; 19] = [
        &BROKERS,
        &EVENTS_TOPIC,
        &ATTRIBUTIONS_TOPIC,
        &MERGES_TOPIC,
        &NULL_PATHS_TOPIC,
        &SKAN_POSTBACKS_TOPIC,
        &SPEND_TOPIC,
        &COMPRESSION,
        &LINGER_MS,
        &PARTITIONS,
        &BATCH_RECORDS,
        &PROPERTIES,
        &KEY_SECRET,
        &RETENTION_MS,
        &security::PROTOCOL,
        &security::MECHANISM,
        &security::USERNAME,
        &security::PASSWORD,
        &security::CA_FILE,
    ];

    /// A librdkafka client configuration: the brokers, TLS and SASL, and the passthrough
    /// properties (which cannot set what the others set).
    pub fn client_config(&self) -> rdkafka::ClientConfig {
        let mut config = rdkafka::ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for (key, value) in self.security.properties() {
            config.set(key, value);
        }
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }

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
            skan_postbacks_topic: sources.parse_or(
                &SKAN_POSTBACKS_TOPIC,
                "attrib.skan_postbacks",
                topic_name,
            )?,
            spend_topic: sources.parse_or(&SPEND_TOPIC, "attrib.spend", topic_name)?,
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
            security: KafkaSecurity::from_sources(sources)?,
            properties: match sources.string(&PROPERTIES) {
                Some(text) => properties(&text)
                    .map_err(|reason| sources.invalid(&PROPERTIES, "<redacted>", &reason))?,
                None => Vec::new(),
            },
            key_secret: match sources.string(&KEY_SECRET) {
                Some(secret) if secret.len() < 16 => {
                    return Err(sources.invalid(
                        &KEY_SECRET,
                        "<redacted>",
                        "must be at least 16 characters",
                    ))
                }
                other => other,
            },
            retention_ms: sources.parse_or(
                &RETENTION_MS,
                &DEFAULT_RETENTION_MS.to_string(),
                positive_u64,
            )?,
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

/// `key=value;key=value` (empty parts skipped). Errors never quote values: they may be
/// passwords.
fn properties(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = part.split_once('=') else {
            return Err(format!("part {} is not key=value", out.len() + 1));
        };
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        {
            return Err(format!("part {} has no valid property name", out.len() + 1));
        }
        if RESERVED_PROPERTIES.contains(&key) {
            return Err(format!(
                "{key} is set by the origin and cannot be overridden"
            ));
        }
        if let Some((_, setting)) = security::OWNED_PROPERTIES.iter().find(|(k, _)| *k == key) {
            return Err(format!("set {key} with {} instead", setting.env));
        }
        out.push((key.to_owned(), value.trim().to_owned()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13, finding 8: Kafka had no TLS/SASL settings. They have named settings now
    /// (`security.rs`); the passthrough carries the rest and cannot set theirs.
    #[test]
    fn finding_8_kafka_security_passthrough_keeps_the_rest_and_secrets_are_redacted() {
        let parsed = properties(
            "ssl.certificate.location=/etc/client.pem; ssl.key.location=/etc/client.key;\
             ssl.key.password=key-pw-secret",
        )
        .expect("parses");
        assert_eq!(parsed.len(), 3);
        let sources = Sources::from_parts(
            "",
            &[
                ("KAFKA_BROKERS", "b:9092"),
                ("KAFKA_SECURITY_PROTOCOL", "sasl_plaintext"),
                ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
                ("KAFKA_SASL_USERNAME", "origin"),
                ("KAFKA_SASL_PASSWORD", "sasl-pw-secret"),
            ],
        )
        .expect("sources");
        let mut config = KafkaConfig::from_sources(&sources)
            .expect("valid")
            .expect("on");
        config.properties = parsed;
        let logged = format!("{config:?}");
        for secret in ["key-pw-secret", "sasl-pw-secret"] {
            assert!(!logged.contains(secret), "{logged}");
        }
        assert!(
            logged.contains("SaslPlaintext") && logged.contains("origin"),
            "{logged}"
        );
        let client = config.client_config();
        assert_eq!(client.get("sasl.password"), Some("sasl-pw-secret"));
        assert_eq!(client.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(client.get("ssl.key.password"), Some("key-pw-secret"));
        assert!(
            properties("acks=1").is_err(),
            "exactly-once settings are fixed"
        );
        let err = properties("sasl.password=x").expect_err("owned by a setting");
        assert!(
            err.contains("KAFKA_SASL_PASSWORD") && !err.contains('x'),
            "{err}"
        );
        let err = properties("security.protocol=ssl").expect_err("owned by a setting");
        assert!(err.contains("KAFKA_SECURITY_PROTOCOL"), "{err}");
        assert!(properties("nonsense").is_err());
    }
}
