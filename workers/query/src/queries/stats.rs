//! `GET /v1/stats`: daily stats of one app over a day range, grouped by any of day, source,
//! campaign and model, always by currency.
//!
//! The semantics of `daily_stats` (core/src/rollup.rs) are kept: touches live on rows with
//! currency `""`, revenue is never summed across currencies (currency is always a group), and
//! each model's rows carry the whole picture, so summing over models would count every touch
//! and conversion once per model. A read therefore covers one model unless `model` is grouped.
//! Totals leave out revenue: a conversion's revenue sits on every source that shared it, so it
//! does not add up across sources; credited value does.

use attrib_core::attribution::Model;
use attrib_core::FieldError;
use futures_util::future::try_join;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::sql::Where;
use super::{canonical, currencies, QueryContext, ReadQuery};
use crate::error::QueryError;
use crate::limits::{DEFAULT_STATS_ROWS, MAX_STATS_ROWS};
use crate::params::{labels, DayRange, Params};
use crate::store::{Param, SqlStore};

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
}

const ORDERS: [(&str, Order); 5] = [
    ("dims", Order::Dims),
    ("touches", Order::Touches),
    ("conversions", Order::Conversions),
    ("revenue", Order::Revenue),
    ("credited_value", Order::CreditedValue),
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
}

#[derive(Debug, Serialize, Deserialize)]
struct StatRow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    day: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    campaign: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    currency: String,
    touches: u64,
    conversions: f64,
    revenue: f64,
    credited_value: f64,
}

#[derive(Debug, Serialize, Deserialize)]
struct TotalRow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<String>,
    currency: String,
    touches: u64,
    conversions: f64,
    credited_value: f64,
}

impl ReadQuery for StatsQuery {
    const PATH: &'static str = "/v1/stats";
    const PARAMS: &'static [&'static str] = &[
        "from", "to", "group_by", "model", "source", "campaign", "currency", "order_by", "limit",
    ];

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
        ])
    }

    async fn run<S: SqlStore>(&self, store: &S, app_id: &str) -> Result<Value, QueryError> {
        let filters = self.filters(app_id);
        let dims: Vec<&str> = self.group_by.iter().map(|d| d.column()).collect();
        let select_dims: String = dims.iter().map(|d| format!("{d}, ")).collect();
        let order = match self.order_by {
            Order::Dims => String::new(),
            Order::Touches => "touches DESC, ".into(),
            Order::Conversions => "conversions DESC, ".into(),
            Order::Revenue => "revenue DESC, ".into(),
            Order::CreditedValue => "credited_value DESC, ".into(),
        };
        let mut rows_filter = filters.clone();
        // One row more than asked tells whether the answer was cut.
        let limit = rows_filter.bind(Param::Int(self.limit as i64 + 1));
        let rows_stmt = rows_filter.statement(
            &format!(
                "SELECT {select_dims}currency, COALESCE(SUM(touches), 0) AS touches, \
                 COALESCE(SUM(conversions), 0) AS conversions, COALESCE(SUM(revenue), 0) AS revenue, \
                 COALESCE(SUM(credited_value), 0) AS credited_value FROM daily_stats"
            ),
            &format!(
                "GROUP BY {select_dims}currency ORDER BY {order}{select_dims}currency LIMIT {limit}"
            ),
        );
        let model_total = if self.group_by.contains(&Dim::Model) {
            "model, "
        } else {
            ""
        };
        let totals_stmt = filters.statement(
            &format!(
                "SELECT {model_total}currency, COALESCE(SUM(touches), 0) AS touches, \
                 COALESCE(SUM(conversions), 0) AS conversions, \
                 COALESCE(SUM(credited_value), 0) AS credited_value FROM daily_stats"
            ),
            &format!("GROUP BY {model_total}currency ORDER BY {model_total}currency"),
        );
        // Both queries in flight at once: the store's round trip dominates a miss.
        let (mut rows, totals): (Vec<StatRow>, Vec<TotalRow>) =
            try_join(store.rows(&rows_stmt), store.rows(&totals_stmt)).await?;
        let truncated = rows.len() > self.limit;
        rows.truncate(self.limit);
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
            "rows": rows,
            "totals": totals,
        }))
    }
}

impl StatsQuery {
    fn filters(&self, app_id: &str) -> Where {
        let mut w = Where::new(app_id, &self.range);
        let models: Vec<String> = self.models.iter().map(|m| m.as_str().to_owned()).collect();
        w.any_of("model", &models);
        w.any_of("source", &self.sources);
        w.any_of("campaign", &self.campaigns);
        // Touch rows (currency "") stay whatever currencies are asked for.
        if let Some(list) = w.placeholders(&self.currencies) {
            w.push(format!("(currency = '' OR currency IN ({list}))"));
        }
        w
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
    fn currency_filter_keeps_touch_rows() {
        let q = parse("currency=EUR").expect("q");
        let sql = q.filters("app").sql();
        assert!(sql.contains("(currency = '' OR currency IN (?5))"), "{sql}");
        assert_eq!(
            parse("currency=EURO_TOO_LONG_CODE_X")
                .expect_err("long")
                .field,
            "currency"
        );
    }
}
