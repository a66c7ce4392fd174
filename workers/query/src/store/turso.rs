//! The Turso read store: `POST {TURSO_URL}/v2/pipeline` over `worker::Fetch`, authenticated
//! with `TURSO_AUTH_TOKEN` when it is set (a local `tursodb --sync-server` needs none).
//!
//! libsql's `cloudflare` feature would do the same but does not build with worker 0.8; the
//! protocol is small enough to speak directly (see [`super::hrana`]).

use serde::de::DeserializeOwned;
use serde_json::Value;
use wasm_bindgen::JsValue;
use worker::{Env, Fetch, Headers, Method, Request, RequestInit};

use super::{hrana, SqlStore, Statement, StoreError};
use crate::config;

/// Error bodies are cut to this length in logs.
const MAX_ERROR_BODY_CHARS: usize = 300;

pub struct TursoStore {
    pipeline_url: String,
    auth_token: Option<String>,
}

impl TursoStore {
    pub fn from_env(env: &Env) -> Result<TursoStore, StoreError> {
        let base = config::turso_url(env)?;
        Ok(TursoStore {
            pipeline_url: format!("{base}/v2/pipeline"),
            auth_token: config::turso_auth_token(env),
        })
    }

    async fn pipeline(&self, body: &Value) -> Result<String, StoreError> {
        let headers = Headers::new();
        headers.set("content-type", "application/json")?;
        if let Some(token) = &self.auth_token {
            headers.set("authorization", &format!("Bearer {token}"))?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(JsValue::from_str(&body.to_string())));
        let request = Request::new_with_init(&self.pipeline_url, &init)?;
        let unreachable = |e: worker::Error| StoreError::TursoUnreachable(e.to_string());
        let mut response = Fetch::Request(request).send().await.map_err(unreachable)?;
        let status = response.status_code();
        let text = response.text().await.map_err(unreachable)?;
        if status != 200 {
            return Err(StoreError::TursoHttp {
                status,
                body: text.chars().take(MAX_ERROR_BODY_CHARS).collect(),
            });
        }
        Ok(text)
    }
}

impl SqlStore for TursoStore {
    async fn rows<T: DeserializeOwned>(&self, stmt: &Statement) -> Result<Vec<T>, StoreError> {
        let text = self.pipeline(&hrana::execute_body(stmt)).await?;
        hrana::decode_rows(&text)?
            .into_iter()
            .map(|row| {
                serde_json::from_value(Value::Object(row))
                    .map_err(|e| StoreError::Decode(e.to_string()))
            })
            .collect()
    }

    async fn batch(&self, stmts: &[Statement]) -> Result<(), StoreError> {
        if stmts.is_empty() {
            return Ok(());
        }
        let text = self.pipeline(&hrana::transaction_body(stmts)).await?;
        hrana::decode_transaction(&text)
    }
}
