//! `/admin/v1/apps/{app}/links`: tracking links (`GET /c/{id}` on the ingest Worker).
//!
//! Link ids are global (the URL names no app), so an id another app holds is refused (409).
//! `tracking_url` is given when the `INGEST_PUBLIC_URL` variable names the ingest Worker.

use attrib_core::limits::MAX_ID_CHARS;
use attrib_core::link_user::{self, LINK_SIGNING_SECRET, USER_SIG_PARAM};
use attrib_core::manage::{LinkInput, MAX_LINKS_PER_APP};
use attrib_core::mobile::settings::{parse_deep_link_params, LinkMobile};
use attrib_core::FieldError;
use attrib_worker_common::apps::{targets, DB_BINDING};
use attrib_worker_common::random::random_bytes;
use attrib_worker_common::{config, response};
use serde::Deserialize;
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::{Request, Response};

use super::write::{answer, check_expected, commit, load_app, opt, stmt, text, Audit};
use super::{limit_of, Cx};
use crate::error::QueryError;

pub const INGEST_PUBLIC_URL: &str = "INGEST_PUBLIC_URL";

#[derive(Debug, Clone, Deserialize)]
struct LinkRow {
    id: String,
    destination_url: String,
    source: Option<String>,
    medium: Option<String>,
    campaign: Option<String>,
    content: Option<String>,
    term: Option<String>,
    ios_url: Option<String>,
    android_url: Option<String>,
    deep_link: Option<String>,
    deep_link_params: Option<String>,
    created_at: String,
}

const LINK_COLUMNS: &str =
    "id, destination_url, source, medium, campaign, content, term, ios_url, android_url, \
     deep_link, deep_link_params, created_at";

impl LinkRow {
    fn input(&self) -> LinkInput {
        LinkInput {
            id: Some(self.id.clone()),
            destination_url: self.destination_url.clone(),
            source: self.source.clone(),
            medium: self.medium.clone(),
            campaign: self.campaign.clone(),
            content: self.content.clone(),
            term: self.term.clone(),
            mobile: self.mobile(),
        }
    }

    fn mobile(&self) -> LinkMobile {
        LinkMobile {
            ios_url: self.ios_url.clone(),
            android_url: self.android_url.clone(),
            deep_link: self.deep_link.clone(),
            // Written through `binds` as a JSON object; a hand-written bad row shows as none.
            deep_link_params: parse_deep_link_params(self.deep_link_params.as_deref())
                .unwrap_or_default(),
        }
    }
}

fn view(cx: &Cx<'_>, row: &LinkRow) -> Value {
    let base = config::var(cx.env, INGEST_PUBLIC_URL).filter(|u| !u.is_empty());
    json!({
        "id": row.id,
        "destination_url": row.destination_url,
        "source": row.source,
        "medium": row.medium,
        "campaign": row.campaign,
        "content": row.content,
        "term": row.term,
        "ios_url": row.ios_url,
        "android_url": row.android_url,
        "deep_link": row.deep_link,
        "deep_link_params": row.mobile().deep_link_params,
        "created_at": row.created_at,
        "tracking_url": base.map(|b| format!("{}/c/{}", b.trim_end_matches('/'), row.id)),
    })
}

fn audit_view(input: &LinkInput) -> Value {
    serde_json::to_value(input).unwrap_or(Value::Null)
}

async fn one(cx: &Cx<'_>, app_id: &str, id: &str) -> Result<LinkRow, QueryError> {
    let row: Option<LinkRow> = cx
        .env
        .d1(DB_BINDING)?
        .prepare(format!(
            "SELECT {LINK_COLUMNS} FROM links WHERE app_id = ?1 AND id = ?2"
        ))
        .bind(&[JsValue::from_str(app_id), JsValue::from_str(id)])?
        .first(None)
        .await?;
    row.ok_or_else(|| QueryError::Missing(format!("no link {id} in app {app_id}")))
}

pub async fn list(cx: &Cx<'_>, app_id: &str, req: &Request) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let limit = limit_of(req)?;
    let rows: Vec<LinkRow> = cx
        .env
        .d1(DB_BINDING)?
        .prepare(format!(
            "SELECT {LINK_COLUMNS} FROM links WHERE app_id = ?1 ORDER BY created_at DESC, id \
             LIMIT {limit}"
        ))
        .bind(&[JsValue::from_str(app_id)])?
        .all()
        .await?
        .results()?;
    let links: Vec<Value> = rows.iter().map(|r| view(cx, r)).collect();
    answer(
        200,
        &json!({ "app_id": app_id, "links": links }),
        app.version(),
    )
}

pub async fn show(cx: &Cx<'_>, app_id: &str, id: &str) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let row = one(cx, app_id, id).await?;
    answer(200, &view(cx, &row), app.version())
}

#[derive(Deserialize)]
struct Count {
    n: f64,
}

fn binds(input: &LinkInput, id: &str, app_id: &str) -> Vec<JsValue> {
    vec![
        text(id),
        text(app_id),
        text(&input.destination_url),
        opt(input.source.as_deref()),
        opt(input.medium.as_deref()),
        opt(input.campaign.as_deref()),
        opt(input.content.as_deref()),
        opt(input.term.as_deref()),
        opt(input.mobile.ios_url.as_deref()),
        opt(input.mobile.android_url.as_deref()),
        opt(input.mobile.deep_link.as_deref()),
        if input.mobile.deep_link_params.is_empty() {
            JsValue::NULL
        } else {
            text(&Value::Object(input.mobile.deep_link_params.clone()).to_string())
        },
    ]
}

pub async fn create(cx: &Cx<'_>, app_id: &str, body: Value) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let mut input = LinkInput::parse(&body, targets(cx.env)).map_err(QueryError::BadField)?;
    let count: Option<Count> = cx
        .env
        .d1(DB_BINDING)?
        .prepare("SELECT COUNT(*) AS n FROM links WHERE app_id = ?1")
        .bind(&[JsValue::from_str(app_id)])?
        .first(None)
        .await?;
    if count.map_or(0.0, |c| c.n) >= MAX_LINKS_PER_APP as f64 {
        return Err(QueryError::Conflict(FieldError::new(
            "id",
            format!("the app has {MAX_LINKS_PER_APP} links; delete one first"),
        )));
    }
    let id = match input.id.clone() {
        Some(id) => id,
        None => {
            let bytes = random_bytes::<6>()?;
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        }
    };
    input.id = Some(id.clone());
    let version = commit(
        cx,
        app_id,
        app.version(),
        vec![stmt(
            cx.env,
            "INSERT INTO links (id, app_id, destination_url, source, medium, campaign, content, \
             term, ios_url, android_url, deep_link, deep_link_params) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            &binds(&input, &id, app_id),
        )?],
        Audit {
            action: "link.create",
            resource: format!("apps/{app_id}/links/{id}"),
            before: None,
            after: Some(audit_view(&input)),
        },
        Some(("id", "is taken (link ids are global)")),
    )
    .await?;
    let row = one(cx, app_id, &id).await?;
    answer(201, &view(cx, &row), version)
}

pub async fn update(
    cx: &Cx<'_>,
    app_id: &str,
    id: &str,
    body: Value,
    expected: Option<i64>,
) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let expected = check_expected(&app, expected)?;
    let old = one(cx, app_id, id).await?.input();
    let new = old
        .patched(&body, targets(cx.env))
        .map_err(QueryError::BadField)?;
    let version = commit(
        cx,
        app_id,
        expected,
        vec![stmt(
            cx.env,
            "UPDATE links SET destination_url = ?3, source = ?4, medium = ?5, campaign = ?6, \
             content = ?7, term = ?8, ios_url = ?9, android_url = ?10, deep_link = ?11, \
             deep_link_params = ?12 WHERE id = ?1 AND app_id = ?2",
            &binds(&new, id, app_id),
        )?],
        Audit {
            action: "link.update",
            resource: format!("apps/{app_id}/links/{id}"),
            before: Some(audit_view(&old)),
            after: Some(audit_view(&new)),
        },
        None,
    )
    .await?;
    let row = one(cx, app_id, id).await?;
    answer(200, &view(cx, &row), version)
}

pub async fn delete(
    cx: &Cx<'_>,
    app_id: &str,
    id: &str,
    expected: Option<i64>,
) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let expected = check_expected(&app, expected)?;
    let old = one(cx, app_id, id).await?;
    let version = commit(
        cx,
        app_id,
        expected,
        vec![stmt(
            cx.env,
            "DELETE FROM links WHERE id = ?1 AND app_id = ?2",
            &[text(id), text(app_id)],
        )?],
        Audit {
            action: "link.delete",
            resource: format!("apps/{app_id}/links/{id}"),
            before: Some(audit_view(&old.input())),
            after: None,
        },
        None,
    )
    .await?;
    answer(200, &json!({ "deleted": id }), version)
}

/// `POST .../links/{id}/user-url` with `{"user_id"}`: the link's URL naming that user, signed
/// (`attrib_core::link_user`), for the app's backend to put in an email or a push message. A
/// link names a user only this way; nothing is written.
pub async fn user_url(
    cx: &Cx<'_>,
    app_id: &str,
    id: &str,
    body: Value,
) -> Result<Response, QueryError> {
    load_app(cx, app_id).await?;
    let row = one(cx, app_id, id).await?;
    let user_id = body
        .get("user_id")
        .and_then(Value::as_str)
        .filter(|u| !u.trim().is_empty() && u.chars().count() <= MAX_ID_CHARS)
        .ok_or_else(|| {
            QueryError::BadField(FieldError::new(
                "user_id",
                format!("must be a string of 1 to {MAX_ID_CHARS} characters"),
            ))
        })?;
    let secret = config::secret(cx.env, LINK_SIGNING_SECRET).ok_or(QueryError::Edge(
        attrib_worker_common::EdgeError::Config {
            name: LINK_SIGNING_SECRET,
            reason: "is not set on the query Worker".into(),
        },
    ))?;
    let sig = link_user::sign(secret.as_bytes(), app_id, user_id);
    let base = config::var(cx.env, INGEST_PUBLIC_URL).filter(|u| !u.is_empty());
    let url = base.map(|b| {
        let mut url = format!("{}/c/{}?", b.trim_end_matches('/'), row.id);
        url.push_str(
            &url::form_urlencoded::Serializer::new(String::new())
                .append_pair("user_id", user_id)
                .append_pair(USER_SIG_PARAM, &sig)
                .finish(),
        );
        url
    });
    Ok(response::json(
        200,
        &json!({
            "app_id": app_id,
            "link_id": row.id,
            "user_id": user_id,
            "user_sig": sig,
            "url": url,
        }),
    )?)
}
