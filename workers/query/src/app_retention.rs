//! `GET /internal/retention`: the apps' `retention_days` for the origin (issue 12), which
//! applies them to ClickHouse and its embedded store (origin/src/retention.rs).
//!
//! Signed like rollup pushes (the rollup keys, origin → edge) over `GET`, the path with its
//! query string, and an empty body: an unsigned or altered request is refused with 401. Paged
//! by app id: at most [`RETENTION_APPS_PER_PAGE`] apps per answer, `next` naming the cursor
//! for `?after=` when more may follow.

use std::collections::BTreeMap;

use attrib_core::app_retention::{RetentionPage, AFTER_PARAM, RETENTION_PATH};
use attrib_core::limits::{DEFAULT_RETENTION_DAYS, RETENTION_APPS_PER_PAGE};
use attrib_core::outbox::SIGNATURE_HEADER;
use attrib_core::signing::Direction;
use attrib_core::FieldError;
use attrib_worker_common::apps::DB_BINDING;
use attrib_worker_common::response;
use attrib_worker_common::signed::keyring;
use worker::{Date, Env, Request, Response};

use crate::error::QueryError;
use crate::limits::MAX_RETENTION_CURSOR_CHARS as MAX_CURSOR_CHARS;

pub async fn list(req: Request, env: &Env) -> Result<Response, QueryError> {
    let keys = keyring(env, Direction::Rollups)?;
    let url = req.url()?;
    let signed_path = match url.query() {
        Some(query) => format!("{RETENTION_PATH}?{query}"),
        None => RETENTION_PATH.to_owned(),
    };
    let header = req
        .headers()
        .get(SIGNATURE_HEADER)?
        .ok_or_else(|| QueryError::BadSignature("no signature header".into()))?;
    let now_secs = (Date::now().as_millis() / 1000) as i64;
    keys.verify(&header, "GET", &signed_path, b"", now_secs)
        .map_err(|e| QueryError::BadSignature(e.to_string()))?;

    let mut after = String::new();
    for (name, value) in url.query_pairs() {
        if name != AFTER_PARAM {
            return Err(QueryError::BadField(FieldError::new(
                name.as_ref(),
                "is not a parameter of this endpoint",
            )));
        }
        if value.chars().count() > MAX_CURSOR_CHARS {
            return Err(QueryError::BadField(FieldError::new(
                AFTER_PARAM,
                format!("is longer than {MAX_CURSOR_CHARS} characters"),
            )));
        }
        after = value.into_owned();
    }
    // One more than a page tells whether another page follows.
    let rows: Vec<AppDays> = env
        .d1(DB_BINDING)?
        .prepare(format!(
            "SELECT id, retention_days FROM apps WHERE id > ?1 ORDER BY id LIMIT {}",
            RETENTION_APPS_PER_PAGE + 1
        ))
        .bind(&[after.as_str().into()])?
        .all()
        .await?
        .results()?;
    let more = rows.len() > RETENTION_APPS_PER_PAGE;
    let apps: BTreeMap<String, u32> = rows
        .into_iter()
        .take(RETENTION_APPS_PER_PAGE)
        .map(|r| {
            (
                r.id,
                r.retention_days.clamp(0.0, f64::from(u32::MAX)) as u32,
            )
        })
        .collect();
    let next = more.then(|| apps.keys().next_back().cloned()).flatten();
    let page = RetentionPage {
        apps,
        default_days: DEFAULT_RETENTION_DAYS,
        next,
    };
    Ok(response::json(200, &page)?)
}

#[derive(serde::Deserialize)]
struct AppDays {
    id: String,
    retention_days: f64,
}
