//! Shared helpers for the origin's integration tests: run the real binary as a child process
//! (so it can be killed with SIGKILL), send signed batches, find the real services.
//!
//! A test that needs a service reads its address from the environment set by
//! scripts/test-origin.sh and FAILS with a clear message when it is missing: a missing
//! service must never look like a pass.

#![allow(dead_code)]

pub mod journeys;
pub mod receiver;
pub mod retention_worker;
pub mod stores;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use attrib_core::outbox::{OutboxBatch, OUTBOX_PATH, SIGNATURE_HEADER};
use attrib_origin::testkit::signature;

pub const SECRET: &str = "integration-test-secret";

/// A required service address from the environment, or a failing test with instructions.
pub fn require_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: this test needs a real service. Run scripts/test-origin.sh, \
             which starts ClickHouse and the Kafka broker and sets it."
        ),
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Runs `scripts/services/<service>.sh <action>`; panics if it fails.
pub fn service(service: &str, action: &str) {
    let script = repo_root().join(format!("scripts/services/{service}.sh"));
    let status = Command::new("bash")
        .arg(&script)
        .arg(action)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(status.success(), "{} {action} failed", script.display());
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A unique suffix for databases and topics, so tests never see each other's data.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{prefix}_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

/// The origin binary with a fixed environment.
pub struct Origin {
    pub port: u16,
    pub data_dir: PathBuf,
    pub env: HashMap<String, String>,
    child: Option<Child>,
    log: PathBuf,
}

impl Origin {
    pub fn new(data_dir: &Path, env: &[(&str, String)]) -> Origin {
        let port = free_port();
        let mut all: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        all.insert("EDGE_ORIGIN_SECRET".into(), SECRET.into());
        all.insert("ATTRIB_ORIGIN_LISTEN".into(), format!("127.0.0.1:{port}"));
        all.insert(
            "ATTRIB_ORIGIN_DATA_DIR".into(),
            data_dir.display().to_string(),
        );
        all.entry("ATTRIB_ORIGIN_ROLLUP_DEBOUNCE_MS".into())
            .or_insert_with(|| "200".into());
        all.entry("RUST_LOG".into())
            .or_insert_with(|| "info,attrib_origin=debug".into());
        Origin {
            port,
            data_dir: data_dir.to_owned(),
            env: all,
            child: None,
            log: data_dir.join("origin.log"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Starts the binary and waits for `/healthz`.
    pub async fn start(&mut self) {
        std::fs::create_dir_all(&self.data_dir).expect("data dir");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_attrib-origin"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(&self.env)
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("the origin binary starts");
        self.child = Some(child);
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = client.get(self.url("/healthz")).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("the origin exited with {status}; log:\n{}", self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the origin did not become healthy; log:\n{}",
            self.log_tail()
        );
    }

    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn terminate(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    assert!(status.success(), "origin exited with {status}");
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            panic!("the origin ignored SIGTERM for 30 s");
        }
    }

    /// Everything the origin logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(self.url("/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// POSTs `body` with a valid signature; returns (status, JSON body).
pub async fn post_signed(
    client: &reqwest::Client,
    origin: &Origin,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let sig = signature(SECRET.as_bytes(), &body);
    post_raw(client, origin, body, Some(sig)).await
}

pub async fn post_raw(
    client: &reqwest::Client,
    origin: &Origin,
    body: Vec<u8>,
    signature: Option<String>,
) -> (u16, serde_json::Value) {
    let mut request = client
        .post(origin.url(OUTBOX_PATH))
        .header("content-type", "application/json")
        .body(body);
    if let Some(sig) = signature {
        request = request.header(SIGNATURE_HEADER, sig);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let bytes = response.bytes().await.unwrap_or_default();
            let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
            (status, json)
        }
        Err(_) => (0, serde_json::Value::Null),
    }
}

pub async fn send_batch(
    client: &reqwest::Client,
    origin: &Origin,
    batch: &OutboxBatch,
) -> (u16, serde_json::Value) {
    post_signed(client, origin, serde_json::to_vec(batch).expect("json")).await
}

/// The ids of every record in `batches`.
pub fn ids_of(batches: &[OutboxBatch]) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| b.records.iter().map(|r| r.id()))
        .collect()
}

/// Polls `check` until it returns true or `timeout` passes.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("timed out after {timeout:?} waiting for: {what}");
}

/// `batch` as another app would send it: the same messageIds, conversion ids and touch ids,
/// only the app (and so the journey) differs. Two apps seeing one messageId is normal (one
/// stream sent to staging and production, derived ids of identical content).
pub fn same_ids_for_app(batch: &OutboxBatch, app: &str) -> OutboxBatch {
    use attrib_core::outbox::OutboxRecord;
    let mut batch = batch.clone();
    let old_prefix = batch
        .journey
        .split(':')
        .take(2)
        .collect::<Vec<_>>()
        .join(":");
    let journey = |j: &str| j.replacen(&old_prefix, &format!("u:{app}"), 1);
    batch.journey = journey(&batch.journey);
    for record in &mut batch.records {
        match record {
            OutboxRecord::Event(r) => {
                r.app_id = app.into();
                r.journey = journey(&r.journey);
            }
            OutboxRecord::Attribution(r) => {
                r.app_id = app.into();
                r.journey = journey(&r.journey);
            }
            OutboxRecord::Merge(r) => {
                r.app_id = app.into();
                r.from = journey(&r.from);
                r.into = journey(&r.into);
            }
            OutboxRecord::NullPath(r) => {
                r.app_id = app.into();
                r.journey = journey(&r.journey);
            }
            OutboxRecord::SkanPostback(r) => r.app_id = app.into(),
            OutboxRecord::Spend(r) => r.app_id = app.into(),
        }
    }
    batch
}

/// Signs and sends `POST /v1/erase` for `journeys` of `app`; (status, JSON answer).
pub async fn erase_journeys(
    client: &reqwest::Client,
    origin: &Origin,
    app: &str,
    journeys: &[&str],
) -> (u16, serde_json::Value) {
    use attrib_core::privacy::erasure::ORIGIN_ERASE_PATH;
    use attrib_core::signing::{Direction, Keyring};
    let body = serde_json::to_vec(&serde_json::json!({"app_id": app, "journeys": journeys}))
        .expect("json");
    let signature = Keyring::derived(Direction::Outbox, SECRET.as_bytes()).sign(
        chrono::Utc::now().timestamp(),
        "POST",
        ORIGIN_ERASE_PATH,
        &body,
    );
    let response = client
        .post(origin.url(ORIGIN_ERASE_PATH))
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await
        .expect("erase");
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("body");
    (status, serde_json::from_slice(&body).expect("json"))
}
