//! Sends inserts to ClickHouse's HTTP interface. Each table's rows of a batch go in one
//! `INSERT ... FORMAT JSONEachRow` request, which ClickHouse writes as one block (atomic per
//! table). A redelivered batch inserts the same ids again, which the ReplacingMergeTree
//! tables collapse.

use std::time::Duration;

use super::config::ClickHouseConfig;
use super::request::{self, Insert};
use super::{schema_statements, ClickHouseError, SINK_NAME};
use crate::sinks::{Sink, SinkError};
use crate::spool::{BatchLimits, SpoolBatch};

pub struct ClickHouseSink {
    config: ClickHouseConfig,
    client: reqwest::Client,
}

impl ClickHouseSink {
    pub fn new(config: ClickHouseConfig) -> Result<Self, ClickHouseError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(5))
            .build()?;
        Ok(ClickHouseSink { config, client })
    }

    /// Runs one statement; `query` goes in the URL and `body` (data) in the request body.
    async fn execute(&self, query: &str, body: Vec<u8>) -> Result<(), ClickHouseError> {
        let mut url = self.config.url.clone();
        url.query_pairs_mut()
            .append_pair("query", query)
            .append_pair("user", &self.config.user)
            .append_pair("password", &self.config.password);
        let response = self.client.post(url).body(body).send().await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        Err(ClickHouseError::Server {
            status: status.as_u16(),
            statement: query.chars().take(120).collect(),
            body: response
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(1_000)
                .collect(),
        })
    }

    async fn insert(&self, insert: Insert) -> Result<(), ClickHouseError> {
        let query = format!(
            "INSERT INTO {}.{} FORMAT JSONEachRow",
            self.config.database, insert.table
        );
        tracing::trace!(
            table = insert.table,
            rows = insert.rows,
            "clickhouse insert"
        );
        self.execute(&query, insert.body).await
    }
}

impl Sink for ClickHouseSink {
    fn name(&self) -> &'static str {
        SINK_NAME
    }

    fn batch_limits(&self) -> BatchLimits {
        BatchLimits {
            max_records: self.config.batch_rows,
            max_wait: self.config.batch_wait,
        }
    }

    async fn prepare(&mut self) -> Result<(), SinkError> {
        for statement in schema_statements(&self.config.database) {
            // DDL goes in the body: 18.16 and current servers both accept that.
            let mut url = self.config.url.clone();
            url.query_pairs_mut()
                .append_pair("user", &self.config.user)
                .append_pair("password", &self.config.password);
            let response = self
                .client
                .post(url)
                .body(statement.clone())
                .send()
                .await
                .map_err(ClickHouseError::from)?;
            let status = response.status();
            if !status.is_success() {
                return Err(ClickHouseError::Server {
                    status: status.as_u16(),
                    statement: statement.chars().take(120).collect(),
                    body: response.text().await.unwrap_or_default(),
                }
                .into());
            }
        }
        tracing::info!(database = %self.config.database, "clickhouse schema applied");
        Ok(())
    }

    async fn deliver<'a>(&'a mut self, batch: &'a SpoolBatch) -> Result<(), SinkError> {
        for insert in request::build(batch)? {
            self.insert(insert).await?;
        }
        Ok(())
    }
}
