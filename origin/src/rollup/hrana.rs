//! Turso over its HTTP pipeline API (`POST {url}/v2/pipeline`), with the bodies and replies of
//! [`attrib_core::hrana`] (shared with the query Worker's Turso read store). libsql's remote
//! client speaks `/v3/...` only, which the local `tursodb --sync-server` does not serve (404),
//! so the origin's Turso target could not be tested against a real server; `/v2/pipeline` is
//! served by both it and Turso Cloud.

use std::time::Duration;

use attrib_core::hrana::{self, Arg, HranaError, Stmt};
use libsql::Value;
use serde_json::Value as Json;

use super::read_store::Statement;
use super::RollupError;

/// How long one pipeline request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct TursoHttp {
    client: reqwest::Client,
    pipeline: reqwest::Url,
    auth_token: String,
}

impl From<HranaError> for RollupError {
    fn from(err: HranaError) -> Self {
        RollupError::Turso(err.to_string())
    }
}

fn stmt(statement: &Statement) -> Stmt<'_> {
    Stmt {
        sql: &statement.sql,
        args: statement
            .params
            .iter()
            .map(|value| match value {
                Value::Integer(n) => Arg::Integer(*n),
                Value::Real(x) => Arg::Float(*x),
                Value::Text(s) => Arg::Text(s),
                // The read store has no blobs.
                Value::Null | Value::Blob(_) => Arg::Null,
            })
            .collect(),
    }
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

    async fn send(&self, body: Json) -> Result<String, RollupError> {
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
        Ok(text)
    }

    /// Runs one query; returns how many rows it gave.
    pub async fn count_rows(&self, statement: &Statement) -> Result<usize, RollupError> {
        let text = self.send(hrana::execute_body(&stmt(statement))).await?;
        Ok(hrana::decode_rows(&text)?.len())
    }

    /// Runs `statements` as one transaction: all of them or none.
    pub async fn transaction(&self, statements: &[Statement]) -> Result<(), RollupError> {
        let stmts: Vec<Stmt> = statements.iter().map(stmt).collect();
        let text = self.send(hrana::transaction_body(&stmts)).await?;
        Ok(hrana::decode_transaction(&text)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libsql_values_become_positional_arguments() {
        let s = Statement {
            sql: "SELECT ?1, ?2, ?3, ?4".into(),
            params: vec![
                Value::Text("a".into()),
                Value::Integer(7),
                Value::Real(1.5),
                Value::Blob(vec![1]),
            ],
        };
        assert_eq!(
            stmt(&s).args,
            vec![Arg::Text("a"), Arg::Integer(7), Arg::Float(1.5), Arg::Null]
        );
    }
}
