//! Erasure (issue 12): `ALTER TABLE ... DELETE WHERE` mutations, the form ClickHouse 18.16
//! and current releases both take (no lightweight `DELETE FROM`, no `mutations_sync` setting
//! on 18.16). A mutation is applied in the background: each is waited for in
//! `system.mutations` (18.16 has it) up to [`MUTATION_WAIT`]; one still running then is
//! reported as a failure, so the regulation is sent again rather than called done.
//!
//! Tables keyed by journey are erased; `attribution_credits`, `conversion_stats` and the views
//! over them hold conversion and touch ids with their channels and amounts, no person id, and
//! are kept as the anonymous counts behind the stats (README, Privacy: erasure).

use std::time::{Duration, Instant};

use super::{ClickHouseError, ClickHouseSink};

/// How long the erasure waits for its mutations to finish.
pub const MUTATION_WAIT: Duration = Duration::from_secs(20);

/// A ClickHouse string literal: backslash and quote escaped (both releases read it).
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The mutations erasing `journeys` of `app_id` in `database`, by table.
pub fn statements(
    database: &str,
    app_id: &str,
    journeys: &[String],
) -> Vec<(&'static str, String)> {
    let list = journeys
        .iter()
        .map(|j| literal(j))
        .collect::<Vec<_>>()
        .join(", ");
    let app = literal(app_id);
    let mut out: Vec<(&'static str, String)> = ["events", "attributions", "null_paths"]
        .into_iter()
        .map(|table| {
            (
                table,
                format!(
                    "ALTER TABLE {database}.{table} DELETE WHERE app_id = {app} AND journey IN ({list})"
                ),
            )
        })
        .collect();
    out.push((
        "merges",
        format!(
            "ALTER TABLE {database}.merges DELETE WHERE app_id = {app} AND \
             (from_journey IN ({list}) OR into_journey IN ({list}))"
        ),
    ));
    out
}

impl ClickHouseSink {
    /// Runs the erasure's mutations and waits for them to finish.
    pub async fn erase_journeys(
        &self,
        app_id: &str,
        journeys: &[String],
    ) -> Result<(), ClickHouseError> {
        let database = self.database().to_owned();
        let mut tables = Vec::new();
        for (table, statement) in statements(&database, app_id, journeys) {
            self.execute(None, None, statement.into_bytes()).await?;
            tables.push(table);
        }
        let deadline = Instant::now() + MUTATION_WAIT;
        let names = tables
            .iter()
            .map(|t| literal(t))
            .collect::<Vec<_>>()
            .join(", ");
        let pending = format!(
            "SELECT count() FROM system.mutations WHERE database = {} AND table IN ({names}) \
             AND is_done = 0 FORMAT TabSeparated",
            literal(&database)
        );
        loop {
            let answer = self
                .execute(None, None, pending.clone().into_bytes())
                .await?;
            if answer.trim() == "0" {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ClickHouseError::Server {
                    status: 0,
                    statement: "system.mutations".into(),
                    body: format!(
                        "erasure mutations still running after {} s; send the regulation again",
                        MUTATION_WAIT.as_secs()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_quote_ids_and_cover_every_journey_table() {
        let got = statements("attrib", "app1", &["u:app1:o'brien\\x".to_owned()]);
        let tables: Vec<&str> = got.iter().map(|(t, _)| *t).collect();
        assert_eq!(tables, ["events", "attributions", "null_paths", "merges"]);
        assert_eq!(
            got[0].1,
            "ALTER TABLE attrib.events DELETE WHERE app_id = 'app1' AND journey IN ('u:app1:o\\'brien\\\\x')"
        );
        assert!(got[3]
            .1
            .contains("from_journey IN ('u:app1:o\\'brien\\\\x') OR into_journey IN"));
    }
}
