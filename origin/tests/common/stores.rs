//! Reading back what the origin wrote to the real ClickHouse and Kafka broker.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// Runs a query over ClickHouse's HTTP interface; returns the TSV text, or None if down.
pub async fn clickhouse_query(url: &str, query: &str) -> Option<String> {
    let response = reqwest::Client::new()
        .post(url)
        .body(query.to_owned())
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.text().await.ok()
}

/// (rows after dedup with FINAL, distinct ids) over the events, attributions and null paths
/// tables.
pub async fn clickhouse_counts(url: &str, database: &str) -> Option<(u64, u64)> {
    let mut total = (0, 0);
    for table in ["events", "attributions", "null_paths"] {
        let text = clickhouse_query(
            url,
            &format!("SELECT count(), uniqExact(id) FROM {database}.{table} FINAL"),
        )
        .await?;
        let mut fields = text.split_whitespace().map(|f| f.parse::<u64>().ok());
        total.0 += fields.next()??;
        total.1 += fields.next()??;
    }
    Some(total)
}

/// Every message of `topics`, from the beginning: record id (header) → copies.
pub fn kafka_id_counts(brokers: &str, topics: &[String]) -> HashMap<String, usize> {
    kafka_id_counts_with(brokers, topics, &[])
}

/// [`kafka_id_counts`] with extra client properties (SASL credentials).
pub fn kafka_id_counts_with(
    brokers: &str,
    topics: &[String],
    properties: &[(&str, &str)],
) -> HashMap<String, usize> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for message in kafka_messages_with(brokers, topics, properties) {
        let id = message.id.expect("every message has an attrib-id header");
        *counts.entry(id).or_default() += 1;
    }
    counts
}

/// One message as a consumer reads it.
#[derive(Debug, Clone)]
pub struct KafkaMessage {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    /// `None`: a tombstone.
    pub payload: Option<Vec<u8>>,
    /// Headers `attrib-id`, `attrib-kind`, `attrib-spool-pos`.
    pub id: Option<String>,
    pub kind: Option<String>,
    pub position: Option<String>,
}

/// Every message of `topics`, from the beginning, in each partition's order.
pub fn kafka_messages(brokers: &str, topics: &[String]) -> Vec<KafkaMessage> {
    kafka_messages_with(brokers, topics, &[])
}

fn kafka_messages_with(
    brokers: &str,
    topics: &[String],
    properties: &[(&str, &str)],
) -> Vec<KafkaMessage> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("group.id", "attrib-origin-it-reader")
        .set("enable.auto.commit", "false");
    for (key, value) in properties {
        config.set(*key, *value);
    }
    let consumer: BaseConsumer = config.create().expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .expect("metadata");
        for t in metadata.topics() {
            for p in t.partitions() {
                assignment
                    .add_partition_offset(topic, p.id(), Offset::Beginning)
                    .expect("partition");
            }
        }
    }
    let mut ends = HashMap::new();
    for element in assignment.elements() {
        let (_, high) = consumer
            .fetch_watermarks(
                element.topic(),
                element.partition(),
                Duration::from_secs(10),
            )
            .expect("watermarks");
        ends.insert((element.topic().to_owned(), element.partition()), high);
    }
    consumer.assign(&assignment).expect("assign");
    let mut messages = Vec::new();
    let mut done: HashMap<(String, i32), bool> = ends
        .iter()
        .map(|(k, high)| (k.clone(), *high == 0))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while done.values().any(|d| !d) && Instant::now() < deadline {
        let Some(result) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = result.expect("message");
        let header = |name: &str| {
            message.headers().and_then(|h| {
                h.iter()
                    .find(|h| h.key == name)
                    .and_then(|h| h.value)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            })
        };
        messages.push(KafkaMessage {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            key: message
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned()),
            payload: message.payload().map(<[u8]>::to_vec),
            id: header("attrib-id"),
            kind: header("attrib-kind"),
            position: header("attrib-spool-pos"),
        });
        let key = (message.topic().to_owned(), message.partition());
        if ends
            .get(&key)
            .is_some_and(|high| message.offset() + 1 >= *high)
        {
            done.insert(key, true);
        }
    }
    assert!(
        done.values().all(|d| *d),
        "could not read every partition to its end within 60 s"
    );
    messages
}

/// (app, day, source, campaign) → touches.
pub type TouchRollup = BTreeMap<(String, String, String, String), u64>;
/// (app, day, source, campaign, model, currency) → [conversions, revenue, credited_value].
pub type AttributionRollup = BTreeMap<(String, String, String, String, String, String), [f64; 3]>;

/// The daily rollups as ClickHouse serves them (`daily_touches`, `daily_attribution`).
pub async fn clickhouse_rollups(url: &str, db: &str) -> Option<(TouchRollup, AttributionRollup)> {
    let text = clickhouse_query(
        url,
        &format!(
            "SELECT app_id, toString(day), source, campaign, sum(touches) FROM {db}.daily_touches \
             GROUP BY app_id, day, source, campaign FORMAT TabSeparated"
        ),
    )
    .await?;
    let mut touches = TouchRollup::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let n: u64 = f.get(4)?.parse().ok()?;
        if n > 0 {
            touches.insert((f[0].into(), f[1].into(), f[2].into(), f[3].into()), n);
        }
    }
    let text = clickhouse_query(
        url,
        &format!(
            "SELECT app_id, toString(day), source, campaign, model, currency, conversions, \
             revenue, credited_value FROM {db}.daily_attribution FORMAT TabSeparated"
        ),
    )
    .await?;
    let mut attribution = AttributionRollup::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let values = [
            f.get(6)?.parse().ok()?,
            f.get(7)?.parse().ok()?,
            f.get(8)?.parse().ok()?,
        ];
        let key = (
            f[0].into(),
            f[1].into(),
            f[2].into(),
            f[3].into(),
            f[4].into(),
            f[5].into(),
        );
        attribution.insert(key, values);
    }
    Some((touches, attribution))
}

/// The same figures from `core::rollup::daily_stats` over every record sent.
pub fn expected_rollups(
    batches: &[attrib_core::outbox::OutboxBatch],
) -> (TouchRollup, AttributionRollup) {
    let records: Vec<_> = batches.iter().flat_map(|b| b.records.iter()).collect();
    let mut touches = TouchRollup::new();
    let mut attribution = AttributionRollup::new();
    for stat in attrib_core::rollup::daily_stats(records) {
        let k = stat.key;
        let v = stat.values;
        if v.touches > 0 && k.model == attrib_core::attribution::Model::LastClick {
            touches.insert(
                (
                    k.app_id.clone(),
                    k.day.clone(),
                    k.source.clone(),
                    k.campaign.clone(),
                ),
                v.touches,
            );
        }
        if v.conversions != 0.0 || v.revenue != 0.0 || v.credited_value != 0.0 {
            let key = (
                k.app_id,
                k.day,
                k.source,
                k.campaign,
                k.model.as_str().to_owned(),
                k.currency,
            );
            attribution.insert(key, [v.conversions, v.revenue, v.credited_value]);
        }
    }
    (touches, attribution)
}
