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
