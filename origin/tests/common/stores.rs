//! Reading back what the origin wrote to the real ClickHouse and Kafka broker.

use std::collections::HashMap;
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

/// (rows after dedup with FINAL, distinct ids) over the events and attributions tables.
pub async fn clickhouse_counts(url: &str, database: &str) -> Option<(u64, u64)> {
    let mut total = (0, 0);
    for table in ["events", "attributions"] {
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
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "attrib-origin-it-reader")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
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
    let mut counts: HashMap<String, usize> = HashMap::new();
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
        let id = message
            .headers()
            .and_then(|h| {
                h.iter()
                    .find(|h| h.key == "attrib-id")
                    .and_then(|h| h.value)
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            })
            .expect("every message has an attrib-id header");
        *counts.entry(id).or_default() += 1;
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
    counts
}
