//! The body of `POST /internal/rollups`, as the origin (and the fraud rules' writer) sends it,
//! its validation, and the statements that apply it.
//!
//! ```json
//! {"days":  [{"app_id": "shop", "day": "2026-03-01"}],
//!  "rows":  [{"app_id": "shop", "day": "2026-03-01", "source": "google", "campaign": "spring",
//!             "model": "linear", "currency": "USD", "touches": 0, "conversions": 0.5,
//!             "revenue": 100.0, "credited_value": 50.0}],
//!  "paths": [{"app_id": "shop", "day": "2026-03-01", "path": ["google", "email"],
//!             "currency": "USD", "conversions": 1, "nulls": 0, "value": 100.0}],
//!  "fraud": [{"app_id": "shop", "day": "2026-03-01", "reason": "click_flood", "count": 12}]}
//! ```
//!
//! `ltv_customers` (optional too) carries per-customer purchase summaries for `GET /v1/ltv`:
//! `{"app_id", "day" (first purchase), "source", "currency", "frequency", "recency", "t",
//! "monetary_value", "observed_on"}` with times in days (see migrations/0017 and
//! [`LtvCustomerRow`]); `t` is the age on `observed_on`.
//!
//! `cohorts` (optional) carries acquisition-cohort rows for `GET /v1/cohorts`
//! (`attrib_core::cohorts::CohortRow`, keyed by the cohort's day).
//!
//! `rows` (daily stats, core/src/rollup.rs), `paths` and `fraud` are each optional. For every
//! section that is present, the listed days' rows of its table are replaced by the ones sent
//! (an empty list clears those days); an absent section leaves its table untouched, so the
//! fraud writer can send `days` + `fraud` alone. Every row must belong to a listed day. The
//! whole upsert is one transaction, together with a bump of each listed app's stats version.
//!
//! The types and how paths are derived live in `attrib_core::rollup` (`PathStat`,
//! `conversion_paths`, `FraudCount`). `fraud` rows count the touches and events rejected per
//! (app, UTC day, reason).

use std::collections::{BTreeSet, HashSet};

use attrib_core::cohorts::{CohortRow, MAX_COHORT_DAY};
use attrib_core::rollup::{AppDay, DailyStat, FraudCount, PathStat, MAX_REGION_CHARS};
use attrib_core::FieldError;
use serde::Deserialize;

use crate::limits::{
    MAX_COUNT, MAX_CURRENCY_CHARS, MAX_FILTER_VALUE_CHARS, MAX_PATH_STEPS, MAX_REASON_CHARS,
    MAX_ROLLUP_ROWS, MAX_UPSERT_COHORT_ROWS, MAX_UPSERT_DAYS, MAX_UPSERT_FRAUD_ROWS,
    MAX_UPSERT_LTV_ROWS, MAX_UPSERT_PATH_ROWS,
};
use crate::params::day;
use crate::store::{Param, Statement};
use crate::versions;

/// Longest app id (the `apps.id` CHECK in migrations/0001).
const MAX_APP_ID_CHARS: usize = 64;
/// Days per stale check query: 2 + 2 × 40 bound parameters, under D1's 100.
const STALE_CHECK_DAYS: usize = 40;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpsertBody {
    pub days: Vec<AppDay>,
    #[serde(default)]
    pub rows: Option<Vec<DailyStat>>,
    #[serde(default)]
    pub paths: Option<Vec<PathStat>>,
    #[serde(default)]
    pub fraud: Option<Vec<FraudCount>>,
    /// Per-customer purchase summaries for lifetime value (migrations/0017).
    #[serde(default)]
    pub ltv_customers: Option<Vec<LtvCustomerRow>>,
    /// Acquisition-cohort rows (migrations/0017).
    #[serde(default)]
    pub cohorts: Option<Vec<CohortRow>>,
    /// The sender's region: only its rows of the listed days are replaced; reads sum every
    /// region (issue 13, finding 3). Absent: the unnamed region `""`.
    #[serde(default)]
    pub region: String,
    /// See `attrib_core::rollup::RollupUpsert::seq`: below the stored one → 409.
    #[serde(default)]
    pub seq: Option<u64>,
}

/// Row counts of an applied upsert (`None`: section absent, table untouched).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Applied {
    pub days: usize,
    pub rows: Option<usize>,
    pub paths: Option<usize>,
    pub fraud: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ltv_customers: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cohorts: Option<usize>,
}

/// One customer's purchase summary in `lifetimes`' format, times in days, under the day of
/// the customer's first purchase and the source credited with it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LtvCustomerRow {
    pub app_id: String,
    pub day: String,
    pub source: String,
    pub currency: String,
    pub frequency: u32,
    pub recency: f64,
    pub t: f64,
    /// The UTC day the summary was computed (`t` is the age then); the edge ages it from there.
    pub observed_on: String,
    /// Mean value of the repeat purchases; 0 for a customer without one (as in `lifetimes`),
    /// or without a known value (the spend model then leaves it out).
    pub monetary_value: f64,
}

impl LtvCustomerRow {
    pub fn customer(&self) -> attrib_models::ltv::Customer {
        attrib_models::ltv::Customer {
            frequency: self.frequency,
            recency: self.recency,
            age: self.t,
            // 0: no value known (see `queries::ltv::StoredCustomer::customer`).
            monetary_value: (self.monetary_value != 0.0).then_some(self.monetary_value),
        }
    }
}

/// Why an upsert body was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Invalid {
    /// A section has more entries than its limit (413).
    #[error("{0}")]
    TooLarge(FieldError),
    /// A value is wrong (400).
    #[error("{0}")]
    Field(FieldError),
}

impl From<FieldError> for Invalid {
    fn from(err: FieldError) -> Self {
        Invalid::Field(err)
    }
}

impl Invalid {
    #[cfg(test)]
    pub fn field_error(&self) -> &FieldError {
        match self {
            Invalid::TooLarge(e) | Invalid::Field(e) => e,
        }
    }
}

impl UpsertBody {
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.days.len() > MAX_UPSERT_DAYS {
            return Err(too_many("days", self.days.len(), MAX_UPSERT_DAYS));
        }
        text("region", &self.region, 0, MAX_REGION_CHARS)?;
        if self.seq.is_some_and(|s| s > MAX_COUNT) {
            return Err(FieldError::new("seq", format!("must be at most {MAX_COUNT}")).into());
        }
        for (i, d) in self.days.iter().enumerate() {
            text(&format!("days[{i}].app_id"), &d.app_id, 1, MAX_APP_ID_CHARS)?;
            day(&format!("days[{i}].day"), &d.day)?;
        }
        let listed: HashSet<(&str, &str)> = self
            .days
            .iter()
            .map(|d| (d.app_id.as_str(), d.day.as_str()))
            .collect();
        let within = |field: String, app_id: &str, day: &str| {
            if listed.contains(&(app_id, day)) {
                Ok(())
            } else {
                Err(FieldError::new(
                    field,
                    format!("row for {app_id} {day} is outside the listed days"),
                ))
            }
        };
        if let Some(rows) = &self.rows {
            if rows.len() > MAX_ROLLUP_ROWS {
                return Err(too_many("rows", rows.len(), MAX_ROLLUP_ROWS));
            }
            let mut keys = HashSet::new();
            for (i, r) in rows.iter().enumerate() {
                let (k, v) = (&r.key, &r.values);
                within(format!("rows[{i}]"), &k.app_id, &k.day)?;
                text(
                    &format!("rows[{i}].source"),
                    &k.source,
                    0,
                    MAX_FILTER_VALUE_CHARS,
                )?;
                text(
                    &format!("rows[{i}].campaign"),
                    &k.campaign,
                    0,
                    MAX_FILTER_VALUE_CHARS,
                )?;
                text(
                    &format!("rows[{i}].currency"),
                    &k.currency,
                    0,
                    MAX_CURRENCY_CHARS,
                )?;
                count(&format!("rows[{i}].touches"), v.touches)?;
                amount(&format!("rows[{i}].conversions"), v.conversions, true)?;
                amount(&format!("rows[{i}].revenue"), v.revenue, false)?;
                amount(
                    &format!("rows[{i}].credited_value"),
                    v.credited_value,
                    false,
                )?;
                if !keys.insert(k) {
                    return Err(FieldError::new(
                        format!("rows[{i}]"),
                        "repeats an earlier row's key",
                    )
                    .into());
                }
            }
        }
        if let Some(paths) = &self.paths {
            if paths.len() > MAX_UPSERT_PATH_ROWS {
                return Err(too_many("paths", paths.len(), MAX_UPSERT_PATH_ROWS));
            }
            let mut keys = HashSet::new();
            for (i, p) in paths.iter().enumerate() {
                within(format!("paths[{i}]"), &p.app_id, &p.day)?;
                if p.path.is_empty() || p.path.len() > MAX_PATH_STEPS {
                    return Err(FieldError::new(
                        format!("paths[{i}].path"),
                        format!(
                            "must have 1 to {MAX_PATH_STEPS} steps, has {}",
                            p.path.len()
                        ),
                    )
                    .into());
                }
                for (j, step) in p.path.iter().enumerate() {
                    text(
                        &format!("paths[{i}].path[{j}]"),
                        step,
                        1,
                        MAX_FILTER_VALUE_CHARS,
                    )?;
                }
                text(
                    &format!("paths[{i}].currency"),
                    &p.currency,
                    0,
                    MAX_CURRENCY_CHARS,
                )?;
                amount(&format!("paths[{i}].conversions"), p.conversions, true)?;
                amount(&format!("paths[{i}].nulls"), p.nulls, true)?;
                amount(&format!("paths[{i}].value"), p.value, false)?;
                if !keys.insert((&p.app_id, &p.day, &p.path, &p.currency)) {
                    return Err(FieldError::new(
                        format!("paths[{i}]"),
                        "repeats an earlier path row",
                    )
                    .into());
                }
            }
        }
        if let Some(fraud) = &self.fraud {
            if fraud.len() > MAX_UPSERT_FRAUD_ROWS {
                return Err(too_many("fraud", fraud.len(), MAX_UPSERT_FRAUD_ROWS));
            }
            let mut keys = HashSet::new();
            for (i, f) in fraud.iter().enumerate() {
                within(format!("fraud[{i}]"), &f.app_id, &f.day)?;
                text(
                    &format!("fraud[{i}].reason"),
                    &f.reason,
                    1,
                    MAX_REASON_CHARS,
                )?;
                count(&format!("fraud[{i}].count"), f.count)?;
                if !keys.insert((&f.app_id, &f.day, &f.reason)) {
                    return Err(FieldError::new(
                        format!("fraud[{i}]"),
                        "repeats an earlier reason",
                    )
                    .into());
                }
            }
        }
        if let Some(customers) = &self.ltv_customers {
            if customers.len() > MAX_UPSERT_LTV_ROWS {
                return Err(too_many(
                    "ltv_customers",
                    customers.len(),
                    MAX_UPSERT_LTV_ROWS,
                ));
            }
            for (i, c) in customers.iter().enumerate() {
                within(format!("ltv_customers[{i}]"), &c.app_id, &c.day)?;
                text(
                    &format!("ltv_customers[{i}].source"),
                    &c.source,
                    0,
                    MAX_FILTER_VALUE_CHARS,
                )?;
                text(
                    &format!("ltv_customers[{i}].currency"),
                    &c.currency,
                    0,
                    MAX_CURRENCY_CHARS,
                )?;
                let observed = day(&format!("ltv_customers[{i}].observed_on"), &c.observed_on)?;
                if day(&format!("ltv_customers[{i}].day"), &c.day)? > observed {
                    return Err(FieldError::new(
                        format!("ltv_customers[{i}].observed_on"),
                        "is before the first purchase's day",
                    )
                    .into());
                }
                c.customer().validate().map_err(|(field, reason)| {
                    let name = match field {
                        attrib_models::ltv::CustomerField::Age => "t",
                        other => other.column(),
                    };
                    FieldError::new(format!("ltv_customers[{i}].{name}"), reason)
                })?;
            }
        }
        if let Some(cohorts) = &self.cohorts {
            if cohorts.len() > MAX_UPSERT_COHORT_ROWS {
                return Err(too_many("cohorts", cohorts.len(), MAX_UPSERT_COHORT_ROWS));
            }
            let mut keys = HashSet::new();
            for (i, c) in cohorts.iter().enumerate() {
                within(format!("cohorts[{i}]"), &c.app_id, &c.day)?;
                for (name, value, max) in [
                    ("source", &c.source, MAX_FILTER_VALUE_CHARS),
                    ("campaign", &c.campaign, MAX_FILTER_VALUE_CHARS),
                    ("currency", &c.currency, MAX_CURRENCY_CHARS),
                ] {
                    text(&format!("cohorts[{i}].{name}"), value, 0, max)?;
                }
                if c.day_offset > MAX_COHORT_DAY {
                    return Err(FieldError::new(
                        format!("cohorts[{i}].day_offset"),
                        format!("must be at most {MAX_COHORT_DAY}"),
                    )
                    .into());
                }
                count(&format!("cohorts[{i}].users"), c.users)?;
                count(&format!("cohorts[{i}].active_users"), c.active_users)?;
                if c.active_users > c.users {
                    return Err(FieldError::new(
                        format!("cohorts[{i}].active_users"),
                        "is larger than users",
                    )
                    .into());
                }
                amount(&format!("cohorts[{i}].revenue"), c.revenue, false)?;
                let key = (
                    &c.app_id,
                    &c.day,
                    &c.source,
                    &c.campaign,
                    c.day_offset,
                    &c.currency,
                );
                if !keys.insert(key) {
                    return Err(FieldError::new(
                        format!("cohorts[{i}]"),
                        "repeats an earlier cohort row",
                    )
                    .into());
                }
            }
        }
        Ok(())
    }

    /// The apps whose stats versions this upsert bumps.
    pub fn apps(&self) -> BTreeSet<&str> {
        self.days.iter().map(|d| d.app_id.as_str()).collect()
    }

    pub fn applied(&self) -> Applied {
        Applied {
            days: self.days.len(),
            rows: self.rows.as_ref().map(Vec::len),
            paths: self.paths.as_ref().map(Vec::len),
            fraud: self.fraud.as_ref().map(Vec::len),
            ltv_customers: self.ltv_customers.as_ref().map(Vec::len),
            cohorts: self.cohorts.as_ref().map(Vec::len),
        }
    }

    /// Queries for the stored seqs of the listed days of this region that are above this
    /// upsert's seq: any row makes the upsert stale (no queries without a seq). Chunked so a
    /// statement stays under D1's 100 bound parameters.
    pub fn stale_checks(&self) -> Vec<Statement> {
        let Some(seq) = self.seq else {
            return Vec::new();
        };
        self.days
            .chunks(STALE_CHECK_DAYS)
            .map(|days| {
                let mut params: Vec<Param> =
                    vec![self.region.as_str().into(), Param::Int(seq as i64)];
                let mut pairs = Vec::new();
                for d in days {
                    params.push(d.app_id.as_str().into());
                    params.push(d.day.as_str().into());
                    pairs.push(format!(
                        "(app_id = ?{} AND day = ?{})",
                        params.len() - 1,
                        params.len()
                    ));
                }
                Statement::new(
                    format!(
                        "SELECT app_id, day, seq FROM rollup_generations \
                         WHERE region = ?1 AND seq > ?2 AND ({}) LIMIT 1",
                        pairs.join(" OR ")
                    ),
                    params,
                )
            })
            .collect()
    }

    /// The listed days' rows of this region deleted, the new ones inserted, each day's seq
    /// recorded (never lowered), then version bumps: one transaction.
    pub fn statements(&self, now_iso: &str) -> Vec<Statement> {
        let mut out = Vec::new();
        if let Some(seq) = self.seq {
            for d in &self.days {
                out.push(Statement::new(
                    "INSERT INTO rollup_generations (app_id, day, region, seq) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (app_id, day, region) DO UPDATE SET seq = excluded.seq, \
                     updated_at = excluded.updated_at WHERE excluded.seq >= rollup_generations.seq",
                    vec![
                        d.app_id.as_str().into(),
                        d.day.as_str().into(),
                        self.region.as_str().into(),
                        Param::Int(seq as i64),
                    ],
                ));
            }
        }
        let sections = [
            (self.rows.is_some(), "daily_stats"),
            (self.paths.is_some(), "conversion_paths"),
            (self.fraud.is_some(), "fraud_counts"),
            (self.ltv_customers.is_some(), "ltv_customers"),
            (self.cohorts.is_some(), "cohort_days"),
        ];
        for (present, table) in sections {
            if !present {
                continue;
            }
            for d in &self.days {
                out.push(Statement::new(
                    format!("DELETE FROM {table} WHERE app_id = ?1 AND day = ?2 AND region = ?3"),
                    vec![
                        d.app_id.as_str().into(),
                        d.day.as_str().into(),
                        self.region.as_str().into(),
                    ],
                ));
            }
        }
        for r in self.rows.iter().flatten() {
            let (k, v) = (&r.key, &r.values);
            out.push(Statement::new(
                "INSERT INTO daily_stats (app_id, day, source, campaign, model, currency, touches, \
                 conversions, revenue, credited_value, region) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                vec![
                    k.app_id.as_str().into(),
                    k.day.as_str().into(),
                    k.source.as_str().into(),
                    k.campaign.as_str().into(),
                    k.model.as_str().into(),
                    k.currency.as_str().into(),
                    Param::Int(v.touches as i64),
                    Param::Real(v.conversions),
                    Param::Real(v.revenue),
                    Param::Real(v.credited_value),
                    self.region.as_str().into(),
                ],
            ));
        }
        for p in self.paths.iter().flatten() {
            out.push(Statement::new(
                "INSERT INTO conversion_paths (app_id, day, path, steps, currency, conversions, nulls, \
                 value, region) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                vec![
                    p.app_id.as_str().into(),
                    p.day.as_str().into(),
                    // Canonical JSON: the form /v1/paths matches steps against.
                    serde_json::to_string(&p.path).unwrap_or_default().into(),
                    Param::Int(p.path.len() as i64),
                    p.currency.as_str().into(),
                    Param::Real(p.conversions),
                    Param::Real(p.nulls),
                    Param::Real(p.value),
                    self.region.as_str().into(),
                ],
            ));
        }
        for f in self.fraud.iter().flatten() {
            out.push(Statement::new(
                "INSERT INTO fraud_counts (app_id, day, reason, count, region) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                vec![
                    f.app_id.as_str().into(),
                    f.day.as_str().into(),
                    f.reason.as_str().into(),
                    Param::Int(f.count as i64),
                    self.region.as_str().into(),
                ],
            ));
        }
        for c in self.ltv_customers.iter().flatten() {
            out.push(Statement::new(
                "INSERT INTO ltv_customers (app_id, day, source, currency, frequency, recency, t, \
                 observed_on, monetary_value, region) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                vec![
                    c.app_id.as_str().into(),
                    c.day.as_str().into(),
                    c.source.as_str().into(),
                    c.currency.as_str().into(),
                    Param::Int(i64::from(c.frequency)),
                    Param::Real(c.recency),
                    Param::Real(c.t),
                    c.observed_on.as_str().into(),
                    Param::Real(c.monetary_value),
                    self.region.as_str().into(),
                ],
            ));
        }
        for c in self.cohorts.iter().flatten() {
            out.push(Statement::new(
                "INSERT INTO cohort_days (app_id, day, source, campaign, day_offset, currency, \
                 users, active_users, revenue, region) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                vec![
                    c.app_id.as_str().into(),
                    c.day.as_str().into(),
                    c.source.as_str().into(),
                    c.campaign.as_str().into(),
                    Param::Int(i64::from(c.day_offset)),
                    c.currency.as_str().into(),
                    Param::Int(c.users as i64),
                    Param::Int(c.active_users as i64),
                    Param::Real(c.revenue),
                    self.region.as_str().into(),
                ],
            ));
        }
        let any_section = sections.iter().any(|(present, _)| *present);
        if any_section {
            out.extend(
                self.apps()
                    .into_iter()
                    .map(|app| versions::bump(app, now_iso)),
            );
        }
        out
    }
}

fn too_many(field: &str, n: usize, limit: usize) -> Invalid {
    Invalid::TooLarge(FieldError::new(
        field,
        format!("has {n} entries; the limit is {limit}"),
    ))
}

fn text(field: &str, value: &str, min: usize, max: usize) -> Result<(), FieldError> {
    let n = value.chars().count();
    if (min..=max).contains(&n) {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("must be {min} to {max} characters, has {n}"),
        ))
    }
}

fn count(field: &str, value: u64) -> Result<(), FieldError> {
    if value <= MAX_COUNT {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!("must be at most {MAX_COUNT}"),
        ))
    }
}

/// A finite number; non-negative when `non_negative` (revenue may be negative: refunds).
fn amount(field: &str, value: f64, non_negative: bool) -> Result<(), FieldError> {
    if !value.is_finite() {
        return Err(FieldError::new(field, "must be a finite number"));
    }
    if non_negative && value < 0.0 {
        return Err(FieldError::new(field, "must not be negative"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
