//! `POST /v1/outbox`: authenticate, validate, spool, then acknowledge.
//!
//! Order matters: a request past the in-flight bound is refused at once (503); the signature
//! header must be present, well formed and fresh before any of the body is read; the size
//! limit is enforced while reading, within the request timeout (408); the signature is
//! checked before any parsing (an unauthenticated body costs no more than an HMAC), and the
//! batch is parsed completely before anything is spooled, so a bad batch changes nothing.
//! Bounds: `crate::limits`.

use attrib_core::geo::OriginRegion;
use attrib_core::limits::{MAX_OUTBOX_BATCH_BYTES, MAX_OUTBOX_RECORDS_PER_BATCH};
use attrib_core::outbox::{OutboxRecord, OUTBOX_PATH, SIGNATURE_HEADER};
use attrib_core::signing;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::value::RawValue;

use http_body_util::BodyExt;

use super::error::ApiError;
use super::AppState;
use crate::contract::parse_record;
use crate::limits::RETRY_AFTER_SECS;
use crate::spool::{now_ms, EncodedBatch, SpoolError};

/// How much of an oversized body is read and dropped before the 413 (see [`read_limited`]).
const DRAIN_LIMIT_BYTES: usize = 2 * MAX_OUTBOX_BATCH_BYTES;

/// The batch with its records still as raw JSON, so each is spooled exactly as sent.
#[derive(Deserialize)]
struct RawBatch<'a> {
    journey: String,
    #[allow(dead_code)] // validated here; routing uses the records' own fields
    region: OriginRegion,
    #[serde(borrow)]
    records: Vec<&'a RawValue>,
}

pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let result = handle(&state, &headers, body).await;
    match &result {
        Ok(outcome) => {
            state.metrics.batches_accepted.inc();
            state.metrics.records_accepted.add(outcome.0 as u64);
            state.metrics.records_duplicate.add(outcome.1 as u64);
        }
        Err(err) => {
            state.metrics.rejected(err.code);
            tracing::warn!(code = err.code, field = ?err.field, "outbox batch refused: {}", err.message);
        }
    }
    result.map(|(accepted, duplicates)| {
        Json(serde_json::json!({"accepted": accepted, "duplicates": duplicates}))
    })
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(usize, usize), ApiError> {
    let Ok(_permit) = state.in_flight.try_acquire() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "too many outbox requests in flight (ATTRIB_ORIGIN_MAX_IN_FLIGHT); retry shortly",
        )
        .retry_after(RETRY_AFTER_SECS));
    };
    let header = signature_header(headers)?;
    signing::precheck(header, chrono::Utc::now().timestamp()).map_err(|err| {
        ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", err.to_string())
            .at(SIGNATURE_HEADER)
    })?;
    let body = tokio::time::timeout(state.request_timeout, read_limited(headers, body))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the body did not arrive within {} ms (ATTRIB_ORIGIN_REQUEST_TIMEOUT_MS)",
                    state.request_timeout.as_millis()
                ),
            )
        })??;
    authenticate(state, header, &body)?;
    // Only while a journey was erased lately: the check parses the body once more.
    if let Some(journey) = state.erased.any().then(|| batch_journey(&body)).flatten() {
        if state.erased.holds(&journey, now_ms()) {
            // Made before its journey was erased and late: taken, never stored (issue 12).
            state.metrics.batches_of_erased_journeys.inc();
            return Ok((0, 0));
        }
    }
    let records = parse(&body)?;
    let outcome = state.spool.append(records).await.map_err(spool_error)?;
    Ok((outcome.accepted, outcome.duplicates))
}

/// The batch's journey, read only for the erased-journeys check (the full parse follows).
fn batch_journey(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct JourneyOnly {
        journey: String,
    }
    serde_json::from_slice::<JourneyOnly>(body)
        .ok()
        .map(|b| b.journey)
}

fn spool_error(err: SpoolError) -> ApiError {
    let (status, code, message) = match &err {
        SpoolError::DiskFull { .. } => (
            StatusCode::INSUFFICIENT_STORAGE,
            "insufficient_storage",
            format!("{err}; nothing was written, retry later"),
        ),
        SpoolError::Busy(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "spool_busy",
            err.to_string(),
        ),
        SpoolError::Poisoned | SpoolError::Closed => (
            StatusCode::SERVICE_UNAVAILABLE,
            "spool_unavailable",
            format!("{err}; retry later"),
        ),
        other => (
            StatusCode::SERVICE_UNAVAILABLE,
            "spool_unavailable",
            format!("the batch could not be made durable ({other}); retry later"),
        ),
    };
    ApiError::new(status, code, message).retry_after(RETRY_AFTER_SECS)
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "batch_too_large",
        format!("the body exceeds MAX_OUTBOX_BATCH_BYTES ({MAX_OUTBOX_BATCH_BYTES} bytes); split the batch"),
    )
}

/// Reads the body, refusing more than [`MAX_OUTBOX_BATCH_BYTES`]. An oversized body is still
/// read (and dropped) up to [`DRAIN_LIMIT_BYTES`], so the sender gets to read the 413 instead
/// of a connection reset mid-upload; beyond that the connection is cut.
async fn read_limited(headers: &HeaderMap, mut body: Body) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > DRAIN_LIMIT_BYTES) {
        return Err(too_large());
    }
    let mut kept = Vec::with_capacity(declared.unwrap_or(0).min(MAX_OUTBOX_BATCH_BYTES));
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            ApiError::new(StatusCode::BAD_REQUEST, "unreadable_body", err.to_string())
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len();
        if total <= MAX_OUTBOX_BATCH_BYTES {
            kept.extend_from_slice(&data);
        } else if total > DRAIN_LIMIT_BYTES {
            return Err(too_large());
        }
    }
    if total > MAX_OUTBOX_BATCH_BYTES {
        return Err(too_large());
    }
    Ok(Bytes::from(kept))
}

fn signature_header(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_signature",
                format!("the {SIGNATURE_HEADER} header is required"),
            )
            .at(SIGNATURE_HEADER)
        })
}

fn authenticate(state: &AppState, header: &str, body: &[u8]) -> Result<(), ApiError> {
    let now = chrono::Utc::now().timestamp();
    state
        .outbox_keys
        .verify(header, "POST", OUTBOX_PATH, body, now)
        .map_err(|err| {
            ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", err.to_string())
                .at(SIGNATURE_HEADER)
        })
}

/// The batch, encoded for the spool. Valid batches take the fast path: one parse into
/// borrowed views. Anything it does not take is checked with the contract types, which give
/// the precise error; a valid batch in a shape the fast path does not expect (escaped keys,
/// say) is then encoded record by record.
fn parse(body: &[u8]) -> Result<EncodedBatch, ApiError> {
    if let Some(batch) = fast_parse(body) {
        return Ok(batch);
    }
    validate(body)?;
    let batch: RawBatch = serde_json::from_slice(body)
        .map_err(|err| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", err.to_string()))?;
    encode(&batch).map_err(|index| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_record",
            "a valid OutboxRecord the origin cannot read (enum tags must be strings)",
        )
        .at(format!("records[{index}]"))
    })
}

fn fast_parse(body: &[u8]) -> Option<EncodedBatch> {
    super::scan::parse_batch(body)
}

/// Encodes every record; `Err(index)` for the first one the views refuse or that lacks an id.
fn encode(batch: &RawBatch) -> Result<EncodedBatch, usize> {
    if batch.records.len() > MAX_OUTBOX_RECORDS_PER_BATCH {
        return Err(0);
    }
    let bytes: usize = batch.records.iter().map(|r| r.get().len()).sum();
    let mut encoded = EncodedBatch::with_capacity(bytes + bytes / 2, batch.records.len());
    for (index, raw) in batch.records.iter().enumerate() {
        let view = parse_record(raw.get()).map_err(|_| index)?;
        if super::scan::missing_identity(&view) {
            return Err(index);
        }
        encoded.push_view(&view, raw.get(), &batch.journey);
    }
    Ok(encoded)
}

/// The contract types' verdict on a batch, with the error the Durable Object gets.
fn validate(body: &[u8]) -> Result<(), ApiError> {
    let batch: RawBatch = serde_json::from_slice(body).map_err(|err| {
        let code = if err.is_data() {
            "invalid_batch"
        } else {
            "invalid_json"
        };
        let status = if err.is_data() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::BAD_REQUEST
        };
        ApiError::new(status, code, format!("not an OutboxBatch: {err}"))
    })?;
    if batch.records.len() > MAX_OUTBOX_RECORDS_PER_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_records",
            format!(
                "{} records; at most MAX_OUTBOX_RECORDS_PER_BATCH ({MAX_OUTBOX_RECORDS_PER_BATCH}) per batch",
                batch.records.len()
            ),
        )
        .at("records"));
    }
    for (index, raw) in batch.records.iter().enumerate() {
        let field = format!("records[{index}]");
        let record: OutboxRecord = serde_json::from_str(raw.get()).map_err(|err| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_record",
                format!("not an OutboxRecord: {err}"),
            )
            .at(field.clone())
        })?;
        if let Some((sub, reason)) = missing_identity(&record) {
            return Err(
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_record", reason)
                    .at(format!("{field}.{sub}")),
            );
        }
    }
    Ok(())
}

/// Empty keys would make every record of a kind collide on one id; a null path without a
/// step could not be counted.
fn missing_identity(record: &OutboxRecord) -> Option<(&'static str, &'static str)> {
    if record.app_id().is_empty() {
        return Some(("app_id", "must not be empty"));
    }
    match record {
        OutboxRecord::Event(r) if r.event.message_id.is_empty() => Some((
            "event.messageId",
            "must not be empty (it is the record's id)",
        )),
        OutboxRecord::Attribution(r) if r.result.conversion.conversion_id.is_empty() => Some((
            "result.conversion.conversion_id",
            "must not be empty (it is the record's id)",
        )),
        OutboxRecord::NullPath(r) if r.journey.is_empty() => Some((
            "journey",
            "must not be empty (it is part of the record's id)",
        )),
        OutboxRecord::NullPath(r) if r.last_touch_id.is_empty() => Some((
            "last_touch_id",
            "must not be empty (it is part of the record's id)",
        )),
        OutboxRecord::NullPath(r) if r.path.is_empty() => {
            Some(("path", "must have at least one step"))
        }
        OutboxRecord::SkanPostback(r) if r.dedup_key.is_empty() => Some((
            "dedup_key",
            "must not be empty (it is part of the record's id)",
        )),
        OutboxRecord::Spend(r) if crate::spool::columns::day_ms(&r.day).is_none() => {
            Some(("day", "must be a YYYY-MM-DD day"))
        }
        OutboxRecord::Spend(r) if !r.spend.is_finite() => {
            Some(("spend", "must be a finite number"))
        }
        _ => None,
    }
}
