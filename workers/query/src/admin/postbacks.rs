//! `/admin/v1/apps/{app}/postbacks`: one configuration per network (`*` for the rest), its
//! attempt log (`postback-attempts`), and a test fire that sends one sample postback now and
//! shows the exact request and the answer.
//!
//! Templates are checked by `attrib_core::postback` as the edge checks them when it loads
//! them (macros only in path and query, public hosts only: issue 13, finding 6); a test fire
//! follows no redirect and is bounded by `POSTBACK_TIMEOUT_MS`.

use std::time::Duration;

use attrib_core::limits::{MAX_POSTBACK_CONFIGS, POSTBACK_TIMEOUT_MS};
use attrib_core::manage::{PostbackInput, MAX_TEST_FIRE_BODY_CHARS};
use attrib_core::postback::target::check_url;
use attrib_core::postback::{test_postback, PostbackMethod, IDEMPOTENCY_HEADER};
use attrib_core::FieldError;
use attrib_worker_common::apps::{targets, DB_BINDING};
use attrib_worker_common::random::random_bytes;
use futures_util::future::{select, Either};
use serde::Deserialize;
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::{
    AbortController, Date, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
    Response,
};

use super::write::{answer, check_expected, commit, load_app, num, stmt, text, Audit};
use super::Cx;
use crate::error::QueryError;

/// The User-Agent of a test fire (the Journey objects send `attrib-postbacks/1`).
pub const TEST_USER_AGENT: &str = "attrib-postbacks/1 (test)";

#[derive(Debug, Clone, Deserialize)]
struct Row {
    network: String,
    url_template: String,
    method: String,
    events: String,
    enabled: f64,
    created_at: String,
}

const COLUMNS: &str = "network, url_template, method, events, enabled, created_at";

impl Row {
    fn input(&self) -> PostbackInput {
        PostbackInput {
            network: self.network.clone(),
            url: self.url_template.clone(),
            method: if self.method == "POST" {
                PostbackMethod::Post
            } else {
                PostbackMethod::Get
            },
            events: serde_json::from_str(&self.events).unwrap_or_default(),
            enabled: self.enabled != 0.0,
        }
    }

    fn view(&self) -> Value {
        let mut v = serde_json::to_value(self.input()).unwrap_or(Value::Null);
        v["created_at"] = Value::String(self.created_at.clone());
        v
    }
}

async fn one(cx: &Cx<'_>, app_id: &str, network: &str) -> Result<Row, QueryError> {
    let row: Option<Row> = cx
        .env
        .d1(DB_BINDING)?
        .prepare(format!(
            "SELECT {COLUMNS} FROM postback_configs WHERE app_id = ?1 AND network = ?2"
        ))
        .bind(&[JsValue::from_str(app_id), JsValue::from_str(network)])?
        .first(None)
        .await?;
    row.ok_or_else(|| QueryError::Missing(format!("no postback for {network:?} in app {app_id}")))
}

async fn all(cx: &Cx<'_>, app_id: &str) -> Result<Vec<Row>, QueryError> {
    Ok(cx
        .env
        .d1(DB_BINDING)?
        .prepare(format!(
            "SELECT {COLUMNS} FROM postback_configs WHERE app_id = ?1 ORDER BY network"
        ))
        .bind(&[JsValue::from_str(app_id)])?
        .all()
        .await?
        .results()?)
}

pub async fn list(cx: &Cx<'_>, app_id: &str) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let postbacks: Vec<Value> = all(cx, app_id).await?.iter().map(Row::view).collect();
    answer(
        200,
        &json!({ "app_id": app_id, "postbacks": postbacks }),
        app.version(),
    )
}

pub async fn show(cx: &Cx<'_>, app_id: &str, network: &str) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    answer(200, &one(cx, app_id, network).await?.view(), app.version())
}

fn binds(app_id: &str, p: &PostbackInput) -> Vec<JsValue> {
    vec![
        text(app_id),
        text(&p.network),
        text(&p.url),
        text(p.method.as_str()),
        text(&serde_json::to_string(&p.events).unwrap_or_else(|_| "[]".into())),
        num(i64::from(p.enabled)),
    ]
}

pub async fn create(cx: &Cx<'_>, app_id: &str, body: Value) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let input = PostbackInput::parse(&body, targets(cx.env)).map_err(QueryError::BadField)?;
    if all(cx, app_id).await?.len() >= MAX_POSTBACK_CONFIGS {
        return Err(QueryError::Conflict(FieldError::new(
            "network",
            format!("the app has {MAX_POSTBACK_CONFIGS} postbacks; delete one first"),
        )));
    }
    let version = commit(
        cx,
        app_id,
        app.version(),
        vec![stmt(
            cx.env,
            "INSERT INTO postback_configs (app_id, network, url_template, method, events, \
             enabled) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            &binds(app_id, &input),
        )?],
        Audit {
            action: "postback.create",
            resource: format!("apps/{app_id}/postbacks/{}", input.network),
            before: None,
            after: serde_json::to_value(&input).ok(),
        },
        Some(("network", "already has a postback; PATCH it instead")),
    )
    .await?;
    answer(201, &one(cx, app_id, &input.network).await?.view(), version)
}

pub async fn update(
    cx: &Cx<'_>,
    app_id: &str,
    network: &str,
    body: Value,
    expected: Option<i64>,
) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let expected = check_expected(&app, expected)?;
    let old = one(cx, app_id, network).await?.input();
    let new = old
        .patched(&body, targets(cx.env))
        .map_err(QueryError::BadField)?;
    let version = commit(
        cx,
        app_id,
        expected,
        vec![stmt(
            cx.env,
            "UPDATE postback_configs SET url_template = ?3, method = ?4, events = ?5, \
             enabled = ?6 WHERE app_id = ?1 AND network = ?2",
            &binds(app_id, &new),
        )?],
        Audit {
            action: "postback.update",
            resource: format!("apps/{app_id}/postbacks/{network}"),
            before: serde_json::to_value(&old).ok(),
            after: serde_json::to_value(&new).ok(),
        },
        None,
    )
    .await?;
    answer(200, &one(cx, app_id, network).await?.view(), version)
}

pub async fn delete(
    cx: &Cx<'_>,
    app_id: &str,
    network: &str,
    expected: Option<i64>,
) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let expected = check_expected(&app, expected)?;
    let old = one(cx, app_id, network).await?.input();
    let version = commit(
        cx,
        app_id,
        expected,
        vec![stmt(
            cx.env,
            "DELETE FROM postback_configs WHERE app_id = ?1 AND network = ?2",
            &[text(app_id), text(network)],
        )?],
        Audit {
            action: "postback.delete",
            resource: format!("apps/{app_id}/postbacks/{network}"),
            before: serde_json::to_value(&old).ok(),
            after: None,
        },
        None,
    )
    .await?;
    answer(200, &json!({ "deleted": network }), version)
}

pub async fn attempts(cx: &Cx<'_>, app_id: &str, req: &Request) -> Result<Response, QueryError> {
    load_app(cx, app_id).await?;
    crate::postbacks::list_for(cx.env, app_id.to_owned(), &req.url()?).await
}

/// Sends one sample postback now; answers the exact request and what came back.
pub async fn test_fire(cx: &Cx<'_>, app_id: &str, network: &str) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let config = one(cx, app_id, network).await?.input().config();
    let nonce: String = random_bytes::<6>()?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let now = Date::now().as_millis() as i64;
    let postback = test_postback(&config, app_id, now, &nonce)
        .map_err(|reason| QueryError::BadField(FieldError::new("url", reason)))?;
    // The template was checked when written; the deployment's policy may be stricter now.
    check_url(&postback.url, targets(cx.env))
        .map_err(|reason| QueryError::BadField(FieldError::new("url", reason)))?;
    let mut sent_headers = vec![
        (IDEMPOTENCY_HEADER.to_owned(), postback.key.clone()),
        ("user-agent".to_owned(), TEST_USER_AGENT.to_owned()),
    ];
    if postback.body.is_some() {
        sent_headers.push(("content-type".to_owned(), "application/json".to_owned()));
    }
    let headers = Headers::new();
    for (name, value) in &sent_headers {
        headers.set(name, value)?;
    }
    let mut init = RequestInit::new();
    init.with_method(match postback.method {
        PostbackMethod::Get => Method::Get,
        PostbackMethod::Post => Method::Post,
    });
    if let Some(body) = &postback.body {
        init.with_body(Some(JsValue::from_str(body)));
    }
    init.with_headers(headers);
    init.with_redirect(RequestRedirect::Manual);
    let request = Request::new_with_init(&postback.url, &init)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let started = Date::now().as_millis();
    let fetch = Fetch::Request(request);
    let sending = Box::pin(fetch.send_with_signal(&signal));
    let timeout = Delay::from(Duration::from_millis(POSTBACK_TIMEOUT_MS));
    let answer_json = match select(sending, timeout).await {
        Either::Left((Ok(mut response), _)) => {
            let status = response.status_code();
            let location = response.headers().get("location").ok().flatten();
            let body = response.text().await.unwrap_or_default();
            json!({
                "status": status,
                "location": location,
                "body": body.chars().take(MAX_TEST_FIRE_BODY_CHARS).collect::<String>(),
                "delivered": (200..300).contains(&status),
            })
        }
        Either::Left((Err(err), _)) => json!({ "error": err.to_string(), "delivered": false }),
        Either::Right(_) => {
            controller.abort();
            json!({ "error": format!("no answer within {POSTBACK_TIMEOUT_MS} ms"), "delivered": false })
        }
    };
    let headers: serde_json::Map<String, Value> = sent_headers
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    answer(
        200,
        &json!({
            "request": {
                "method": postback.method.as_str(),
                "url": postback.url,
                "headers": headers,
                "body": postback.body,
            },
            "response": answer_json,
            "duration_ms": Date::now().as_millis().saturating_sub(started),
        }),
        app.version(),
    )
}
