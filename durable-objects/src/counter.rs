//! The click counter: one object per (app, IP) or (app, device), counting tracking-link
//! clicks in per-minute buckets for the click-flooding rules (`attrib_core::fraud::flood`).
//!
//! `POST /hit` adds a click and answers how many fell in the window. Buckets older than the
//! longest window are deleted as hits come; an alarm set that far ahead deletes everything
//! once the counter has been idle that long, so idle IPs leave nothing stored.

use attrib_core::fraud::flood::{
    bucket_of, expired_before, first_bucket, CounterHit, CounterReply, COUNTER_HIT_PATH,
    COUNTER_RETENTION_MS,
};
use attrib_worker_common::response;
use serde::Deserialize;
use worker::{durable_object, DurableObject, Env, Method, Request, Response, Result, State};

use crate::store::int;

const SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS hits (bucket INTEGER PRIMARY KEY, n INTEGER NOT NULL)";

#[durable_object]
pub struct ClickCounter {
    state: State,
    schema_error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
enum CounterError {
    #[error("bad request to the counter: {0}")]
    BadRequest(String),
    #[error("schema could not be created: {0}")]
    Schema(String),
    #[error(transparent)]
    Runtime(#[from] worker::Error),
}

#[derive(Deserialize)]
struct Sum {
    n: Option<f64>,
}

impl DurableObject for ClickCounter {
    fn new(state: State, _env: Env) -> Self {
        let schema_error = state
            .storage()
            .sql()
            .exec(SCHEMA, None)
            .err()
            .map(|e| e.to_string());
        ClickCounter {
            state,
            schema_error,
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let outcome = match (&self.schema_error, req.method(), req.path().as_str()) {
            (Some(err), _, _) => Err(CounterError::Schema(err.clone())),
            (None, Method::Post, COUNTER_HIT_PATH) => self.hit(&mut req).await,
            _ => return response::error(404, "not_found", "no such counter route"),
        };
        match outcome {
            Ok(reply) => response::json(200, &reply),
            Err(CounterError::BadRequest(reason)) => response::error(400, "bad_request", reason),
            Err(err) => response::internal("counter", &err),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.state.storage().delete_all().await?;
        Response::ok("forgotten")
    }
}

impl ClickCounter {
    async fn hit(&self, req: &mut Request) -> std::result::Result<CounterReply, CounterError> {
        let text = req.text().await?;
        let hit: CounterHit =
            serde_json::from_str(&text).map_err(|e| CounterError::BadRequest(e.to_string()))?;
        let storage = self.state.storage();
        let sql = storage.sql();
        sql.exec(
            "INSERT INTO hits (bucket, n) VALUES (?, 1) ON CONFLICT (bucket) DO UPDATE SET n = n + 1",
            vec![int(bucket_of(hit.ts_ms))],
        )?;
        sql.exec(
            "DELETE FROM hits WHERE bucket < ?",
            vec![int(expired_before(hit.ts_ms))],
        )?;
        let rows: Vec<Sum> = sql
            .exec(
                "SELECT sum(n) AS n FROM hits WHERE bucket >= ?",
                vec![int(first_bucket(hit.ts_ms, hit.window_secs))],
            )?
            .to_array()?;
        let count = rows.first().and_then(|r| r.n).unwrap_or(0.0);
        storage.set_alarm(COUNTER_RETENTION_MS).await?;
        Ok(CounterReply {
            count: count.clamp(0.0, f64::from(u32::MAX)) as u32,
        })
    }
}
