//! A blocking JSON client of the management API over reqwest (rustls; HTTP for loopback).

use anyhow::{bail, Context, Result};
use serde_json::Value;

pub struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Client {
    pub fn new(endpoint: &str, token: &str) -> Result<Client> {
        let base = format!("{}/admin/v1", endpoint.trim_end_matches('/'));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("HTTP client")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("runtime")?;
        Ok(Client {
            base,
            token: token.to_owned(),
            http,
            runtime,
        })
    }

    pub fn get(&self, path: &str) -> Result<Value> {
        self.send("GET", path, None)
    }

    /// One request; a non-2xx answer is an error carrying the API's field and reason.
    pub fn send(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
        self.send_raw(method, path, body)
    }

    /// One request with a body of the given content type (e.g. a CSV upload).
    pub fn send_raw(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Value> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).context("method")?;
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(&self.token);
        if let Some((content_type, body)) = body {
            request = request.header("content-type", content_type).body(body);
        }
        let (status, text) = self
            .runtime
            .block_on(async {
                let response = request.send().await?;
                let status = response.status();
                let text = response.text().await?;
                Ok::<_, reqwest::Error>((status, text))
            })
            .with_context(|| format!("{method} {url}"))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !status.is_success() {
            let error = &value["error"];
            match (error["field"].as_str(), error["reason"].as_str()) {
                (Some(field), Some(reason)) => {
                    bail!(
                        "{method} {path}: HTTP {}: {field}: {reason}{}",
                        status.as_u16(),
                        listed_errors(&value)
                    )
                }
                _ => bail!("{method} {path}: HTTP {}: {value}", status.as_u16()),
            }
        }
        Ok(value)
    }
}

/// Every error an upload's refusal lists (`errors`: rows of a spend upload, cells of a rates
/// upload), one per line, so a user fixes them all in one go.
pub fn listed_errors(value: &Value) -> String {
    let Some(errors) = value["errors"].as_array().filter(|e| e.len() > 1) else {
        return String::new();
    };
    let mut out = format!("\n{} errors:", errors.len());
    for e in errors {
        let field = e["field"].as_str().unwrap_or_default();
        let reason = e["reason"].as_str().unwrap_or_default();
        let at = match (e["row"].as_u64(), e["line"].as_u64()) {
            (Some(row), Some(line)) => format!("row {row} (line {line}), "),
            (Some(row), None) => format!("row {row}, "),
            _ => String::new(),
        };
        out.push_str(&format!("\n  {at}{field}: {reason}"));
    }
    out
}
