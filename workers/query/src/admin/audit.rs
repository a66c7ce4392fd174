//! `/admin/v1/apps/{app}/audit`: every change to the app, newest first (`before` = an entry
//! id, for the next page).

use attrib_worker_common::apps::DB_BINDING;
use serde::Deserialize;
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::{Request, Response};

use super::write::{answer, load_app};
use super::{bad, limit_of, Cx};
use crate::error::QueryError;

#[derive(Deserialize)]
struct Row {
    id: f64,
    actor: String,
    action: String,
    resource: String,
    before: Option<String>,
    after: Option<String>,
    version: Option<f64>,
    at: String,
}

pub async fn list(cx: &Cx<'_>, app_id: &str, req: &Request) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let limit = limit_of(req)?;
    let url = req.url()?;
    let before = match url.query_pairs().find(|(k, _)| k == "before") {
        None => i64::MAX,
        Some((_, v)) => v
            .parse::<i64>()
            .map_err(|_| bad("before", "must be an audit entry id"))?,
    };
    let rows: Vec<Row> = cx
        .env
        .d1(DB_BINDING)?
        .prepare(format!(
            "SELECT id, actor, action, resource, before, after, version, at FROM audit_log \
             WHERE app_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT {limit}"
        ))
        .bind(&[JsValue::from_str(app_id), JsValue::from_f64(before as f64)])?
        .all()
        .await?
        .results()?;
    let parse = |s: &Option<String>| {
        s.as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
            .unwrap_or(Value::Null)
    };
    let entries: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id as i64,
                "actor": r.actor,
                "action": r.action,
                "resource": r.resource,
                "before": parse(&r.before),
                "after": parse(&r.after),
                "version": r.version.map(|v| v as i64),
                "at": r.at,
            })
        })
        .collect();
    answer(
        200,
        &json!({ "app_id": app_id, "entries": entries }),
        app.version(),
    )
}
