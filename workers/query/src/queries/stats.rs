//! `GET /v1/stats`: daily stats of one app over a day range, grouped by any of day, source,
//! campaign and model, always by currency.
//!
//! The semantics of `daily_stats` (core/src/rollup.rs) are kept: touches live on rows with
//! currency `""`, revenue is never summed across currencies (currency is always a group), and
//! each model's rows carry the whole picture, so summing over models would count every touch
//! and conversion once per model. A read therefore covers one model unless `model` is grouped.
//! Totals leave out revenue: a conversion's revenue sits on every source that shared it, so it
//! does not add up across sources; credited value does.
//!
//! Ad spend (`ad_spend`, uploaded through the management API) joins the rows on (day, source,
//! campaign): its rows enter the read beside daily_stats' with no touches or conversions, once
//! per model read (spend is the same under every model), so a group with spend and no
//! touches still appears. It converts to the reporting currency on its own day exactly as
//! revenue does, and CPA, CPI and ROAS come from the converted sums
//! (`attrib_core::spend::CostMetrics`).

use attrib_core::attribution::Model;
use attrib_core::spend::CostMetrics;
use attrib_core::FieldError;
use std::collections::BTreeMap;

use futures_util::future::try_join;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::sql::Where;
use super::{canonical, currencies, QueryContext, ReadQuery};
use crate::error::QueryError;
use crate::limits::{DEFAULT_STATS_ROWS, MAX_MISSING_RATES, MAX_STATS_ROWS};
use crate::params::{labels, DayRange, Params};
use crate::store::{Param, SqlStore, Statement};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dim {
    Day,
    Source,
    Campaign,
    Model,
}

const DIMS: [(&str, Dim); 4] = [
    ("day", Dim::Day),
    ("source", Dim::Source),
    ("campaign", Dim::Campaign),
    ("model", Dim::Model),
];

impl Dim {
    fn column(self) -> &'static str {
        match self {
            Dim::Day => "day",
            Dim::Source => "source",
            Dim::Campaign => "campaign",
            Dim::Model => "model",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Dims,
    Touches,
    Conversions,
    Revenue,
    CreditedValue,
    Spend,
}

const ORDERS: [(&str, Order); 6] = [
    ("dims", Order::Dims),
    ("touches", Order::Touches),
    ("conversions", Order::Conversions),
    ("revenue", Order::Revenue),
    ("credited_value", Order::CreditedValue),
    ("spend", Order::Spend),
];

#[derive(Debug, Clone)]
pub struct StatsQuery {
    range: DayRange,
    group_by: Vec<Dim>,
    models: Vec<Model>,
    sources: Vec<String>,
    campaigns: Vec<String>,
    currencies: Vec<String>,
    order_by: Order,
    limit: usize,
    /// The app's reporting currency (a setting): revenue is converted to it when set.
    reporting_currency: Option<String>,
    /// Every conversion of the app is an install: CPI is reported beside CPA.
    conversions_are_installs: bool,
}

/// One group as the store answers it: amounts per currency come as JSON objects
/// (`json_group_object`), converted sums beside them.
#[derive(Debug, Deserialize)]
struct StoredRow {
    #[serde(default)]
    day: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    campaign: Option<String>,
    #[serde(default)]
    model: Option<String>,
    touches: u64,
    conversions: f64,
    revenue: Option<f64>,
    credited_value: Option<f64>,
    missing: f64,
    revenue_by_currency: Option<String>,
    credited_value_by_currency: Option<String>,
    spend: Option<f64>,
    spend_missing: f64,
    spend_rows: f64,
    impressions: Option<f64>,
    clicks: Option<f64>,
    spend_by_currency: Option<String>,
}

/// One group of the answer: touches and conversions of every currency together, amounts per
/// original currency, and (with a reporting currency) the converted sums, `null` when an
/// amount of the group had no rate.
#[derive(Debug, Serialize)]
struct StatRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    day: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    touches: u64,
    conversions: f64,
    revenue: Option<f64>,
    credited_value: Option<f64>,
    revenue_by_currency: BTreeMap<String, f64>,
    credited_value_by_currency: BTreeMap<String, f64>,
    /// Spend converted to the reporting currency (`null` without one or when a rate of the
    /// group's spend is missing; 0 when the group has no spend rows).
    spend: Option<f64>,
    spend_by_currency: BTreeMap<String, f64>,
    impressions: u64,
    clicks: u64,
    /// Spend per credited conversion, per credited install, credited revenue per spend: `null`
    /// when the denominator is 0 or unknown, or the group has no spend rows.
    cpa: Option<f64>,
    cpi: Option<f64>,
    roas: Option<f64>,
}

impl StoredRow {
    fn into_row(self, converting: bool, installs: bool) -> StatRow {
        let converted = |sum: Option<f64>, missing: f64| {
            if converting && missing == 0.0 {
                Some(sum.unwrap_or(0.0))
            } else {
                None
            }
        };
        let credited_value = converted(self.credited_value, self.missing);
        let spend = converted(self.spend, self.spend_missing);
        let metrics = if self.spend_rows > 0.0 {
            CostMetrics::new(spend, self.conversions, credited_value, installs)
        } else {
            CostMetrics::new(None, 0.0, None, false)
        };
        StatRow {
            spend,
            spend_by_currency: per_currency(self.spend_by_currency.as_deref()),
            impressions: self.impressions.unwrap_or(0.0) as u64,
            clicks: self.clicks.unwrap_or(0.0) as u64,
            cpa: metrics.cpa,
            cpi: metrics.cpi,
            roas: metrics.roas,
            revenue: converted(self.revenue, self.missing),
            credited_value,
            day: self.day,
            source: self.source,
            campaign: self.campaign,
            model: self.model,
            touches: self.touches,
            conversions: self.conversions,
            revenue_by_currency: per_currency(self.revenue_by_currency.as_deref()),
            credited_value_by_currency: per_currency(self.credited_value_by_currency.as_deref()),
        }
    }
}

fn per_currency(json: Option<&str>) -> BTreeMap<String, f64> {
    json.and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default()
}

#[derive(Debug, Serialize, Deserialize)]
struct MissingRate {
    day: String,
    currency: String,
}

impl ReadQuery for StatsQuery {
    const PATH: &'static str = "/v1/stats";
    const PARAMS: &'static [&'static str] = &[
        "from", "to", "group_by", "model", "source", "campaign", "currency", "order_by", "limit",
    ];
    const CONVERTS: bool = true;

    fn parse(params: &Params, ctx: &QueryContext) -> Result<Self, FieldError> {
        let range = params.range(ctx.today)?;
        let mut group_by = match params.get("group_by") {
            None => vec![Dim::Day],
            Some(_) => params
                .list("group_by")?
                .iter()
                .map(|name| {
                    DIMS.iter()
                        .find(|(l, _)| l == name)
                        .map(|(_, d)| *d)
                        .ok_or_else(|| {
                            FieldError::new(
                                "group_by",
                                format!("{name:?} is not one of {}", labels(&DIMS)),
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        group_by.sort();
        group_by.dedup();
        let mut models = params
            .list("model")?
            .iter()
            .map(|m| {
                Model::parse(m).ok_or_else(|| {
                    let all: Vec<&str> = Model::ALL.iter().map(|m| m.as_str()).collect();
                    FieldError::new("model", format!("{m:?} is not one of {}", all.join(", ")))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let model_grouped = group_by.contains(&Dim::Model);
        if models.is_empty() {
            models = if model_grouped {
                Model::ALL.to_vec()
            } else {
                vec![ctx.default_model]
            };
        }
        if models.len() > 1 && !model_grouped {
            return Err(FieldError::new(
                "model",
                "name one model, or add model to group_by: every model's rows count every \
                 conversion, so sums across models would count them several times",
            ));
        }
        models.sort();
        Ok(StatsQuery {
            range,
            group_by,
            models,
            sources: params.list("source")?,
            campaigns: params.list("campaign")?,
            currencies: currencies(params)?,
            order_by: params.choice("order_by", &ORDERS, Order::Dims)?,
            limit: params.number("limit", 1, MAX_STATS_ROWS, DEFAULT_STATS_ROWS)?,
            reporting_currency: ctx.reporting_currency.clone(),
            conversions_are_installs: ctx.conversions_are_installs,
        })
    }

    fn canonical(&self) -> String {
        let dims: Vec<&str> = self.group_by.iter().map(|d| d.column()).collect();
        let models: Vec<&str> = self.models.iter().map(|m| m.as_str()).collect();
        let order = ORDERS
            .iter()
            .find(|(_, o)| *o == self.order_by)
            .map_or("dims", |(l, _)| l);
        canonical(&[
            ("from", self.range.first_day()),
            ("to", self.range.last_day()),
            ("group_by", dims.join(",")),
            ("model", models.join(",")),
            ("source", self.sources.join(",")),
            ("campaign", self.campaigns.join(",")),
            ("currency", self.currencies.join(",")),
            ("order_by", order.to_owned()),
            ("limit", self.limit.to_string()),
            (
                "reporting_currency",
                self.reporting_currency.clone().unwrap_or_default(),
            ),
            (
                "installs",
                if self.conversions_are_installs {
                    "1"
                } else {
                    ""
                }
                .to_owned(),
            ),
        ])
    }

    async fn run<S: SqlStore>(&self, store: &S, app_id: &str) -> Result<Value, QueryError> {
        let dims: Vec<&str> = self.group_by.iter().map(|d| d.column()).collect();
        let order = match self.order_by {
            Order::Dims => String::new(),
            Order::Touches => "touches DESC, ".into(),
            Order::Conversions => "conversions DESC, ".into(),
            Order::Revenue => "revenue DESC, ".into(),
            Order::CreditedValue => "credited_value DESC, ".into(),
            Order::Spend => "spend DESC, ".into(),
        };
        let order_dims: String = dims.iter().map(|d| format!(", {d}")).collect();
        // One row more than asked tells whether the answer was cut.
        let rows_stmt = self.grouped(
            app_id,
            &dims,
            &format!("ORDER BY {order}g{order_dims}"),
            Some(self.limit as i64 + 1),
        );
        let total_dims: Vec<&str> = if self.group_by.contains(&Dim::Model) {
            vec!["model"]
        } else {
            vec![]
        };
        let total_order: String = total_dims.iter().map(|d| format!(", {d}")).collect();
        let totals_stmt = self.grouped(
            app_id,
            &total_dims,
            &format!("ORDER BY g{total_order}"),
            None,
        );
        let missing_stmt = self.missing_rates(app_id);
        // All queries in flight at once: the store's round trip dominates a miss.
        let (rows, (totals, missing)): (Vec<StoredRow>, (Vec<StoredRow>, Vec<MissingRate>)) =
            try_join(
                store.rows(&rows_stmt),
                try_join(store.rows(&totals_stmt), async {
                    match &missing_stmt {
                        Some(stmt) => store.rows(stmt).await,
                        None => Ok(Vec::new()),
                    }
                }),
            )
            .await?;
        let converting = self.reporting_currency.is_some();
        let installs = self.conversions_are_installs;
        let truncated = rows.len() > self.limit;
        let rows: Vec<StatRow> = rows
            .into_iter()
            .take(self.limit)
            .map(|r| r.into_row(converting, installs))
            .collect();
        let totals: Vec<Value> = totals
            .into_iter()
            .map(|r| {
                let row = r.into_row(converting, installs);
                let mut total = json!({
                    "touches": row.touches,
                    "conversions": row.conversions,
                    "credited_value": row.credited_value,
                    "credited_value_by_currency": row.credited_value_by_currency,
                    "spend": row.spend,
                    "spend_by_currency": row.spend_by_currency,
                    "impressions": row.impressions,
                    "clicks": row.clicks,
                    "cpa": row.cpa,
                    "cpi": row.cpi,
                    "roas": row.roas,
                });
                if let (Some(model), Value::Object(map)) = (row.model, &mut total) {
                    map.insert("model".into(), Value::from(model));
                }
                total
            })
            .collect();
        let missing_truncated = missing.len() > MAX_MISSING_RATES;
        let missing: Vec<MissingRate> = missing.into_iter().take(MAX_MISSING_RATES).collect();
        let models: Vec<&str> = self.models.iter().map(|m| m.as_str()).collect();
        Ok(json!({
            "app_id": app_id,
            "from": self.range.first_day(),
            "to": self.range.last_day(),
            "group_by": dims,
            "models": models,
            "filters": {"source": self.sources, "campaign": self.campaigns, "currency": self.currencies},
            "order_by": ORDERS.iter().find(|(_, o)| *o == self.order_by).map_or("dims", |(l, _)| l),
            "limit": self.limit,
            "truncated": truncated,
            "reporting_currency": self.reporting_currency,
            "missing_rates": missing,
            "missing_rates_truncated": missing_truncated,
            "rows": rows,
            "totals": totals,
        }))
    }
}

/// Each daily_stats row of the read with its amounts converted to the reporting currency
/// (`?R`) on the row's own day, through EUR: amount × (R per EUR) / (currency per EUR). EUR is
/// 1 per EUR by definition. `missing` is 1 on a row with an amount and no rate for its day.
/// Touch rows (currency "") carry no amount and convert to 0.
const CONVERTED: &str = "SELECT s.day, s.source, s.campaign, s.model, s.currency, s.touches, \
    s.conversions, s.revenue, s.credited_value, \
    CASE WHEN s.currency = '' THEN 0.0 WHEN s.currency = ?R THEN s.revenue \
      ELSE s.revenue * (CASE WHEN ?R = 'EUR' THEN 1.0 ELSE t.per_eur END) \
        / (CASE WHEN s.currency = 'EUR' THEN 1.0 ELSE f.per_eur END) END AS revenue_conv, \
    CASE WHEN s.currency = '' THEN 0.0 WHEN s.currency = ?R THEN s.credited_value \
      ELSE s.credited_value * (CASE WHEN ?R = 'EUR' THEN 1.0 ELSE t.per_eur END) \
        / (CASE WHEN s.currency = 'EUR' THEN 1.0 ELSE f.per_eur END) END AS credited_conv, \
    CASE WHEN s.currency <> '' AND s.currency <> ?R \
      AND (s.revenue <> 0 OR s.credited_value <> 0) \
      AND ((?R <> 'EUR' AND t.per_eur IS NULL) OR (s.currency <> 'EUR' AND f.per_eur IS NULL)) \
      THEN 1 ELSE 0 END AS missing, \
    0.0 AS spend, 0 AS impressions, 0 AS clicks, 0.0 AS spend_conv, 0 AS spend_missing, \
    1 AS is_stats, 0 AS is_spend \
    FROM (SELECT * FROM daily_stats WHERE {where}) s \
    LEFT JOIN exchange_rates f ON f.app_id = s.app_id AND f.day = s.day AND f.currency = s.currency \
    LEFT JOIN exchange_rates t ON t.app_id = s.app_id AND t.day = s.day AND t.currency = ?R";

/// The ad_spend rows of the read, summed over ad groups, once per model read (`{models}`:
/// `(?4), (?5)`), converted like [`CONVERTED`]'s amounts on their own day; its columns match
/// it, so the two are one `UNION ALL`. `spend_missing` is 1 on spend with no rate.
const SPEND_CONVERTED: &str = "SELECT sp.day, sp.source, sp.campaign, m.column1 AS model, \
    sp.currency, 0 AS touches, 0.0 AS conversions, 0.0 AS revenue, 0.0 AS credited_value, \
    0.0 AS revenue_conv, 0.0 AS credited_conv, 0 AS missing, \
    sp.spend, sp.impressions, sp.clicks, \
    CASE WHEN sp.currency = ?R THEN sp.spend \
      ELSE sp.spend * (CASE WHEN ?R = 'EUR' THEN 1.0 ELSE t.per_eur END) \
        / (CASE WHEN sp.currency = 'EUR' THEN 1.0 ELSE f.per_eur END) END AS spend_conv, \
    CASE WHEN sp.currency <> ?R AND sp.spend <> 0 \
      AND ((?R <> 'EUR' AND t.per_eur IS NULL) OR (sp.currency <> 'EUR' AND f.per_eur IS NULL)) \
      THEN 1 ELSE 0 END AS spend_missing, \
    0 AS is_stats, 1 AS is_spend \
    FROM (SELECT app_id, day, source, campaign, currency, SUM(spend) AS spend, \
      COALESCE(SUM(impressions), 0) AS impressions, COALESCE(SUM(clicks), 0) AS clicks \
      FROM ad_spend WHERE {where} GROUP BY app_id, day, source, campaign, currency) sp \
    CROSS JOIN (VALUES {models}) m \
    LEFT JOIN exchange_rates f ON f.app_id = sp.app_id AND f.day = sp.day AND f.currency = sp.currency \
    LEFT JOIN exchange_rates t ON t.app_id = sp.app_id AND t.day = sp.day AND t.currency = ?R";

impl StatsQuery {
    /// The filtered rows converted ([`CONVERTED`]) and its parameters; `?R` bound last.
    fn converted(&self, app_id: &str) -> (String, Vec<Param>) {
        let (mut w, spend_where, models) = self.filters(app_id);
        let rep = w.bind(self.reporting_currency.clone().unwrap_or_default().into());
        let models: Vec<String> = models.iter().map(|m| format!("({m})")).collect();
        let spend = SPEND_CONVERTED
            .replace("{where}", &spend_where)
            .replace("{models}", &models.join(", "));
        let sql = format!(
            "{} UNION ALL {spend}",
            CONVERTED.replace("{where}", &w.sql())
        )
        .replace("?R", &rep);
        (sql, w.into_params())
    }

    /// One row per group of `dims`: touches and conversions over every currency, amounts per
    /// currency as JSON objects, converted sums and the count of unconvertible rows. The
    /// constant `g` makes an empty `dims` one group.
    fn grouped(&self, app_id: &str, dims: &[&str], order: &str, limit: Option<i64>) -> Statement {
        let (converted, mut params) = self.converted(app_id);
        let select_dims: String = dims.iter().map(|d| format!(", {d}")).collect();
        let limit = match limit {
            Some(n) => {
                params.push(Param::Int(n));
                format!(" LIMIT ?{}", params.len())
            }
            None => String::new(),
        };
        let sql = format!(
            "SELECT g{select_dims}, SUM(touches) AS touches, SUM(conversions) AS conversions, \
             SUM(revenue_conv) AS revenue, SUM(credited_conv) AS credited_value, \
             SUM(missing) AS missing, \
             json_group_object(currency, revenue) FILTER (WHERE currency <> '' AND stats_rows > 0) \
               AS revenue_by_currency, \
             json_group_object(currency, credited_value) \
               FILTER (WHERE currency <> '' AND stats_rows > 0) AS credited_value_by_currency, \
             SUM(spend_conv) AS spend, SUM(spend_missing) AS spend_missing, \
             SUM(spend_rows) AS spend_rows, SUM(impressions) AS impressions, SUM(clicks) AS clicks, \
             json_group_object(currency, spend) FILTER (WHERE spend_rows > 0) AS spend_by_currency \
             FROM (SELECT '' AS g{select_dims}, currency, SUM(touches) AS touches, \
               SUM(conversions) AS conversions, SUM(revenue) AS revenue, \
               SUM(credited_value) AS credited_value, SUM(revenue_conv) AS revenue_conv, \
               SUM(credited_conv) AS credited_conv, SUM(missing) AS missing, \
               SUM(spend) AS spend, SUM(impressions) AS impressions, SUM(clicks) AS clicks, \
               SUM(spend_conv) AS spend_conv, SUM(spend_missing) AS spend_missing, \
               SUM(is_stats) AS stats_rows, SUM(is_spend) AS spend_rows \
               FROM ({converted}) GROUP BY g{select_dims}, currency) \
             GROUP BY g{select_dims} {order}{limit}"
        );
        Statement::new(sql, params)
    }

    /// The (day, currency) pairs of the read whose amounts had no rate; none without a
    /// reporting currency.
    fn missing_rates(&self, app_id: &str) -> Option<Statement> {
        self.reporting_currency.as_ref()?;
        let (converted, mut params) = self.converted(app_id);
        params.push(Param::Int(MAX_MISSING_RATES as i64 + 1));
        Some(Statement::new(
            format!(
                "SELECT DISTINCT day, currency FROM ({converted}) \
                 WHERE missing = 1 OR spend_missing = 1 \
                 ORDER BY day, currency LIMIT ?{}",
                params.len()
            ),
            params,
        ))
    }

    /// The WHERE of daily_stats (with its parameters), the WHERE of ad_spend over the same
    /// placeholders (no model: spend is every model's), and the models' placeholders.
    fn filters(&self, app_id: &str) -> (Where, String, Vec<String>) {
        let mut w = Where::new(app_id, &self.range);
        let mut spend = vec!["app_id = ?1".to_owned(), "day BETWEEN ?2 AND ?3".to_owned()];
        let models: Vec<String> = self
            .models
            .iter()
            .map(|m| w.bind(m.as_str().into()))
            .collect();
        w.push(format!("model IN ({})", models.join(", ")));
        for (column, values) in [("source", &self.sources), ("campaign", &self.campaigns)] {
            if let Some(list) = w.placeholders(values) {
                w.push(format!("{column} IN ({list})"));
                spend.push(format!("{column} IN ({list})"));
            }
        }
        // Touch rows (currency "") stay whatever currencies are asked for.
        if let Some(list) = w.placeholders(&self.currencies) {
            w.push(format!("(currency = '' OR currency IN ({list}))"));
            spend.push(format!("currency IN ({list})"));
        }
        (w, spend.join(" AND "), models)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn parse(query: &str) -> Result<StatsQuery, FieldError> {
        let params = Params::parse(Some(query), StatsQuery::PARAMS)?;
        StatsQuery::parse(
            &params,
            &QueryContext {
                today: NaiveDate::from_ymd_opt(2026, 3, 31).expect("date"),
                default_model: Model::LastClick,
                reporting_currency: None,
                conversions_are_installs: false,
            },
        )
    }

    #[test]
    fn one_model_unless_model_is_grouped() {
        let q = parse("group_by=source").expect("default model");
        assert_eq!(q.models, vec![Model::LastClick]);
        assert_eq!(
            parse("model=linear,first_click").expect_err("two").field,
            "model"
        );
        let q = parse("group_by=model,day").expect("grouped");
        assert_eq!(q.models.len(), Model::ALL.len());
        assert_eq!(q.group_by, vec![Dim::Day, Dim::Model]);
        assert_eq!(parse("model=best").expect_err("unknown").field, "model");
        assert_eq!(
            parse("group_by=channel").expect_err("unknown dim").field,
            "group_by"
        );
    }

    #[test]
    fn equivalent_queries_share_a_canonical_form() {
        let a = parse("group_by=source,day&source=b,a&from=2026-03-01&to=2026-03-31").expect("a");
        let b = parse("source=a,b&group_by=day,source&from=2026-03-01").expect("b");
        assert_eq!(a.canonical(), b.canonical());
        let c = parse("source=a&group_by=day,source&from=2026-03-01").expect("c");
        assert_ne!(a.canonical(), c.canonical());
    }

    #[test]
    fn the_reporting_currency_is_bound_and_part_of_the_cache_key() {
        let params = Params::parse(Some("group_by=source"), StatsQuery::PARAMS).expect("params");
        let ctx = |rep: Option<&str>| QueryContext {
            today: NaiveDate::from_ymd_opt(2026, 3, 31).expect("date"),
            default_model: Model::LastClick,
            reporting_currency: rep.map(str::to_owned),
            conversions_are_installs: false,
        };
        let usd = StatsQuery::parse(&params, &ctx(Some("USD"))).expect("usd");
        let none = StatsQuery::parse(&params, &ctx(None)).expect("none");
        assert_ne!(
            usd.canonical(),
            none.canonical(),
            "a changed setting is a new entry"
        );
        let stmt = usd.grouped("app", &["source"], "ORDER BY g, source", Some(11));
        assert!(!stmt.sql.contains("?R"), "{}", stmt.sql);
        assert_eq!(
            stmt.params.last(),
            Some(&Param::Int(11)),
            "the limit is bound last"
        );
        assert!(stmt.params.contains(&Param::Text("USD".into())));
        assert!(
            none.missing_rates("app").is_none(),
            "nothing to convert, nothing missing"
        );
        assert!(usd.missing_rates("app").is_some());
    }

    #[test]
    fn currency_filter_keeps_touch_rows() {
        let q = parse("currency=EUR").expect("q");
        let (w, spend, models) = q.filters("app");
        let sql = w.sql();
        assert!(sql.contains("(currency = '' OR currency IN (?5))"), "{sql}");
        assert!(spend.ends_with("currency IN (?5)"), "{spend}");
        assert!(!spend.contains("model"), "spend is every model's: {spend}");
        assert_eq!(models, vec!["?4"]);
        assert_eq!(
            parse("currency=EURO_TOO_LONG_CODE_X")
                .expect_err("long")
                .field,
            "currency"
        );
    }
}
