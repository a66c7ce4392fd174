//! The device object: one per app and keyed device-id hash (`d:{app}:{hash}`), holding the
//! recent tracking-link touches made by that device and the first deferred deep-link answer
//! given to it. It stores only our ids (touch ids, link ids), never the device identifier.
//!
//! `POST /touch` adds a touch (a repeat of the same touch id is ignored); `POST /touches`
//! lists them; `POST /answer` keeps the first answer it is given and returns the kept one,
//! so asking twice answers the same; `POST /erase` (a `DEVICE_ID` erasure, issue 12) empties
//! it and clears its alarm. At most [`MAX_DEVICE_TOUCHES`] newest touches are kept;
//! an alarm deletes everything [`DEVICE_RETENTION_MS`] after the last touch.
//! The matching rules (`attrib_core::mobile::waterfall`) run in the ingest Worker.

use attrib_core::limits::MAX_DEVICE_TOUCHES;
use attrib_core::mobile::device::{
    DeviceTouch, TouchKind, DEVICE_ANSWER_PATH, DEVICE_ERASE_PATH, DEVICE_RETENTION_MS,
    DEVICE_TOUCHES_PATH, DEVICE_TOUCH_PATH,
};
use attrib_worker_common::response;
use serde::Deserialize;
use serde_json::Value;
use worker::{durable_object, DurableObject, Env, Method, Request, Response, Result, State};

use crate::store::{int, text};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS touches (touch_id TEXT PRIMARY KEY, \
     kind TEXT NOT NULL, at_ms INTEGER NOT NULL, link_id TEXT NOT NULL, source TEXT); \
     CREATE TABLE IF NOT EXISTS answer (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL)";

#[durable_object]
pub struct DeviceTouches {
    state: State,
    schema_error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
enum DeviceError {
    #[error("bad request to the device object: {0}")]
    BadRequest(String),
    #[error("schema could not be created: {0}")]
    Schema(String),
    #[error(transparent)]
    Runtime(#[from] worker::Error),
}

#[derive(Deserialize)]
struct TouchRow {
    touch_id: String,
    kind: String,
    at_ms: f64,
    link_id: String,
    source: Option<String>,
}

#[derive(Deserialize)]
struct Count {
    n: f64,
}

#[derive(Deserialize)]
struct AnswerRow {
    body: String,
}

impl DurableObject for DeviceTouches {
    fn new(state: State, _env: Env) -> Self {
        let schema_error = state
            .storage()
            .sql()
            .exec(SCHEMA, None)
            .err()
            .map(|e| e.to_string());
        DeviceTouches {
            state,
            schema_error,
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let body = req.text().await?;
        let outcome = match (&self.schema_error, req.method(), req.path().as_str()) {
            (Some(err), _, _) => Err(DeviceError::Schema(err.clone())),
            (None, Method::Post, DEVICE_TOUCH_PATH) => self.add(&body).await,
            (None, Method::Post, DEVICE_TOUCHES_PATH) => self.list(),
            (None, Method::Post, DEVICE_ANSWER_PATH) => self.answer(&body),
            (None, Method::Post, DEVICE_ERASE_PATH) => self.erase().await,
            _ => return response::error(404, "not_found", "no such device route"),
        };
        match outcome {
            Ok(reply) => response::json(200, &reply),
            Err(DeviceError::BadRequest(reason)) => response::error(400, "bad_request", reason),
            Err(err) => response::internal("device", &err),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.state.storage().delete_all().await?;
        Response::ok("forgotten")
    }
}

impl DeviceTouches {
    async fn add(&self, body: &str) -> std::result::Result<Value, DeviceError> {
        let touch: DeviceTouch =
            serde_json::from_str(body).map_err(|e| DeviceError::BadRequest(e.to_string()))?;
        let kind = match touch.kind {
            TouchKind::Click => "click",
            TouchKind::Impression => "impression",
        };
        let sql = self.state.storage().sql();
        sql.exec(
            "INSERT OR IGNORE INTO touches (touch_id, kind, at_ms, link_id, source) VALUES (?, ?, ?, ?, ?)",
            vec![
                text(&touch.touch_id),
                text(kind),
                int(touch.at_ms),
                text(&touch.link_id),
                touch.source.as_deref().map_or(worker::SqlStorageValue::Null, text),
            ],
        )?;
        // Keep the newest touches only: a device clicking all day cannot grow the object.
        sql.exec(
            "DELETE FROM touches WHERE touch_id NOT IN \
             (SELECT touch_id FROM touches ORDER BY at_ms DESC, touch_id LIMIT ?)",
            vec![int(MAX_DEVICE_TOUCHES as i64)],
        )?;
        self.state.storage().set_alarm(DEVICE_RETENTION_MS).await?;
        Ok(Value::Bool(true))
    }

    fn list(&self) -> std::result::Result<Value, DeviceError> {
        let rows: Vec<TouchRow> = self
            .state
            .storage()
            .sql()
            .exec(
                "SELECT touch_id, kind, at_ms, link_id, source FROM touches ORDER BY at_ms",
                None,
            )?
            .to_array()?;
        let touches: Vec<DeviceTouch> = rows
            .into_iter()
            .map(|r| DeviceTouch {
                touch_id: r.touch_id,
                kind: if r.kind == "impression" {
                    TouchKind::Impression
                } else {
                    TouchKind::Click
                },
                at_ms: r.at_ms as i64,
                link_id: r.link_id,
                source: r.source,
            })
            .collect();
        serde_json::to_value(touches).map_err(|e| DeviceError::BadRequest(e.to_string()))
    }

    /// Forgets every touch and the answer (the tables stay, empty: the object may be used
    /// again by a later click of the device).
    async fn erase(&self) -> std::result::Result<Value, DeviceError> {
        let sql = self.state.storage().sql();
        let rows: Vec<Count> = sql
            .exec("SELECT count(*) AS n FROM touches", None)?
            .to_array()?;
        sql.exec("DELETE FROM touches", None)?;
        sql.exec("DELETE FROM answer", None)?;
        self.state.storage().delete_alarm().await?;
        Ok(serde_json::json!({ "erased_touches": rows.first().map_or(0.0, |r| r.n) }))
    }

    fn answer(&self, body: &str) -> std::result::Result<Value, DeviceError> {
        serde_json::from_str::<Value>(body).map_err(|e| DeviceError::BadRequest(e.to_string()))?;
        let sql = self.state.storage().sql();
        sql.exec(
            "INSERT OR IGNORE INTO answer (id, body) VALUES (1, ?)",
            vec![text(body)],
        )?;
        let rows: Vec<AnswerRow> = sql
            .exec("SELECT body FROM answer WHERE id = 1", None)?
            .to_array()?;
        let kept = rows.first().map_or(body, |r| r.body.as_str());
        serde_json::from_str(kept).map_err(|e| DeviceError::BadRequest(e.to_string()))
    }
}
