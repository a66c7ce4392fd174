//! A stand-in for the query Worker's `/internal/rollups`: verifies the signature like the
//! Worker will, and keeps the latest rows of every (app, day) it was sent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use attrib_core::cohorts::{CohortRow, LtvSummary};
use attrib_core::outbox::SIGNATURE_HEADER;
use attrib_core::rollup::{AppDay, DailyStat, FraudCount, PathStat, RollupUpsert, ROLLUP_PATH};
use attrib_core::signing::{Direction, Keyring};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

#[derive(Default)]
pub struct Received {
    /// Replaced per (app, day), as D1 will be.
    pub days: BTreeMap<AppDay, Vec<DailyStat>>,
    /// Likewise for conversion paths and fraud counts.
    pub paths: BTreeMap<AppDay, Vec<PathStat>>,
    pub fraud: BTreeMap<AppDay, Vec<FraudCount>>,
    /// Likewise for cohort rows and lifetime-value customers (keyed by cohort day).
    pub cohorts: BTreeMap<AppDay, Vec<CohortRow>>,
    pub ltv_customers: BTreeMap<AppDay, Vec<LtvSummary>>,
    pub requests: usize,
    pub bad_signatures: usize,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Received>>,
}

pub async fn start(secret: &'static str) -> Receiver {
    let received = Arc::new(Mutex::new(Received::default()));
    let app = Router::new()
        .route(ROLLUP_PATH, post(receive))
        .with_state((received.clone(), secret));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver { url, received }
}

async fn receive(
    State((received, secret)): State<(Arc<Mutex<Received>>, &'static str)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut received = received.lock().expect("lock");
    received.requests += 1;
    let header = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let now = chrono::Utc::now().timestamp();
    let keys = Keyring::derived(Direction::Rollups, secret.as_bytes());
    if keys
        .verify(header, "POST", ROLLUP_PATH, &body, now)
        .is_err()
    {
        received.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(upsert) = serde_json::from_slice::<RollupUpsert>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    for day in &upsert.days {
        let rows = upsert
            .rows
            .iter()
            .filter(|r| r.key.app_id == day.app_id && r.key.day == day.day)
            .cloned()
            .collect();
        received.days.insert(day.clone(), rows);
        let of_day = |app_id: &str, d: &str| app_id == day.app_id && d == day.day;
        if let Some(paths) = &upsert.paths {
            let rows = paths.iter().filter(|p| of_day(&p.app_id, &p.day)).cloned();
            received.paths.insert(day.clone(), rows.collect());
        }
        if let Some(fraud) = &upsert.fraud {
            let rows = fraud.iter().filter(|f| of_day(&f.app_id, &f.day)).cloned();
            received.fraud.insert(day.clone(), rows.collect());
        }
        if let Some(cohorts) = &upsert.cohorts {
            let rows = cohorts
                .iter()
                .filter(|c| of_day(&c.app_id, &c.day))
                .cloned();
            received.cohorts.insert(day.clone(), rows.collect());
        }
        if let Some(customers) = &upsert.ltv_customers {
            let rows = customers
                .iter()
                .filter(|c| of_day(&c.app_id, &c.day))
                .cloned();
            received.ltv_customers.insert(day.clone(), rows.collect());
        }
    }
    StatusCode::OK
}
