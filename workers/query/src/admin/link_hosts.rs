//! `/admin/v1/apps/{app}/link-hosts[/{host}]`: which host names serve an app's `/c/` links and
//! `/.well-known` association files (D1 `link_hosts`; the ingest Worker answers
//! `apple-app-site-association` and `assetlinks.json` for the app whose host the request names).
//! `PUT` claims a host (idempotent; 409 when another app holds it), `DELETE` releases it, `GET`
//! lists them. Host names are checked by `attrib_core::manage::link_host`.

use attrib_core::manage::link_host::{parse_link_host, MAX_LINK_HOSTS_PER_APP};
use attrib_core::FieldError;
use attrib_worker_common::apps::DB_BINDING;
use serde::Deserialize;
use serde_json::json;
use wasm_bindgen::JsValue;
use worker::Response;

use super::write::{answer, check_expected, commit, load_app, stmt, text, Audit};
use super::Cx;
use crate::error::QueryError;

#[derive(Deserialize)]
struct HostRow {
    host: String,
    app_id: String,
}

async fn hosts_of(cx: &Cx<'_>, app_id: &str) -> Result<Vec<String>, QueryError> {
    let rows: Vec<HostRow> = cx
        .env
        .d1(DB_BINDING)?
        .prepare("SELECT host, app_id FROM link_hosts WHERE app_id = ?1 ORDER BY host")
        .bind(&[JsValue::from_str(app_id)])?
        .all()
        .await?
        .results()?;
    Ok(rows.into_iter().map(|r| r.host).collect())
}

async fn owner(cx: &Cx<'_>, host: &str) -> Result<Option<String>, QueryError> {
    let row: Option<HostRow> = cx
        .env
        .d1(DB_BINDING)?
        .prepare("SELECT host, app_id FROM link_hosts WHERE host = ?1")
        .bind(&[JsValue::from_str(host)])?
        .first(None)
        .await?;
    Ok(row.map(|r| r.app_id))
}

pub async fn list(cx: &Cx<'_>, app_id: &str) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let hosts = hosts_of(cx, app_id).await?;
    answer(
        200,
        &json!({ "app_id": app_id, "link_hosts": hosts }),
        app.version(),
    )
}

pub async fn claim(
    cx: &Cx<'_>,
    app_id: &str,
    raw_host: &str,
    expected: Option<i64>,
) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let expected = check_expected(&app, expected)?;
    let host = parse_link_host(raw_host).map_err(QueryError::BadField)?;
    match owner(cx, &host).await? {
        Some(holder) if holder == app_id => {
            return answer(
                200,
                &json!({ "app_id": app_id, "host": host, "created": false }),
                app.version(),
            )
        }
        Some(_) => return Err(taken()),
        None => {}
    }
    if hosts_of(cx, app_id).await?.len() >= MAX_LINK_HOSTS_PER_APP {
        return Err(QueryError::BadField(FieldError::new(
            "host",
            format!("the app already has {MAX_LINK_HOSTS_PER_APP} link hosts, the limit"),
        )));
    }
    let version = commit(
        cx,
        app_id,
        expected,
        vec![stmt(
            cx.env,
            "INSERT INTO link_hosts (host, app_id) VALUES (?1, ?2)",
            &[text(&host), text(app_id)],
        )?],
        Audit {
            action: "link_host.claim",
            resource: format!("apps/{app_id}/link-hosts/{host}"),
            before: None,
            after: Some(json!({ "host": host })),
        },
        // Another app claimed it between the read above and this batch.
        Some(("host", TAKEN)),
    )
    .await?;
    answer(
        201,
        &json!({ "app_id": app_id, "host": host, "created": true }),
        version,
    )
}

pub async fn release(
    cx: &Cx<'_>,
    app_id: &str,
    raw_host: &str,
    expected: Option<i64>,
) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let expected = check_expected(&app, expected)?;
    let host = parse_link_host(raw_host).map_err(QueryError::BadField)?;
    if owner(cx, &host).await?.as_deref() != Some(app_id) {
        return Err(QueryError::Missing(format!(
            "{host} is not a link host of app {app_id}"
        )));
    }
    let version = commit(
        cx,
        app_id,
        expected,
        vec![stmt(
            cx.env,
            "DELETE FROM link_hosts WHERE host = ?1 AND app_id = ?2",
            &[text(&host), text(app_id)],
        )?],
        Audit {
            action: "link_host.release",
            resource: format!("apps/{app_id}/link-hosts/{host}"),
            before: Some(json!({ "host": host })),
            after: None,
        },
        None,
    )
    .await?;
    answer(200, &json!({ "deleted": host }), version)
}

const TAKEN: &str = "is already a link host of another app";

fn taken() -> QueryError {
    QueryError::Conflict(FieldError::new("host", TAKEN))
}
