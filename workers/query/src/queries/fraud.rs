//! `GET /v1/fraud`: how many touches and events the fraud rules rejected, by reason (and by
//! day when asked), over a day range.

use attrib_core::FieldError;
use futures_util::future::try_join;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::sql::Where;
use super::{canonical, QueryContext, ReadQuery};
use crate::error::QueryError;
use crate::limits::{DEFAULT_FRAUD_ROWS, MAX_FRAUD_ROWS, MAX_REASON_CHARS};
use crate::params::{DayRange, Params};
use crate::store::{Param, SqlStore};

#[derive(Debug, Clone)]
pub struct FraudQuery {
    range: DayRange,
    by_day: bool,
    reasons: Vec<String>,
    limit: usize,
}

#[derive(Debug, Serialize, Deserialize)]
struct FraudRow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    day: Option<String>,
    reason: String,
    count: u64,
}

#[derive(Debug, Deserialize)]
struct Total {
    count: u64,
}

impl ReadQuery for FraudQuery {
    const PATH: &'static str = "/v1/fraud";
    const PARAMS: &'static [&'static str] = &["from", "to", "group_by", "reason", "limit"];

    fn parse(params: &Params, ctx: &QueryContext) -> Result<Self, FieldError> {
        let mut by_day = false;
        for dim in params.list("group_by")? {
            match dim.as_str() {
                "reason" => {}
                "day" => by_day = true,
                other => {
                    return Err(FieldError::new(
                        "group_by",
                        format!("{other:?} is not one of reason, day (rows are always per reason)"),
                    ))
                }
            }
        }
        let reasons = params.list("reason")?;
        if let Some(bad) = reasons
            .iter()
            .find(|r| r.chars().count() > MAX_REASON_CHARS)
        {
            return Err(FieldError::new(
                "reason",
                format!("{bad:?} is longer than {MAX_REASON_CHARS} characters"),
            ));
        }
        Ok(FraudQuery {
            range: params.range(ctx.today)?,
            by_day,
            reasons,
            limit: params.number("limit", 1, MAX_FRAUD_ROWS, DEFAULT_FRAUD_ROWS)?,
        })
    }

    fn canonical(&self) -> String {
        canonical(&[
            ("from", self.range.first_day()),
            ("to", self.range.last_day()),
            (
                "group_by",
                if self.by_day { "day,reason" } else { "reason" }.into(),
            ),
            ("reason", self.reasons.join(",")),
            ("limit", self.limit.to_string()),
        ])
    }

    async fn run<S: SqlStore>(&self, store: &S, app_id: &str) -> Result<Value, QueryError> {
        let mut filters = Where::new(app_id, &self.range);
        filters.any_of("reason", &self.reasons);
        let dims = if self.by_day { "day, reason" } else { "reason" };
        let order = if self.by_day {
            "day, count DESC, reason"
        } else {
            "count DESC, reason"
        };
        let mut rows_filter = filters.clone();
        let limit = rows_filter.bind(Param::Int(self.limit as i64 + 1));
        let rows_stmt = rows_filter.statement(
            &format!("SELECT {dims}, COALESCE(SUM(count), 0) AS count FROM fraud_counts"),
            &format!("GROUP BY {dims} ORDER BY {order} LIMIT {limit}"),
        );
        let total_stmt = filters.statement(
            "SELECT COALESCE(SUM(count), 0) AS count FROM fraud_counts",
            "",
        );
        let (mut rows, totals): (Vec<FraudRow>, Vec<Total>) =
            try_join(store.rows(&rows_stmt), store.rows(&total_stmt)).await?;
        let total = totals.first().map_or(0, |t| t.count);
        let truncated = rows.len() > self.limit;
        rows.truncate(self.limit);
        Ok(json!({
            "app_id": app_id,
            "from": self.range.first_day(),
            "to": self.range.last_day(),
            "group_by": if self.by_day { vec!["day", "reason"] } else { vec!["reason"] },
            "filters": {"reason": self.reasons},
            "limit": self.limit,
            "truncated": truncated,
            "rows": rows,
            "total": total,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrib_core::attribution::Model;
    use chrono::NaiveDate;

    fn parse(query: &str) -> Result<FraudQuery, FieldError> {
        let params = Params::parse(Some(query), FraudQuery::PARAMS)?;
        FraudQuery::parse(
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
    fn groups_by_reason_and_optionally_day() {
        assert!(!parse("").expect("default").by_day);
        assert!(parse("group_by=day").expect("day").by_day);
        assert_eq!(
            parse("group_by=reason,day").expect("a").canonical(),
            parse("group_by=day").expect("b").canonical()
        );
        assert_eq!(parse("group_by=source").expect_err("bad").field, "group_by");
    }
}
