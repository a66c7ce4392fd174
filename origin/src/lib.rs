//! The origin service, as a library: the binary (`main.rs`) and the integration tests and
//! benches start it the same way, with [`start`].
//!
//! Data path: `http` authenticates and validates outbox batches and appends them to the
//! `spool` (acknowledged only once fsync'd); one `delivery` loop per sink (`sinks::*` and the
//! `rollup` consumer) reads the spool from its own cursor and delivers; the spool is trimmed
//! once every sink has a segment. `config` reads TOML and the environment; `metrics` renders
//! `/metrics`.

pub mod config;
pub mod contract;
pub mod dead_letters;
pub mod delivery;
pub mod erased_journeys;
pub mod erasure;
pub mod http;
pub mod limits;
pub mod local_db;
pub mod metrics;
pub mod retention;
pub mod retention_source;
pub mod rollup;
pub mod sinks;
pub mod spool;
pub mod testkit;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

pub use config::Config;
use metrics::Metrics;
use rollup::facts::FactStore;
use rollup::pusher::Pusher;
use rollup::targets::Target;
use sinks::clickhouse::ClickHouseSink;
use sinks::embedded::{EmbeddedMode, EmbeddedSink};
use sinks::kafka::KafkaSink;
use spool::Spool;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Spool(#[from] spool::SpoolError),
    #[error(transparent)]
    Kafka(#[from] sinks::kafka::KafkaError),
    #[error(transparent)]
    ClickHouse(#[from] sinks::clickhouse::ClickHouseError),
    #[error(transparent)]
    Embedded(#[from] sinks::embedded::EmbeddedError),
    #[error(transparent)]
    Rollup(#[from] rollup::RollupError),
    #[error(transparent)]
    RetentionSource(#[from] retention_source::RetentionSourceError),
    #[error(transparent)]
    DeadLetters(#[from] dead_letters::DeadLetterError),
    #[error(transparent)]
    ErasedJourneys(#[from] erased_journeys::ErasedJourneysError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A running origin. Dropping it does not stop it: call [`RunningOrigin::shutdown`].
pub struct RunningOrigin {
    pub addr: SocketAddr,
    pub metrics: Arc<Metrics>,
    spool: Spool,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    workers: JoinSet<()>,
    grace: std::time::Duration,
}

/// Opens the spool and the sinks, binds the listener and starts every task.
pub async fn start(config: Config) -> Result<RunningOrigin, StartError> {
    let metrics = Arc::new(Metrics::default());
    let spool = Spool::open(&config.spool, &config.sink_names())?;
    let (stop, stop_rx) = watch::channel(false);
    let mut workers = JoinSet::new();
    let dead = dead_letters::DeadLetters::open(
        &config.data_dir.join("dead-letters"),
        &config.sink_names(),
    )?;

    let facts = Arc::new(FactStore::open(&config.rollups.facts_path).await?);
    let wake = Arc::new(Notify::new());
    let mut targets = Vec::new();
    if let Some(url) = &config.rollups.query_worker_url {
        targets.push(Target::query_worker(url, &config.rollup_keys)?);
    }
    if let Some(turso) = &config.rollups.turso {
        targets.push(Target::turso(turso).await?);
    }
    if config.embedded.mode == EmbeddedMode::On {
        targets.push(Target::embedded(&config.embedded.path).await?);
        let sink = EmbeddedSink::open(&config.embedded.path).await?;
        spawn_sink(&mut workers, sink, &spool, &metrics, &dead, &stop_rx);
    }
    let pusher = Pusher {
        facts: facts.clone(),
        targets,
        debounce: config.rollups.debounce,
        max_days_per_push: config.rollups.max_days_per_push,
        wake: wake.clone(),
        metrics: metrics.clone(),
        region: config.rollups.region.clone(),
    };
    workers.spawn(pusher.run(stop_rx.clone()));
    spawn_sink(
        &mut workers,
        rollup::RollupSink::new(facts, wake),
        &spool,
        &metrics,
        &dead,
        &stop_rx,
    );
    // One secret keys the journeys' Kafka keys and the erased-journeys registry's hashes.
    let key_secret = sinks::kafka::keys::secret(
        config.kafka.as_ref().and_then(|k| k.key_secret.as_deref()),
        &config.data_dir,
    )
    .map_err(sinks::kafka::KafkaError::KeySecret)?;
    let erased = erased_journeys::ErasedJourneys::open(
        &config.data_dir.join(erased_journeys::ERASED_JOURNEYS_FILE),
        key_secret.clone(),
        spool::now_ms(),
    )
    .await?;
    if let Some(kafka) = config.kafka.clone() {
        spawn_sink(
            &mut workers,
            KafkaSink::new(kafka, key_secret)?,
            &spool,
            &metrics,
            &dead,
            &stop_rx,
        );
    }
    if let Some(clickhouse) = config.clickhouse.clone() {
        let sink = ClickHouseSink::new(clickhouse)?;
        spawn_sink(&mut workers, sink, &spool, &metrics, &dead, &stop_rx);
    }
    let retention_clickhouse = match config.clickhouse.clone() {
        Some(clickhouse) => Some(ClickHouseSink::new(clickhouse)?),
        None => None,
    };
    let retention_embedded =
        (config.embedded.mode == EmbeddedMode::On).then(|| config.embedded.path.clone());
    let retention_worker = match &config.rollups.query_worker_url {
        Some(url) => Some(retention_source::WorkerRetention::new(
            url,
            &config.rollup_keys,
        )?),
        None => None,
    };
    workers.spawn(retention::run(
        config.retention,
        retention_worker,
        retention_clickhouse,
        retention_embedded,
        stop_rx.clone(),
    ));

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen {
        addr: config.listen,
        source,
    })?;
    let app = http::router(http::AppState {
        spool: spool.clone(),
        outbox_keys: Arc::new(config.outbox_keys.clone()),
        metrics: metrics.clone(),
        in_flight: Arc::new(tokio::sync::Semaphore::new(config.intake.max_in_flight)),
        dead_letters: dead.clone(),
        admin_token: config.admin_token.clone().map(Arc::new),
        request_timeout: config.intake.request_timeout,
        erased,
        eraser: Arc::new(erasure::Eraser {
            embedded: (config.embedded.mode == EmbeddedMode::On)
                .then(|| config.embedded.path.clone()),
            clickhouse: config.clickhouse.clone(),
            kafka: config.kafka.is_some(),
        }),
    });
    let server = tokio::spawn(http::serve(
        listener,
        app,
        config.intake.header_timeout,
        config.intake.max_connections,
        stop_rx.clone(),
    ));
    tracing::info!(%addr, sinks = ?config.sink_names(), "origin listening");
    Ok(RunningOrigin {
        addr,
        metrics,
        spool,
        stop,
        server,
        workers,
        grace: config.shutdown_grace,
    })
}

fn spawn_sink<S: sinks::Sink>(
    workers: &mut JoinSet<()>,
    sink: S,
    spool: &Spool,
    metrics: &Metrics,
    dead: &dead_letters::DeadLetters,
    stop: &watch::Receiver<bool>,
) {
    let sink_metrics = metrics.sink(sink.name());
    workers.spawn(delivery::run_sink(
        sink,
        spool.clone(),
        sink_metrics,
        dead.clone(),
        stop.clone(),
    ));
}

impl RunningOrigin {
    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// Stops accepting connections, lets in-flight requests and every sink's current batch
    /// finish (up to the grace period), then closes the spool.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        let _ = self.server.await;
        let drained = tokio::time::timeout(self.grace, async {
            while self.workers.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(grace = ?self.grace, "sinks still busy after the grace period; aborting them (their batches are redelivered on restart)");
            self.workers.abort_all();
        }
        self.spool.close();
        tracing::info!("origin stopped");
    }
}
