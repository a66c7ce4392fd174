//! Scheduled pruning of what would otherwise grow forever in D1: the postback attempt log.
//!
//! Every attempt a Journey object makes is copied to `postback_attempts` for `/v1/postbacks`;
//! the journey keeps its own copy, so the D1 log is a window for operators, not the record.
//! Attempts older than the retention (`POSTBACK_LOG_RETENTION_DAYS`, default 90) are deleted in
//! bounded statements; a backlog larger than one run's share goes at the next run. A bad
//! setting deletes nothing and is logged.

use attrib_worker_common::apps::DB_BINDING;
use wasm_bindgen::JsValue;
use worker::{console_error, console_log, Env};

use crate::config;
use crate::error::QueryError;
use crate::limits::{MAX_PRUNE_STATEMENTS_PER_RUN, PRUNE_ROWS_PER_STATEMENT};

const DAY_MS: f64 = 86_400_000.0;

/// Runs every job of a scheduled event, logging (never throwing) what failed.
pub async fn run_scheduled(env: &Env, now_ms: f64) {
    match prune_postback_attempts(env, now_ms).await {
        Ok(0) => {}
        Ok(deleted) => console_log!("retention: deleted {deleted} postback attempts"),
        Err(err) => console_error!("retention: postback attempts not pruned: {err}"),
    }
}

/// Deletes attempts older than the retention; returns how many went.
pub async fn prune_postback_attempts(env: &Env, now_ms: f64) -> Result<usize, QueryError> {
    let days = config::postback_log_retention_days(env)?;
    let cutoff_ms = now_ms - days as f64 * DAY_MS;
    let db = env.d1(DB_BINDING)?;
    let statement = format!(
        "DELETE FROM postback_attempts WHERE rowid IN (SELECT rowid FROM postback_attempts \
         WHERE attempted_at_ms < ?1 LIMIT {PRUNE_ROWS_PER_STATEMENT})"
    );
    let mut deleted = 0;
    for _ in 0..MAX_PRUNE_STATEMENTS_PER_RUN {
        let result = db
            .prepare(&statement)
            .bind(&[JsValue::from_f64(cutoff_ms)])?
            .run()
            .await?;
        let changes = result.meta()?.and_then(|m| m.changes).unwrap_or(0);
        deleted += changes;
        if changes < PRUNE_ROWS_PER_STATEMENT {
            break;
        }
    }
    Ok(deleted)
}
