//! `/admin/v1/apps`: create (admin), list, show, rename, archive and restore (admin).
//!
//! An archived app's keys and links stop working at the edge (within the auth cache time);
//! its data stays, and restoring brings everything back.

use attrib_core::manage::{AppInput, MAX_APPS};
use attrib_core::FieldError;
use attrib_worker_common::apps::DB_BINDING;
use attrib_worker_common::random::random_bytes;
use attrib_worker_common::response;
use serde::Deserialize;
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::{Request, Response};

use super::write::{
    answer, audit_stmt, check_expected, commit, load_app, run_batch, stmt, text, AppRow, Audit,
    APP_COLUMNS,
};
use super::{limit_of, Cx, Principal};
use crate::error::QueryError;

pub async fn list(cx: &Cx<'_>, req: &Request) -> Result<Response, QueryError> {
    let limit = limit_of(req)?;
    let url = req.url()?;
    let archived = url
        .query_pairs()
        .any(|(k, v)| k == "archived" && (v == "true" || v == "include"));
    let db = cx.env.d1(DB_BINDING)?;
    let filter = if archived {
        ""
    } else {
        "AND archived_at IS NULL"
    };
    let rows: Vec<AppRow> = match cx.who {
        Principal::Admin { .. } => db
            .prepare(format!(
                "SELECT {APP_COLUMNS} FROM apps WHERE 1 = 1 {filter} ORDER BY id LIMIT {limit}"
            ))
            .all()
            .await?
            .results()?,
        Principal::Manage { app_id, .. } => db
            .prepare(format!("SELECT {APP_COLUMNS} FROM apps WHERE id = ?1"))
            .bind(&[JsValue::from_str(app_id)])?
            .all()
            .await?
            .results()?,
    };
    let apps: Vec<Value> = rows.iter().map(AppRow::view).collect();
    Ok(response::json(200, &json!({ "apps": apps }))?)
}

#[derive(Deserialize)]
struct Count {
    n: f64,
}

pub async fn create(cx: &Cx<'_>, body: Value) -> Result<Response, QueryError> {
    cx.who.must_be_admin("creating an app")?;
    let input = AppInput::parse(&body).map_err(QueryError::BadField)?;
    let id = match input.id {
        Some(id) => id,
        None => {
            let bytes = random_bytes::<6>()?;
            format!(
                "app_{}",
                bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
            )
        }
    };
    let db = cx.env.d1(DB_BINDING)?;
    let count: Option<Count> = db
        .prepare("SELECT COUNT(*) AS n FROM apps")
        .first(None)
        .await?;
    if count.map_or(0.0, |c| c.n) >= MAX_APPS as f64 {
        return Err(QueryError::Conflict(FieldError::new(
            "id",
            format!("this deployment already has {MAX_APPS} apps"),
        )));
    }
    let after = json!({ "id": id, "name": input.name });
    run_batch(
        cx.env,
        vec![
            stmt(
                cx.env,
                "INSERT INTO apps (id, name) VALUES (?1, ?2)",
                &[text(&id), text(&input.name)],
            )?,
            audit_stmt(
                cx,
                &id,
                &Audit {
                    action: "app.create",
                    resource: format!("apps/{id}"),
                    before: None,
                    after: Some(after),
                },
                Some(1),
            )?,
        ],
        Some(("id", "is taken by another app")),
    )
    .await?;
    let app = load_app(cx, &id).await?;
    answer(201, &app.view(), app.version())
}

pub async fn show(cx: &Cx<'_>, app_id: &str) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    answer(200, &app.view(), app.version())
}

pub async fn update(
    cx: &Cx<'_>,
    app_id: &str,
    body: Value,
    expected: Option<i64>,
) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let expected = check_expected(&app, expected)?;
    let name = AppInput::parse_update(&body).map_err(QueryError::BadField)?;
    commit(
        cx,
        app_id,
        expected,
        vec![stmt(
            cx.env,
            "UPDATE apps SET name = ?2 WHERE id = ?1",
            &[text(app_id), text(&name)],
        )?],
        Audit {
            action: "app.update",
            resource: format!("apps/{app_id}"),
            before: Some(json!({ "name": app.name })),
            after: Some(json!({ "name": name })),
        },
        None,
    )
    .await?;
    show(cx, app_id).await
}

pub async fn archive(
    cx: &Cx<'_>,
    app_id: &str,
    archive: bool,
    expected: Option<i64>,
) -> Result<Response, QueryError> {
    cx.who.must_be_admin("archiving or restoring an app")?;
    let app = load_app(cx, app_id).await?;
    let expected = check_expected(&app, expected)?;
    let sql = if archive {
        "UPDATE apps SET archived_at = COALESCE(archived_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) WHERE id = ?1"
    } else {
        "UPDATE apps SET archived_at = NULL WHERE id = ?1"
    };
    commit(
        cx,
        app_id,
        expected,
        vec![stmt(cx.env, sql, &[text(app_id)])?],
        Audit {
            action: if archive {
                "app.archive"
            } else {
                "app.restore"
            },
            resource: format!("apps/{app_id}"),
            before: Some(json!({ "archived": app.archived_at.is_some() })),
            after: Some(json!({ "archived": archive })),
        },
        None,
    )
    .await?;
    show(cx, app_id).await
}
