//! `GET /v1/ltv`: predicted lifetime value per acquisition cohort (day of first purchase) and
//! per source, over a horizon in days, from the per-customer purchase summaries the origin
//! pushes (`ltv_customers`, migrations/0017).
//!
//! A summary's age `t` is as of the day the origin computed it (`observed_on`); the origin
//! pushes a customer again only when it buys, so the customer is aged here:
//! T = t + (today − observed_on) days. Frequency and recency are unchanged meanwhile.
//!
//! The customers of the range (one currency, optionally some sources) are fitted with BG/NBD
//! (purchase frequency) and Gamma-Gamma (spend per purchase) by maximum likelihood with the
//! same code as `attrib ltv` (`attrib_models::ltv`); each customer's expected repeat purchases
//! over the horizon × expected mean value is its predicted value (undiscounted), summed per
//! group. At most [`MAX_LTV_CUSTOMERS`] customers are fitted: more are refused, never sampled.

use attrib_core::FieldError;
use attrib_models::ltv::{
    self, bgnbd, gamma_gamma, predict, summarize_groups, BgNbdFit, ClvSettings, Customer,
    GammaGammaFit,
};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{json, Value};

use super::sql::Where;
use super::{canonical, currencies, QueryContext, ReadQuery};
use crate::error::QueryError;
use crate::limits::{
    DEFAULT_LTV_HORIZON_DAYS, MAX_FILTER_VALUE_CHARS, MAX_LTV_CUSTOMERS, MAX_LTV_HORIZON_DAYS,
};
use crate::params::{DayRange, Params};
use crate::store::{Param, SqlStore};

/// How the predictions are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grouping {
    pub by_day: bool,
    pub by_source: bool,
}

#[derive(Debug, Clone)]
pub struct LtvQuery {
    range: DayRange,
    currency: String,
    sources: Vec<String>,
    horizon_days: usize,
    grouping: Grouping,
    today: NaiveDate,
}

/// One stored customer summary with its cohort day and source.
#[derive(Debug, Clone, Deserialize)]
pub struct StoredCustomer {
    pub day: String,
    pub source: String,
    pub frequency: u32,
    pub recency: f64,
    pub t: f64,
    pub observed_on: String,
    pub monetary_value: f64,
}

impl StoredCustomer {
    /// The summary aged to `today` (a summary dated after today, which only clock skew can
    /// produce, is taken as is).
    fn customer(&self, today: NaiveDate) -> Customer {
        let since = NaiveDate::parse_from_str(&self.observed_on, "%Y-%m-%d")
            .map(|observed| (today - observed).num_days().max(0))
            .unwrap_or(0);
        Customer {
            frequency: self.frequency,
            recency: self.recency,
            age: self.t + since as f64,
            // 0 is "no value known" (a customer without repeat purchases, or whose repeat
            // purchases were in another currency): Gamma-Gamma leaves it out of the fit and
            // predicts the population mean for it.
            monetary_value: (self.monetary_value != 0.0).then_some(self.monetary_value),
        }
    }
}

/// Why a set of customers could not be predicted (the fit is the pure part of the endpoint).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LtvError {
    #[error("the BG/NBD fit failed: {0}")]
    Frequency(ltv::Error),
    #[error("the Gamma-Gamma fit failed: {0}")]
    Spend(ltv::Error),
    #[error("predicting failed: {0}")]
    Prediction(ltv::Error),
}

/// The fitted models and the per-group predictions.
#[derive(Debug, Clone)]
pub struct LtvAnswer {
    pub bgnbd: BgNbdFit,
    /// `None` when no customer has a repeat purchase: no value can be predicted.
    pub gamma_gamma: Option<GammaGammaFit>,
    pub groups: Vec<ltv::GroupSummary<(Option<String>, Option<String>)>>,
}

impl ReadQuery for LtvQuery {
    const PATH: &'static str = "/v1/ltv";
    const PARAMS: &'static [&'static str] =
        &["from", "to", "currency", "source", "horizon", "group_by"];

    fn parse(params: &Params, ctx: &QueryContext) -> Result<Self, FieldError> {
        let mut currency = currencies(params)?;
        let currency = match (currency.pop(), currency.is_empty()) {
            (Some(c), true) => c,
            _ => {
                return Err(FieldError::new(
                    "currency",
                    "takes exactly one currency: customers' spend is fitted in one currency",
                ))
            }
        };
        let sources = params.list("source")?;
        if let Some(bad) = sources
            .iter()
            .find(|s| s.chars().count() > MAX_FILTER_VALUE_CHARS)
        {
            return Err(FieldError::new(
                "source",
                format!("{bad:?} is longer than {MAX_FILTER_VALUE_CHARS} characters"),
            ));
        }
        let horizon_days =
            params.number("horizon", 1, MAX_LTV_HORIZON_DAYS, DEFAULT_LTV_HORIZON_DAYS)?;
        let mut grouping = Grouping {
            by_day: false,
            by_source: false,
        };
        let dims = params.list("group_by")?;
        for dim in &dims {
            match dim.as_str() {
                "day" => grouping.by_day = true,
                "source" => grouping.by_source = true,
                other => {
                    return Err(FieldError::new(
                        "group_by",
                        format!("{other:?} is not one of day, source"),
                    ))
                }
            }
        }
        if dims.is_empty() {
            grouping.by_day = true;
        }
        Ok(LtvQuery {
            range: params.range(ctx.today)?,
            currency,
            sources,
            horizon_days,
            grouping,
            today: ctx.today,
        })
    }

    fn canonical(&self) -> String {
        let mut sources = self.sources.clone();
        sources.sort();
        sources.dedup();
        let group_by = match (self.grouping.by_day, self.grouping.by_source) {
            (true, true) => "day,source",
            (false, true) => "source",
            _ => "day",
        };
        canonical(&[
            ("from", self.range.first_day()),
            ("to", self.range.last_day()),
            ("currency", self.currency.clone()),
            ("source", sources.join(",")),
            ("horizon", self.horizon_days.to_string()),
            ("group_by", group_by.to_owned()),
            // Customers age with the day.
            ("today", self.today.to_string()),
        ])
    }

    async fn run<S: SqlStore>(&self, store: &S, app_id: &str) -> Result<Value, QueryError> {
        let customers = self.load(store, app_id).await?;
        let mut body = json!({
            "app_id": app_id,
            "from": self.range.first_day(),
            "to": self.range.last_day(),
            "currency": self.currency,
            "horizon_days": self.horizon_days,
            "customers": customers.len(),
        });
        if customers.is_empty() {
            body["bgnbd"] = Value::Null;
            body["gamma_gamma"] = Value::Null;
            body["rows"] = json!([]);
            body["note"] = json!("no customers in the range");
            return Ok(body);
        }
        let answer = fit_and_predict(
            &customers,
            self.today,
            self.horizon_days as f64,
            self.grouping,
        )
        .map_err(|e| QueryError::Unanswerable(FieldError::new("from", e.to_string())))?;
        let b = answer.bgnbd;
        body["bgnbd"] = json!({
            "r": b.params.r, "alpha": b.params.alpha, "a": b.params.a, "b": b.params.b,
            "log_likelihood": b.log_likelihood,
        });
        body["gamma_gamma"] = answer.gamma_gamma.map_or(Value::Null, |g| {
            json!({
                "p": g.params.p, "q": g.params.q, "v": g.params.v,
                "log_likelihood": g.log_likelihood, "customers": g.customers,
            })
        });
        if answer.gamma_gamma.is_none() {
            body["note"] = json!("no repeat buyers: purchases are predicted, value is not");
        }
        body["rows"] = answer
            .groups
            .iter()
            .map(|g| {
                let mut row = json!({
                    "customers": g.customers,
                    "expected_purchases": g.expected_purchases,
                    "mean_p_alive": g.mean_p_alive,
                    "predicted_value": g.clv,
                    "predicted_value_per_customer": g.clv.map(|v| v / g.customers as f64),
                });
                if let Some(day) = &g.key.0 {
                    row["day"] = json!(day);
                }
                if let Some(source) = &g.key.1 {
                    row["source"] = json!(source);
                }
                row
            })
            .collect();
        Ok(body)
    }
}

impl LtvQuery {
    async fn load<S: SqlStore>(
        &self,
        store: &S,
        app_id: &str,
    ) -> Result<Vec<StoredCustomer>, QueryError> {
        let mut filter = Where::new(app_id, &self.range);
        let currency = filter.bind(Param::Text(self.currency.clone()));
        filter.push(format!("currency = {currency}"));
        filter.any_of("source", &self.sources);
        let limit = filter.bind(Param::Int(MAX_LTV_CUSTOMERS as i64 + 1));
        // Ordered so that the same rows give the same fit whatever order the store keeps.
        let statement = filter.statement(
            "SELECT day, source, frequency, recency, t, observed_on, monetary_value \
             FROM ltv_customers",
            &format!(
                "ORDER BY day, source, frequency, recency, t, observed_on, monetary_value \
                 LIMIT {limit}"
            ),
        );
        let rows: Vec<StoredCustomer> = store.rows(&statement).await?;
        if rows.len() > MAX_LTV_CUSTOMERS {
            return Err(QueryError::TooLarge(FieldError::new(
                "from",
                format!(
                    "the range holds more than {MAX_LTV_CUSTOMERS} customers in {}; narrow it \
                     (or pick sources)",
                    self.currency
                ),
            )));
        }
        Ok(rows)
    }
}

/// Fits BG/NBD on every customer and Gamma-Gamma on the repeat buyers, then sums each
/// customer's expected purchases and predicted value over `horizon` days per group.
pub fn fit_and_predict(
    stored: &[StoredCustomer],
    today: NaiveDate,
    horizon: f64,
    grouping: Grouping,
) -> Result<LtvAnswer, LtvError> {
    let customers: Vec<Customer> = stored.iter().map(|s| s.customer(today)).collect();
    let frequency = bgnbd::fit(&customers).map_err(LtvError::Frequency)?;
    let spend = match gamma_gamma::fit(&customers) {
        Ok(fit) => Some(fit),
        Err(ltv::Error::NoRepeatBuyers) => None,
        Err(e) => return Err(LtvError::Spend(e)),
    };
    // One period spanning the horizon: undiscounted value, one series evaluation per customer.
    let settings = ClvSettings {
        periods: 1,
        period_length: horizon,
        discount_rate: 0.0,
    };
    let mut predictions = Vec::with_capacity(stored.len());
    for (row, customer) in stored.iter().zip(&customers) {
        let p = predict(
            &frequency.params,
            spend.as_ref().map(|s| &s.params),
            customer,
            &settings,
        )
        .map_err(LtvError::Prediction)?;
        let key = (
            grouping.by_day.then(|| row.day.clone()),
            grouping.by_source.then(|| row.source.clone()),
        );
        predictions.push((key, p));
    }
    Ok(LtvAnswer {
        bgnbd: frequency,
        gamma_gamma: spend,
        groups: summarize_groups(predictions),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrib_models::ltv::synthetic;
    use attrib_models::ltv::{BgNbdParams, GammaGammaParams};

    fn stored(day: &str, source: &str, c: &Customer) -> StoredCustomer {
        StoredCustomer {
            day: day.into(),
            source: source.into(),
            frequency: c.frequency,
            recency: c.recency,
            t: c.age,
            observed_on: TODAY.into(),
            monetary_value: c.monetary_value.unwrap_or(0.0),
        }
    }

    const TODAY: &str = "2026-06-01";

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, 1).expect("date")
    }

    fn sample() -> Vec<StoredCustomer> {
        let bg = BgNbdParams {
            r: 0.25,
            alpha: 4.0,
            a: 0.8,
            b: 2.5,
        };
        let gg = GammaGammaParams {
            p: 6.0,
            q: 4.0,
            v: 15.0,
        };
        synthetic::customers(&bg, Some(&gg), 600, (30.0, 200.0), 7)
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let day = if i % 2 == 0 {
                    "2026-01-01"
                } else {
                    "2026-01-02"
                };
                let source = if i % 3 == 0 { "google" } else { "email" };
                stored(day, source, c)
            })
            .collect()
    }

    #[test]
    fn groups_sum_the_per_customer_predictions_of_the_fitted_models() {
        let rows = sample();
        let grouping = Grouping {
            by_day: true,
            by_source: true,
        };
        let answer = fit_and_predict(&rows, today(), 90.0, grouping).expect("fits");
        let spend = answer.gamma_gamma.expect("repeat buyers");
        assert_eq!(answer.groups.len(), 4);
        assert_eq!(
            answer.groups.iter().map(|g| g.customers).sum::<usize>(),
            rows.len()
        );
        let group = &answer.groups[0];
        assert_eq!(
            group.key,
            (Some("2026-01-01".to_owned()), Some("email".to_owned()))
        );
        let (mut purchases, mut value) = (0.0, 0.0);
        for r in rows
            .iter()
            .filter(|r| r.day == "2026-01-01" && r.source == "email")
        {
            let c = r.customer(today());
            let n = answer.bgnbd.params.expected_purchases(&c, 90.0).expect("n");
            purchases += n;
            value += n * spend.params.expected_average_value(&c).expect("m");
        }
        assert!((group.expected_purchases - purchases).abs() < 1e-9);
        assert!((group.clv.expect("value") - value).abs() < 1e-6 * value.max(1.0));
    }

    #[test]
    fn grouping_by_source_only_merges_the_days() {
        let rows = sample();
        let by_source = Grouping {
            by_day: false,
            by_source: true,
        };
        let answer = fit_and_predict(&rows, today(), 30.0, by_source).expect("fits");
        let keys: Vec<_> = answer.groups.iter().map(|g| g.key.clone()).collect();
        assert_eq!(
            keys,
            vec![(None, Some("email".into())), (None, Some("google".into()))]
        );
    }

    #[test]
    fn without_repeat_buyers_purchases_are_predicted_and_value_is_not() {
        let rows: Vec<StoredCustomer> = (0..50)
            .map(|i| StoredCustomer {
                day: "2026-01-01".into(),
                source: "google".into(),
                frequency: 0,
                recency: 0.0,
                t: 10.0 + f64::from(i),
                observed_on: TODAY.into(),
                monetary_value: 0.0,
            })
            .collect();
        let grouping = Grouping {
            by_day: true,
            by_source: false,
        };
        match fit_and_predict(&rows, today(), 30.0, grouping) {
            Ok(answer) => {
                assert!(answer.gamma_gamma.is_none());
                assert_eq!(answer.groups[0].clv, None);
            }
            // Without any repeat purchase the BG/NBD likelihood has no interior optimum (the
            // fit runs to a = 1, where predictions are undefined): a refusal naming why is the
            // other acceptable answer, never a panic or a non-finite number.
            Err(e) => assert!(
                matches!(e, LtvError::Frequency(_) | LtvError::Prediction(_)),
                "{e}"
            ),
        }
    }

    #[test]
    fn a_summary_observed_days_ago_is_aged_to_today() {
        let fresh = sample();
        let aged: Vec<StoredCustomer> = fresh
            .iter()
            .map(|r| StoredCustomer {
                t: r.t - 10.0,
                observed_on: "2026-05-22".into(),
                ..r.clone()
            })
            .filter(|r| r.t > r.recency)
            .collect();
        let kept: Vec<StoredCustomer> = fresh
            .iter()
            .filter(|r| r.t - 10.0 > r.recency)
            .cloned()
            .collect();
        let grouping = Grouping {
            by_day: true,
            by_source: false,
        };
        let a = fit_and_predict(&aged, today(), 60.0, grouping).expect("aged");
        let b = fit_and_predict(&kept, today(), 60.0, grouping).expect("fresh");
        assert_eq!(a.bgnbd.params, b.bgnbd.params);
        assert_eq!(a.groups, b.groups);
        let not_aged = fit_and_predict(
            &aged,
            NaiveDate::from_ymd_opt(2026, 5, 22).expect("d"),
            60.0,
            grouping,
        )
        .expect("as observed");
        assert_ne!(not_aged.groups, b.groups, "ageing matters");
    }
}
