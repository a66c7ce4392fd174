//! `GET /v1/skan`: the app's verified SKAdNetwork and AdAttributionKit postbacks (stored by the
//! ingest Worker in D1 `skan_postbacks`, one row per dedup key), counted per ad network,
//! campaign (`source_identifier`), winning or not and postback sequence, with the coarse values
//! and what the app's conversion-value schema decoded (revenue ranges summed per currency, event
//! names counted); and the unverified ones by reason.
//!
//! Always read from D1, whatever the read store: the ingest Worker writes these rows there. Not
//! cached: a postback is visible on the next read.
//!
//! Rows grouped by `ad_network_id` carry `source` (and, grouped by `source_identifier` too,
//! `campaign`): our deterministic names from the app's `mobile.skan_sources`
//! (`attrib_core::mobile::skan_sources`), `null` when unmapped.

use std::collections::BTreeMap;

use attrib_core::mobile::skan_sources::{mapped, SkanSources};
use attrib_core::FieldError;
use chrono::Duration;
use futures_util::future::try_join4;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use worker::{Env, Request, Response};

use crate::auth;
use crate::error::QueryError;
use crate::limits::{DEFAULT_SKAN_ROWS, MAX_FILTER_VALUE_CHARS, MAX_SKAN_ROWS};
use crate::params::{today_utc, DayRange, Params};
use crate::queries::sql::Where;
use crate::store::d1::D1Store;
use crate::store::{Param, SqlStore, Statement};
use attrib_worker_common::{apps, response};

pub const PATH: &str = "/v1/skan";
const PARAMS: &[&str] = &["from", "to", "group_by", "ad_network_id", "kind", "limit"];

/// Columns a read may group by, in the order they appear in a row.
const DIMENSIONS: &[&str] = &[
    "day",
    "kind",
    "version",
    "ad_network_id",
    "source_identifier",
    "did_win",
    "postback_sequence_index",
];
const DEFAULT_GROUP_BY: &[&str] = &[
    "ad_network_id",
    "source_identifier",
    "did_win",
    "postback_sequence_index",
];

#[derive(Debug, Clone, PartialEq)]
pub struct SkanQuery {
    range: DayRange,
    group_by: Vec<&'static str>,
    ad_networks: Vec<String>,
    kinds: Vec<String>,
    limit: usize,
}

impl SkanQuery {
    pub fn parse(params: &Params, today: chrono::NaiveDate) -> Result<SkanQuery, FieldError> {
        let asked = params.list("group_by")?;
        let group_by: Vec<&'static str> = if asked.is_empty() {
            DEFAULT_GROUP_BY.to_vec()
        } else {
            if let Some(bad) = asked.iter().find(|d| !DIMENSIONS.contains(&d.as_str())) {
                return Err(FieldError::new(
                    "group_by",
                    format!("{bad:?} is not one of {}", DIMENSIONS.join(", ")),
                ));
            }
            DIMENSIONS
                .iter()
                .copied()
                .filter(|d| asked.iter().any(|a| a == d))
                .collect()
        };
        let ad_networks = params.list("ad_network_id")?;
        if let Some(bad) = ad_networks
            .iter()
            .find(|n| n.chars().count() > MAX_FILTER_VALUE_CHARS)
        {
            return Err(FieldError::new(
                "ad_network_id",
                format!("{bad:?} is longer than {MAX_FILTER_VALUE_CHARS} characters"),
            ));
        }
        let kinds = params.list("kind")?;
        if let Some(bad) = kinds.iter().find(|k| !matches!(k.as_str(), "skan" | "aak")) {
            return Err(FieldError::new(
                "kind",
                format!("{bad:?} is not one of skan, aak"),
            ));
        }
        Ok(SkanQuery {
            range: params.range(today)?,
            group_by,
            ad_networks,
            kinds,
            limit: params.number("limit", 1, MAX_SKAN_ROWS, DEFAULT_SKAN_ROWS)?,
        })
    }

    /// The WHERE clause: the app, received between the first day's start and the day after
    /// the last (so the `(app_id, received_at)` index serves it), and the filters.
    fn filters(&self, app_id: &str) -> Where {
        let after_last = (self.range.to + Duration::days(1))
            .format("%Y-%m-%d")
            .to_string();
        let mut filters = Where::scoped(
            "app_id = ?1 AND received_at >= ?2 AND received_at < ?3",
            vec![
                app_id.into(),
                self.range.first_day().into(),
                after_last.into(),
            ],
        );
        filters.any_of("ad_network_id", &self.ad_networks);
        filters.any_of("kind", &self.kinds);
        filters
    }

    /// `day` is derived from `received_at`; the other dimensions are columns.
    fn select_dims(&self) -> String {
        self.group_by
            .iter()
            .map(|d| match *d {
                "day" => "substr(received_at, 1, 10) AS day".to_owned(),
                other => other.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn group_clause(&self, extra: &str) -> String {
        let mut columns: Vec<&str> = self.group_by.clone();
        if !extra.is_empty() {
            columns.push(extra);
        }
        if columns.is_empty() {
            String::new()
        } else {
            format!("GROUP BY {}", columns.join(", "))
        }
    }

    fn statements(&self, app_id: &str) -> [Statement; 3] {
        let dims = self.select_dims();
        let lead = if dims.is_empty() {
            String::new()
        } else {
            format!("{dims}, ")
        };
        let mut counts = self.filters(app_id);
        let limit = counts.bind(Param::Int(self.limit as i64 + 1));
        let counts = counts.statement(
            &format!(
                "SELECT {lead}COUNT(*) AS postbacks, \
                 COALESCE(SUM(fine_value IS NOT NULL), 0) AS with_fine_value, \
                 COALESCE(SUM(coarse_value = 'low'), 0) AS coarse_low, \
                 COALESCE(SUM(coarse_value = 'medium'), 0) AS coarse_medium, \
                 COALESCE(SUM(coarse_value = 'high'), 0) AS coarse_high, \
                 COALESCE(SUM(fine_value IS NULL AND coarse_value IS NULL), 0) AS no_value \
                 FROM skan_postbacks"
            ),
            &format!(
                "{} ORDER BY postbacks DESC LIMIT {limit}",
                self.group_clause("")
            ),
        );
        let mut revenue = self.filters(app_id);
        revenue.push("json_extract(decoded, '$.revenue.currency') IS NOT NULL".into());
        let revenue = revenue.statement(
            &format!(
                "SELECT {lead}json_extract(decoded, '$.revenue.currency') AS currency, \
                 COUNT(*) AS postbacks, \
                 SUM(json_extract(decoded, '$.revenue.min')) AS min, \
                 SUM(json_extract(decoded, '$.revenue.max')) AS max \
                 FROM skan_postbacks"
            ),
            &self.group_clause("currency"),
        );
        let events = self.filters(app_id);
        let events = events.statement(
            &format!(
                "SELECT {lead}event.value AS event, COUNT(*) AS postbacks \
                 FROM skan_postbacks, json_each(skan_postbacks.decoded, '$.events') AS event"
            ),
            &self.group_clause("event"),
        );
        [counts, revenue, events]
    }

    async fn run<S: SqlStore>(
        &self,
        store: &S,
        app_id: &str,
        sources: &SkanSources,
    ) -> Result<Value, QueryError> {
        let [counts, revenue, events] = self.statements(app_id);
        let invalid = Statement::new(
            "SELECT reason, n FROM skan_invalid WHERE app_id = ?1 ORDER BY n DESC, reason",
            vec![app_id.into()],
        );
        let (mut rows, revenue, events, invalid): (Vec<Row>, Vec<Row>, Vec<Row>, Vec<Invalid>) =
            try_join4(
                store.rows(&counts),
                store.rows(&revenue),
                store.rows(&events),
                store.rows(&invalid),
            )
            .await?;
        let truncated = rows.len() > self.limit;
        rows.truncate(self.limit);
        let mut by_group: BTreeMap<String, usize> = BTreeMap::new();
        for (i, row) in rows.iter_mut().enumerate() {
            by_group.insert(self.group_key(row), i);
            normalise(row);
            self.name(row, sources);
            row.insert("revenue".into(), json!({}));
            row.insert("events".into(), json!({}));
        }
        for extra in revenue {
            if let Some(&i) = by_group.get(&self.group_key(&extra)) {
                let currency = text(extra.get("currency"));
                rows[i]["revenue"][currency] = json!({
                    "postbacks": extra.get("postbacks").cloned().unwrap_or(Value::Null),
                    "min": extra.get("min").cloned().unwrap_or(Value::Null),
                    "max": extra.get("max").cloned().unwrap_or(Value::Null),
                });
            }
        }
        for extra in events {
            if let Some(&i) = by_group.get(&self.group_key(&extra)) {
                let event = text(extra.get("event"));
                rows[i]["events"][event] = extra.get("postbacks").cloned().unwrap_or(Value::Null);
            }
        }
        let invalid: Map<String, Value> = invalid
            .into_iter()
            .map(|i| (i.reason, Value::from(i.n)))
            .collect();
        Ok(json!({
            "app_id": app_id,
            "from": self.range.first_day(),
            "to": self.range.last_day(),
            "group_by": self.group_by,
            "filters": {"ad_network_id": self.ad_networks, "kind": self.kinds},
            "limit": self.limit,
            "truncated": truncated,
            "rows": rows.into_iter().map(Value::Object).collect::<Vec<_>>(),
            "invalid": invalid,
        }))
    }

    /// Adds our `source` (and `campaign`) to a row grouped by ad network (and identifier).
    fn name(&self, row: &mut Map<String, Value>, sources: &SkanSources) {
        if !self.group_by.contains(&"ad_network_id") {
            return;
        }
        let by_identifier = self.group_by.contains(&"source_identifier");
        let network = row.get("ad_network_id").and_then(Value::as_str);
        let identifier = row.get("source_identifier").and_then(Value::as_str);
        let (source, campaign) = mapped(sources, network, identifier.filter(|_| by_identifier));
        row.insert("source".into(), json!(source));
        if by_identifier {
            row.insert("campaign".into(), json!(campaign));
        }
    }

    /// The grouping columns' values of a row, as one comparable string.
    fn group_key(&self, row: &Map<String, Value>) -> String {
        let values: Vec<Value> = self
            .group_by
            .iter()
            .map(|d| row.get(*d).cloned().unwrap_or(Value::Null))
            .collect();
        Value::Array(values).to_string()
    }
}

/// A result row of dimensions and counts, as the store decoded it.
type Row = Map<String, Value>;

#[derive(Debug, Deserialize)]
struct Invalid {
    reason: String,
    n: u64,
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// SQLite has no booleans: `did_win` is 0 or 1 in storage and `true`/`false` in the answer.
fn normalise(row: &mut Map<String, Value>) {
    if let Some(win) = row.get_mut("did_win") {
        *win = match win.as_f64() {
            Some(n) => Value::Bool(n != 0.0),
            None => Value::Null,
        };
    }
}

pub async fn show(req: Request, env: &Env) -> Result<Response, QueryError> {
    let app = auth::app_of(&req, env).await?;
    let url = req.url()?;
    let today = today_utc();
    let params = Params::parse(url.query(), PARAMS).map_err(QueryError::BadField)?;
    let query = SkanQuery::parse(&params, today).map_err(QueryError::BadField)?;
    // Unreadable settings leave the rows unnamed rather than the read failed.
    let sources = match apps::app_mobile(env, &app.app_id).await {
        Ok(mobile) => mobile.skan_sources,
        Err(err) => {
            worker::console_error!("app {}: mobile settings unreadable: {err}", app.app_id);
            SkanSources::new()
        }
    };
    let store = D1Store::new(env)?;
    let body = query.run(&store, &app.app_id, &sources).await?;
    let mut response = response::json(200, &body)?;
    response
        .headers_mut()
        .set("cache-control", "private, no-store")?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn parse(query: &str) -> Result<SkanQuery, FieldError> {
        let params = Params::parse(Some(query), PARAMS)?;
        SkanQuery::parse(&params, NaiveDate::from_ymd_opt(2026, 3, 31).expect("date"))
    }

    #[test]
    fn groups_by_the_default_dimensions_in_a_fixed_order() {
        assert_eq!(parse("").expect("default").group_by, DEFAULT_GROUP_BY);
        assert_eq!(
            parse("group_by=did_win,day").expect("two").group_by,
            vec!["day", "did_win"]
        );
        assert_eq!(parse("group_by=source").expect_err("bad").field, "group_by");
        assert_eq!(parse("kind=skad").expect_err("bad").field, "kind");
        assert_eq!(parse("limit=0").expect_err("bad").field, "limit");
    }

    #[test]
    fn reads_only_the_app_and_the_days_asked_for() {
        let query =
            parse("from=2026-03-01&to=2026-03-02&ad_network_id=a.skadnetwork").expect("query");
        let [counts, revenue, events] = query.statements("app1");
        for statement in [&counts, &revenue, &events] {
            assert!(statement.sql.contains("app_id = ?1"), "{}", statement.sql);
            assert_eq!(statement.params[0], Param::from("app1"));
            assert_eq!(statement.params[1], Param::from("2026-03-01"));
            // The day after `to`, so the last day is included whole.
            assert_eq!(statement.params[2], Param::from("2026-03-03"));
            assert_eq!(statement.params[3], Param::from("a.skadnetwork"));
        }
        assert!(events.sql.contains("json_each"));
        assert!(revenue.sql.contains("GROUP BY ad_network_id"));
    }

    #[test]
    fn rows_match_their_extras_by_every_grouping_value() {
        let query = parse("group_by=ad_network_id,did_win").expect("query");
        let a: Map<String, Value> =
            serde_json::from_value(json!({"ad_network_id": "n", "did_win": 1, "postbacks": 3}))
                .expect("row");
        let b: Map<String, Value> =
            serde_json::from_value(json!({"ad_network_id": "n", "did_win": 0, "currency": "USD"}))
                .expect("row");
        assert_ne!(query.group_key(&a), query.group_key(&b));
    }

    #[test]
    fn rows_carry_our_source_and_campaign_when_grouped_by_network() {
        let sources: SkanSources = serde_json::from_value(json!({
            "com.example": { "source": "newsy", "campaigns": { "5239": "spring sale" } }
        }))
        .expect("sources");
        let row = |v: Value| -> Map<String, Value> { serde_json::from_value(v).expect("row") };
        let named = |query: &str, mut r: Map<String, Value>| {
            parse(query).expect("query").name(&mut r, &sources);
            r
        };
        let full = named(
            "group_by=ad_network_id,source_identifier",
            row(json!({"ad_network_id": "com.example", "source_identifier": "5239"})),
        );
        assert_eq!(
            (&full["source"], &full["campaign"]),
            (&json!("newsy"), &json!("spring sale"))
        );
        let unmapped = named(
            "group_by=ad_network_id,source_identifier",
            row(json!({"ad_network_id": "com.example", "source_identifier": "12"})),
        );
        assert_eq!(
            (&unmapped["source"], &unmapped["campaign"]),
            (&json!("newsy"), &Value::Null)
        );
        let other = named(
            "",
            row(json!({"ad_network_id": "x.skadnetwork", "source_identifier": "5239"})),
        );
        assert_eq!(
            (&other["source"], &other["campaign"]),
            (&Value::Null, &Value::Null)
        );
        let network_only = named(
            "group_by=ad_network_id",
            row(json!({"ad_network_id": "com.example"})),
        );
        assert_eq!(network_only.get("source"), Some(&json!("newsy")));
        assert_eq!(
            network_only.get("campaign"),
            None,
            "no campaign without the identifier"
        );
        let by_kind = named("group_by=kind", row(json!({"kind": "skan"})));
        assert_eq!(by_kind.get("source"), None);
    }
}
