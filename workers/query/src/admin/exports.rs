//! `GET /admin/v1/apps/{app}/subjects/{USER_ID|ANONYMOUS_ID}/{id}/export`: everything held
//! about one person as one JSON document (issue 12, data-subject access).
//!
//! A `GET` answering the document at once, not a regulation-like `POST .../exports`: an export
//! changes nothing (no version move, no audit row of a change), reads only the edge stores
//! (the person's Journey objects and D1) and fits one bounded reply, so there is no work left
//! pending whose status a caller would poll. The subject is named the way regulations name
//! it (`subjectType`, Segment's spelling), so tooling maps one onto the other.
//!
//! Read: the requested journey, where it was merged into and every journey merged into those
//! (at most [`MAX_SUBJECT_EXPORT_JOURNEYS`], within [`MAX_SUBJECT_EXPORT_BYTES`]; journeys
//! past either bound are named in `journeys_not_read`), each with its raw events, touches,
//! conversions (their attribution results) and postbacks; the postback attempt log rows of
//! those journeys from D1 (newest [`MAX_EXPORT_POSTBACK_ATTEMPTS`]); and whether the subject
//! is on the app's suppression list.

use std::collections::{BTreeSet, VecDeque};

use attrib_core::identity::{JourneyKey, JourneyKind};
use attrib_core::limits::{
    MAX_EXPORT_POSTBACK_ATTEMPTS, MAX_ID_CHARS, MAX_SUBJECT_EXPORT_BYTES,
    MAX_SUBJECT_EXPORT_JOURNEYS,
};
use attrib_core::privacy::residency::log_names;
use attrib_core::privacy::{subject_hash, SubjectType};
use attrib_core::protocol::{JourneyRawExport, EXPORT_PATH};
use attrib_core::FieldError;
use attrib_worker_common::apps::{self, DB_BINDING};
use attrib_worker_common::{config, journeys, response, suppression, EdgeError};
use serde::Serialize;
use serde_json::Value;
use wasm_bindgen::JsValue;
use worker::Response;

use super::Cx;
use crate::error::QueryError;
use crate::journeys::{parse_name, placement_of};

#[derive(Serialize)]
struct ExportDoc {
    app_id: String,
    #[serde(rename = "subjectType")]
    subject_type: &'static str,
    #[serde(rename = "subjectId")]
    subject_id: String,
    /// The journey the subject's id names.
    requested: String,
    /// Every journey read, the requested one first.
    journeys: Vec<JourneyRawExport>,
    /// Journeys linked to the subject but past the document's bounds.
    journeys_not_read: Vec<String>,
    /// The ids the person was merged under: every journey name linked to the requested one.
    merged_ids: Vec<String>,
    postback_attempts: Vec<Value>,
    suppressed: bool,
    /// Some part holds more than the document carries (see each journey's `truncated`).
    truncated: bool,
}

fn unavailable(e: EdgeError) -> QueryError {
    QueryError::JourneyUnavailable(e.to_string())
}

pub async fn export(
    cx: &Cx<'_>,
    app_id: &str,
    subject_type: &str,
    id: &str,
) -> Result<Response, QueryError> {
    cx.who.may_manage(app_id)?;
    let (subject, kind) = match SubjectType::parse(subject_type) {
        Some(SubjectType::UserId) => (SubjectType::UserId, JourneyKind::User),
        Some(SubjectType::AnonymousId) => (SubjectType::AnonymousId, JourneyKind::Anonymous),
        _ => {
            return Err(QueryError::BadField(FieldError::new(
                "subjectType",
                "must be USER_ID or ANONYMOUS_ID",
            )))
        }
    };
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
        return Err(QueryError::BadField(FieldError::new(
            "subjectId",
            format!("must be 1 to {MAX_ID_CHARS} characters"),
        )));
    }
    let app = apps::app_settings(cx.env, app_id)
        .await?
        .ok_or_else(|| QueryError::Missing(format!("no app {app_id}")))?;
    let placement = placement_of(&app, cx.env)?;
    let mode = config::jurisdiction_mode(cx.env)?;
    let requested = JourneyKey::new(app_id, kind, id);

    let mut queue = VecDeque::from([requested.clone()]);
    let mut seen = BTreeSet::from([requested.object_name()]);
    let mut read = Vec::new();
    let mut not_read = Vec::new();
    let mut bytes = 0usize;
    while let Some(key) = queue.pop_front() {
        if read.len() >= MAX_SUBJECT_EXPORT_JOURNEYS || bytes >= MAX_SUBJECT_EXPORT_BYTES {
            not_read.push(key.object_name());
            continue;
        }
        let stub = journeys::stub(cx.env, &key, &placement, mode).map_err(unavailable)?;
        let part: JourneyRawExport = journeys::get(&stub, EXPORT_PATH)
            .await
            .map_err(unavailable)?;
        let linked = part.merged_into.iter().chain(part.merged_from.iter());
        for name in linked {
            if let Some(next) = parse_name(app_id, name) {
                if seen.insert(next.object_name()) {
                    queue.push_back(next);
                }
            }
        }
        let size = serde_json::to_vec(&part).map(|v| v.len()).unwrap_or(0);
        if !read.is_empty() && bytes + size > MAX_SUBJECT_EXPORT_BYTES {
            not_read.push(key.object_name());
            bytes = MAX_SUBJECT_EXPORT_BYTES;
            continue;
        }
        bytes += size;
        if part.exists || part.merged_into.is_some() {
            read.push(part);
        }
    }
    if read.is_empty() {
        return Err(QueryError::NoJourney(id.to_owned()));
    }

    let names: Vec<String> = read.iter().map(|j| j.journey.clone()).collect();
    let postback_attempts = attempts(cx, app_id, &names).await?;
    let suppressed = is_suppressed(cx, app_id, subject, id).await?;
    let truncated = !not_read.is_empty()
        || read.iter().any(|j| j.truncated)
        || postback_attempts.len() >= MAX_EXPORT_POSTBACK_ATTEMPTS;
    let requested_name = requested.object_name();
    let merged_ids = seen.into_iter().filter(|n| *n != requested_name).collect();
    Ok(response::json(
        200,
        &ExportDoc {
            app_id: app_id.to_owned(),
            subject_type: subject.as_str(),
            subject_id: id.to_owned(),
            requested: requested_name,
            journeys: read,
            journeys_not_read: not_read,
            merged_ids,
            postback_attempts,
            suppressed,
            truncated,
        },
    )?)
}

/// The postback attempt log rows (D1) of these journeys, newest first.
async fn attempts(cx: &Cx<'_>, app_id: &str, names: &[String]) -> Result<Vec<Value>, QueryError> {
    // EU journeys' rows hold the journey's keyed hash (`attrib_core::privacy::residency`).
    let secret = suppression::secret(cx.env).ok();
    let names = &log_names(secret.as_deref(), app_id, names);
    // At most twice MAX_SUBJECT_EXPORT_JOURNEYS names: far below D1's bound-parameter limit.
    let placeholders: Vec<String> = (0..names.len()).map(|i| format!("?{}", i + 3)).collect();
    let mut binds = vec![
        JsValue::from_str(app_id),
        JsValue::from_f64(MAX_EXPORT_POSTBACK_ATTEMPTS as f64),
    ];
    binds.extend(names.iter().map(|n| JsValue::from_str(n)));
    let rows = cx
        .env
        .d1(DB_BINDING)?
        .prepare(format!(
            "SELECT postback_key, attempt, journey, network, conversion_id, event_name, method, \
             url, status_code, error, outcome, attempted_at_ms, duration_ms \
             FROM postback_attempts WHERE app_id = ?1 AND journey IN ({}) \
             ORDER BY attempted_at_ms DESC, postback_key, attempt LIMIT ?2",
            placeholders.join(", ")
        ))
        .bind(&binds)?
        .all()
        .await?;
    Ok(rows.results::<Value>()?)
}

async fn is_suppressed(
    cx: &Cx<'_>,
    app_id: &str,
    subject: SubjectType,
    id: &str,
) -> Result<bool, QueryError> {
    let Ok(secret) = suppression::secret(cx.env) else {
        // No suppression secret: nobody can have been suppressed.
        return Ok(false);
    };
    let Some(hash) = subject_hash(&secret, app_id, subject, id) else {
        return Ok(false);
    };
    let row: Option<Value> = cx
        .env
        .d1(DB_BINDING)?
        .prepare("SELECT 1 AS found FROM suppressions WHERE app_id = ?1 AND hash = ?2")
        .bind(&[JsValue::from_str(app_id), JsValue::from_str(&hash)])?
        .first(None)
        .await?;
    Ok(row.is_some())
}
