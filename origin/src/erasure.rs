//! The origin's half of an erasure regulation (issue 12): the journeys the edge erased lose
//! their rows in each store the origin has.
//!
//! Order: the edge erases the journeys first (their outbox rows go with them, and the
//! tombstone keeps new records from being made), then asks the origin. The origin first waits
//! until every sink has delivered what was spooled before the request ([`drained`]): otherwise
//! a record still in the spool would be inserted after the delete and bring the person back.
//! Each store answers for itself ([`StoreStatus`]); every step is idempotent, so a failed store
//! is finished by sending the regulation again.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use attrib_core::privacy::erasure::{OriginErasure, StoreStatus};

use crate::sinks::clickhouse::{ClickHouseConfig, ClickHouseSink};
use crate::spool::Spool;

/// How long an erasure waits for the sinks to deliver what was spooled before it.
pub const DRAIN_WAIT: Duration = Duration::from_secs(10);

pub const EMBEDDED_STORE: &str = "origin_embedded";
pub const CLICKHOUSE_STORE: &str = "origin_clickhouse";
pub const KAFKA_STORE: &str = "origin_kafka";

/// The stores an erasure reaches, as the origin is configured.
#[derive(Clone, Default)]
pub struct Eraser {
    pub embedded: Option<PathBuf>,
    pub clickhouse: Option<ClickHouseConfig>,
    /// Kafka is configured: its erasure is not implemented yet (reported failed).
    pub kafka: bool,
}

impl Eraser {
    pub async fn erase(&self, request: &OriginErasure) -> BTreeMap<String, StoreStatus> {
        let mut stores = BTreeMap::new();
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
        if self.kafka {
            stores.insert(
                KAFKA_STORE.to_owned(),
                StoreStatus::failed(
                    "Kafka erasure is not available yet: the topics keep the person's records \
                     until their retention",
                ),
            );
        }
        stores
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
