//! The origin against the real ClickHouse (Debian's 18.16) and a real Kafka-protocol broker
//! (tansu), started by scripts/test-origin.sh, which sets ATTRIB_IT_CLICKHOUSE_URL and
//! ATTRIB_IT_KAFKA_BROKERS. These tests stop and start the shared services, so the script
//! runs them one at a time (`--test-threads=1`). Without the services they FAIL.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use attrib_core::outbox::{OutboxBatch, OutboxRecord};
use attrib_origin::testkit::{journey_batch, with_null_path};
use common::stores::{clickhouse_counts, clickhouse_rollups, expected_rollups, kafka_id_counts};
use common::*;

const START_MS: i64 = 1_714_521_600_000; // 2024-05-01T00:00:00Z
const DRAIN: Duration = Duration::from_secs(90);

struct Services {
    clickhouse_url: String,
    database: String,
    brokers: String,
    topics: Vec<String>,
}

impl Services {
    fn from_env(name: &str) -> Services {
        let prefix = unique(name);
        Services {
            clickhouse_url: require_env("ATTRIB_IT_CLICKHOUSE_URL"),
            database: prefix.clone(),
            brokers: require_env("ATTRIB_IT_KAFKA_BROKERS"),
            topics: vec![
                format!("{prefix}.events"),
                format!("{prefix}.attributions"),
                format!("{prefix}.null_paths"),
            ],
        }
    }

    fn origin_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CLICKHOUSE_URL", self.clickhouse_url.clone()),
            ("CLICKHOUSE_DATABASE", self.database.clone()),
            ("CLICKHOUSE_BATCH_WAIT_MS", "300".into()),
            ("KAFKA_BROKERS", self.brokers.clone()),
            ("KAFKA_EVENTS_TOPIC", self.topics[0].clone()),
            ("KAFKA_ATTRIBUTIONS_TOPIC", self.topics[1].clone()),
            ("KAFKA_MERGES_TOPIC", format!("{}.merges", self.database)),
            ("KAFKA_NULL_PATHS_TOPIC", self.topics[2].clone()),
        ]
    }

    async fn wait_for_clickhouse(&self, want: u64) {
        let (url, db) = (self.clickhouse_url.clone(), self.database.clone());
        eventually(DRAIN, &format!("{want} records in ClickHouse"), || {
            let (url, db) = (url.clone(), db.clone());
            async move {
                clickhouse_counts(&url, &db)
                    .await
                    .is_some_and(|(n, _)| n >= want)
            }
        })
        .await;
        let (rows, distinct) = clickhouse_counts(&self.clickhouse_url, &self.database)
            .await
            .expect("counts");
        assert_eq!(
            (rows, distinct),
            (want, want),
            "each record once in ClickHouse"
        );
    }

    async fn kafka_counts(&self) -> HashMap<String, usize> {
        let (brokers, topics) = (self.brokers.clone(), self.topics.clone());
        tokio::task::spawn_blocking(move || kafka_id_counts(&brokers, &topics))
            .await
            .expect("reader")
    }

    async fn wait_for_kafka(&self, ids: &[String]) {
        let deadline = std::time::Instant::now() + DRAIN;
        loop {
            let counts = self.kafka_counts().await;
            if ids.iter().all(|id| counts.contains_key(id)) {
                let dupes: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
                assert!(dupes.is_empty(), "duplicates in Kafka: {dupes:?}");
                assert_eq!(
                    counts.len(),
                    ids.len(),
                    "only the records sent are in Kafka"
                );
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "Kafka has {} of {} records after {DRAIN:?}",
                ids.iter().filter(|id| counts.contains_key(*id)).count(),
                ids.len()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Stops a shared service, and starts it again when dropped, even if the test fails.
struct Outage(&'static str);

impl Outage {
    fn begin(name: &'static str) -> Outage {
        service(name, "stop");
        Outage(name)
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        service(self.0, "start");
    }
}

/// Every other user converts; the others end in a null path.
fn batches(tag: &str, users: usize) -> Vec<OutboxBatch> {
    (0..users)
        .map(|u| {
            with_null_path(journey_batch(
                "app",
                &format!("{tag}{u}"),
                tag,
                3,
                u % 2 == 0,
                START_MS,
            ))
        })
        .collect()
}

async fn send_all(client: &reqwest::Client, origin: &Origin, batches: &[OutboxBatch]) {
    for batch in batches {
        let (status, body) = send_batch(client, origin, batch).await;
        assert_eq!(status, 200, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_once_in_clickhouse_and_kafka() {
    let services = Services::from_env("once");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(dir.path(), &services.origin_env());
    origin.start().await;
    let client = reqwest::Client::new();
    let sent = batches("once", 60);
    send_all(&client, &origin, &sent).await;
    send_all(&client, &origin, &sent).await; // the Durable Objects' retries
    let ids = ids_of(&sent);
    services.wait_for_clickhouse(ids.len() as u64).await;
    services.wait_for_kafka(&ids).await;

    let rollup = common::stores::clickhouse_query(
        &services.clickhouse_url,
        &format!(
            "SELECT sum(touches) FROM {}.daily_touches",
            services.database
        ),
    )
    .await
    .expect("rollup view");
    assert_eq!(
        rollup.trim(),
        (60 * 3).to_string(),
        "materialized touches per day"
    );
    let nulls = common::stores::clickhouse_query(
        &services.clickhouse_url,
        &format!(
            "SELECT count(), uniqExact(id) FROM {}.null_paths FINAL WHERE journey != '' \
             FORMAT TabSeparated",
            services.database
        ),
    )
    .await
    .expect("null paths table");
    assert_eq!(nulls.trim(), "30\t30", "one row per null path");
    origin.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_loses_nothing_and_duplicates_nothing() {
    let services = Services::from_env("kill");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(dir.path(), &services.origin_env());
    origin.start().await;
    let client = reqwest::Client::new();
    let sent = batches("kill", 600);

    let url = origin.url(attrib_core::outbox::OUTBOX_PATH);
    // The kill waits for the stream's progress, not for a fixed time: on a quiet machine all
    // 600 batches were acknowledged within the 1.5 s the test used to sleep.
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stream = {
        let (client, sent, progress) = (client.clone(), sent.clone(), progress.clone());
        tokio::spawn(async move {
            let mut acknowledged = 0;
            for batch in &sent {
                let body = serde_json::to_vec(batch).expect("json");
                let sig = attrib_origin::testkit::signature(SECRET.as_bytes(), &body);
                let ok = client
                    .post(&url)
                    .header(attrib_core::outbox::SIGNATURE_HEADER, sig)
                    .body(body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if !ok {
                    break;
                }
                acknowledged += 1;
                progress.store(acknowledged, std::sync::atomic::Ordering::Relaxed);
            }
            acknowledged
        })
    };
    while progress.load(std::sync::atomic::Ordering::Relaxed) < 30 && !stream.is_finished() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    origin.kill9();
    let acknowledged = stream.await.expect("stream");
    assert!(
        acknowledged > 0 && acknowledged < sent.len(),
        "the kill landed mid-stream ({acknowledged} of {} acknowledged)",
        sent.len()
    );

    // Restart; the Durable Objects resend what was not acknowledged. Resending everything
    // also proves the acknowledged part is not stored twice.
    origin.start().await;
    send_all(&client, &origin, &sent).await;
    let ids = ids_of(&sent);
    services.wait_for_clickhouse(ids.len() as u64).await;
    services.wait_for_kafka(&ids).await;
    origin.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_outage_backlog_drains_without_blocking_kafka() {
    let services = Services::from_env("chdown");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(dir.path(), &services.origin_env());
    origin.start().await;
    let client = reqwest::Client::new();
    let first = batches("chdown-a", 10);
    send_all(&client, &origin, &first).await;
    services
        .wait_for_clickhouse(ids_of(&first).len() as u64)
        .await;

    let outage = Outage::begin("clickhouse");
    let during = batches("chdown-b", 40);
    send_all(&client, &origin, &during).await;
    let all: Vec<_> = first.iter().chain(&during).cloned().collect();
    let ids = ids_of(&all);
    services.wait_for_kafka(&ids).await; // Kafka is not held back by ClickHouse
    tokio::time::sleep(Duration::from_secs(2)).await;
    let metrics = origin.metrics().await;
    assert!(
        !metrics.contains("origin_sink_lag_entries{sink=\"clickhouse\"} 0"),
        "ClickHouse is behind while down:\n{metrics}"
    );
    drop(outage);
    services.wait_for_clickhouse(ids.len() as u64).await;
    origin.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_outage_backlog_drains() {
    let services = Services::from_env("kdown");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(dir.path(), &services.origin_env());
    origin.start().await;
    let client = reqwest::Client::new();
    let first = batches("kdown-a", 10);
    send_all(&client, &origin, &first).await;
    services.wait_for_kafka(&ids_of(&first)).await;

    let outage = Outage::begin("tansu");
    let during = batches("kdown-b", 40);
    send_all(&client, &origin, &during).await;
    let all: Vec<_> = first.iter().chain(&during).cloned().collect();
    services
        .wait_for_clickhouse(ids_of(&all).len() as u64)
        .await; // not held back
    drop(outage);
    services.wait_for_kafka(&ids_of(&all)).await;
    origin.terminate();
}

/// Revision 2 of every attribution in `batch`: each model now credits only its last touch.
fn revision_two(batch: &OutboxBatch) -> OutboxBatch {
    let mut records = Vec::new();
    for record in &batch.records {
        if let OutboxRecord::Attribution(a) = record {
            let mut a = a.clone();
            a.result.revision = 2;
            let revenue = a.result.conversion.revenue;
            for model in &mut a.result.models {
                if let Some(mut last) = model.credits.pop() {
                    last.credit = 1.0;
                    last.value = revenue;
                    model.credits = vec![last];
                }
            }
            records.push(OutboxRecord::Attribution(a));
        }
    }
    OutboxBatch {
        journey: batch.journey.clone(),
        region: batch.region,
        records,
    }
}

async fn wait_until_caught_up(origin: &Origin, sink: &str) {
    let needle = format!("origin_sink_lag_entries{{sink=\"{sink}\"}} 0");
    eventually(DRAIN, &format!("{sink} caught up"), || async {
        origin.metrics().await.contains(&needle)
    })
    .await;
}

async fn assert_rollups_exact(services: &Services, sent: &[OutboxBatch]) {
    let (touches, attribution) = clickhouse_rollups(&services.clickhouse_url, &services.database)
        .await
        .expect("rollups readable");
    let (want_touches, want_attribution) = expected_rollups(sent);
    assert_eq!(
        touches, want_touches,
        "daily_touches = core::rollup::daily_stats"
    );
    assert_eq!(
        attribution.keys().collect::<Vec<_>>(),
        want_attribution.keys().collect::<Vec<_>>(),
        "daily_attribution rows = core::rollup::daily_stats rows"
    );
    for (key, want) in &want_attribution {
        let got = attribution[key];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{key:?}: {got:?} != {want:?}");
        }
    }
}

/// The crash window between ClickHouse's ack and the cursor commit, made deterministic:
/// the cursor is moved back over batches ClickHouse already has, so the origin sends them
/// again on start. The rollups must not change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_rollups_stay_exact_when_a_batch_is_redelivered() {
    let services = Services::from_env("redeliver");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(dir.path(), &services.origin_env());
    origin.start().await;
    let client = reqwest::Client::new();
    let sent = batches("redeliver", 20);
    send_all(&client, &origin, &sent).await;
    services
        .wait_for_clickhouse(ids_of(&sent).len() as u64)
        .await;
    wait_until_caught_up(&origin, "clickhouse").await;
    assert_rollups_exact(&services, &sent).await;
    origin.terminate();

    let cursor = dir.path().join("spool/cursors/clickhouse.pos");
    assert!(cursor.exists(), "{}", cursor.display());
    std::fs::write(&cursor, "1").expect("cursor rewound");
    origin.start().await;
    wait_until_caught_up(&origin, "clickhouse").await;
    let metrics = origin.metrics().await;
    assert!(
        !metrics.contains("origin_sink_delivered_records_total{sink=\"clickhouse\"} 0"),
        "the rewound batches were delivered again:\n{metrics}"
    );
    services
        .wait_for_clickhouse(ids_of(&sent).len() as u64)
        .await;
    assert_rollups_exact(&services, &sent).await;
    origin.terminate();
}

/// A conversion re-attributed: only its latest revision counts in the ClickHouse rollups.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_rollups_count_the_latest_revision_only() {
    let services = Services::from_env("revision");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(dir.path(), &services.origin_env());
    origin.start().await;
    let client = reqwest::Client::new();
    let mut sent = batches("revision", 10);
    send_all(&client, &origin, &sent).await;
    services
        .wait_for_clickhouse(ids_of(&sent).len() as u64)
        .await;
    let second: Vec<OutboxBatch> = sent
        .iter()
        .map(revision_two)
        .filter(|b| !b.records.is_empty())
        .collect();
    assert!(!second.is_empty());
    send_all(&client, &origin, &second).await;
    sent.extend(second);
    services
        .wait_for_clickhouse(ids_of(&sent).len() as u64)
        .await;
    wait_until_caught_up(&origin, "clickhouse").await;
    assert_rollups_exact(&services, &sent).await;
    origin.terminate();
}

/// Issue 13, finding 1: two apps that send the same messageId (and conversion id) both keep
/// every record in ClickHouse and Kafka, and both apps' rollups count them. Before record ids
/// carried the app, the second app's records were dropped as duplicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_tenant_same_message_id_both_apps_survive_in_clickhouse_and_kafka() {
    let services = Services::from_env("tenants");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(dir.path(), &services.origin_env());
    origin.start().await;
    let client = reqwest::Client::new();
    let first = batches("tenants", 10);
    let second: Vec<OutboxBatch> = first.iter().map(|b| same_ids_for_app(b, "app-b")).collect();
    let sent: Vec<OutboxBatch> = first.iter().chain(&second).cloned().collect();
    for batch in &sent {
        let (status, body) = send_batch(&client, &origin, batch).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["duplicates"], 0, "{body}");
    }
    let ids = ids_of(&sent);
    services.wait_for_clickhouse(ids.len() as u64).await;
    services.wait_for_kafka(&ids).await;
    wait_until_caught_up(&origin, "clickhouse").await;
    assert_rollups_exact(&services, &sent).await;
    origin.terminate();
}

/// Issue 13, finding 7 (origin side): a record Kafka refuses for good (here: larger than the
/// producer's `message.max.bytes`, set through `KAFKA_PROPERTIES`) used to be retried forever,
/// holding every record behind it. Now it is a dead letter: the rest reaches Kafka, ClickHouse
/// has everything, the admin API lists it, and a replay after the limit is raised delivers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_permanent_refusal_is_dead_lettered_and_replayable() {
    let services = Services::from_env("dead");
    let dir = tempfile::tempdir().expect("tempdir");
    let token = "dead-letter-admin-token-0123";
    let env = |max_bytes: &str| {
        let mut env = services.origin_env();
        env.push(("KAFKA_PROPERTIES", format!("message.max.bytes={max_bytes}")));
        env.push(("ATTRIB_ORIGIN_ADMIN_TOKEN", token.to_owned()));
        env
    };
    let mut origin = Origin::new(dir.path(), &env("20000"));
    origin.start().await;
    let client = reqwest::Client::new();
    let mut sent = batches("dead", 6);
    // One event far larger than 20,000 bytes.
    if let OutboxRecord::Event(e) = &mut sent[2].records[0] {
        e.event
            .properties
            .insert("blob".into(), "x".repeat(60_000).into());
    }
    let big_id = sent[2].records[0].id();
    send_all(&client, &origin, &sent).await;
    let ids = ids_of(&sent);
    services.wait_for_clickhouse(ids.len() as u64).await;
    let small: Vec<String> = ids.iter().filter(|id| **id != big_id).cloned().collect();
    services.wait_for_kafka(&small).await;
    wait_until_caught_up(&origin, "kafka").await;

    let listed = |origin: &Origin| {
        let (client, url) = (client.clone(), origin.url("/admin/dead-letters?sink=kafka"));
        async move {
            let response = client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("answer");
            assert_eq!(response.status(), 200);
            let body: serde_json::Value =
                serde_json::from_slice(&response.bytes().await.expect("body")).expect("json");
            body["dead_letters"].as_array().cloned().unwrap_or_default()
        }
    };
    let letters = listed(&origin).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["id"], big_id.as_str());
    assert!(
        letters[0]["reason"]
            .as_str()
            .unwrap_or("")
            .to_lowercase()
            .contains("too large"),
        "{letters:?}"
    );
    let unauthorized = client
        .get(origin.url("/admin/dead-letters"))
        .send()
        .await
        .expect("answer");
    assert_eq!(unauthorized.status(), 401);
    assert!(origin
        .metrics()
        .await
        .contains("origin_sink_dead_lettered_total{sink=\"kafka\"} 1"));

    // The limit raised, the operator replays it.
    origin.terminate();
    let mut origin = Origin::new(dir.path(), &env("1000000"));
    origin.start().await;
    let replay = client
        .post(origin.url("/admin/dead-letters/replay"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(serde_json::json!({"sink": "kafka"}).to_string())
        .send()
        .await
        .expect("answer");
    assert_eq!(replay.status(), 200);
    services.wait_for_kafka(&ids).await;
    assert!(listed(&origin).await.is_empty());
    origin.terminate();
}

/// A tansu broker of this test's own that requires SASL/SCRAM (`--authentication`), with one
/// user; killed when dropped. tansu 0.6 refuses user management once authentication is on, so
/// the user is created first on the same storage without it.
struct AuthBroker {
    child: std::process::Child,
    brokers: String,
    _dir: tempfile::TempDir,
}

impl AuthBroker {
    fn start(user: &str, password: &str) -> AuthBroker {
        let bin = require_env("ATTRIB_IT_TANSU_BIN");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let spawn = |extra: &[&str]| {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.path().join("broker.log"))
                .expect("log");
            std::process::Command::new(&bin)
                .current_dir(dir.path())
                .env("RUST_LOG", "warn")
                .args(["broker", "--cluster-id", "attrib-sasl"])
                .args(["--listener-url", &url, "--advertised-listener-url", &url])
                .args(["--storage-engine", "sqlite://tansu.db"])
                .args(extra)
                .stdout(std::process::Stdio::from(log.try_clone().expect("log")))
                .stderr(std::process::Stdio::from(log))
                .spawn()
                .expect("tansu starts")
        };
        let wait_listening = || {
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "tansu did not listen on {port}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        };
        let mut open = spawn(&[]);
        wait_listening();
        let created = std::process::Command::new(&bin)
            .args([
                "user",
                "create",
                "--broker",
                &url,
                "--mechanism",
                "scram512",
            ])
            .args([user, password])
            .status()
            .expect("tansu user create runs");
        let _ = open.kill();
        let _ = open.wait();
        assert!(created.success(), "tansu user create failed");
        let child = spawn(&["--authentication"]);
        wait_listening();
        AuthBroker {
            child,
            brokers: format!("127.0.0.1:{port}"),
            _dir: dir,
        }
    }
}

impl Drop for AuthBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Issue 13, finding 8 "Kafka has no TLS/SASL settings": against a real broker that requires
/// SASL/SCRAM-SHA-512, the origin with the named settings delivers every record once (read
/// back by an authenticated consumer); with a wrong password nothing is delivered (so the
/// broker really checks) and the password is not in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_sasl_scram_against_a_broker_that_requires_it() {
    const PASSWORD: &str = "scram-pw-5d1e";
    let broker = AuthBroker::start("attrib-origin", PASSWORD);
    let prefix = unique("sasl");
    let topics = vec![
        format!("{prefix}.events"),
        format!("{prefix}.attributions"),
        format!("{prefix}.null_paths"),
    ];
    let env = |password: &str| {
        vec![
            ("KAFKA_BROKERS", broker.brokers.clone()),
            ("KAFKA_EVENTS_TOPIC", topics[0].clone()),
            ("KAFKA_ATTRIBUTIONS_TOPIC", topics[1].clone()),
            ("KAFKA_MERGES_TOPIC", format!("{prefix}.merges")),
            ("KAFKA_NULL_PATHS_TOPIC", topics[2].clone()),
            ("KAFKA_SECURITY_PROTOCOL", "sasl_plaintext".into()),
            ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512".into()),
            ("KAFKA_SASL_USERNAME", "attrib-origin".into()),
            ("KAFKA_SASL_PASSWORD", password.to_owned()),
            ("ATTRIB_ORIGIN_SHUTDOWN_GRACE_MS", "1000".into()),
        ]
    };
    let client = reqwest::Client::new();

    // A wrong password: the broker refuses the origin, nothing reaches Kafka.
    let wrong = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(wrong.path(), &env("not-the-password"));
    origin.start().await;
    let refused = batches("sasl-refused", 2);
    send_all(&client, &origin, &refused).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let lag = origin.metrics().await;
    assert!(
        !lag.contains("origin_sink_lag_entries{sink=\"kafka\"} 0"),
        "delivered without valid credentials:\n{lag}"
    );
    origin.terminate();
    assert!(
        !origin.log().contains("not-the-password"),
        "the password is in the log"
    );

    let right = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(right.path(), &env(PASSWORD));
    origin.start().await;
    let sent = batches("sasl", 20);
    send_all(&client, &origin, &sent).await;
    wait_until_caught_up(&origin, "kafka").await;
    let brokers = broker.brokers.clone();
    let read_topics = topics.clone();
    let counts = tokio::task::spawn_blocking(move || {
        common::stores::kafka_id_counts_with(
            &brokers,
            &read_topics,
            &[
                ("security.protocol", "sasl_plaintext"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.username", "attrib-origin"),
                ("sasl.password", PASSWORD),
            ],
        )
    })
    .await
    .expect("reader");
    let ids = ids_of(&sent);
    assert_eq!(counts.len(), ids.len(), "every record in Kafka");
    assert!(counts.values().all(|n| *n == 1), "each once: {counts:?}");
    origin.terminate();
    assert!(
        !origin.log().contains(PASSWORD),
        "the password is in the log"
    );
}

/// Issue 12, erasure: `POST /v1/erase` removes one user's rows from ClickHouse (mutations on
/// 18.16), keeps everyone else's and the materialized touch counts (anonymous aggregates), and
/// is harmless when sent twice. Needs only ClickHouse (no Kafka: the origin then has none).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_deletes_a_persons_rows_in_clickhouse_and_keeps_the_counts() {
    use attrib_core::privacy::erasure::ORIGIN_ERASE_PATH;
    use attrib_core::signing::{Direction, Keyring};

    let clickhouse_url = require_env("ATTRIB_IT_CLICKHOUSE_URL");
    let database = unique("erase");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(
        dir.path(),
        &[
            ("CLICKHOUSE_URL", clickhouse_url.clone()),
            ("CLICKHOUSE_DATABASE", database.clone()),
            ("CLICKHOUSE_BATCH_WAIT_MS", "300".into()),
        ],
    );
    origin.start().await;
    let client = reqwest::Client::new();
    let sent = batches("er", 4);
    send_all(&client, &origin, &sent).await;
    let ids = ids_of(&sent);
    let services = Services {
        clickhouse_url: clickhouse_url.clone(),
        database: database.clone(),
        brokers: String::new(),
        topics: Vec::new(),
    };
    services.wait_for_clickhouse(ids.len() as u64).await;
    let query = |q: String| {
        let url = clickhouse_url.clone();
        async move {
            common::stores::clickhouse_query(&url, &q)
                .await
                .expect("query")
                .trim()
                .to_owned()
        }
    };
    let rows_of = |journey: &str| {
        format!(
            "SELECT (SELECT count() FROM {database}.events WHERE journey = '{journey}') + \
             (SELECT count() FROM {database}.attributions WHERE journey = '{journey}') + \
             (SELECT count() FROM {database}.null_paths WHERE journey = '{journey}')"
        )
    };
    let touches = format!("SELECT sum(touches) FROM {database}.daily_touches");
    let (gone, kept) = ("u:app:er0", "u:app:er1");
    assert!(query(rows_of(gone)).await.parse::<u64>().expect("count") >= 4);
    let touches_before = query(touches.clone()).await;

    let erase = |journeys: Vec<&str>| {
        let body = serde_json::to_vec(&serde_json::json!({"app_id": "app", "journeys": journeys}))
            .expect("json");
        let signature = Keyring::derived(Direction::Outbox, SECRET.as_bytes()).sign(
            chrono::Utc::now().timestamp(),
            "POST",
            ORIGIN_ERASE_PATH,
            &body,
        );
        client
            .post(origin.url(ORIGIN_ERASE_PATH))
            .header("content-type", "application/json")
            .header(attrib_core::outbox::SIGNATURE_HEADER, signature)
            .body(body)
            .send()
    };
    for attempt in 0..2 {
        let response = erase(vec![gone]).await.expect("erase");
        assert_eq!(response.status().as_u16(), 200, "attempt {attempt}");
        let reply: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.expect("body")).expect("json");
        assert_eq!(
            reply["stores"],
            serde_json::json!({
                "origin_clickhouse": {"status": "done"},
                "origin_dead_letters": {"status": "done"},
                "origin_rollup_facts": {"status": "done"},
            }),
            "attempt {attempt}"
        );
        assert_eq!(query(rows_of(gone)).await, "0", "attempt {attempt}");
    }
    assert!(query(rows_of(kept)).await.parse::<u64>().expect("count") >= 4);
    assert_eq!(
        query(touches).await,
        touches_before,
        "the touch counts are kept"
    );
    origin.terminate();
}

/// Issue 12, Kafka erasure and keys (items 2 and 7): the message keys are the journeys' keyed
/// hashes (no user id in any key; one person on one partition); `POST /v1/erase` writes, in
/// spool order, a tombstone (no value, kind `erasure`, a spool position, an id naming nobody)
/// at the person's key on every journey topic, after all of their records on that partition;
/// the regulation's Kafka status is done; sent twice it writes the tombstones again, and a
/// restart (recovery reads the tombstones' positions) duplicates nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_writes_a_tombstone_at_the_persons_key_on_every_journey_topic() {
    const KEY_SECRET: &str = "kafka-key-secret-of-the-tests";
    let mut services = Services::from_env("kerase");
    let mut env: Vec<(&'static str, String)> = services
        .origin_env()
        .into_iter()
        .filter(|(k, _)| k.starts_with("KAFKA"))
        .collect();
    env.push(("KAFKA_KEY_SECRET", KEY_SECRET.into()));
    services
        .topics
        .push(format!("{}.merges", services.database));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(dir.path(), &env);
    origin.start().await;
    let client = reqwest::Client::new();
    let sent = batches("ke", 3);
    send_all(&client, &origin, &sent).await;
    services.wait_for_kafka(&ids_of(&sent)).await;

    let key_of = |journey: &str| {
        format!(
            "app:{}",
            attrib_core::mobile::device::keyed_hash(
                KEY_SECRET.as_bytes(),
                "app",
                "journey",
                journey
            )
        )
    };
    let (gone, kept) = ("u:app:ke0", "u:app:ke1");
    for attempt in 0..2 {
        let (status, reply) = erase_journeys(&client, &origin, "app", &[gone]).await;
        assert_eq!(status, 200, "attempt {attempt}: {reply}");
        assert_eq!(
            reply["stores"],
            serde_json::json!({
                "origin_dead_letters": {"status": "done"},
                "origin_kafka": {"status": "done"},
                "origin_rollup_facts": {"status": "done"},
            }),
            "attempt {attempt}"
        );
    }
    let read = || {
        let (brokers, topics) = (services.brokers.clone(), services.topics.clone());
        tokio::task::spawn_blocking(move || common::stores::kafka_messages(&brokers, &topics))
    };
    let messages = read().await.expect("reader");
    for m in &messages {
        let key = m.key.as_deref().expect("every message has a key");
        assert!(
            key.starts_with("app:") && !key.contains("u:app") && !key.contains("ke"),
            "a raw id in the key {key:?}"
        );
    }
    let tombstones: Vec<_> = messages.iter().filter(|m| m.payload.is_none()).collect();
    assert_eq!(
        tombstones.len(),
        2 * services.topics.len(),
        "one tombstone per journey topic per erasure: {tombstones:?}"
    );
    for topic in &services.topics {
        let of_person: Vec<_> = messages
            .iter()
            .filter(|m| &m.topic == topic && m.key.as_deref() == Some(&key_of(gone)))
            .collect();
        let partitions: std::collections::BTreeSet<i32> =
            of_person.iter().map(|m| m.partition).collect();
        assert_eq!(partitions.len(), 1, "one partition per person on {topic}");
        let (records, stones): (Vec<&common::stores::KafkaMessage>, Vec<_>) =
            of_person.iter().copied().partition(|m| m.payload.is_some());
        assert_eq!(stones.len(), 2, "{topic}");
        if topic.ends_with(".events") {
            assert!(records.len() >= 3, "the person's events were there");
        }
        let last_record = records.iter().map(|m| m.offset).max().unwrap_or(-1);
        for stone in stones {
            assert!(
                stone.offset > last_record,
                "the tombstone follows the records"
            );
            assert_eq!(stone.kind.as_deref(), Some("erasure"));
            let id = stone.id.as_deref().expect("id");
            assert!(
                id.starts_with("erasure:app:") && !id.contains("ke0"),
                "{id}"
            );
            assert!(stone.position.as_deref().is_some_and(|p| p.contains(':')));
        }
    }
    assert!(
        !tombstones
            .iter()
            .any(|m| m.key.as_deref() == Some(&key_of(kept))),
        "nobody else is erased"
    );

    // A restart reads each partition's last message (a tombstone here) for its position:
    // nothing is written twice, and new records follow.
    origin.terminate();
    origin.start().await;
    let more = batches("kf", 2);
    send_all(&client, &origin, &more).await;
    wait_until_caught_up(&origin, "kafka").await;
    let after = read().await.expect("reader");
    let mut counts: HashMap<(String, Option<String>, Option<String>), usize> = HashMap::new();
    for m in &after {
        *counts
            .entry((m.topic.clone(), m.id.clone(), m.key.clone()))
            .or_default() += 1;
    }
    let twice: Vec<_> = counts
        .iter()
        .filter(|((_, id, _), n)| {
            **n > 1 && !id.as_deref().is_some_and(|i| i.starts_with("erasure:"))
        })
        .collect();
    assert!(twice.is_empty(), "written twice: {twice:?}");
    assert_eq!(
        after.len(),
        messages.len() + ids_of(&more).len(),
        "every new record once, nothing else"
    );
    origin.terminate();
}

/// Issue 10 item 4 and issue 14 item 1: edge facts in ClickHouse and Kafka. SKAN postbacks
/// once per dedup key (a copy received a day later, redelivered batches, and two apps with the
/// same transaction id included), spend one row per key after FINAL with the latest upload's
/// amount, and every record id once on its kind's topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_facts_once_in_clickhouse_and_kafka() {
    use attrib_origin::testkit::{edge_batch, skan_record, spend_record};
    let mut services = Services::from_env("edge");
    let prefix = services.database.clone();
    let mut env = services.origin_env();
    // Only the edge facts' topics are read back.
    services.topics = vec![
        format!("{prefix}.skan_postbacks"),
        format!("{prefix}.spend"),
    ];
    env.push(("KAFKA_SKAN_POSTBACKS_TOPIC", services.topics[0].clone()));
    env.push(("KAFKA_SPEND_TOPIC", services.topics[1].clone()));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(dir.path(), &env);
    origin.start().await;
    let client = reqwest::Client::new();

    let skan = edge_batch(
        "app",
        "skan",
        vec![
            skan_record("app", "t-1", "1234", true, START_MS),
            skan_record("app", "t-2", "1234", false, START_MS + 1),
            skan_record("app", "t-3", "77", true, START_MS + 2),
        ],
    );
    let repeat = edge_batch(
        "app",
        "skan",
        vec![
            skan_record("app", "t-1", "1234", true, START_MS + 86_400_000),
            skan_record("other", "t-1", "1234", true, START_MS),
        ],
    );
    let upload = |at: i64, google: f64| {
        edge_batch(
            "app",
            "spend",
            vec![
                spend_record("app", "2024-05-01", "google", "spring", google, at),
                spend_record("app", "2024-05-02", "meta", "summer", 40.0, at),
            ],
        )
    };
    // The re-upload first, the older upload after it (a late delivery): the newer one wins.
    let sent = [
        skan.clone(),
        skan,
        repeat,
        upload(START_MS + 60_000, 120.0),
        upload(START_MS, 100.0),
    ];
    send_all(&client, &origin, &sent).await;

    let query = |sql: String| {
        let url = services.clickhouse_url.clone();
        async move { common::stores::clickhouse_query(&url, &sql).await }
    };
    let db = &services.database;
    let postbacks = format!(
        "SELECT app_id, source_identifier, did_win, count(), uniqExact(id) \
         FROM {db}.skan_postbacks FINAL GROUP BY app_id, source_identifier, did_win \
         ORDER BY app_id, source_identifier, did_win FORMAT TabSeparated"
    );
    let want_postbacks =
        "app\t1234\t0\t1\t1\napp\t1234\t1\t1\t1\napp\t77\t1\t1\t1\nother\t1234\t1\t1\t1";
    eventually(DRAIN, "postbacks in ClickHouse", || {
        let q = query(postbacks.clone());
        async move { q.await.is_some_and(|t| t.trim() == want_postbacks) }
    })
    .await;
    let spend = format!(
        "SELECT day, source, spend, uploaded_at_ms FROM {db}.spend FINAL \
         WHERE app_id = 'app' ORDER BY day FORMAT TabSeparated"
    );
    let want_spend = format!(
        "2024-05-01\tgoogle\t120\t{}\n2024-05-02\tmeta\t40\t{}",
        START_MS + 60_000,
        START_MS + 60_000
    );
    eventually(DRAIN, "spend in ClickHouse", || {
        let q = query(spend.clone());
        let want = want_spend.clone();
        async move { q.await.is_some_and(|t| t.trim() == want) }
    })
    .await;
    // Each record once in Kafka: 4 postbacks, 4 spend rows (2 per upload).
    let ids: Vec<String> = ids_of(&sent)
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(ids.len(), 8, "{ids:?}");
    services.wait_for_kafka(&ids).await;
    origin.terminate();
}
