//! Sends inserts to ClickHouse's HTTP interface. Each table's rows of a batch go in one
//! `INSERT ... FORMAT RowBinary` request, which ClickHouse writes as one block (atomic per
//! table), and which feeds the materialized views once.
//!
//! No row is inserted twice, so the views count each record once: the one batch that may
//! already be (partly) in ClickHouse, the first one after a start or after a failed attempt
//! (the origin died, or lost the answer, between ClickHouse's ack and the cursor commit), is
//! first checked: the ids already present in each table are left out. Every insert carries a
//! query id derived from its batch, and the check waits until no insert of this database is
//! still running, so an insert whose answer was lost cannot land after the check.

use std::collections::HashSet;
use std::time::Duration;

use super::config::ClickHouseConfig;
use super::request::{self, Insert, Present, TABLES};
use super::{schema_statements, ClickHouseError, SINK_NAME};
use crate::sinks::{Sink, SinkError};
use crate::spool::{BatchLimits, SpoolBatch};

/// Ids per presence query (keeps each query far below `max_query_size`).
const IDS_PER_QUERY: usize = 2_000;
/// How long the presence check waits for an earlier insert still running in ClickHouse.
const RUNNING_INSERT_WAIT: Duration = Duration::from_secs(60);

pub struct ClickHouseSink {
    config: ClickHouseConfig,
    client: reqwest::Client,
    /// Check the next batch for rows already present (after a start or a failed attempt).
    verify: bool,
}

impl ClickHouseSink {
    pub fn new(config: ClickHouseConfig) -> Result<Self, ClickHouseError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(5))
            .build()?;
        Ok(ClickHouseSink {
            config,
            client,
            verify: true,
        })
    }

    pub(super) fn database(&self) -> &str {
        &self.config.database
    }

    /// Runs one statement: `query` in the URL (or, when `None`, the body is the query).
    pub(super) async fn execute(
        &self,
        query: Option<&str>,
        query_id: Option<&str>,
        body: Vec<u8>,
    ) -> Result<String, ClickHouseError> {
        self.execute_with(query, query_id, &[], body).await
    }

    /// [`Self::execute`] with query settings as URL parameters (both releases take them so).
    pub(super) async fn execute_with(
        &self,
        query: Option<&str>,
        query_id: Option<&str>,
        settings: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<String, ClickHouseError> {
        let mut url = self.config.url.clone();
        {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in settings {
                pairs.append_pair(name, value);
            }
            if let Some(query) = query {
                pairs.append_pair("query", query);
            }
            if let Some(id) = query_id {
                pairs.append_pair("query_id", id);
            }
            pairs
                .append_pair("user", &self.config.user)
                .append_pair("password", &self.config.password);
        }
        let statement: String = match query {
            Some(q) => q.chars().take(120).collect(),
            None => String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned(),
        };
        // The URL carries the password (the only way ClickHouse 18.16 takes it over HTTP):
        // errors must not (reqwest puts the URL in them, and errors are logged).
        let response = self
            .client
            .post(url)
            .body(body)
            .send()
            .await
            .map_err(reqwest::Error::without_url)?;
        let status = response.status();
        let text = response.text().await.map_err(reqwest::Error::without_url)?;
        if status.is_success() {
            return Ok(text);
        }
        Err(ClickHouseError::Server {
            status: status.as_u16(),
            statement,
            body: text.chars().take(1_000).collect(),
        })
    }

    async fn insert(&self, insert: Insert, query_id: &str) -> Result<(), ClickHouseError> {
        let query = format!(
            "INSERT INTO {}.{} ({}) FORMAT RowBinary",
            self.config.database, insert.table, insert.columns
        );
        tracing::trace!(
            table = insert.table,
            rows = insert.rows,
            "clickhouse insert"
        );
        self.execute(Some(&query), Some(query_id), insert.body)
            .await
            .map(drop)
    }

    fn query_id_prefix(&self) -> String {
        format!("attrib-origin-{}-", self.config.database)
    }

    /// Waits until no insert of this sink (by query id) is running in ClickHouse.
    async fn wait_for_running_inserts(&self) -> Result<(), ClickHouseError> {
        let query = format!(
            "SELECT count() FROM system.processes WHERE substring(query_id, 1, {}) = '{}'",
            self.query_id_prefix().len(),
            escape(&self.query_id_prefix())
        );
        let deadline = tokio::time::Instant::now() + RUNNING_INSERT_WAIT;
        loop {
            let running = self.execute(None, None, query.clone().into_bytes()).await?;
            if running.trim() == "0" {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(ClickHouseError::Server {
                    status: 0,
                    statement: query,
                    body: format!(
                        "an earlier insert is still running ({} queries)",
                        running.trim()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The batch's record ids already present, per table.
    async fn present(&self, batch: &SpoolBatch) -> Result<Present, SinkError> {
        let mut wanted: [Vec<(&str, &str)>; TABLES.len()] = Default::default();
        for record in batch.records() {
            let r = record?;
            for &t in request::tables_of(r.kind) {
                wanted[t].push((r.app_id, r.id));
            }
        }
        let mut present: Present = Default::default();
        for (index, (table, _, id_column)) in TABLES.iter().enumerate() {
            for chunk in wanted[index].chunks(IDS_PER_QUERY) {
                let apps: HashSet<&str> = chunk.iter().map(|(app, _)| *app).collect();
                let query = format!(
                    "SELECT DISTINCT {id_column} FROM {}.{table} WHERE app_id IN ({}) AND {id_column} IN ({}) FORMAT TabSeparated",
                    self.config.database,
                    quoted(apps.into_iter()),
                    quoted(chunk.iter().map(|(_, id)| *id)),
                );
                let text = self.execute(None, None, query.into_bytes()).await?;
                present[index].extend(text.lines().map(unescape_tsv));
            }
        }
        Ok(present)
    }

    /// Replaces the approximate attribution view of earlier versions (a materialized view
    /// that summed every revision) by the exact one in the schema.
    async fn drop_legacy_view(&self) -> Result<(), ClickHouseError> {
        let query = format!(
            "SELECT engine FROM system.tables WHERE database = '{}' AND name = 'daily_attribution'",
            escape(&self.config.database)
        );
        let engine = self.execute(None, None, query.into_bytes()).await?;
        if engine.trim() == "MaterializedView" {
            tracing::warn!("dropping the legacy daily_attribution materialized view (it summed every revision); its exact replacement is a view of conversion_stats");
            let drop = format!(
                "DROP TABLE IF EXISTS {}.daily_attribution",
                self.config.database
            );
            self.execute(None, None, drop.into_bytes()).await?;
        }
        Ok(())
    }
}

/// A ClickHouse string literal's content: backslash and quote escaped.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\'', "\\'")
}

fn quoted<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, value) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('\'');
        out.push_str(&escape(value));
        out.push('\'');
    }
    out
}

/// A `TabSeparated` field back to its text.
fn unescape_tsv(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_owned();
    }
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
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
        self.drop_legacy_view().await?;
        for statement in schema_statements(&self.config.database) {
            // DDL goes in the body: 18.16 and current servers both accept that.
            self.execute(None, None, statement.into_bytes()).await?;
        }
        self.verify = true;
        tracing::info!(database = %self.config.database, "clickhouse schema applied");
        Ok(())
    }

    fn is_permanent(&self, err: &SinkError) -> bool {
        matches!(err, SinkError::ClickHouse(e) if super::retry::is_permanent(e))
    }

    async fn deliver<'a>(&'a mut self, batch: &'a SpoolBatch) -> Result<(), SinkError> {
        let skip = if self.verify {
            self.wait_for_running_inserts().await?;
            let present = self.present(batch).await?;
            let found: usize = present.iter().map(HashSet::len).sum();
            if found > 0 {
                tracing::info!(
                    found,
                    "rows of this batch already in ClickHouse; not inserting them again"
                );
            }
            Some(present)
        } else {
            None
        };
        let first_seq = batch.entries.first().map_or(batch.next_seq, |e| e.seq);
        let result = async {
            for insert in request::build(batch, skip.as_ref())? {
                let query_id = format!(
                    "{}{}-{first_seq}-{}",
                    self.query_id_prefix(),
                    insert.table,
                    batch.next_seq
                );
                self.insert(insert, &query_id).await?;
            }
            Ok::<(), ClickHouseError>(())
        }
        .await;
        // Keep checking while batches turn out to be partly present: the batch cut after a
        // restart need not match the one in flight before it.
        self.verify = result.is_err()
            || skip.is_some_and(|present| present.iter().any(|ids| !ids.is_empty()));
        result.map_err(SinkError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_tsv_round_trip() {
        assert_eq!(quoted(["a'b", "c\\d"].into_iter()), "'a\\'b','c\\\\d'");
        assert_eq!(unescape_tsv("a\\tb\\\\c"), "a\tb\\c");
        assert_eq!(unescape_tsv("plain"), "plain");
    }
}
