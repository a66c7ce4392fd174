//! Issue 13, finding 8: the origin's intake under hostile or overwhelming senders. The real
//! binary, no external service.

mod common;

use std::time::Duration;

use attrib_core::outbox::{OUTBOX_PATH, SIGNATURE_HEADER};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const START_MS: i64 = 1_714_521_600_000;

fn batch(app: &str, user: &str) -> attrib_core::outbox::OutboxBatch {
    attrib_origin::testkit::journey_batch(app, user, "t", 2, true, START_MS)
}

/// Sends the head of a POST that declares `declared` body bytes and sends `sent` of them;
/// returns the open connection.
async fn partial_post(
    origin: &Origin,
    signature: Option<&str>,
    declared: usize,
    sent: usize,
) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", origin.port))
        .await
        .expect("connects");
    let sig = signature.map_or(String::new(), |s| format!("{SIGNATURE_HEADER}: {s}\r\n"));
    let head = format!(
        "POST {OUTBOX_PATH} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n{sig}content-length: {declared}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    stream
        .write_all(&vec![b' '; sent])
        .await
        .expect("body part");
    stream
}

async fn status_of(stream: &mut tokio::net::TcpStream, within: Duration) -> String {
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(within, stream.read(&mut buf))
        .await
        .expect("an answer in time")
        .expect("reads");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_intake_unsigned_large_body_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(dir.path(), &[]);
    origin.start().await;
    // 15 MB declared, nothing sent: the answer comes at once, without waiting for the body.
    let mut stream = partial_post(&origin, None, 15_000_000, 0).await;
    let answer = status_of(&mut stream, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("missing_signature"), "{answer}");
    // A stale (or absurd) timestamp is refused the same way.
    for t in ["1000", "-9223372036854775808"] {
        let sig = format!("k=shared,t={t},v2=00");
        let mut stream = partial_post(&origin, Some(&sig), 15_000_000, 0).await;
        let answer = status_of(&mut stream, Duration::from_secs(5)).await;
        assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    }
    origin.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_intake_concurrency_limit_and_request_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(
        dir.path(),
        &[
            ("ATTRIB_ORIGIN_MAX_IN_FLIGHT", "1".into()),
            ("ATTRIB_ORIGIN_REQUEST_TIMEOUT_MS", "1500".into()),
        ],
    );
    origin.start().await;
    let client = reqwest::Client::new();
    // A trickling sender with a fresh signature header holds the only slot...
    let now = chrono::Utc::now().timestamp();
    let sig = format!("k=shared,t={now},v2=00");
    let mut slow = partial_post(&origin, Some(&sig), 1000, 10).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ...so another request is refused at once, with Retry-After.
    let response = client
        .post(origin.url(OUTBOX_PATH))
        .header(SIGNATURE_HEADER, &sig)
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 503);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap_or("")),
        Some("1")
    );
    let body: serde_json::Value =
        serde_json::from_slice(&response.bytes().await.expect("body")).expect("json");
    assert_eq!(body["error"]["code"], "overloaded");
    // The slow one is cut at the request timeout (408), which frees the slot.
    let answer = status_of(&mut slow, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let (status, body) = send_batch(&client, &origin, &batch("app", "u1")).await;
    assert_eq!(status, 200, "{body}");
    origin.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_intake_disk_watermark_answers_507_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(
        dir.path(),
        &[("ATTRIB_ORIGIN_MIN_FREE_DISK_BYTES", u64::MAX.to_string())],
    );
    origin.start().await;
    let client = reqwest::Client::new();
    let b = batch("app", "u1");
    let response = client
        .post(origin.url(OUTBOX_PATH))
        .header(
            SIGNATURE_HEADER,
            attrib_origin::testkit::signature(
                SECRET.as_bytes(),
                &serde_json::to_vec(&b).expect("json"),
            ),
        )
        .body(serde_json::to_vec(&b).expect("json"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 507);
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value =
        serde_json::from_slice(&response.bytes().await.expect("body")).expect("json");
    assert_eq!(body["error"]["code"], "insufficient_storage");
    let metrics = origin.metrics().await;
    assert!(
        metrics.contains("origin_records_accepted_total 0"),
        "{metrics}"
    );
    // The spool is not poisoned by it: /healthz stays 200.
    let health = client
        .get(origin.url("/healthz"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);
    origin.terminate();
}

/// Reads until the server closes the connection; returns what it sent and when it closed,
/// or `None` if it was still open at `within`.
async fn read_until_closed(
    stream: &mut tokio::net::TcpStream,
    within: Duration,
) -> Option<(String, std::time::Instant)> {
    let mut received = Vec::new();
    let mut buf = vec![0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return std::time::Instant::now(),
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    let closed_at = tokio::time::timeout(within, read_all).await.ok()?;
    Some((String::from_utf8_lossy(&received).into_owned(), closed_at))
}

/// Issue 13, finding 8 "no timeouts": the origin's server had no header read timeout (axum's
/// accept loop gives hyper no timer), so a client that never finished its request head
/// (slowloris), or kept a connection open without using it, held it for ever. Now the
/// connection is closed at `ATTRIB_ORIGIN_HEADER_TIMEOUT_MS`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_8_no_timeouts_an_unfinished_request_head_is_closed_at_the_header_timeout() {
    const BOUND: Duration = Duration::from_millis(1000);
    const SLACK: Duration = Duration::from_secs(4);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(
        dir.path(),
        &[(
            "ATTRIB_ORIGIN_HEADER_TIMEOUT_MS",
            BOUND.as_millis().to_string(),
        )],
    );
    origin.start().await;
    let connect = || tokio::net::TcpStream::connect(("127.0.0.1", origin.port));

    // A head begun and never finished.
    let mut stalled = connect().await.expect("connects");
    let sent_at = std::time::Instant::now();
    stalled
        .write_all(format!("POST {OUTBOX_PATH} HTTP/1.1\r\nhost: x\r\ncontent-").as_bytes())
        .await
        .expect("part of a head");
    let (answer, closed_at) = read_until_closed(&mut stalled, BOUND + SLACK)
        .await
        .expect("the stalled connection is closed within the bound");
    let held = closed_at - sent_at;
    assert!(held >= BOUND - Duration::from_millis(100), "{held:?}");
    assert!(
        answer.is_empty(),
        "hyper closes without an answer: {answer}"
    );

    // A head trickled a byte at a time (each read is quick, the head never completes).
    let mut trickle = connect().await.expect("connects");
    let started = std::time::Instant::now();
    let head =
        b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut closed = false;
    for byte in head {
        if trickle.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !closed {
        closed = read_until_closed(&mut trickle, BOUND + SLACK)
            .await
            .is_some();
    }
    assert!(closed, "a trickled head outlived the bound");
    assert!(started.elapsed() < BOUND + SLACK, "{:?}", started.elapsed());

    // An idle keep-alive connection after a finished request.
    let mut idle = connect().await.expect("connects");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("a whole head");
    let answered_at = std::time::Instant::now();
    let (answer, closed_at) = read_until_closed(&mut idle, BOUND + SLACK)
        .await
        .expect("the idle keep-alive connection is closed within the bound");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed_at - answered_at >= BOUND - Duration::from_millis(100));

    // A normal request still works.
    let client = reqwest::Client::new();
    let (status, body) = send_batch(&client, &origin, &batch("app", "u1")).await;
    assert_eq!(status, 200, "{body}");
    origin.terminate();
}

/// Issue 13, finding 8 "no concurrency limit": the number of open connections was unbounded,
/// so idle connections (each cut only at the head timeout) could take every file descriptor.
/// Now at `ATTRIB_ORIGIN_MAX_CONNECTIONS` the origin accepts no more until one closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_8_no_concurrency_limit_idle_connections_wait_beyond_the_connection_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(
        dir.path(),
        &[
            ("ATTRIB_ORIGIN_MAX_CONNECTIONS", "2".to_owned()),
            ("ATTRIB_ORIGIN_HEADER_TIMEOUT_MS", "60000".to_owned()),
        ],
    );
    origin.start().await;
    let connect = || tokio::net::TcpStream::connect(("127.0.0.1", origin.port));
    let first = connect().await.expect("connects");
    let _second = connect().await.expect("connects");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The kernel still completes the handshake (listen backlog), but nobody serves it.
    let mut third = connect().await.expect("connects through the backlog");
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("a whole head");
    let mut buf = vec![0u8; 4096];
    let early = tokio::time::timeout(Duration::from_secs(1), third.read(&mut buf)).await;
    assert!(
        early.is_err(),
        "answered beyond the connection bound: {early:?}"
    );

    drop(first);
    let n = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
        .await
        .expect("served once a connection closed")
        .expect("reads");
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    origin.terminate();
}

/// Issue 13, finding 8 "Kafka has no TLS/SASL settings": with SASL configured, the Kafka
/// password must never reach the log, neither in the configuration logged at start nor in
/// the errors of a broker that cannot be reached (same rule as `CLICKHOUSE_PASSWORD`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_8_kafka_sasl_password_never_appears_in_the_log() {
    const PASSWORD: &str = "kafka-sasl-pw-7f3a9c";
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(
        dir.path(),
        &[
            // Nothing listens there: the sink keeps failing and logging, which is the point.
            ("KAFKA_BROKERS", format!("127.0.0.1:{}", free_port())),
            ("KAFKA_SECURITY_PROTOCOL", "sasl_plaintext".into()),
            ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512".into()),
            ("KAFKA_SASL_USERNAME", "attrib-origin".into()),
            ("KAFKA_SASL_PASSWORD", PASSWORD.into()),
            ("ATTRIB_ORIGIN_SHUTDOWN_GRACE_MS", "1000".into()),
            ("RUST_LOG", "debug".into()),
        ],
    );
    origin.start().await;
    let client = reqwest::Client::new();
    let (status, body) = send_batch(&client, &origin, &batch("app", "u1")).await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    origin.terminate();
    let log = origin.log();
    assert!(
        log.contains("starting") && log.contains("SaslPlaintext") && log.contains("ScramSha512"),
        "the configuration is logged at start:\n{log}"
    );
    assert!(log.contains("<redacted>"), "{log}");
    assert!(
        !log.contains(PASSWORD),
        "the Kafka password is in the log:\n{log}"
    );
}
