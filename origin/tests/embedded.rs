//! The embedded default (no Kafka, no ClickHouse): every record stored once in the libsql
//! file, bad batches refused without effect, rollups pushed (signed) to the query Worker
//! stand-in and written to the file, and nothing acknowledged lost across SIGKILL.
//! Needs no external service.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use attrib_core::fraud::counts::fraud_counts;
use attrib_core::limits::MAX_OUTBOX_BATCH_BYTES;
use attrib_core::outbox::OutboxRecord;
use attrib_core::rollup::{all_paths, daily_stats, AppDay, DailyStat};
use common::*;

const DAY_MS: i64 = 86_400_000;
const START_MS: i64 = 1_714_521_600_000; // 2024-05-01T00:00:00Z

async fn embedded_ids(path: &std::path::Path) -> (i64, i64) {
    let db = libsql::Builder::new_local(path).build().await.expect("db");
    let conn = db.connect().expect("conn");
    let mut total = (0, 0);
    for table in ["events", "attributions", "null_paths"] {
        let mut rows = conn
            .query(
                &format!("SELECT count(*), count(DISTINCT id) FROM {table}"),
                (),
            )
            .await
            .expect("query");
        let row = rows.next().await.expect("row").expect("one row");
        total.0 += row.get::<i64>(0).expect("count");
        total.1 += row.get::<i64>(1).expect("distinct");
    }
    total
}

async fn embedded_id_list(path: &std::path::Path) -> Vec<String> {
    let db = libsql::Builder::new_local(path).build().await.expect("db");
    let conn = db.connect().expect("conn");
    let mut ids = Vec::new();
    let mut rows = conn
        .query(
            "SELECT id FROM events UNION ALL SELECT id FROM attributions \
             UNION ALL SELECT id FROM null_paths",
            (),
        )
        .await
        .expect("query");
    while let Some(row) = rows.next().await.expect("row") {
        ids.push(row.get::<String>(0).expect("id"));
    }
    ids.sort();
    ids
}

fn expected_stats(
    batches: &[attrib_core::outbox::OutboxBatch],
) -> BTreeMap<AppDay, Vec<DailyStat>> {
    let records: Vec<&OutboxRecord> = batches.iter().flat_map(|b| b.records.iter()).collect();
    let mut by_day: BTreeMap<AppDay, Vec<DailyStat>> = BTreeMap::new();
    for stat in daily_stats(records) {
        by_day
            .entry(AppDay {
                app_id: stat.key.app_id.clone(),
                day: stat.key.day.clone(),
            })
            .or_default()
            .push(stat);
    }
    by_day
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_mode_stores_each_record_once_and_pushes_rollups() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = common::receiver::start(SECRET).await;
    let mut origin = Origin::new(
        &dir.path().join("origin"),
        &[("QUERY_WORKER_URL", receiver.url.clone())],
    );
    origin.start().await;
    let client = reqwest::Client::new();

    // Journeys that do not convert end in a null path.
    let mut batches: Vec<_> = (0..40)
        .map(|u| {
            let start = START_MS + (u % 2) as i64 * DAY_MS;
            attrib_origin::testkit::with_null_path(attrib_origin::testkit::journey_batch(
                "app1",
                &format!("user{u}"),
                "a",
                3 + u % 2,
                u % 3 != 0,
                start,
            ))
        })
        .collect();
    // Some fraud, as the journeys report it: a rejected touch, a rejected conversion.
    for batch in batches.iter_mut().step_by(5) {
        for record in &mut batch.records {
            match record {
                OutboxRecord::Event(e) => {
                    if let Some(t) = e.touch.as_mut() {
                        t.rejected = Some("bot_user_agent".into());
                        break;
                    }
                }
                OutboxRecord::Attribution(a) => {
                    a.result.rejected = Some("click_injection".into());
                    a.result.models.iter_mut().for_each(|m| m.credits.clear());
                }
                OutboxRecord::Merge(_)
                | OutboxRecord::NullPath(_)
                | OutboxRecord::SkanPostback(_)
                | OutboxRecord::Spend(_) => {}
            }
        }
    }
    // Touches made without advertising consent are rejected too, but they are not fraud: the
    // origin's counts must leave them out as core's do (issue 12, consent).
    for batch in batches.iter_mut().skip(2).step_by(5) {
        if let Some(t) = batch.records.iter_mut().find_map(|r| match r {
            OutboxRecord::Event(e) => e.touch.as_mut(),
            _ => None,
        }) {
            t.rejected = Some("no_advertising_consent".into());
        }
    }
    for batch in &batches {
        let (status, body) = send_batch(&client, &origin, batch).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["accepted"], batch.records.len());
        assert_eq!(body["duplicates"], 0);
    }
    // The Durable Object retries: every batch again, all duplicates.
    for batch in &batches {
        let (status, body) = send_batch(&client, &origin, batch).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (body["accepted"].as_u64(), body["duplicates"].as_u64()),
            (Some(0), Some(batch.records.len() as u64))
        );
    }

    let mut expected_ids = ids_of(&batches);
    expected_ids.sort();
    let db_path = origin.data_dir.join("origin.db");
    let want = expected_ids.len() as i64;
    eventually(
        Duration::from_secs(30),
        "all records in the embedded db",
        || async { embedded_ids(&db_path).await == (want, want) },
    )
    .await;
    assert_eq!(embedded_id_list(&db_path).await, expected_ids);

    let expected = expected_stats(&batches);
    assert_eq!(expected.len(), 2, "two days of data");
    eventually(
        Duration::from_secs(30),
        "rollups of both days pushed",
        || async { receiver.received.lock().expect("lock").days == expected },
    )
    .await;
    let bad_signatures = receiver.received.lock().expect("lock").bad_signatures;
    assert_eq!(bad_signatures, 0);
    // Paths (converting and null, combined per key) and fraud counts come with the stats, as
    // core computes them from the records.
    let records: Vec<&OutboxRecord> = batches.iter().flat_map(|b| b.records.iter()).collect();
    let want_paths = all_paths(records.iter().copied());
    let want_fraud = fraud_counts(records.iter().copied());
    assert!(!want_paths.is_empty() && !want_fraud.is_empty());
    let nulls: f64 = want_paths.iter().map(|p| p.nulls).sum();
    let non_converting = records
        .iter()
        .filter(|r| matches!(r, OutboxRecord::NullPath(_)))
        .count();
    assert_eq!(
        nulls, non_converting as f64,
        "one null per null-path record"
    );
    assert!(want_paths.iter().any(|p| p.nulls > 1.0), "{want_paths:?}");
    let (got_paths, got_fraud): (Vec<_>, Vec<_>) = {
        let received = receiver.received.lock().expect("lock");
        (
            received.paths.values().flatten().cloned().collect(),
            received.fraud.values().flatten().cloned().collect(),
        )
    };
    assert_eq!(got_paths, want_paths);
    assert_eq!(got_fraud, want_fraud);
    assert!(got_fraud
        .iter()
        .all(|f| f.reason != "no_advertising_consent"));

    // The embedded file holds the same rollups. It is the last target of a push, so it may
    // lag the query Worker's copy by one write.
    let want_rows: usize = expected.values().map(Vec::len).sum();
    let want_touches: u64 = expected.values().flatten().map(|s| s.values.touches).sum();
    let embedded_rollups = || async {
        let db = libsql::Builder::new_local(&db_path)
            .build()
            .await
            .expect("db");
        let conn = db.connect().expect("conn");
        let mut rows = conn
            .query("SELECT count(*), sum(touches) FROM daily_stats", ())
            .await
            .expect("query");
        let row = rows.next().await.expect("row").expect("row");
        (
            row.get::<i64>(0).expect("n") as usize,
            row.get::<Option<i64>>(1).expect("sum").unwrap_or(0) as u64,
        )
    };
    eventually(
        Duration::from_secs(30),
        "rollups in the embedded file",
        || async { embedded_rollups().await == (want_rows, want_touches) },
    )
    .await;

    let metrics = origin.metrics().await;
    assert!(
        metrics.contains(&format!("origin_records_accepted_total {want}")),
        "{metrics}"
    );
    assert!(
        metrics.contains("origin_sink_lag_entries{sink=\"embedded\"} 0"),
        "{metrics}"
    );
    origin.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_batches_get_4xx_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(&dir.path().join("origin"), &[]);
    origin.start().await;
    let client = reqwest::Client::new();
    let good = attrib_origin::testkit::journey_batch("app2", "u", "a", 2, true, START_MS);
    let body = serde_json::to_vec(&good).expect("json");

    let (status, json) = post_raw(&client, &origin, body.clone(), None).await;
    assert_eq!(status, 401, "unsigned: {json}");
    assert_eq!(json["error"]["code"], "missing_signature");

    let forged = attrib_origin::testkit::signature(b"wrong-secret", &body);
    let (status, json) = post_raw(&client, &origin, body.clone(), Some(forged)).await;
    assert_eq!(status, 401, "{json}");
    assert_eq!(json["error"]["code"], "bad_signature");

    let (status, json) = post_signed(&client, &origin, b"{\"journey\": ".to_vec()).await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(json["error"]["code"], "invalid_json");

    let mut value = serde_json::to_value(&good).expect("value");
    value["records"][1]["event"]["timestampMs"] = "yesterday".into();
    let (status, json) =
        post_signed(&client, &origin, serde_json::to_vec(&value).expect("json")).await;
    assert_eq!(status, 422, "{json}");
    assert_eq!(json["error"]["field"], "records[1]");

    // A null path without a step could not be counted anywhere: refused like an empty id.
    let mut stepless = attrib_origin::testkit::with_null_path(
        attrib_origin::testkit::journey_batch("app2", "n", "a", 2, false, START_MS),
    );
    let last = stepless.records.len() - 1;
    if let Some(OutboxRecord::NullPath(n)) = stepless.records.last_mut() {
        n.path.clear();
    }
    let (status, json) = post_signed(
        &client,
        &origin,
        serde_json::to_vec(&stepless).expect("json"),
    )
    .await;
    assert_eq!(status, 422, "{json}");
    assert_eq!(json["error"]["field"], format!("records[{last}].path"));

    let mut oversized = body.clone();
    oversized.resize(MAX_OUTBOX_BATCH_BYTES + 1, b' ');
    let (status, json) = post_signed(&client, &origin, oversized).await;
    assert_eq!(status, 413, "{json}");
    assert_eq!(json["error"]["code"], "batch_too_large");

    tokio::time::sleep(Duration::from_millis(500)).await;
    let metrics = origin.metrics().await;
    assert!(
        metrics.contains("origin_records_accepted_total 0"),
        "{metrics}"
    );
    assert!(metrics.contains("origin_spool_entries 0"), "{metrics}");
    assert_eq!(
        embedded_ids(&origin.data_dir.join("origin.db")).await,
        (0, 0)
    );

    // The same batch, properly signed, still goes through: nothing was poisoned.
    let (status, json) = post_signed(&client, &origin, body).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["accepted"], good.records.len());
    origin.terminate();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(&dir.path().join("origin"), &[]);
    origin.start().await;
    let client = reqwest::Client::new();
    let mut acknowledged = Vec::new();
    let sender = {
        let client = client.clone();
        let url = origin.url(attrib_core::outbox::OUTBOX_PATH);
        tokio::spawn(async move {
            let mut acked = Vec::new();
            for u in 0..400 {
                let batch = attrib_origin::testkit::journey_batch(
                    "app3",
                    &format!("k{u}"),
                    "a",
                    2,
                    true,
                    START_MS,
                );
                let body = serde_json::to_vec(&batch).expect("json");
                let sig = attrib_origin::testkit::signature(SECRET.as_bytes(), &body);
                let response = client
                    .post(&url)
                    .header(attrib_core::outbox::SIGNATURE_HEADER, sig)
                    .body(body)
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().is_success() => acked.push(batch),
                    _ => break,
                }
            }
            acked
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    origin.kill9();
    acknowledged.extend(sender.await.expect("sender"));
    assert!(
        !acknowledged.is_empty(),
        "some batches were acknowledged before the kill"
    );

    origin.start().await;
    let ids = ids_of(&acknowledged);
    let db_path = origin.data_dir.join("origin.db");
    let want = ids.len() as i64;
    eventually(
        Duration::from_secs(30),
        "acknowledged records after restart",
        || async {
            let (count, distinct) = embedded_ids(&db_path).await;
            count == distinct && count >= want
        },
    )
    .await;
    let stored = embedded_id_list(&db_path).await;
    for id in &ids {
        assert!(
            stored.binary_search(id).is_ok(),
            "acknowledged record {id} lost"
        );
    }
    origin.terminate();
}

/// Issue 13, finding 1: two apps that send the same messageId (and conversion id) both keep
/// their records in the embedded store and both get their rollups. Before record ids carried
/// the app, the second app's records were "duplicates" of the first's and vanished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_tenant_same_message_id_both_apps_survive_in_every_sink() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = common::receiver::start(SECRET).await;
    let mut origin = Origin::new(
        &dir.path().join("origin"),
        &[("QUERY_WORKER_URL", receiver.url.clone())],
    );
    origin.start().await;
    let client = reqwest::Client::new();
    let first: Vec<_> = (0..4)
        .map(|u| {
            attrib_origin::testkit::with_null_path(attrib_origin::testkit::journey_batch(
                "app-a",
                &format!("user{u}"),
                "x",
                2,
                u % 2 == 0,
                START_MS,
            ))
        })
        .collect();
    let second: Vec<_> = first.iter().map(|b| same_ids_for_app(b, "app-b")).collect();
    for batch in first.iter().chain(&second) {
        let (status, body) = send_batch(&client, &origin, batch).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["accepted"], batch.records.len(), "{body}");
        assert_eq!(body["duplicates"], 0, "{body}");
    }
    let all: Vec<_> = first.iter().chain(&second).cloned().collect();
    let mut expected_ids = ids_of(&all);
    expected_ids.sort();
    let want = expected_ids.len() as i64;
    let db_path = origin.data_dir.join("origin.db");
    eventually(
        Duration::from_secs(30),
        "both apps' records in the embedded db",
        || async { embedded_ids(&db_path).await == (want, want) },
    )
    .await;
    assert_eq!(embedded_id_list(&db_path).await, expected_ids);
    let expected = expected_stats(&all);
    assert_eq!(expected.len(), 2, "one day for each app");
    eventually(
        Duration::from_secs(30),
        "rollups of both apps pushed",
        || async { receiver.received.lock().expect("lock").days == expected },
    )
    .await;
    origin.terminate();
}

async fn query_rows(path: &std::path::Path, sql: &str) -> Vec<Vec<String>> {
    let db = libsql::Builder::new_local(path).build().await.expect("db");
    let conn = db.connect().expect("conn");
    let mut rows = conn.query(sql, ()).await.expect("query");
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.expect("row") {
        let n = row.column_count();
        out.push(
            (0..n)
                .map(|i| match row.get_value(i).expect("value") {
                    libsql::Value::Text(t) => t,
                    libsql::Value::Integer(v) => v.to_string(),
                    libsql::Value::Real(v) => v.to_string(),
                    libsql::Value::Null => "null".into(),
                    libsql::Value::Blob(_) => "blob".into(),
                })
                .collect(),
        );
    }
    out
}

/// Issue 10 item 4: verified SKAN postbacks reach the embedded store once per dedup key, per
/// network, campaign (source identifier) and winning flag, however often they are sent, and
/// two apps with the same transaction id keep both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skan_postbacks_are_stored_once_per_dedup_key() {
    use attrib_origin::testkit::{edge_batch, skan_record};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(&dir.path().join("origin"), &[]);
    origin.start().await;
    let client = reqwest::Client::new();
    let first = edge_batch(
        "app1",
        "skan",
        vec![
            skan_record("app1", "t-1", "1234", true, START_MS),
            skan_record("app1", "t-2", "1234", false, START_MS + 1),
            skan_record("app1", "t-3", "77", true, START_MS + 2),
        ],
    );
    // Apple's device sent t-1 again: the edge forwards the repeat, received later.
    let repeat = edge_batch(
        "app1",
        "skan",
        vec![
            skan_record("app1", "t-1", "1234", true, START_MS + DAY_MS),
            skan_record("app2", "t-1", "1234", true, START_MS),
        ],
    );
    let (status, body) = send_batch(&client, &origin, &first).await;
    assert_eq!(
        (status, body["accepted"].as_u64()),
        (200, Some(3)),
        "{body}"
    );
    let (status, body) = send_batch(&client, &origin, &first).await;
    assert_eq!(
        (status, body["duplicates"].as_u64()),
        (200, Some(3)),
        "{body}"
    );
    let (status, body) = send_batch(&client, &origin, &repeat).await;
    assert_eq!(status, 200, "{body}");
    let db_path = origin.data_dir.join("origin.db");
    eventually(Duration::from_secs(30), "postbacks stored", || async {
        query_rows(&db_path, "SELECT count(*) FROM skan_postbacks").await == [["4"]]
    })
    .await;
    let per_campaign = query_rows(
        &db_path,
        "SELECT app_id, ad_network_id, source_identifier, did_win, count(*), \
         min(received_at_ms) FROM skan_postbacks GROUP BY 1, 2, 3, 4 ORDER BY 1, 3, 4",
    )
    .await;
    let row = |app: &str, source: &str, won: &str, n: &str, ms: i64| {
        vec![
            app.to_owned(),
            "example123.skadnetwork".to_owned(),
            source.to_owned(),
            won.to_owned(),
            n.to_owned(),
            ms.to_string(),
        ]
    };
    assert_eq!(
        per_campaign,
        vec![
            row("app1", "1234", "0", "1", START_MS + 1),
            // The first copy of t-1 stays; the repeat received a day later is not a second.
            row("app1", "1234", "1", "1", START_MS),
            row("app1", "77", "1", "1", START_MS + 2),
            row("app2", "1234", "1", "1", START_MS),
        ]
    );
    origin.terminate();
}

/// Issue 14 item 1: spend rows reach the embedded store one per (app, day, source, campaign,
/// ad group); a re-upload replaces the row, a redelivered older upload does not bring it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_reupload_replaces_and_older_redelivery_does_not() {
    use attrib_origin::testkit::{edge_batch, spend_record};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(&dir.path().join("origin"), &[]);
    origin.start().await;
    let client = reqwest::Client::new();
    let upload = |at: i64, google: f64| {
        edge_batch(
            "app1",
            "spend",
            vec![
                spend_record("app1", "2024-05-01", "google", "spring", google, at),
                spend_record("app1", "2024-05-01", "meta", "spring", 50.0, at),
                // A name with ':' cannot collide with another key in the record id.
                spend_record("app1", "2024-05-01", "a:b", "c", 1.0, at),
                spend_record("app1", "2024-05-01", "a", "b:c", 2.0, at),
            ],
        )
    };
    let first = upload(START_MS, 100.0);
    let second = upload(START_MS + 60_000, 120.0);
    // The re-upload is taken first; the older upload arrives after it (a delayed delivery).
    for batch in [&second, &first, &first] {
        let (status, body) = send_batch(&client, &origin, batch).await;
        assert_eq!(status, 200, "{body}");
    }
    let db_path = origin.data_dir.join("origin.db");
    let sql = "SELECT source, campaign, spend, uploaded_at_ms, impressions, clicks FROM spend \
               WHERE app_id = 'app1' ORDER BY source, campaign";
    let want = vec![
        vec!["a", "b:c", "2", "", "1000", "null"],
        vec!["a:b", "c", "1", "", "1000", "null"],
        vec!["google", "spring", "120", "", "1000", "null"],
        vec!["meta", "spring", "50", "", "1000", "null"],
    ]
    .into_iter()
    .map(|r| {
        r.into_iter()
            .map(|c| {
                if c.is_empty() {
                    (START_MS + 60_000).to_string()
                } else {
                    c.to_owned()
                }
            })
            .collect::<Vec<_>>()
    })
    .collect::<Vec<_>>();
    eventually(Duration::from_secs(30), "the re-upload's rows", || async {
        query_rows(&db_path, sql).await == want
    })
    .await;
    // The older upload's rows reached the store after the re-upload's, and lost.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(query_rows(&db_path, sql).await, want);
    origin.terminate();
}

/// Issue 12, erasure of the rollup facts: `POST /v1/erase` anonymises the person's kept
/// attributions in `rollup-facts.db` (no journey left; the conversions stay as anonymous
/// counts) and pushes their days again with the same figures, as the README's rule for
/// aggregates says; everyone else's facts keep their journey.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_anonymises_the_rollup_facts_and_pushes_the_same_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = common::receiver::start(SECRET).await;
    let mut origin = Origin::new(
        &dir.path().join("origin"),
        &[("QUERY_WORKER_URL", receiver.url.clone())],
    );
    origin.start().await;
    let client = reqwest::Client::new();
    let batches: Vec<_> = (0..4)
        .map(|u| {
            attrib_origin::testkit::journey_batch(
                "app1",
                &format!("fz{u}"),
                "f",
                3,
                true,
                START_MS + (u % 2) as i64 * DAY_MS,
            )
        })
        .collect();
    for batch in &batches {
        let (status, body) = send_batch(&client, &origin, batch).await;
        assert_eq!(status, 200, "{body}");
    }
    let expected = expected_stats(&batches);
    eventually(Duration::from_secs(30), "rollups pushed", || async {
        receiver.received.lock().expect("lock").days == expected
    })
    .await;
    let (paths_before, requests_before) = {
        let received = receiver.received.lock().expect("lock");
        (received.paths.clone(), received.requests)
    };
    let facts = origin.data_dir.join("rollup-facts.db");
    let journeys_of = || async {
        query_rows(
            &facts,
            "SELECT json_extract(record, '$.journey') FROM conversions ORDER BY 1",
        )
        .await
        .into_iter()
        .flatten()
        .collect::<Vec<String>>()
    };
    assert_eq!(
        journeys_of().await,
        ["u:app1:fz0", "u:app1:fz1", "u:app1:fz2", "u:app1:fz3"]
    );

    let (status, reply) = erase_journeys(&client, &origin, "app1", &["u:app1:fz0"]).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply["stores"],
        serde_json::json!({
            "origin_dead_letters": {"status": "done"},
            "origin_embedded": {"status": "done"},
            "origin_rollup_facts": {"status": "done"},
        })
    );
    // Done means the rollup consumer has taken the erasure: the fact is anonymised already.
    assert_eq!(
        journeys_of().await,
        ["erased", "u:app1:fz1", "u:app1:fz2", "u:app1:fz3"]
    );
    // (The testkit's message and touch ids are made from the user name; real ones are not.)
    let leftover = query_rows(
        &facts,
        "SELECT count(*) FROM conversions WHERE record LIKE '%u:app1:fz0%'",
    )
    .await;
    assert_eq!(leftover, [["0"]], "nothing of the person in any fact");
    let linked = query_rows(
        &facts,
        "SELECT count(*) FROM conversion_journeys WHERE journey = 'u:app1:fz0'",
    )
    .await;
    assert_eq!(linked, [["0"]]);
    // The spool segment that held the person's records was closed by the erasure and goes
    // once every sink has taken it.
    let segments = origin.data_dir.join("spool").join("segments");
    eventually(
        Duration::from_secs(30),
        "the person's spool segment deleted",
        || {
            let segments = segments.clone();
            async move {
                std::fs::read_dir(&segments)
                    .map(|entries| {
                        !entries.filter_map(Result::ok).any(|e| {
                            std::fs::read(e.path())
                                .is_ok_and(|b| b.windows(10).any(|w| w == b"u:app1:fz0"))
                        })
                    })
                    .unwrap_or(false)
            }
        },
    )
    .await;
    // The day is pushed again, with the same counts and paths.
    eventually(Duration::from_secs(30), "the day pushed again", || async {
        receiver.received.lock().expect("lock").requests > requests_before
    })
    .await;
    {
        let received = receiver.received.lock().expect("lock");
        assert_eq!(received.days, expected);
        assert_eq!(received.paths, paths_before);
    }
    origin.terminate();
}

/// Regression (issue 12, "an erasure that races with in-flight events leaves nothing behind"):
/// an outbox batch made before its journey's erasure but reaching the origin after it (a
/// Durable Object's flush already on its way) was spooled and stored, bringing the person
/// back. It is now taken and dropped, also after a restart; other journeys' batches are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_outbox_batch_of_an_erased_journey_brings_nothing_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut origin = Origin::new(&dir.path().join("origin"), &[]);
    origin.start().await;
    let client = reqwest::Client::new();
    let batch = |user: &str, tag: &str| {
        attrib_origin::testkit::journey_batch("app1", user, tag, 2, true, START_MS)
    };
    let early = batch("late", "a");
    let (status, body) = send_batch(&client, &origin, &early).await;
    assert_eq!(status, 200, "{body}");
    let (status, reply) = erase_journeys(&client, &origin, "app1", &["u:app1:late"]).await;
    assert_eq!(status, 200, "{reply}");

    let db_path = origin.data_dir.join("origin.db");
    let late = batch("late", "b");
    let late_ids = ids_of(std::slice::from_ref(&late));
    let mut stored_after = Vec::new();
    for round in 0..2 {
        let (status, body) = send_batch(&client, &origin, &late).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["accepted"], 0, "{body}");
        // A batch of another journey sent after it: once it is stored, the late one would be.
        let other = batch(&format!("other{round}"), "c");
        let (status, body) = send_batch(&client, &origin, &other).await;
        assert_eq!(status, 200, "{body}");
        stored_after.extend(ids_of(std::slice::from_ref(&other)));
        eventually(
            Duration::from_secs(30),
            "the other journey stored",
            || async {
                let ids = embedded_id_list(&db_path).await;
                stored_after.iter().all(|id| ids.contains(id))
            },
        )
        .await;
        let ids = embedded_id_list(&db_path).await;
        assert!(
            !ids.iter().any(|id| id.contains("-late-")),
            "round {round}: nothing of the erased journey is stored: {ids:?} (late ids {late_ids:?})"
        );
        assert!(
            origin
                .metrics()
                .await
                .contains("origin_batches_of_erased_journeys_total 1"),
            "round {round}"
        );
        // The registry survives a restart.
        origin.terminate();
        origin.start().await;
    }
}
