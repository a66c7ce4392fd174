//! A stand-in for the query Worker's signed `GET /internal/retention` (the real one is tested
//! in workerd by e2e/privacy-retention-origin-read.test.mjs): checks the signature over the
//! path and query like the Worker, and answers the given apps' days in pages of
//! `RETENTION_APPS_PER_PAGE` after the `after` cursor, as the Worker does.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use attrib_core::app_retention::{RetentionPage, AFTER_PARAM, RETENTION_PATH};
use attrib_core::limits::RETENTION_APPS_PER_PAGE;
use attrib_core::outbox::SIGNATURE_HEADER;
use attrib_core::signing::{Direction, Keyring};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};

#[derive(Clone)]
pub struct RetentionWorker {
    pub url: String,
    pub signed_reads: Arc<AtomicUsize>,
    pub bad_signatures: Arc<AtomicUsize>,
}

impl RetentionWorker {
    pub fn signed_reads(&self) -> usize {
        self.signed_reads.load(Ordering::SeqCst)
    }
    pub fn bad_signatures(&self) -> usize {
        self.bad_signatures.load(Ordering::SeqCst)
    }
}

type Shared = (RetentionWorker, BTreeMap<String, u32>, &'static str);

pub async fn start(secret: &'static str, apps: &[(&str, u32)]) -> RetentionWorker {
    let apps = apps.iter().map(|(a, d)| ((*a).to_owned(), *d)).collect();
    start_with(secret, apps).await
}

pub async fn start_with(secret: &'static str, apps: BTreeMap<String, u32>) -> RetentionWorker {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let worker = RetentionWorker {
        url: format!("http://{}", listener.local_addr().expect("addr")),
        signed_reads: Arc::default(),
        bad_signatures: Arc::default(),
    };
    let app = Router::new()
        .route(RETENTION_PATH, get(answer))
        .with_state((worker.clone(), apps, secret));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    worker
}

async fn answer(
    State((worker, apps, secret)): State<Shared>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<RetentionPage>, StatusCode> {
    let header = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let path = match &query {
        Some(q) => format!("{RETENTION_PATH}?{q}"),
        None => RETENTION_PATH.to_owned(),
    };
    let keys = Keyring::derived(Direction::Rollups, secret.as_bytes());
    if keys
        .verify(header, "GET", &path, b"", chrono::Utc::now().timestamp())
        .is_err()
    {
        worker.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return Err(StatusCode::UNAUTHORIZED);
    }
    worker.signed_reads.fetch_add(1, Ordering::SeqCst);
    let after = reqwest::Url::parse(&format!("http://x/?{}", query.unwrap_or_default()))
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == AFTER_PARAM)
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default();
    let mut rest = apps.range::<String, _>((Bound::Excluded(after), Bound::Unbounded));
    let page: BTreeMap<String, u32> = rest
        .by_ref()
        .take(RETENTION_APPS_PER_PAGE)
        .map(|(a, d)| (a.clone(), *d))
        .collect();
    let next = match rest.next() {
        Some(_) => page.keys().next_back().cloned(),
        None => None,
    };
    Ok(Json(RetentionPage {
        apps: page,
        default_days: attrib_core::limits::DEFAULT_RETENTION_DAYS,
        next,
    }))
}
