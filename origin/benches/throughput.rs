//! Throughput figures (not a timed test): run by scripts/bench-origin.sh, which starts
//! ClickHouse and tansu and passes their addresses. For each sink the release origin binary
//! runs alone, pinned to one core (taskset), and receives the same signed batches of event
//! records over HTTP; figures are events per second of wall time until the sink has them
//! all, and events per CPU-second of the origin process (its per-core rate). ClickHouse is
//! compared with clickhouse-client inserting the same rows (JSONEachRow, same table) directly.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use attrib_core::outbox::{OutboxBatch, OutboxRecord, OUTBOX_PATH, SIGNATURE_HEADER};
use attrib_origin::contract::{parse_record, RecordView};
use attrib_origin::sinks::rows::EventJsonRow;
use attrib_origin::spool::columns::{encode_event, EventCols};
use attrib_origin::testkit::{journey_batch, signature};

const SECRET: &str = "bench-secret";
const RECORDS_PER_BATCH: usize = 500;
const IN_FLIGHT: usize = 8;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run scripts/bench-origin.sh"))
}

/// `events` event records (each with a touch), in batches of 500 records, 25 users each.
fn make_batches(tag: &str, events: usize) -> Vec<OutboxBatch> {
    let mut batches = Vec::new();
    let per_user = 20;
    let mut users = (0..events / per_user).map(|u| {
        journey_batch(
            "bench",
            &format!("{tag}{u}"),
            tag,
            per_user,
            false,
            1_714_521_600_000,
        )
    });
    loop {
        let mut records: Vec<OutboxRecord> = Vec::new();
        let mut journey = String::new();
        for batch in users.by_ref().take(RECORDS_PER_BATCH / per_user) {
            journey = batch.journey.clone();
            records.extend(batch.records);
        }
        if records.is_empty() {
            return batches;
        }
        batches.push(OutboxBatch {
            journey,
            region: attrib_core::geo::OriginRegion::Us,
            records,
        });
    }
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks / 100.0 // USER_HZ
}

/// CPU seconds per thread name of `pid`, busiest first (where the time goes).
fn print_threads(pid: u32) {
    let mut by_name: std::collections::BTreeMap<String, f64> = Default::default();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let tid: u32 = entry.file_name().to_string_lossy().parse().unwrap_or(0);
        let name =
            std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm")).unwrap_or_default();
        let stat =
            std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).unwrap_or_default();
        let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
            f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
        });
        *by_name.entry(name.trim().to_owned()).or_default() += ticks / 100.0;
    }
    let mut threads: Vec<_> = by_name.into_iter().collect();
    threads.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (name, cpu) in threads.iter().take(6) {
        println!("    thread {name:<20} {cpu:>6.2} CPU-s");
    }
}

struct Run {
    wall: Duration,
    cpu: f64,
    /// CPU-seconds of the destination's server process (ClickHouse, the broker) meanwhile.
    service_cpu: Option<f64>,
}

/// The pid in the pid file named by `var` (set by scripts/bench-origin.sh).
fn service_pid(var: &str) -> Option<u32> {
    let path = std::env::var(var).ok()?;
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

async fn run_origin(
    name: &str,
    envs: &[(&str, String)],
    batches: &[OutboxBatch],
    done: &str,
    service: Option<u32>,
) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let mut child = Command::new("taskset")
        .args(["-c", "1", &env("ATTRIB_ORIGIN_BIN")])
        .env_clear()
        .env("EDGE_ORIGIN_SECRET", SECRET)
        .env("ATTRIB_ORIGIN_LISTEN", format!("127.0.0.1:{port}"))
        .env("ATTRIB_ORIGIN_DATA_DIR", dir.path())
        .env("RUST_LOG", "warn")
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("origin starts");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bodies: Vec<Vec<u8>> = batches
        .iter()
        .map(|b| serde_json::to_vec(b).expect("json"))
        .collect();
    let cpu_before = cpu_seconds(child.id());
    let service_before = service.map(cpu_seconds);
    let started = Instant::now();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(bodies));
    let mut senders = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (queue, client, url) = (
            queue.clone(),
            client.clone(),
            format!("{base}{OUTBOX_PATH}"),
        );
        senders.push(tokio::spawn(async move {
            loop {
                let Some(body) = queue.lock().expect("queue").pop() else {
                    return;
                };
                let sig = signature(SECRET.as_bytes(), &body);
                let response = client
                    .post(&url)
                    .header(SIGNATURE_HEADER, sig)
                    .body(body)
                    .send()
                    .await;
                assert!(
                    response.is_ok_and(|r| r.status().is_success()),
                    "batch refused"
                );
            }
        }));
    }
    for sender in senders {
        sender.await.expect("sender");
    }
    let want: usize = batches.iter().map(|b| b.records.len()).sum();
    let needle = format!("origin_sink_delivered_records_total{{sink=\"{done}\"}} {want}");
    loop {
        let metrics = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        if metrics.contains(&needle) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{name}: not delivered in 10 min"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let run = Run {
        wall: started.elapsed(),
        cpu: cpu_seconds(child.id()) - cpu_before,
        service_cpu: service
            .zip(service_before)
            .map(|(pid, before)| cpu_seconds(pid) - before),
    };
    if std::env::var("ATTRIB_BENCH_THREADS").is_ok() {
        print_threads(child.id());
    }
    let _ = child.kill();
    let _ = child.wait();
    run
}

fn report(name: &str, events: usize, run: &Run) {
    println!(
        "{name:<34} {events:>8} events  {:>7.2} s  {:>9.0} events/s wall  {:>9.0} events per origin CPU-second  (origin {:.2} CPU-s, server {} CPU-s)",
        run.wall.as_secs_f64(),
        events as f64 / run.wall.as_secs_f64(),
        events as f64 / run.cpu.max(0.001),
        run.cpu,
        run.service_cpu.map_or("?".into(), |c| format!("{c:.2}")),
    );
}

async fn clickhouse_direct(
    url: &str,
    tcp_port: &str,
    database: &str,
    batches: &[OutboxBatch],
) -> Duration {
    // The rows the origin inserts, as JSON lines.
    let mut body = Vec::new();
    let mut rows = 0usize;
    for batch in batches {
        for record in &batch.records {
            let json = serde_json::to_string(record).expect("json");
            let Ok(RecordView::Event(view)) = parse_record(&json) else {
                continue;
            };
            let mut cols = Vec::new();
            encode_event(&view, &mut cols);
            let cols = EventCols::decode(&cols).expect("columns");
            let id = record.id();
            let row = EventJsonRow::new(&id, record.app_id(), view.journey.as_str(), &json, &cols);
            serde_json::to_writer(&mut body, &row).expect("row json");
            body.push(b'\n');
            rows += 1;
        }
    }
    let file = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(file.path(), &body).expect("write rows");
    let server = service_pid("ATTRIB_BENCH_CLICKHOUSE_PID_FILE");
    let server_before = server.map(cpu_seconds);
    let started = Instant::now();
    let status = Command::new("clickhouse-client")
        .args(["--host", "127.0.0.1", "--port", tcp_port, "--query"])
        .arg(format!("INSERT INTO {database}.events FORMAT JSONEachRow"))
        .stdin(std::fs::File::open(file.path()).expect("rows"))
        .status()
        .expect("clickhouse-client runs");
    assert!(status.success(), "clickhouse-client insert failed");
    let elapsed = started.elapsed();
    if let Some((pid, before)) = server.zip(server_before) {
        println!(
            "    clickhouse-client direct: clickhouse-server {:.2} CPU-s (the client parses the JSON, the server takes native blocks)",
            cpu_seconds(pid) - before
        );
    }
    let count = reqwest::Client::new()
        .post(url)
        .body(format!("SELECT count() FROM {database}.events"))
        .send()
        .await
        .expect("count")
        .text()
        .await
        .expect("text");
    assert_eq!(count.trim(), rows.to_string(), "direct insert row count");
    elapsed
}

#[tokio::main]
async fn main() {
    let events: usize = std::env::var("ATTRIB_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let clickhouse = env("ATTRIB_BENCH_CLICKHOUSE_URL");
    let clickhouse_tcp = env("ATTRIB_BENCH_CLICKHOUSE_TCP_PORT");
    let brokers = env("ATTRIB_BENCH_KAFKA_BROKERS");
    let run_id = std::process::id();
    println!("origin throughput, {events} event records (each with a touch) in batches of {RECORDS_PER_BATCH}, {IN_FLIGHT} requests in flight; origin pinned to CPU 1");

    let only = std::env::var("ATTRIB_BENCH_ONLY").unwrap_or_default();
    let wanted = |mode: &str| only.is_empty() || only == mode;
    if wanted("clickhouse") {
        let batches = make_batches("ch", events);
        let database = format!("bench_{run_id}");
        let run = run_origin(
            "clickhouse",
            &[
                ("CLICKHOUSE_URL", clickhouse.clone()),
                ("CLICKHOUSE_DATABASE", database.clone()),
            ],
            &batches,
            "clickhouse",
            service_pid("ATTRIB_BENCH_CLICKHOUSE_PID_FILE"),
        )
        .await;
        report("origin HTTP -> ClickHouse", events, &run);
        // Same rows, same table shape, fresh database created by the origin's schema.
        let direct_db = format!("bench_direct_{run_id}");
        for statement in attrib_origin::sinks::clickhouse::schema_statements(&direct_db) {
            let response = reqwest::Client::new()
                .post(&clickhouse)
                .body(statement)
                .send()
                .await;
            assert!(
                response.is_ok_and(|r| r.status().is_success()),
                "schema statement failed"
            );
        }
        let direct = clickhouse_direct(&clickhouse, &clickhouse_tcp, &direct_db, &batches).await;
        println!(
        "{:<34} {events:>8} events  {:>7.2} s  {:>9.0} events/s wall  (origin per core: {:.0}% of it; origin wall: {:.0}%)",
        "clickhouse-client direct insert",
        direct.as_secs_f64(),
        events as f64 / direct.as_secs_f64(),
        100.0 * (events as f64 / run.cpu.max(0.001)) / (events as f64 / direct.as_secs_f64()),
        100.0 * direct.as_secs_f64() / run.wall.as_secs_f64(),
    );
    }
    if wanted("kafka") {
        let batches = make_batches("k", events);
        let topic = format!("bench{run_id}");
        let run = run_origin(
            "kafka",
            &[
                ("KAFKA_BROKERS", brokers.clone()),
                ("KAFKA_EVENTS_TOPIC", format!("{topic}.events")),
                ("KAFKA_ATTRIBUTIONS_TOPIC", format!("{topic}.attributions")),
                ("KAFKA_MERGES_TOPIC", format!("{topic}.merges")),
            ],
            &batches,
            "kafka",
            service_pid("ATTRIB_BENCH_KAFKA_PID_FILE"),
        )
        .await;
        report("origin HTTP -> Kafka (tansu)", events, &run);
    }
    if wanted("embedded") {
        let batches = make_batches("e", events);
        let run = run_origin("embedded", &[], &batches, "embedded", None).await;
        report("origin HTTP -> embedded libsql", events, &run);
    }
}
