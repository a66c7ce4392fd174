//! `GET /v1/cohorts`: acquisition cohorts (users grouped by the day of their first attributed
//! conversion, and by its source and campaign when asked) with, for day 0 to `max_day` after
//! acquisition, the users active that day (returning activity), retention (their share of the cohort) and
//! cumulative revenue per currency.
//!
//! Reads the `cohort_days` rows the origin pushes (`attrib_core::cohorts`, migrations/0017).
//! Days a cohort has not lived yet are `null`, never 0: a group's days are observed up to
//! `today − its newest cohort day`.

use std::collections::BTreeMap;

use attrib_core::cohorts::MAX_COHORT_DAY;
use attrib_core::FieldError;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::sql::Where;
use super::{canonical, QueryContext, ReadQuery};
use crate::error::QueryError;
use crate::limits::{
    MAX_COHORT_GROUPS, MAX_COHORT_READ_ROWS, MAX_FILTER_VALUES, MAX_FILTER_VALUE_CHARS,
};
use crate::params::{day, DayRange, Params};
use crate::store::{Param, SqlStore};

const DIMENSIONS: [&str; 3] = ["day", "source", "campaign"];

#[derive(Debug, Clone)]
pub struct CohortsQuery {
    range: DayRange,
    /// Grouped dimensions, in [`DIMENSIONS`] order.
    group_by: Vec<&'static str>,
    sources: Vec<String>,
    campaigns: Vec<String>,
    max_day: u32,
    today: NaiveDate,
}

/// A group's key: the grouped dimensions' values.
type GroupKey = (Option<String>, Option<String>, Option<String>);

#[derive(Debug, Deserialize)]
struct SizeRow {
    #[serde(default)]
    day: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    campaign: Option<String>,
    users: f64,
    newest_cohort: String,
}

#[derive(Debug, Deserialize)]
struct CellRow {
    #[serde(default)]
    day: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    campaign: Option<String>,
    day_offset: i64,
    currency: String,
    active_users: f64,
    revenue: f64,
}

/// One group's per-day series.
#[derive(Debug, Clone, PartialEq)]
pub struct CohortSeries {
    pub users: u64,
    /// Days after acquisition observed for every cohort of the group (0 ..= max_day).
    pub observed_days: u32,
    pub active_users: Vec<u64>,
    pub revenue: BTreeMap<String, Vec<f64>>,
}

impl CohortSeries {
    fn new(users: u64, observed_days: u32, max_day: u32) -> Self {
        CohortSeries {
            users,
            observed_days,
            active_users: vec![0; max_day as usize + 1],
            revenue: BTreeMap::new(),
        }
    }

    /// Retention per day (active users / cohort size), `None` past the observed days.
    pub fn retention(&self) -> Vec<Option<f64>> {
        self.active_users
            .iter()
            .enumerate()
            .map(|(d, n)| {
                (d as u32 <= self.observed_days && self.users > 0)
                    .then(|| *n as f64 / self.users as f64)
            })
            .collect()
    }

    /// Cumulative revenue per currency per day, `None` past the observed days.
    pub fn cumulative_revenue(&self) -> BTreeMap<String, Vec<Option<f64>>> {
        self.revenue
            .iter()
            .map(|(currency, daily)| {
                let mut sum = 0.0;
                let cumulative = daily
                    .iter()
                    .enumerate()
                    .map(|(d, v)| {
                        sum += v;
                        (d as u32 <= self.observed_days).then_some(sum)
                    })
                    .collect();
                (currency.clone(), cumulative)
            })
            .collect()
    }
}

impl ReadQuery for CohortsQuery {
    const PATH: &'static str = "/v1/cohorts";
    const PARAMS: &'static [&'static str] =
        &["from", "to", "group_by", "source", "campaign", "max_day"];

    fn parse(params: &Params, ctx: &QueryContext) -> Result<Self, FieldError> {
        let asked = params.list("group_by")?;
        if let Some(bad) = asked.iter().find(|d| !DIMENSIONS.contains(&d.as_str())) {
            return Err(FieldError::new(
                "group_by",
                format!("{bad:?} is not one of {}", DIMENSIONS.join(", ")),
            ));
        }
        let mut group_by: Vec<&'static str> = DIMENSIONS
            .into_iter()
            .filter(|d| asked.iter().any(|a| a == d))
            .collect();
        if group_by.is_empty() {
            group_by.push("day");
        }
        let filter = |name: &str| -> Result<Vec<String>, FieldError> {
            let values = params.list(name)?;
            if values.len() > MAX_FILTER_VALUES {
                return Err(FieldError::new(
                    name,
                    format!("takes at most {MAX_FILTER_VALUES} values"),
                ));
            }
            if let Some(bad) = values
                .iter()
                .find(|v| v.chars().count() > MAX_FILTER_VALUE_CHARS)
            {
                return Err(FieldError::new(
                    name,
                    format!("{bad:?} is longer than {MAX_FILTER_VALUE_CHARS} characters"),
                ));
            }
            Ok(values)
        };
        let max_day = params.number(
            "max_day",
            0,
            MAX_COHORT_DAY as usize,
            MAX_COHORT_DAY as usize,
        )? as u32;
        Ok(CohortsQuery {
            range: params.range(ctx.today)?,
            group_by,
            sources: filter("source")?,
            campaigns: filter("campaign")?,
            max_day,
            today: ctx.today,
        })
    }

    fn canonical(&self) -> String {
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v.dedup();
            v.join(",")
        };
        canonical(&[
            ("from", self.range.first_day()),
            ("to", self.range.last_day()),
            ("group_by", self.group_by.join(",")),
            ("source", sorted(&self.sources)),
            ("campaign", sorted(&self.campaigns)),
            ("max_day", self.max_day.to_string()),
            // Which days are observed changes with the day.
            ("today", self.today.to_string()),
        ])
    }

    async fn run<S: SqlStore>(&self, store: &S, app_id: &str) -> Result<Value, QueryError> {
        let dims = self.group_by.join(", ");
        let mut sizes_filter = self.filter(app_id);
        let limit = sizes_filter.bind(Param::Int(MAX_COHORT_GROUPS as i64 + 1));
        let sizes: Vec<SizeRow> = store
            .rows(&sizes_filter.statement(
                &format!(
                    "SELECT {dims}, SUM(users) AS users, MAX(day) AS newest_cohort FROM cohort_days"
                ),
                &format!(
                    "AND day_offset = 0 AND currency = '' GROUP BY {dims} ORDER BY {dims} LIMIT {limit}"
                ),
            ))
            .await?;
        if sizes.len() > MAX_COHORT_GROUPS {
            return Err(QueryError::TooLarge(FieldError::new(
                "group_by",
                format!("more than {MAX_COHORT_GROUPS} cohort groups; narrow the range or group by less"),
            )));
        }
        let mut cells_filter = self.filter(app_id);
        let max_day = cells_filter.bind(Param::Int(i64::from(self.max_day)));
        let limit = cells_filter.bind(Param::Int(MAX_COHORT_READ_ROWS as i64 + 1));
        let cells: Vec<CellRow> = store
            .rows(&cells_filter.statement(
                &format!(
                    "SELECT {dims}, day_offset, currency, SUM(active_users) AS active_users, \
                     SUM(revenue) AS revenue FROM cohort_days"
                ),
                &format!(
                    "AND day_offset <= {max_day} GROUP BY {dims}, day_offset, currency LIMIT {limit}"
                ),
            ))
            .await?;
        if cells.len() > MAX_COHORT_READ_ROWS {
            return Err(QueryError::TooLarge(FieldError::new(
                "from",
                format!("more than {MAX_COHORT_READ_ROWS} cohort cells; narrow the range"),
            )));
        }
        let groups = self.series(sizes, cells);
        let rows: Vec<Value> = groups
            .into_iter()
            .map(|((day, source, campaign), s)| {
                let mut row = Map::new();
                for (name, value) in [("day", day), ("source", source), ("campaign", campaign)] {
                    if let Some(v) = value {
                        row.insert(name.into(), json!(v));
                    }
                }
                row.insert("users".into(), json!(s.users));
                row.insert("observed_days".into(), json!(s.observed_days));
                let observed = |d: usize| d as u32 <= s.observed_days;
                row.insert(
                    "active_users".into(),
                    s.active_users
                        .iter()
                        .enumerate()
                        .map(|(d, n)| if observed(d) { json!(n) } else { Value::Null })
                        .collect(),
                );
                row.insert("retention".into(), json!(s.retention()));
                row.insert(
                    "cumulative_revenue_by_currency".into(),
                    json!(s.cumulative_revenue()),
                );
                Value::Object(row)
            })
            .collect();
        Ok(json!({
            "app_id": app_id,
            "from": self.range.first_day(),
            "to": self.range.last_day(),
            "group_by": self.group_by,
            "max_day": self.max_day,
            "rows": rows,
        }))
    }
}

impl CohortsQuery {
    fn filter(&self, app_id: &str) -> Where {
        let mut w = Where::new(app_id, &self.range);
        w.any_of("source", &self.sources);
        w.any_of("campaign", &self.campaigns);
        w
    }

    /// Puts the cells into their groups' series; cells of a group without a size row (a
    /// cohort whose day 0 was not pushed) are left out.
    fn series(&self, sizes: Vec<SizeRow>, cells: Vec<CellRow>) -> BTreeMap<GroupKey, CohortSeries> {
        let mut groups = BTreeMap::new();
        for s in sizes {
            let observed = day("newest_cohort", &s.newest_cohort)
                .map(|newest| {
                    (self.today - newest)
                        .num_days()
                        .clamp(0, i64::from(self.max_day))
                })
                .unwrap_or(0) as u32;
            groups.insert(
                (s.day, s.source, s.campaign),
                CohortSeries::new(s.users.max(0.0) as u64, observed, self.max_day),
            );
        }
        for c in cells {
            let Some(series) = groups.get_mut(&(c.day, c.source, c.campaign)) else {
                continue;
            };
            let Ok(d) = usize::try_from(c.day_offset) else {
                continue;
            };
            if d > self.max_day as usize {
                continue;
            }
            if c.currency.is_empty() {
                series.active_users[d] += c.active_users.max(0.0) as u64;
            } else {
                series
                    .revenue
                    .entry(c.currency)
                    .or_insert_with(|| vec![0.0; self.max_day as usize + 1])[d] += c.revenue;
            }
        }
        groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_past_the_observed_ones_are_null_not_zero() {
        let mut s = CohortSeries::new(4, 2, 4);
        s.active_users = vec![4, 1, 2, 0, 0];
        s.revenue
            .insert("USD".into(), vec![10.0, 0.0, 5.0, 0.0, 0.0]);
        assert_eq!(
            s.retention(),
            vec![Some(1.0), Some(0.25), Some(0.5), None, None]
        );
        assert_eq!(
            s.cumulative_revenue()["USD"],
            vec![Some(10.0), Some(10.0), Some(15.0), None, None]
        );
    }
}
