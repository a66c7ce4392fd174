//! `/admin/v1/apps/{app}/keys`: issue (the secret is in this answer only; D1 keeps its
//! SHA-256), list and show (never a secret), rotate (a new key; the old one keeps working for
//! `overlap_secs`, default a day), revoke (at once here; at the edge within the auth cache
//! time, 60 s). A write key has a class, `client` (the default) or `server`: what its events
//! may merge (issue 13, finding 5); a rotated key keeps it.

use attrib_core::keys::{generate_key, hash_key, key_id, KeyKind};
use attrib_core::manage::{KeyRequest, MAX_LIVE_KEYS_PER_APP};
use attrib_core::FieldError;
use attrib_worker_common::apps::{forget_key, DB_BINDING};
use attrib_worker_common::random::random_bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::{Date, Response};

use super::write::{answer, commit, load_app, num, opt, stmt, text, Audit};
use super::Cx;
use crate::error::QueryError;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeyRow {
    id: String,
    key_hash: String,
    kind: String,
    label: Option<String>,
    created_at: String,
    revoked_at: Option<String>,
    expires_at: Option<String>,
    rotated_from: Option<String>,
    class: String,
}

const KEY_COLUMNS: &str =
    "id, key_hash, kind, label, created_at, revoked_at, expires_at, rotated_from, class";

fn now_iso() -> String {
    attrib_core::time::format_millis(Date::now().as_millis() as i64)
}

impl KeyRow {
    /// `live`, `expiring` (rotated, still inside its overlap), `expired` or `revoked`.
    fn state(&self, now: &str) -> &'static str {
        match (&self.revoked_at, &self.expires_at) {
            (Some(_), _) => "revoked",
            (None, Some(at)) if at.as_str() <= now => "expired",
            (None, Some(_)) => "expiring",
            (None, None) => "live",
        }
    }

    fn view(&self, now: &str) -> Value {
        // Only write keys have a class (read and manage keys keep the column's default).
        let class = (self.kind == KeyKind::Write.as_str()).then_some(self.class.as_str());
        json!({
            "id": self.id,
            "kind": self.kind,
            "class": class,
            "label": self.label,
            "state": self.state(now),
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
            "expires_at": self.expires_at,
            "rotated_from": self.rotated_from,
        })
    }
}

async fn rows(cx: &Cx<'_>, app_id: &str) -> Result<Vec<KeyRow>, QueryError> {
    Ok(cx
        .env
        .d1(DB_BINDING)?
        .prepare(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE app_id = ?1 ORDER BY created_at, id"
        ))
        .bind(&[JsValue::from_str(app_id)])?
        .all()
        .await?
        .results()?)
}

async fn one(cx: &Cx<'_>, app_id: &str, id: &str) -> Result<KeyRow, QueryError> {
    let row: Option<KeyRow> = cx
        .env
        .d1(DB_BINDING)?
        .prepare(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE app_id = ?1 AND id = ?2"
        ))
        .bind(&[JsValue::from_str(app_id), JsValue::from_str(id)])?
        .first(None)
        .await?;
    row.ok_or_else(|| QueryError::Missing(format!("no key {id} in app {app_id}")))
}

pub async fn list(cx: &Cx<'_>, app_id: &str) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let now = now_iso();
    let keys: Vec<Value> = rows(cx, app_id)
        .await?
        .iter()
        .map(|k| k.view(&now))
        .collect();
    answer(
        200,
        &json!({ "app_id": app_id, "keys": keys }),
        app.version(),
    )
}

pub async fn show(cx: &Cx<'_>, app_id: &str, id: &str) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let key = one(cx, app_id, id).await?;
    answer(200, &key.view(&now_iso()), app.version())
}

struct NewKey {
    secret: String,
    hash: String,
    id: String,
}

fn new_key(kind: KeyKind) -> Result<NewKey, QueryError> {
    let secret = generate_key(kind, random_bytes::<24>()?);
    Ok(NewKey {
        hash: hash_key(&secret),
        id: key_id(random_bytes::<8>()?),
        secret,
    })
}

async fn check_room(cx: &Cx<'_>, app_id: &str) -> Result<(), QueryError> {
    let now = now_iso();
    let live = rows(cx, app_id)
        .await?
        .iter()
        .filter(|k| matches!(k.state(&now), "live" | "expiring"))
        .count();
    if live >= MAX_LIVE_KEYS_PER_APP {
        return Err(QueryError::Conflict(FieldError::new(
            "kind",
            format!("the app has {MAX_LIVE_KEYS_PER_APP} live keys; revoke one first"),
        )));
    }
    Ok(())
}

pub async fn issue(cx: &Cx<'_>, app_id: &str, body: Value) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let request = KeyRequest::parse(&body).map_err(QueryError::BadField)?;
    check_room(cx, app_id).await?;
    let key = new_key(request.kind)?;
    let version = commit(
        cx,
        app_id,
        app.version(),
        vec![stmt(
            cx.env,
            "INSERT INTO api_keys (key_hash, id, app_id, kind, label, class) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            &[
                text(&key.hash),
                text(&key.id),
                text(app_id),
                text(request.kind.as_str()),
                opt(request.label.as_deref()),
                text(request.class.unwrap_or_default().as_str()),
            ],
        )?],
        Audit {
            action: "key.issue",
            resource: format!("apps/{app_id}/keys/{}", key.id),
            before: None,
            after: Some(json!({
                "id": key.id,
                "kind": request.kind.as_str(),
                "label": request.label,
                "class": request.class.map(|c| c.as_str()),
            })),
        },
        None,
    )
    .await?;
    let mut view = one(cx, app_id, &key.id).await?.view(&now_iso());
    view["secret"] = Value::String(key.secret);
    answer(201, &view, version)
}

pub async fn rotate(
    cx: &Cx<'_>,
    app_id: &str,
    id: &str,
    body: Value,
) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let overlap = KeyRequest::parse_rotation(&body).map_err(QueryError::BadField)?;
    let old = one(cx, app_id, id).await?;
    let now = now_iso();
    if old.state(&now) != "live" {
        return Err(QueryError::Conflict(FieldError::new(
            "key",
            format!(
                "key {id} is {}; only a live key can be rotated",
                old.state(&now)
            ),
        )));
    }
    let kind = KeyKind::parse(&old.kind)
        .ok_or_else(|| QueryError::Missing(format!("key {id} has an unknown kind")))?;
    let key = new_key(kind)?;
    let version = commit(
        cx,
        app_id,
        app.version(),
        vec![
            stmt(
                cx.env,
                "INSERT INTO api_keys (key_hash, id, app_id, kind, label, rotated_from, class) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                &[
                    text(&key.hash),
                    text(&key.id),
                    text(app_id),
                    text(kind.as_str()),
                    opt(old.label.as_deref()),
                    text(id),
                    text(&old.class),
                ],
            )?,
            stmt(
                cx.env,
                "UPDATE api_keys SET expires_at = \
                 strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || ?3 || ' seconds') \
                 WHERE app_id = ?1 AND id = ?2",
                &[text(app_id), text(id), num(i64::from(overlap))],
            )?,
        ],
        Audit {
            action: "key.rotate",
            resource: format!("apps/{app_id}/keys/{id}"),
            before: Some(json!({ "id": id, "expires_at": old.expires_at })),
            after: Some(json!({ "id": id, "replaced_by": key.id, "overlap_secs": overlap })),
        },
        None,
    )
    .await?;
    if overlap == 0 {
        forget_key(&old.key_hash);
    }
    let now = now_iso();
    let mut view = one(cx, app_id, &key.id).await?.view(&now);
    view["secret"] = Value::String(key.secret);
    let previous = one(cx, app_id, id).await?.view(&now);
    answer(201, &json!({ "key": view, "previous": previous }), version)
}

pub async fn revoke(cx: &Cx<'_>, app_id: &str, id: &str) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let old = one(cx, app_id, id).await?;
    let version = if old.revoked_at.is_some() {
        app.version()
    } else {
        commit(
            cx,
            app_id,
            app.version(),
            vec![stmt(
                cx.env,
                "UPDATE api_keys SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') \
                 WHERE app_id = ?1 AND id = ?2 AND revoked_at IS NULL",
                &[text(app_id), text(id)],
            )?],
            Audit {
                action: "key.revoke",
                resource: format!("apps/{app_id}/keys/{id}"),
                before: Some(json!({ "id": id, "kind": old.kind, "revoked": false })),
                after: Some(json!({ "id": id, "kind": old.kind, "revoked": true })),
            },
            None,
        )
        .await?
    };
    forget_key(&old.key_hash);
    let key = one(cx, app_id, id).await?;
    answer(200, &key.view(&now_iso()), version)
}
