//! Produces a batch with librdkafka (idempotent, acks=all, compressed, lingering) and returns
//! once every message is acknowledged. A retried batch skips what was already acknowledged:
//! messages acked in an earlier attempt of the same batch, and (after a restart) messages at
//! or before the last position found on their partition.
//!
//! Acknowledgements come back through the producer context ([`Acks`]), keyed by the
//! message's index in the batch: no future, channel or allocation per message.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use tokio::sync::Notify;

use super::config::KafkaConfig;
use super::keys::KeyHasher;
use super::recovery::last_positions;
use super::request::{self, Position, ID_HEADER, KIND_HEADER, SPOOL_POSITION_HEADER};
use super::{KafkaError, SINK_NAME};
use crate::sinks::{Sink, SinkError};
use crate::spool::{BatchLimits, SpoolBatch};

const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// Delivery reports of the attempt in flight.
#[derive(Default)]
struct AckState {
    pending: usize,
    acked: Vec<bool>,
    failed: usize,
    first_error: Option<rdkafka::error::KafkaError>,
    /// Messages refused for good (by index), with the reason.
    refused: Vec<(usize, String)>,
}

#[derive(Default)]
pub struct Acks {
    state: Mutex<AckState>,
    done: Notify,
}

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    /// The message's index in the attempt.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, index: usize) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        match result {
            Ok(_) => {
                if let Some(flag) = state.acked.get_mut(index) {
                    *flag = true;
                }
            }
            Err((err, _)) if super::retry::is_permanent(err) => {
                state.refused.push((index, err.to_string()));
            }
            Err((err, _)) => {
                state.failed += 1;
                state.first_error.get_or_insert_with(|| err.clone());
            }
        }
        state.pending = state.pending.saturating_sub(1);
        if state.pending == 0 {
            self.done.notify_one();
        }
    }
}

type Client = ThreadedProducer<Acks>;

pub struct KafkaSink {
    config: KafkaConfig,
    producer: Client,
    partitions: HashMap<String, i32>,
    /// Last position per (topic, partition) found at start: already in Kafka.
    recovered: HashMap<(String, i32), Position>,
    /// Messages (position, fan) acknowledged in earlier attempts of the batch being retried.
    acked: HashSet<(Position, u8)>,
    acked_batch_end: u64,
    keys: KeyHasher,
}

impl KafkaSink {
    /// `key_secret`: the secret of the message keys ([`super::keys::secret`]).
    pub fn new(config: KafkaConfig, key_secret: Vec<u8>) -> Result<Self, KafkaError> {
        let producer: Client = config
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", &config.compression)
            .set("linger.ms", config.linger_ms.to_string())
            .set("batch.num.messages", "10000")
            .set("batch.size", "1000000")
            .set("queue.buffering.max.messages", "1000000")
            .set("queue.buffering.max.kbytes", "1048576")
            .set("message.timeout.ms", "30000")
            .set("partitioner", "murmur2_random")
            .create_with_context(Acks::default())?;
        Ok(KafkaSink {
            config,
            producer,
            partitions: HashMap::new(),
            recovered: HashMap::new(),
            acked: HashSet::new(),
            acked_batch_end: 0,
            keys: KeyHasher::new(key_secret),
        })
    }

    fn topics(&self) -> Vec<&str> {
        self.config.topics()
    }

    async fn ensure_topics(&self) -> Result<(), KafkaError> {
        let admin: AdminClient<DefaultClientContext> = self.config.client_config().create()?;
        let retention = self.config.retention_ms.to_string();
        // Keys are per person, so compaction would keep one record per person: every topic
        // is `delete` with a bounded retention (README, Kafka topics and erasure). Topics
        // that exist already are used as they are.
        let new_topics: Vec<NewTopic> = self
            .topics()
            .iter()
            .map(|t| {
                NewTopic::new(t, self.config.partitions as i32, TopicReplication::Fixed(1))
                    .set("cleanup.policy", "delete")
                    .set("retention.ms", &retention)
            })
            .collect();
        let results = admin
            .create_topics(
                &new_topics,
                &AdminOptions::new().operation_timeout(Some(METADATA_TIMEOUT)),
            )
            .await?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(KafkaError::Topic {
                        topic,
                        reason: format!("cannot be created: {code}"),
                    })
                }
            }
        }
        Ok(())
    }

    async fn partition_counts(&self) -> Result<HashMap<String, i32>, KafkaError> {
        let producer = self.producer.clone();
        let topics: Vec<String> = self.topics().iter().map(|t| t.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let mut counts = HashMap::new();
            for topic in topics {
                let metadata = producer
                    .client()
                    .fetch_metadata(Some(&topic), METADATA_TIMEOUT)?;
                let partitions = metadata
                    .topics()
                    .iter()
                    .find(|t| t.name() == topic)
                    .map_or(0, |t| t.partitions().len() as i32);
                if partitions == 0 {
                    return Err(KafkaError::Topic {
                        topic,
                        reason: "has no partitions (does it exist?)".into(),
                    });
                }
                counts.insert(topic, partitions);
            }
            Ok(counts)
        })
        .await
        .map_err(|e| KafkaError::Task(e.to_string()))?
    }

    async fn produce(&mut self, batch: &SpoolBatch) -> Result<(), KafkaError> {
        if self.acked_batch_end != batch.next_seq {
            self.acked.clear();
            self.acked_batch_end = batch.next_seq;
        }
        let partitions = &self.partitions;
        let messages = request::build(batch, &self.config, &mut self.keys, |topic| {
            partitions.get(topic).copied().unwrap_or(1)
        })?;
        let acks: Arc<Acks> = self.producer.context().clone();
        if let Ok(mut state) = acks.state.lock() {
            *state = AckState {
                pending: messages.len(),
                acked: vec![false; messages.len()],
                failed: 0,
                first_error: None,
                refused: Vec::new(),
            };
        }
        let mut skipped = 0;
        let mut refused_at_send: Vec<(usize, String)> = Vec::new();
        let mut position = String::new();
        for (index, message) in messages.iter().enumerate() {
            // A replayed dead letter is not in Kafka whatever the positions say.
            let already = !batch.replay
                && (self.acked.contains(&(message.position, message.fan))
                    || self
                        .recovered
                        .get(&(message.topic.to_owned(), message.partition))
                        .is_some_and(|last| message.position <= *last));
            if already {
                skipped += 1;
                continue;
            }
            request::write_position(&mut position, message.position);
            let headers = OwnedHeaders::new_with_capacity(3)
                .insert(Header {
                    key: ID_HEADER,
                    value: Some(message.id),
                })
                .insert(Header {
                    key: KIND_HEADER,
                    value: Some(message.kind),
                })
                .insert(Header {
                    key: SPOOL_POSITION_HEADER,
                    value: Some(&position),
                });
            let mut record = BaseRecord::<str, str, usize>::with_opaque_to(message.topic, index)
                .partition(message.partition)
                .key(&*message.key)
                .headers(headers);
            if let Some(payload) = message.payload {
                record = record.payload(payload);
            }
            loop {
                match self.producer.send(record) {
                    Ok(()) => break,
                    Err((
                        rdkafka::error::KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull),
                        back,
                    )) => {
                        record = back;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((err, _)) if super::super::kafka::retry::is_permanent(&err) => {
                        // Refused before it left (e.g. larger than message.max.bytes).
                        refused_at_send.push((index, err.to_string()));
                        skipped += 1;
                        break;
                    }
                    Err((err, _)) => {
                        // Messages already handed over still report; wait for them.
                        skipped += messages.len() - index;
                        settle(&acks, skipped).await;
                        return Err(err.into());
                    }
                }
            }
        }
        let mut state = settle(&acks, skipped).await;
        state.refused.extend(refused_at_send);
        if state.failed == 0 && state.refused.is_empty() {
            return Ok(());
        }
        for (message, acked) in messages.iter().zip(&state.acked) {
            if *acked {
                self.acked.insert((message.position, message.fan));
            }
        }
        if state.failed == 0 {
            // Everything else is in Kafka: the refused messages go to the dead letters.
            let mut refused: Vec<crate::sinks::Refusal> = state
                .refused
                .into_iter()
                .filter_map(|(index, reason)| {
                    let (seq, index) = messages.get(index)?.position;
                    Some(crate::sinks::Refusal { seq, index, reason })
                })
                .collect();
            refused.sort_by_key(|r| (r.seq, r.index));
            return Err(KafkaError::Refused(refused));
        }
        Err(KafkaError::Undelivered {
            failed: state.failed,
            total: messages.len() - skipped,
            first: state
                .first_error
                .unwrap_or(rdkafka::error::KafkaError::Canceled),
        })
    }
}

/// Waits for the reports of every message handed over (all but `not_sent`).
async fn settle(acks: &Acks, not_sent: usize) -> AckState {
    if let Ok(mut state) = acks.state.lock() {
        state.pending = state.pending.saturating_sub(not_sent);
    }
    loop {
        let done = acks.done.notified();
        if let Ok(mut state) = acks.state.lock() {
            if state.pending == 0 {
                return std::mem::take(&mut *state);
            }
        }
        done.await;
    }
}

impl Sink for KafkaSink {
    fn name(&self) -> &'static str {
        SINK_NAME
    }

    fn batch_limits(&self) -> BatchLimits {
        BatchLimits {
            max_records: self.config.batch_records,
            max_wait: Duration::from_millis(self.config.linger_ms.max(1)),
        }
    }

    async fn prepare(&mut self) -> Result<(), SinkError> {
        self.ensure_topics().await?;
        self.partitions = self.partition_counts().await?;
        let client = self.config.client_config();
        let topics: Vec<(String, i32)> = self
            .partitions
            .iter()
            .map(|(t, n)| (t.clone(), *n))
            .collect();
        self.recovered = tokio::task::spawn_blocking(move || last_positions(client, &topics))
            .await
            .map_err(|e| KafkaError::Task(e.to_string()))??;
        tracing::info!(partitions = ?self.partitions, recovered = self.recovered.len(), "kafka sink ready");
        Ok(())
    }

    async fn deliver<'a>(&'a mut self, batch: &'a SpoolBatch) -> Result<(), SinkError> {
        self.produce(batch).await.map_err(SinkError::from)
    }
}
