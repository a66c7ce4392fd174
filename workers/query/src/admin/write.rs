//! One change = one D1 batch: version compare-and-set, the change, its audit entry.

use attrib_core::FieldError;
use attrib_worker_common::apps::DB_BINDING;
use attrib_worker_common::response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use wasm_bindgen::JsValue;
use worker::{D1PreparedStatement, Env, Response};

use super::Cx;
use crate::error::QueryError;

/// An app as the management API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppRow {
    pub id: String,
    pub name: String,
    pub version: f64,
    pub archived_at: Option<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

impl AppRow {
    pub fn version(&self) -> i64 {
        self.version as i64
    }

    pub fn view(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "version": self.version(),
            "archived": self.archived_at.is_some(),
            "archived_at": self.archived_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

pub const APP_COLUMNS: &str = "id, name, version, archived_at, created_at, updated_at";

/// The app, if the caller may manage it and it exists.
pub async fn load_app(cx: &Cx<'_>, app_id: &str) -> Result<AppRow, QueryError> {
    cx.who.may_manage(app_id)?;
    let row: Option<AppRow> = cx
        .env
        .d1(DB_BINDING)?
        .prepare(format!("SELECT {APP_COLUMNS} FROM apps WHERE id = ?1"))
        .bind(&[JsValue::from_str(app_id)])?
        .first(None)
        .await?;
    row.ok_or_else(|| QueryError::Missing(format!("no app {app_id}")))
}

/// 409 at once when the client's expected version is already stale.
pub fn check_expected(app: &AppRow, expected: Option<i64>) -> Result<i64, QueryError> {
    let expected = expected.unwrap_or(app.version());
    if expected != app.version() {
        return Err(conflict(app.version()));
    }
    Ok(expected)
}

pub fn conflict(current: i64) -> QueryError {
    QueryError::Conflict(FieldError::new(
        "version",
        format!("the app changed meanwhile (now version {current}); read it again and retry"),
    ))
}

pub fn stmt(env: &Env, sql: &str, binds: &[JsValue]) -> Result<D1PreparedStatement, QueryError> {
    Ok(env.d1(DB_BINDING)?.prepare(sql).bind(binds)?)
}

pub fn text(s: &str) -> JsValue {
    JsValue::from_str(s)
}

pub fn opt(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, JsValue::from_str)
}

pub fn num(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// What an audit entry records.
pub struct Audit<'a> {
    pub action: &'a str,
    pub resource: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Runs `changes` for `app_id` as one batch after moving its version from `expected` to the
/// next, with the audit entry; answers the new version. `unique` names the field a UNIQUE
/// violation is about (e.g. a link id taken).
pub async fn commit(
    cx: &Cx<'_>,
    app_id: &str,
    expected: i64,
    changes: Vec<D1PreparedStatement>,
    audit: Audit<'_>,
    unique: Option<(&str, &str)>,
) -> Result<i64, QueryError> {
    let next = expected + 1;
    let mut batch = Vec::with_capacity(changes.len() + 2);
    batch.push(stmt(
        cx.env,
        "UPDATE apps SET version = ?2, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') \
         WHERE id = ?1",
        &[text(app_id), num(next)],
    )?);
    batch.extend(changes);
    batch.push(audit_stmt(cx, app_id, &audit, Some(next))?);
    run_batch(cx.env, batch, unique)
        .await
        .map_err(|e| match e {
            QueryError::Conflict(err) if err.field == "version" => conflict(expected),
            other => other,
        })?;
    Ok(next)
}

pub fn audit_stmt(
    cx: &Cx<'_>,
    app_id: &str,
    audit: &Audit<'_>,
    version: Option<i64>,
) -> Result<D1PreparedStatement, QueryError> {
    let json = |v: &Option<Value>| v.as_ref().map(Value::to_string);
    stmt(
        cx.env,
        "INSERT INTO audit_log (app_id, actor, action, resource, before, after, version) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[
            text(app_id),
            text(cx.who.actor()),
            text(audit.action),
            text(&audit.resource),
            opt(json(&audit.before).as_deref()),
            opt(json(&audit.after).as_deref()),
            version.map_or(JsValue::NULL, num),
        ],
    )
}

/// One D1 batch (one transaction): a failing statement undoes all of them.
pub async fn run_batch(
    env: &Env,
    batch: Vec<D1PreparedStatement>,
    unique: Option<(&str, &str)>,
) -> Result<(), QueryError> {
    match env.d1(DB_BINDING)?.batch(batch).await {
        Ok(_) => Ok(()),
        Err(err) => {
            let message = err.to_string();
            if message.contains("version_conflict") {
                Err(QueryError::Conflict(FieldError::new("version", "conflict")))
            } else if message.contains("UNIQUE constraint failed")
                || message.contains("PRIMARY KEY")
            {
                let (field, reason) = unique.unwrap_or(("id", "is taken"));
                Err(QueryError::Conflict(FieldError::new(field, reason)))
            } else {
                Err(err.into())
            }
        }
    }
}

/// A JSON answer with the app's version as its ETag.
pub fn answer(status: u16, body: &Value, version: i64) -> Result<Response, QueryError> {
    let mut response = response::json(status, body)?;
    response
        .headers_mut()
        .set("etag", &format!("\"{version}\""))?;
    Ok(response)
}
