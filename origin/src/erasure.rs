//! The origin's half of an erasure regulation (issue 12): the journeys the edge erased lose
//! their rows in each store the origin has.
//!
//! Order: the edge erases the journeys first (their outbox rows go with them, and the
//! tombstone keeps new records from being made), then asks the origin. The origin first waits
//! until every sink has delivered what was spooled before the request ([`drained`]): otherwise
//! a record still in the spool would be inserted after the delete and bring the person back.
//! Each store answers for itself ([`StoreStatus`]); every step is idempotent, so a failed store
//! is finished by sending the regulation again.
//!
//! Kafka cannot delete: the erasure goes through the spool as a record of its own
//! ([`RecordKind::Erasure`](crate::spool::RecordKind)), one per journey, so the Kafka sink
//! writes it in spool order (after every record of the journey, with its spool-position
//! header, which crash recovery reads) as a tombstone at the journey's key on each journey
//! topic. Kafka is done when the sink's cursor has passed those records.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use attrib_core::privacy::erasure::{OriginErasure, StoreStatus};

use crate::dead_letters::DeadLetters;
use crate::sinks::clickhouse::{ClickHouseConfig, ClickHouseSink};
use crate::spool::{EncodedBatch, Spool, SpoolError};

/// How long an erasure waits for the sinks to deliver what was spooled before it.
pub const DRAIN_WAIT: Duration = Duration::from_secs(10);

pub const EMBEDDED_STORE: &str = "origin_embedded";
pub const CLICKHOUSE_STORE: &str = "origin_clickhouse";
pub const KAFKA_STORE: &str = "origin_kafka";
/// The dead letters (records a sink refused for good) of the journeys, deleted.
pub const DEAD_LETTERS_STORE: &str = "origin_dead_letters";
/// The rollup fact store (`rollup-facts.db`): the journeys' kept attributions anonymised.
pub const ROLLUP_FACTS_STORE: &str = "origin_rollup_facts";

/// The stores an erasure reaches, as the origin is configured.
#[derive(Clone, Default)]
pub struct Eraser {
    pub embedded: Option<PathBuf>,
    pub clickhouse: Option<ClickHouseConfig>,
    /// Kafka is configured: its status is that of the erasure records' delivery.
    pub kafka: bool,
}

impl Eraser {
    /// Erases `request` in every store; call once the sinks are [`drained`].
    pub async fn erase(
        &self,
        spool: &Spool,
        dead_letters: &DeadLetters,
        request: &OriginErasure,
    ) -> BTreeMap<String, StoreStatus> {
        let mut stores = BTreeMap::new();
        // First, so the Kafka sink writes the tombstones while the deletes below run.
        let spooled = spool_erasures(spool, request).await;
        if let Some(path) = &self.embedded {
            let status =
                crate::sinks::embedded::erase_journeys(path, &request.app_id, &request.journeys)
                    .await
                    .map_or_else(
                        |e| StoreStatus::failed(e.to_string()),
                        |()| StoreStatus::Done,
                    );
            stores.insert(EMBEDDED_STORE.to_owned(), status);
        }
        if let Some(config) = &self.clickhouse {
            let status = match ClickHouseSink::new(config.clone()) {
                Ok(sink) => sink
                    .erase_journeys(&request.app_id, &request.journeys)
                    .await
                    .map_or_else(
                        |e| StoreStatus::failed(e.to_string()),
                        |()| StoreStatus::Done,
                    ),
                Err(e) => StoreStatus::failed(e.to_string()),
            };
            stores.insert(CLICKHOUSE_STORE.to_owned(), status);
        }
        let status = match dead_letters.erase_journeys(&request.app_id, &request.journeys) {
            Ok(_) => StoreStatus::Done,
            Err(e) => StoreStatus::failed(e.to_string()),
        };
        stores.insert(DEAD_LETTERS_STORE.to_owned(), status);
        // The rollup consumer anonymises the facts when it takes the erasure records.
        let status = match &spooled {
            Ok(target) if caught_up(spool, ROLLUP_SINK, *target, DRAIN_WAIT).await => {
                StoreStatus::Done
            }
            Ok(_) => StoreStatus::failed(
                "the erasure is spooled but the rollup consumer has not taken it yet; it will: \
                 send the regulation again to see it done",
            ),
            Err(e) => StoreStatus::failed(format!("the erasure was not spooled: {e}")),
        };
        stores.insert(ROLLUP_FACTS_STORE.to_owned(), status);
        if self.kafka {
            let status = match spooled {
                Ok(target) if caught_up(spool, KAFKA_SINK, target, DRAIN_WAIT).await => {
                    StoreStatus::Done
                }
                Ok(_) => StoreStatus::failed(
                    "the tombstones are spooled but Kafka has not acknowledged them yet; they \
                     will be written when it does: send the regulation again to see it done",
                ),
                Err(e) => StoreStatus::failed(format!("the tombstones were not spooled: {e}")),
            };
            stores.insert(KAFKA_STORE.to_owned(), status);
        }
        stores
    }
}

const KAFKA_SINK: &str = crate::sinks::kafka::SINK_NAME;
const ROLLUP_SINK: &str = crate::rollup::SINK_NAME;

/// Makes erasure record ids unique within this process (with the time, across restarts).
static ERASURES: AtomicU64 = AtomicU64::new(0);

/// Spools one erasure record per journey; returns the sequence number every sink must reach
/// to have taken them.
async fn spool_erasures(spool: &Spool, request: &OriginErasure) -> Result<u64, SpoolError> {
    let now = chrono::Utc::now().timestamp_millis();
    let nonce = ERASURES.fetch_add(1, Ordering::Relaxed);
    let mut batch =
        EncodedBatch::with_capacity(request.journeys.len() * 160, request.journeys.len());
    for (index, journey) in request.journeys.iter().enumerate() {
        // The id names no person: the tombstone carries it (header `attrib-id`).
        let id = format!("erasure:{}:{now}-{nonce}:{index}", request.app_id);
        batch.push_erasure(&id, &request.app_id, journey, now);
    }
    // The segment holding the person's records closes here, so it is deleted once every sink
    // has taken it (and these erasures), not when it fills up.
    spool.append_then_roll(batch).await?;
    Ok(spool.stats().next_seq)
}

/// Waits until `sink`'s cursor reaches `target`; false if it did not within `wait`.
async fn caught_up(spool: &Spool, sink: &str, target: u64, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        if spool
            .stats()
            .cursors
            .get(sink)
            .is_some_and(|c| *c >= target)
        {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every sink's cursor has passed what the spool held when called; false if it
/// did not within `wait`.
pub async fn drained(spool: &Spool, wait: Duration) -> bool {
    let target = spool.stats().next_seq;
    let deadline = Instant::now() + wait;
    loop {
        if spool.stats().cursors.values().all(|c| *c >= target) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
