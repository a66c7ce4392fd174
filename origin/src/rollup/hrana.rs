//! Turso over its HTTP pipeline API (Hrana over HTTP, `POST {url}/v2/pipeline`), as the query
//! Worker speaks it (`workers/query/src/store/hrana.rs`): one `execute` for a query, one
//! `batch` of BEGIN, the statements, COMMIT (each step conditional on the one before) and a
//! ROLLBACK if COMMIT did not run. libsql's remote client speaks `/v3/...` only, which the
//! local `tursodb --sync-server` does not serve (404), so the origin's Turso target could not
//! be tested against a real server; `/v2/pipeline` is served by both it and Turso Cloud.
//! Parameters are positional and no `close` request is sent (the local server refuses it).

use std::time::Duration;

use libsql::Value;
use serde::Deserialize;
use serde_json::{json, Value as Json};

use super::read_store::Statement;
use super::RollupError;

/// How long one pipeline request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct TursoHttp {
    client: reqwest::Client,
    pipeline: reqwest::Url,
    auth_token: String,
}

impl TursoHttp {
    /// `url`: `libsql://...` (taken as `https://`), `https://...` or `http://...`.
    pub fn new(url: &str, auth_token: &str) -> Result<Self, RollupError> {
        let base = url.replacen("libsql://", "https://", 1);
        let pipeline = reqwest::Url::parse(&format!("{}/v2/pipeline", base.trim_end_matches('/')))
            .map_err(|e| RollupError::Turso(format!("bad TURSO_URL: {e}")))?;
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(RollupError::TursoHttp)?;
        Ok(TursoHttp {
            client,
            pipeline,
            auth_token: auth_token.to_owned(),
        })
    }

    async fn send(&self, body: Json) -> Result<StreamResult, RollupError> {
        let mut request = self
            .client
            .post(self.pipeline.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if !self.auth_token.is_empty() {
            request = request.bearer_auth(&self.auth_token);
        }
        let response = request.send().await.map_err(RollupError::TursoHttp)?;
        let status = response.status();
        let text = response.text().await.map_err(RollupError::TursoHttp)?;
        if !status.is_success() {
            return Err(RollupError::Turso(format!(
                "HTTP {status}: {}",
                text.chars().take(300).collect::<String>()
            )));
        }
        parse(&text)
    }

    /// Runs one query; returns how many rows it gave.
    pub async fn count_rows(&self, statement: &Statement) -> Result<usize, RollupError> {
        match self.send(execute_body(statement)).await? {
            StreamResult::Ok {
                response: StreamResponse::Execute { result },
            } => Ok(result.rows.len()),
            StreamResult::Ok { .. } => Err(RollupError::Turso("expected an execute result".into())),
            StreamResult::Error { error } => Err(error.into()),
        }
    }

    /// Runs `statements` as one transaction: all of them or none.
    pub async fn transaction(&self, statements: &[Statement]) -> Result<(), RollupError> {
        match self.send(transaction_body(statements)).await? {
            StreamResult::Ok {
                response: StreamResponse::Batch { result },
            } => match result.step_errors.into_iter().flatten().next() {
                Some(error) => Err(error.into()),
                None => Ok(()),
            },
            StreamResult::Ok { .. } => Err(RollupError::Turso("expected a batch result".into())),
            StreamResult::Error { error } => Err(error.into()),
        }
    }
}

fn arg(value: &Value) -> Json {
    match value {
        Value::Null => json!({"type": "null"}),
        // Hrana carries 64-bit integers as strings.
        Value::Integer(n) => json!({"type": "integer", "value": n.to_string()}),
        Value::Real(x) => json!({"type": "float", "value": x}),
        Value::Text(s) => json!({"type": "text", "value": s}),
        Value::Blob(_) => json!({"type": "null"}), // the read store has no blobs
    }
}

fn stmt(statement: &Statement) -> Json {
    let args: Vec<Json> = statement.params.iter().map(arg).collect();
    json!({"sql": statement.sql, "args": args, "want_rows": true})
}

fn execute_body(statement: &Statement) -> Json {
    json!({"baton": null, "requests": [{"type": "execute", "stmt": stmt(statement)}]})
}

fn transaction_body(statements: &[Statement]) -> Json {
    let mut steps = vec![json!({"stmt": {"sql": "BEGIN"}})];
    for statement in statements {
        let previous = steps.len() - 1;
        steps.push(json!({"stmt": stmt(statement), "condition": {"type": "ok", "step": previous}}));
    }
    let last = steps.len() - 1;
    steps.push(json!({"stmt": {"sql": "COMMIT"}, "condition": {"type": "ok", "step": last}}));
    let commit = steps.len() - 1;
    steps.push(json!({
        "stmt": {"sql": "ROLLBACK"},
        "condition": {"type": "not", "cond": {"type": "ok", "step": commit}}
    }));
    json!({"baton": null, "requests": [{"type": "batch", "batch": {"steps": steps}}]})
}

#[derive(Deserialize)]
struct PipelineReply {
    results: Vec<StreamResult>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StreamResult {
    Ok { response: StreamResponse },
    Error { error: HranaError },
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StreamResponse {
    Execute { result: StmtResult },
    Batch { result: BatchResult },
}

#[derive(Deserialize)]
struct StmtResult {
    rows: Vec<Json>,
}

#[derive(Deserialize)]
struct BatchResult {
    step_errors: Vec<Option<HranaError>>,
}

#[derive(Deserialize)]
struct HranaError {
    message: String,
}

impl From<HranaError> for RollupError {
    fn from(err: HranaError) -> Self {
        RollupError::Turso(err.message)
    }
}

fn parse(text: &str) -> Result<StreamResult, RollupError> {
    let reply: PipelineReply = serde_json::from_str(text)
        .map_err(|e| RollupError::Turso(format!("reply not understood: {e}")))?;
    reply
        .results
        .into_iter()
        .next()
        .ok_or_else(|| RollupError::Turso("no result in the pipeline reply".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_positional_and_transactions_roll_back() {
        let s = Statement {
            sql: "SELECT ?1, ?2, ?3".into(),
            params: vec![Value::Text("a".into()), Value::Integer(7), Value::Real(1.5)],
        };
        let body = execute_body(&s);
        let args = &body["requests"][0]["stmt"]["args"];
        assert_eq!(args[1], json!({"type": "integer", "value": "7"}));
        assert_eq!(body["requests"].as_array().map(Vec::len), Some(1));
        let steps = transaction_body(&[s])["requests"][0]["batch"]["steps"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(steps.len(), 4);
        assert_eq!(steps[2]["stmt"]["sql"], "COMMIT");
        assert_eq!(
            steps[3]["condition"]["cond"],
            json!({"type": "ok", "step": 2})
        );
    }

    #[test]
    fn errors_surface() {
        let failed = r#"{"results":[{"type":"error","error":{"message":"Parse error: no such column: region","code":"PREPARE_ERROR"}}]}"#;
        assert!(matches!(parse(failed), Ok(StreamResult::Error { .. })));
        assert!(parse("not json").is_err());
    }
}
