//! Sending postbacks from the journey's alarm, retrying with backoff, and logging each attempt
//! here (the journey view) and in D1's `postback_attempts` (the query API's `/v1/postbacks`).
//!
//! A postback row is written with its attribution (status `pending`, due at once). Each alarm
//! sends the due ones ([`MAX_POSTBACKS_PER_ALARM`] at most, concurrently, each bounded by
//! [`POSTBACK_TIMEOUT_MS`]); `attrib_core::postback::outcome_of` decides what an answer means
//! and `backoff_ms` when to try again. Attempts are copied to D1 after the fact and marked
//! logged, so a D1 outage delays the log but never loses or duplicates it (the D1 insert is
//! keyed by (postback, attempt)).
//!
//! Device-id macros (issue 10, scope 5, `attrib_core::postback::device`): the stored URL keeps
//! `{idfa}` and the like unfilled; the raw ids sit in the row's own `device_ids` column, are
//! filled in only for the request, and are set to NULL in the same write that ends the
//! postback (delivered or failed). Error texts are redacted before they are stored, so the
//! journey view, the export and D1's log never hold a raw id.
//!
//! Outbound policy (issue 13, finding 6): redirects are never followed (a 3xx is a permanent
//! refusal), and a URL whose host the deployment does not permit
//! (`attrib_core::postback::target`, `ALLOW_LOOPBACK_TARGETS`) is not requested at all: the
//! attempt is logged as failed with the reason.

use std::time::Duration;

use attrib_core::limits::{MAX_POSTBACKS_PER_ALARM, MAX_POSTBACK_ERROR_CHARS, POSTBACK_TIMEOUT_MS};
use attrib_core::postback::device::{request_for, PostbackDeviceIds};
use attrib_core::postback::target::{check_url, Targets};
use attrib_core::postback::{
    backoff_ms, outcome_of, AttemptOutcome, Postback, PostbackMethod, PostbackState,
    PostbackStatus, IDEMPOTENCY_HEADER,
};
use attrib_core::privacy::residency::{is_eu, logged_attempt};
use attrib_worker_common::apps::{self, DB_BINDING};
use futures_util::future::{join_all, select, Either};
use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{
    AbortController, Delay, Env, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
};

use crate::extras::Extra;
use crate::flush::now_ms;
use crate::meta::Meta;
use crate::store::{int, text, SqlJourneyStore, StoreError};
use crate::tx;

/// Attempts copied to D1 per alarm run (one D1 batch).
pub const MAX_LOGGED_ATTEMPTS_PER_ALARM: usize = 100;
/// When copying attempts to D1 failed, the alarm tries again this much later.
pub const LOG_RETRY_MS: i64 = 30_000;
pub const USER_AGENT: &str = "attrib-postbacks/1";

#[derive(Deserialize)]
struct DueRow {
    attempts: f64,
    body: String,
    device_ids: Option<String>,
}

/// What one attempt got.
struct Attempt {
    postback: Postback,
    number: u32,
    at_ms: i64,
    status: Option<u16>,
    error: Option<String>,
    /// Not sent: the target is not permitted (never retried).
    refused: bool,
    duration_ms: i64,
}

/// Sends every due postback; returns when the next one is due (or logging must be retried).
pub async fn send_due(store: &SqlJourneyStore, env: &Env, journey: &str) -> Option<i64> {
    if store.postbacks_idle() || !store.has(Extra::Postbacks).unwrap_or(true) {
        return None;
    }
    if let Err(err) = send_batch(store, apps::targets(env)).await {
        worker::console_error!("postbacks: {err}");
    }
    let log_retry = match log_attempts(store, env, journey).await {
        Ok(()) => None,
        Err(err) => {
            worker::console_warn!("postback attempts not logged to D1 yet: {err}");
            Some(now_ms() + LOG_RETRY_MS)
        }
    };
    let next = next_due(store).unwrap_or_else(|err| {
        worker::console_error!("postbacks: {err}");
        Some(now_ms() + LOG_RETRY_MS)
    });
    // Read after the last await: a postback stored meanwhile is in `next`.
    store.set_postbacks_idle(next.is_none() && log_retry.is_none());
    match (next, log_retry) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

async fn send_batch(store: &SqlJourneyStore, targets: Targets) -> Result<(), StoreError> {
    let now = now_ms();
    let rows: Vec<DueRow> = store
        .sql
        .exec(
            "SELECT attempts, body, device_ids FROM postbacks WHERE status = 'pending' \
             AND next_attempt_ms <= ? ORDER BY next_attempt_ms, key LIMIT ?",
            vec![int(now), int(MAX_POSTBACKS_PER_ALARM as i64)],
        )?
        .to_array()?;
    let mut due = Vec::with_capacity(rows.len());
    for row in rows {
        let mut postback: Postback = serde_json::from_str(&row.body)?;
        // Unreadable ids send the device macros empty rather than hold the postback back.
        postback.device_ids = row
            .device_ids
            .as_deref()
            .and_then(|ids| serde_json::from_str::<PostbackDeviceIds>(ids).ok());
        due.push((postback, (row.attempts as u32).saturating_add(1)));
    }
    let attempts = join_all(
        due.into_iter()
            .map(|(postback, number)| attempt(postback, number, targets)),
    )
    .await;
    // Erased while the requests were out (other calls run while the alarm awaits): the
    // postbacks are gone, and their attempts must not come back as orphan rows.
    if erased_since(store, now)? {
        return Ok(());
    }
    for attempt in &attempts {
        record(store, attempt)?;
    }
    Ok(())
}

/// Whether the journey was erased at or after `since_ms` (its tombstone's time).
fn erased_since(store: &SqlJourneyStore, since_ms: i64) -> Result<bool, StoreError> {
    Ok(Meta::new(store)
        .erased_at_ms()?
        .is_some_and(|at| at >= since_ms))
}

async fn attempt(postback: Postback, number: u32, targets: Targets) -> Attempt {
    let at_ms = now_ms();
    let redact = |text: String| match &postback.device_ids {
        Some(ids) => ids.redact(&text),
        None => text,
    };
    let refused = |postback: Postback, reason: String| Attempt {
        postback,
        number,
        at_ms,
        status: None,
        error: Some(clip(&reason)),
        refused: true,
        duration_ms: 0,
    };
    let (url, body) = match request_for(&postback) {
        Ok(request) => request,
        Err(reason) => {
            let reason = redact(format!("device macros not filled: {reason}"));
            return refused(postback, reason);
        }
    };
    if let Err(reason) = check_url(&url, targets) {
        let reason = redact(format!("target refused: {reason}"));
        return refused(postback, reason);
    }
    let (status, error) = match send(&postback, &url, body.as_deref()).await {
        Ok(status) if (200..300).contains(&status) => (Some(status), None),
        Ok(status) => (Some(status), Some(format!("HTTP {status}"))),
        Err(error) => (None, Some(clip(&redact(error)))),
    };
    Attempt {
        postback,
        number,
        at_ms,
        status,
        error,
        refused: false,
        duration_ms: now_ms() - at_ms,
    }
}

/// One request to `url` (the stored URL with its device macros filled in), with the
/// idempotency key; the status it got, or why it got none.
async fn send(postback: &Postback, url: &str, body: Option<&str>) -> Result<u16, String> {
    let headers = Headers::new();
    let fail = |e: worker::Error| e.to_string();
    headers
        .set(IDEMPOTENCY_HEADER, &postback.key)
        .map_err(fail)?;
    headers.set("user-agent", USER_AGENT).map_err(fail)?;
    let mut init = RequestInit::new();
    match (postback.method, body) {
        (PostbackMethod::Post, Some(body)) => {
            headers
                .set("content-type", "application/json")
                .map_err(fail)?;
            init.with_method(Method::Post)
                .with_body(Some(JsValue::from_str(body)));
        }
        (PostbackMethod::Post, None) => {
            init.with_method(Method::Post);
        }
        (PostbackMethod::Get, _) => {
            init.with_method(Method::Get);
        }
    }
    init.with_headers(headers);
    // A redirect could lead anywhere, private addresses included: its 3xx is the answer.
    init.with_redirect(RequestRedirect::Manual);
    let request = Request::new_with_init(url, &init).map_err(fail)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let sending = Box::pin(fetch.send_with_signal(&signal));
    let timeout = Delay::from(Duration::from_millis(POSTBACK_TIMEOUT_MS));
    let answer = match select(sending, timeout).await {
        Either::Left((Ok(response), _)) => Ok(response.status_code()),
        Either::Left((Err(err), _)) => Err(err.to_string()),
        Either::Right(_) => Err(format!("no answer within {POSTBACK_TIMEOUT_MS} ms")),
    };
    if answer.is_err() {
        controller.abort();
    }
    answer
}

fn clip(text: &str) -> String {
    text.chars().take(MAX_POSTBACK_ERROR_CHARS).collect()
}

/// Updates the postback and appends its attempt, together.
fn record(store: &SqlJourneyStore, attempt: &Attempt) -> Result<(), StoreError> {
    let key = &attempt.postback.key;
    let outcome = if attempt.refused {
        AttemptOutcome::Failed
    } else {
        outcome_of(attempt.status, attempt.number)
    };
    let (status, next) = match outcome {
        AttemptOutcome::Delivered => ("delivered", None),
        AttemptOutcome::Retry => (
            "pending",
            Some(attempt.at_ms + backoff_ms(attempt.number, key)),
        ),
        AttemptOutcome::Failed => ("failed", None),
    };
    let optional_int = |v: Option<i64>| v.map_or(worker::SqlStorageValue::Null, int);
    let optional_text = |v: Option<&str>| v.map_or(worker::SqlStorageValue::Null, text);
    tx::atomically(
        &store.storage,
        || {
            store.sql.exec(
                // Delivered or failed: the raw device ids are forgotten in the same write.
                "UPDATE postbacks SET status = ?, attempts = ?, next_attempt_ms = ?, \
                 last_status = ?, last_error = ?, last_attempt_ms = ?, \
                 device_ids = CASE WHEN ? = 'pending' THEN device_ids END WHERE key = ?",
                vec![
                    text(status),
                    int(i64::from(attempt.number)),
                    optional_int(next),
                    optional_int(attempt.status.map(i64::from)),
                    optional_text(attempt.error.as_deref()),
                    int(attempt.at_ms),
                    text(status),
                    text(key),
                ],
            )?;
            store.sql.exec(
                "INSERT OR IGNORE INTO postback_attempts (key, attempt, at_ms, status, error, \
                 outcome, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                vec![
                    text(key),
                    int(i64::from(attempt.number)),
                    int(attempt.at_ms),
                    optional_int(attempt.status.map(i64::from)),
                    optional_text(attempt.error.as_deref()),
                    text(outcome.as_str()),
                    int(attempt.duration_ms),
                ],
            )?;
            Ok::<_, StoreError>(())
        },
        StoreError::Transaction,
    )
}

#[derive(Deserialize)]
struct MaybeTime {
    ts: Option<f64>,
}

/// When the earliest pending postback is due.
pub fn next_due(store: &SqlJourneyStore) -> Result<Option<i64>, StoreError> {
    store.reading(Extra::Postbacks, || {
        let rows: Vec<MaybeTime> = store
            .sql
            .exec(
                "SELECT min(next_attempt_ms) AS ts FROM postbacks WHERE status = 'pending'",
                None,
            )?
            .to_array()?;
        Ok(rows.first().and_then(|r| r.ts).map(|t| t as i64))
    })
}

#[derive(Deserialize)]
struct AttemptRow {
    key: String,
    attempt: f64,
    at_ms: f64,
    status: Option<f64>,
    error: Option<String>,
    outcome: String,
    duration_ms: f64,
    body: String,
}

#[derive(Debug, thiserror::Error)]
enum LogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("D1: {0}")]
    D1(#[from] worker::Error),
    /// An EU journey's rows need the suppression secret for their hashed journey: without it
    /// they stay in the journey (retried later), never copied with the raw id.
    #[error("an EU journey's attempts are not copied without the key of their hash: {0}")]
    NoSecret(attrib_worker_common::EdgeError),
}

/// Copies attempts not yet in D1 there, then marks them logged.
async fn log_attempts(store: &SqlJourneyStore, env: &Env, journey: &str) -> Result<(), LogError> {
    let started_ms = now_ms();
    let rows: Vec<AttemptRow> = store
        .sql
        .exec(
            "SELECT a.key, a.attempt, a.at_ms, a.status, a.error, a.outcome, a.duration_ms, p.body \
             FROM postback_attempts a JOIN postbacks p ON p.key = a.key WHERE a.logged = 0 \
             ORDER BY a.at_ms LIMIT ?",
            vec![int(MAX_LOGGED_ATTEMPTS_PER_ALARM as i64)],
        )
        .map_err(StoreError::from)?
        .to_array()
        .map_err(StoreError::from)?;
    if rows.is_empty() {
        return Ok(());
    }
    // A journey in the EU jurisdiction copies no personal identifier out of it (issue 12 item
    // 8, `attrib_core::privacy::residency`): its full log stays here.
    let eu_secret = if is_eu(Meta::new(store).placement()?.as_ref()) {
        Some(attrib_worker_common::suppression::secret(env).map_err(LogError::NoSecret)?)
    } else {
        None
    };
    let db = env.d1(DB_BINDING)?;
    let mut statements = Vec::with_capacity(rows.len());
    for row in &rows {
        let postback: Postback = serde_json::from_str(&row.body).map_err(StoreError::from)?;
        let logged = logged_attempt(
            eu_secret.as_deref(),
            &postback.app_id,
            journey,
            &postback.url,
            row.error.as_deref(),
        );
        let nullable_f64 = |v: Option<f64>| v.map_or(JsValue::NULL, JsValue::from_f64);
        let nullable_str = |v: Option<&str>| v.map_or(JsValue::NULL, JsValue::from_str);
        statements.push(
            db.prepare(
                "INSERT OR IGNORE INTO postback_attempts (postback_key, attempt, app_id, journey, \
                 network, conversion_id, event_name, method, url, status_code, error, outcome, \
                 attempted_at_ms, duration_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            )
            .bind(&[
                row.key.as_str().into(),
                JsValue::from_f64(row.attempt),
                postback.app_id.as_str().into(),
                logged.journey.as_str().into(),
                postback.network.as_str().into(),
                postback.conversion_id.as_str().into(),
                postback.event_name.as_str().into(),
                postback.method.as_str().into(),
                logged.url.as_str().into(),
                nullable_f64(row.status),
                nullable_str(logged.error.as_deref()),
                row.outcome.as_str().into(),
                JsValue::from_f64(row.at_ms),
                JsValue::from_f64(row.duration_ms),
            ])?,
        );
    }
    if let Some(delay_ms) = test_log_delay_ms(env) {
        Delay::from(Duration::from_millis(delay_ms)).await;
    }
    db.batch(statements).await?;
    if erased_since(store, started_ms)? {
        // Erased while the copy was on its way: the regulation may have cleared D1's log before
        // these rows landed, so they go now (issue 12: nothing of the person remains).
        let deletes = rows
            .iter()
            .map(|row| {
                db.prepare("DELETE FROM postback_attempts WHERE postback_key = ?1 AND attempt = ?2")
                    .bind(&[row.key.as_str().into(), JsValue::from_f64(row.attempt)])
            })
            .collect::<Result<Vec<_>, _>>()?;
        db.batch(deletes).await?;
        return Ok(());
    }
    for row in &rows {
        store
            .sql
            .exec(
                "UPDATE postback_attempts SET logged = 1 WHERE key = ? AND attempt = ?",
                vec![text(&row.key), int(row.attempt as i64)],
            )
            .map_err(StoreError::from)?;
    }
    Ok(())
}

/// `POSTBACK_LOG_DELAY_MS`, for tests only (never set in wrangler.toml): holds the copy to D1
/// that long, so an e2e test can erase the journey while the copy is on its way.
fn test_log_delay_ms(env: &Env) -> Option<u64> {
    env.var("POSTBACK_LOG_DELAY_MS")
        .ok()
        .and_then(|v| v.to_string().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
}

#[derive(Deserialize)]
struct StateRow {
    status: String,
    attempts: f64,
    next_attempt_ms: Option<f64>,
    last_status: Option<f64>,
    last_error: Option<String>,
    last_attempt_ms: Option<f64>,
    body: String,
    /// 1 while the row keeps raw device ids.
    holds_device_ids: f64,
}

/// Every postback of the journey with its delivery state, oldest first.
pub fn states(store: &SqlJourneyStore) -> Result<Vec<PostbackState>, StoreError> {
    store.reading(Extra::Postbacks, || {
        state_rows(store, "ORDER BY created_ms, key", Vec::new())?
            .into_iter()
            .map(state_of)
            .collect()
    })
}

/// The newest `limit` postbacks with their delivery state, oldest first (the export's bound).
pub fn newest_states(
    store: &SqlJourneyStore,
    limit: usize,
) -> Result<Vec<PostbackState>, StoreError> {
    store.reading(Extra::Postbacks, || {
        let rows = state_rows(
            store,
            "ORDER BY created_ms DESC, key DESC LIMIT ?",
            vec![int(limit as i64)],
        )?;
        let mut states = rows
            .into_iter()
            .map(state_of)
            .collect::<Result<Vec<_>, _>>()?;
        states.reverse();
        Ok(states)
    })
}

fn state_rows(
    store: &SqlJourneyStore,
    order: &str,
    binds: Vec<worker::SqlStorageValue>,
) -> Result<Vec<StateRow>, StoreError> {
    Ok(store
        .sql
        .exec(
            &format!(
                "SELECT status, attempts, next_attempt_ms, last_status, last_error, \
                 last_attempt_ms, body, device_ids IS NOT NULL AS holds_device_ids \
                 FROM postbacks {order}"
            ),
            binds,
        )?
        .to_array()?)
}

fn state_of(row: StateRow) -> Result<PostbackState, StoreError> {
    let postback: Postback = serde_json::from_str(&row.body)?;
    let status = match row.status.as_str() {
        "delivered" => PostbackStatus::Delivered,
        "failed" => PostbackStatus::Failed,
        _ => PostbackStatus::Pending,
    };
    Ok(PostbackState {
        key: postback.key,
        network: postback.network,
        conversion_id: postback.conversion_id,
        event_name: postback.event_name,
        method: postback.method,
        url: postback.url,
        status,
        attempts: row.attempts as u32,
        last_status: row.last_status.map(|s| s as u16),
        last_error: row.last_error,
        last_attempt_ms: row.last_attempt_ms.map(|t| t as i64),
        next_attempt_ms: row.next_attempt_ms.map(|t| t as i64),
        created_at_ms: postback.created_at_ms,
        holds_device_ids: row.holds_device_ids != 0.0,
    })
}
