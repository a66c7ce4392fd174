//! `/admin/v1/apps/{app}/spend`: daily ad spend per source and campaign (and ad group).
//!
//! `PUT` (or `POST`) takes a JSON array of rows, or a CSV with a header row when the
//! content type is `text/csv`; `attrib_core::spend` checks them. Every bad row is named (row,
//! line, field, reason) and nothing is written unless all are good. Rows upsert by (app, day,
//! source, campaign, ad group): a re-upload of a key replaces it, other keys stay. The rows,
//! a stats-version bump and the audit entry are one batch ([`upload::commit`]) in the read
//! store, where `/v1/stats` joins spend to daily_stats.
//!
//! Once committed, the rows are also queued for the origin (`spend` outbox records, stamped
//! with the upload's time) in the app's edge journey (`attrib_worker_common::edge_facts`),
//! which sends them until the origin takes them; the origin keeps the latest upload's row per
//! key, as here. If queueing fails the upload answers an error: uploading again (the same
//! rows replace themselves here) queues them again.
//!
//! `GET` reads the stored rows back over a day range (`from`, `to`, `source`, `campaign`,
//! `limit`).

use std::collections::BTreeSet;

use attrib_core::limits::{MAX_SPEND_BODY_BYTES, MAX_SPEND_READ_ROWS};
use attrib_core::outbox::{OutboxRecord, SpendRecord};
use attrib_core::spend::{self, SpendRow, SpendUploadError};
use attrib_core::FieldError;
use attrib_worker_common::body::{read_capped, BodyError};
use attrib_worker_common::response::{self, ErrorBody};
use attrib_worker_common::{apps, edge_facts};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Date, Request, Response};

use super::write::load_app;
use super::{upload, Cx};
use crate::error::QueryError;
use crate::params::{today_utc, Params};
use crate::queries::sql::Where;
use crate::store::{Param, ReadStore, SqlStore, Statement};

/// Rows per INSERT: 9 parameters each, under D1's 100 bound parameters per statement.
const ROWS_PER_STATEMENT: usize = 11;
/// Rows a `GET` answers when it names no `limit`.
const DEFAULT_READ_ROWS: usize = 1_000;
/// Stands for "no count" in a bound parameter (the store binds no NULL); `NULLIF` turns it
/// back. Counts are never negative, so it cannot be a real value.
const NO_COUNT: i64 = -1;

pub async fn put(cx: &Cx<'_>, app_id: &str, req: &mut Request) -> Result<Response, QueryError> {
    load_app(cx, app_id).await?;
    let csv = req
        .headers()
        .get("content-type")?
        .is_some_and(|t| t.to_ascii_lowercase().contains("csv"));
    let bytes = read_capped(req, MAX_SPEND_BODY_BYTES)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { limit } => QueryError::TooLarge(FieldError::new(
                "body",
                format!("is larger than {limit} bytes"),
            )),
            BodyError::Unreadable(reason) => QueryError::BadField(FieldError::new("body", reason)),
        })?;
    let parsed = if csv {
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| QueryError::BadField(FieldError::new("body", "is not UTF-8 text")))?;
        spend::parse_csv(text)
    } else {
        spend::parse_json(&bytes)
    };
    let rows = match parsed {
        Ok(rows) => rows,
        Err(SpendUploadError::Body(err)) => return Err(QueryError::BadField(err)),
        Err(SpendUploadError::Rows(errors)) => return Ok(bad_rows(&errors)?),
    };

    let summary = summary(app_id, &rows);
    let stmts: Vec<Statement> = rows
        .chunks(ROWS_PER_STATEMENT)
        .map(|chunk| upsert(app_id, chunk))
        .collect();
    let resource = format!("apps/{app_id}/spend");
    upload::commit(cx, app_id, stmts, "spend.import", resource, &summary).await?;
    queue_for_origin(cx, app_id, &rows).await?;
    Ok(response::json(200, &summary)?)
}

/// The accepted rows, to the origin through the app's edge journey for spend.
async fn queue_for_origin(cx: &Cx<'_>, app_id: &str, rows: &[SpendRow]) -> Result<(), QueryError> {
    let residency = apps::app_settings(cx.env, app_id)
        .await?
        .map(|s| s.residency)
        .unwrap_or_default();
    let uploaded_at_ms = Date::now().as_millis() as i64;
    let records = rows
        .iter()
        .map(|row| {
            OutboxRecord::Spend(SpendRecord {
                app_id: app_id.to_owned(),
                day: row.day.to_string(),
                source: row.source.clone(),
                campaign: row.campaign.clone(),
                ad_group: row.ad_group.clone(),
                spend: row.spend,
                currency: row.currency.clone(),
                impressions: row.impressions,
                clicks: row.clicks,
                uploaded_at_ms,
            })
        })
        .collect();
    edge_facts::queue(cx.env, app_id, residency, "spend", records).await?;
    Ok(())
}

/// What an upload changed, as answered and audited (not the rows: they can be read back).
fn summary(app_id: &str, rows: &[SpendRow]) -> Value {
    let days: BTreeSet<String> = rows.iter().map(|r| r.day.to_string()).collect();
    let sources: BTreeSet<&str> = rows.iter().map(|r| r.source.as_str()).collect();
    let currencies: BTreeSet<&str> = rows.iter().map(|r| r.currency.as_str()).collect();
    json!({
        "app_id": app_id,
        "rows": rows.len(),
        "days": days.len(),
        "first_day": days.first(),
        "last_day": days.last(),
        "sources": sources,
        "currencies": currencies,
    })
}

fn upsert(app_id: &str, chunk: &[SpendRow]) -> Statement {
    let mut params = Vec::with_capacity(chunk.len() * 9);
    let mut values = Vec::with_capacity(chunk.len());
    for row in chunk {
        let n = params.len();
        values.push(format!(
            "(?{}, ?{}, ?{}, ?{}, ?{}, ?{}, ?{}, NULLIF(?{}, {NO_COUNT}), NULLIF(?{}, {NO_COUNT}))",
            n + 1,
            n + 2,
            n + 3,
            n + 4,
            n + 5,
            n + 6,
            n + 7,
            n + 8,
            n + 9
        ));
        let count = |c: Option<u64>| Param::Int(c.map_or(NO_COUNT, |c| c as i64));
        params.extend([
            Param::from(app_id),
            Param::Text(row.day.to_string()),
            Param::Text(row.source.clone()),
            Param::Text(row.campaign.clone()),
            Param::Text(row.ad_group.clone()),
            Param::Real(row.spend),
            Param::Text(row.currency.clone()),
            count(row.impressions),
            count(row.clicks),
        ]);
    }
    Statement::new(
        format!(
            "INSERT INTO ad_spend (app_id, day, source, campaign, ad_group, spend, currency, \
             impressions, clicks) VALUES {} \
             ON CONFLICT (app_id, day, source, campaign, ad_group) DO UPDATE SET \
             spend = excluded.spend, currency = excluded.currency, \
             impressions = excluded.impressions, clicks = excluded.clicks, \
             updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            values.join(", ")
        ),
        params,
    )
}

/// 400 in the one error shape (the first bad row as `field`), every bad row in `errors`.
fn bad_rows(errors: &[spend::RowError]) -> worker::Result<Response> {
    let Some(first) = errors.first() else {
        return response::error(400, "invalid_request", "the spend rows were refused");
    };
    let mut body = serde_json::to_value(ErrorBody::for_field(
        "invalid_request",
        &first.to_field_error(),
    ))
    .unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut body {
        map.insert("errors".into(), json!(errors));
    }
    response::json(400, &body)
}

#[derive(Deserialize, serde::Serialize)]
struct StoredSpend {
    day: String,
    source: String,
    campaign: String,
    ad_group: String,
    spend: f64,
    currency: String,
    impressions: Option<i64>,
    clicks: Option<i64>,
    updated_at: String,
}

pub async fn list(cx: &Cx<'_>, app_id: &str, req: &Request) -> Result<Response, QueryError> {
    load_app(cx, app_id).await?;
    let url = req.url()?;
    let params = Params::parse(url.query(), &["from", "to", "source", "campaign", "limit"])
        .map_err(QueryError::BadField)?;
    let today = today_utc();
    let range = params.range(today).map_err(QueryError::BadField)?;
    let limit = params
        .number("limit", 1, MAX_SPEND_READ_ROWS, DEFAULT_READ_ROWS)
        .map_err(QueryError::BadField)?;
    let sources: Vec<String> = params
        .list("source")
        .map_err(QueryError::BadField)?
        .iter()
        .map(|s| s.to_lowercase())
        .collect();
    let mut w = Where::new(app_id, &range);
    w.any_of("source", &sources);
    w.any_of(
        "campaign",
        &params.list("campaign").map_err(QueryError::BadField)?,
    );
    let limit_param = w.bind(Param::Int(limit as i64 + 1));
    let stmt = w.statement(
        "SELECT day, source, campaign, ad_group, spend, currency, impressions, clicks, \
         updated_at FROM ad_spend",
        &format!("ORDER BY day, source, campaign, ad_group LIMIT {limit_param}"),
    );
    let mut rows: Vec<StoredSpend> = ReadStore::from_env(cx.env)?.rows(&stmt).await?;
    let truncated = rows.len() > limit;
    rows.truncate(limit);
    Ok(response::json(
        200,
        &json!({
            "app_id": app_id,
            "from": range.first_day(),
            "to": range.last_day(),
            "truncated": truncated,
            "rows": rows,
        }),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn row(i: usize, impressions: Option<u64>) -> SpendRow {
        SpendRow {
            day: NaiveDate::from_ymd_opt(2026, 3, 1).expect("date"),
            source: "google".into(),
            campaign: format!("c{i}"),
            ad_group: String::new(),
            spend: 1.5,
            currency: "USD".into(),
            impressions,
            clicks: None,
        }
    }

    #[test]
    fn an_upsert_stays_under_d1_bound_parameters_and_keeps_the_app() {
        let rows: Vec<SpendRow> = (0..ROWS_PER_STATEMENT).map(|i| row(i, Some(7))).collect();
        let stmt = upsert("shop", &rows);
        assert!(stmt.params.len() <= 100, "{}", stmt.params.len());
        assert_eq!(stmt.params.len(), ROWS_PER_STATEMENT * 9);
        assert_eq!(stmt.params[0], Param::Text("shop".into()));
        assert_eq!(stmt.params[9], Param::Text("shop".into()));
        assert!(stmt.sql.contains(&format!("?{}", ROWS_PER_STATEMENT * 9)));
        assert!(!stmt
            .sql
            .contains(&format!("?{}", ROWS_PER_STATEMENT * 9 + 1)));
    }

    #[test]
    fn an_absent_count_is_stored_as_null() {
        let stmt = upsert("shop", &[row(0, None)]);
        assert_eq!(stmt.params[7], Param::Int(NO_COUNT));
        assert!(stmt.sql.contains("NULLIF(?8, -1)"), "{}", stmt.sql);
        let stmt = upsert("shop", &[row(0, Some(0))]);
        assert_eq!(stmt.params[7], Param::Int(0), "zero impressions are kept");
    }
}
