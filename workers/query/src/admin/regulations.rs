//! `/admin/v1/apps/{app}/regulations`: data-subject regulations in Segment's shape
//! (`attrib_core::privacy`), created, shown and listed. `SUPPRESS_ONLY` and `UNSUPPRESS` are done at once on the
//! suppression list (keyed hashes only; the ingest Worker sees the change within the settings
//! cache time, 60 s). Each regulation is written with the app's version move and its audit
//! entry in one batch, like every change. The delete types are then carried out in the same
//! request ([`super::erasure`], the suppression of `SUPPRESS_WITH_DELETE` first, committed with
//! the regulation) and the regulation's per-store status updated with the outcome.

use std::collections::BTreeMap;

use attrib_core::privacy::erasure::{stores_of, StoreStatus};
use attrib_core::privacy::{subject_hash, RegulationInput, RegulationType, EDGE_SUPPRESSION_STORE};
use attrib_worker_common::apps::DB_BINDING;
use attrib_worker_common::random::random_bytes;
use attrib_worker_common::suppression;
use serde::Deserialize;
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::{Request, Response};

use super::write::{answer, commit, load_app, num, stmt, text, Audit};
use super::{bad, limit_of, Cx};
use crate::error::QueryError;

#[derive(Deserialize)]
struct RegulationRow {
    id: String,
    regulation_type: String,
    subject_type: String,
    subject_count: f64,
    stores: String,
    created_at: String,
}

fn view(app_id: &str, row: &RegulationRow) -> Value {
    let stores: Value = serde_json::from_str(&row.stores).unwrap_or_else(|_| json!({}));
    let statuses: Vec<&str> = stores
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(|s| s.get("status").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let overall = if statuses.contains(&"failed") {
        "failed"
    } else if statuses.iter().all(|s| *s == "done") {
        "done"
    } else {
        "pending"
    };
    json!({
        "id": row.id,
        "app_id": app_id,
        "regulationType": row.regulation_type,
        "subjectType": row.subject_type,
        "subjectCount": row.subject_count as i64,
        "status": overall,
        "stores": stores,
        "createdAt": row.created_at,
    })
}

fn stores_text(stores: &BTreeMap<String, StoreStatus>) -> Result<String, QueryError> {
    serde_json::to_string(stores)
        .map_err(|e| QueryError::Runtime(worker::Error::RustError(e.to_string())))
}

async fn one(cx: &Cx<'_>, app_id: &str, id: &str) -> Result<RegulationRow, QueryError> {
    let row: Option<RegulationRow> = cx
        .env
        .d1(DB_BINDING)?
        .prepare(
            "SELECT id, regulation_type, subject_type, subject_count, stores, created_at \
             FROM regulations WHERE app_id = ?1 AND id = ?2",
        )
        .bind(&[JsValue::from_str(app_id), JsValue::from_str(id)])?
        .first(None)
        .await?;
    row.ok_or_else(|| QueryError::Missing(format!("no regulation {id} in app {app_id}")))
}

/// The app's regulations, newest first; `before` (a regulation id, the last of a page) pages
/// on. Each as [`show`] gives it, subject ids never (they are not kept).
pub async fn list(cx: &Cx<'_>, app_id: &str, req: &Request) -> Result<Response, QueryError> {
    const COLUMNS: &str = "id, regulation_type, subject_type, subject_count, stores, created_at";
    let app = load_app(cx, app_id).await?;
    let limit = limit_of(req)?;
    let url = req.url()?;
    let before = url
        .query_pairs()
        .find(|(k, _)| k == "before")
        .map(|(_, v)| v.into_owned());
    // Newest first in insertion order: ties of the millisecond `created_at` fall back to the
    // rowid, which the (app_id, created_at) index already holds.
    let order = "ORDER BY created_at DESC, rowid DESC";
    let db = cx.env.d1(DB_BINDING)?;
    let query = match &before {
        None => db
            .prepare(format!(
                "SELECT {COLUMNS} FROM regulations WHERE app_id = ?1 {order} LIMIT {limit}"
            ))
            .bind(&[text(app_id)])?,
        Some(id) => {
            one(cx, app_id, id).await.map_err(|e| match e {
                QueryError::Missing(_) => bad("before", "must be a regulation id of this app"),
                other => other,
            })?;
            db.prepare(format!(
                "SELECT {COLUMNS} FROM regulations WHERE app_id = ?1 AND (created_at, rowid) < \
                 (SELECT created_at, rowid FROM regulations WHERE app_id = ?1 AND id = ?2) \
                 {order} LIMIT {limit}"
            ))
            .bind(&[text(app_id), text(id)])?
        }
    };
    let rows: Vec<RegulationRow> = query.all().await?.results()?;
    let next = (rows.len() == limit)
        .then(|| rows.last().map(|r| r.id.clone()))
        .flatten();
    let regulations: Vec<Value> = rows.iter().map(|r| view(app_id, r)).collect();
    answer(
        200,
        &json!({ "app_id": app_id, "regulations": regulations, "next_before": next }),
        app.version(),
    )
}

pub async fn show(cx: &Cx<'_>, app_id: &str, id: &str) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let row = one(cx, app_id, id).await?;
    answer(200, &view(app_id, &row), app.version())
}

pub async fn create(cx: &Cx<'_>, app_id: &str, body: Value) -> Result<Response, QueryError> {
    let app = load_app(cx, app_id).await?;
    let input = RegulationInput::parse(&body).map_err(QueryError::BadField)?;
    let secret = suppression::secret(cx.env)?;
    let id = format!(
        "reg_{}",
        random_bytes::<8>()?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let subject_type = input.subject_type.as_str();
    let mut changes = Vec::with_capacity(input.subject_ids.len() + 1);
    for (i, raw) in input.subject_ids.iter().enumerate() {
        // parse() already refused ids that have no hash (unusable device ids).
        let hash = subject_hash(&secret, app_id, input.subject_type, raw)
            .ok_or_else(|| bad(&format!("subjectIds[{i}]"), "has no usable form"))?;
        changes.push(match input.regulation_type {
            RegulationType::SuppressOnly | RegulationType::SuppressWithDelete => stmt(
                cx.env,
                "INSERT OR IGNORE INTO suppressions (app_id, hash, subject_type, regulation_id) \
                 VALUES (?1, ?2, ?3, ?4)",
                &[text(app_id), text(&hash), text(subject_type), text(&id)],
            )?,
            RegulationType::Unsuppress => stmt(
                cx.env,
                "DELETE FROM suppressions WHERE app_id = ?1 AND hash = ?2",
                &[text(app_id), text(&hash)],
            )?,
            RegulationType::DeleteOnly => continue,
        });
    }
    let mut stores = stores_of(input.regulation_type, input.subject_type);
    if stores.contains_key(EDGE_SUPPRESSION_STORE) {
        // Done in this batch.
        stores.insert(EDGE_SUPPRESSION_STORE.into(), StoreStatus::Done);
    }
    let stores_json = stores_text(&stores)?;
    changes.push(stmt(
        cx.env,
        "INSERT INTO regulations (id, app_id, regulation_type, subject_type, subject_count, \
         stores) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[
            text(&id),
            text(app_id),
            text(input.regulation_type.as_str()),
            text(subject_type),
            num(input.subject_ids.len() as i64),
            text(&stores_json),
        ],
    )?);
    let version = commit(
        cx,
        app_id,
        app.version(),
        changes,
        Audit {
            action: "regulation.create",
            resource: format!("apps/{app_id}/regulations/{id}"),
            before: None,
            // The audit log names how many subjects, never who.
            after: Some(json!({
                "regulationType": input.regulation_type.as_str(),
                "subjectType": subject_type,
                "subjectCount": input.subject_ids.len(),
            })),
        },
        None,
    )
    .await?;
    if input.regulation_type.erases() {
        super::erasure::run(cx.env, app_id, &input, &mut stores).await;
        let stores_json = stores_text(&stores)?;
        cx.env
            .d1(DB_BINDING)?
            .prepare("UPDATE regulations SET stores = ?1 WHERE app_id = ?2 AND id = ?3")
            .bind(&[text(&stores_json), text(app_id), text(&id)])?
            .run()
            .await?;
    }
    let row = one(cx, app_id, &id).await?;
    answer(201, &view(app_id, &row), version)
}
