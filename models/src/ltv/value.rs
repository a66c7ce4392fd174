//! Per-customer predictions (expected purchases, P(alive), expected value, lifetime value) and
//! their sums per group (cohort, source, ...).

use std::collections::BTreeMap;

use super::limits::{MAX_CLV_PERIODS, MAX_MAGNITUDE};
use super::{BgNbdParams, Customer, Error, GammaGammaParams};

/// How lifetime value is summed: `periods` steps of `period_length` time units, each step's
/// expected purchases valued at the expected mean value and discounted by
/// `(1 + discount_rate)^k` for step k (as `lifetimes`' `customer_lifetime_value`: there, 12
/// monthly steps of 4.345 weeks or 30 days at 1% a month).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClvSettings {
    pub periods: u32,
    pub period_length: f64,
    pub discount_rate: f64,
}

impl ClvSettings {
    /// The horizon the value covers, in time units.
    pub fn horizon(&self) -> f64 {
        f64::from(self.periods) * self.period_length
    }

    pub fn validate(&self) -> Result<(), Error> {
        let bad = |name, reason| Err(Error::InvalidSetting { name, reason });
        if self.periods == 0 || self.periods > MAX_CLV_PERIODS {
            return bad("periods", "must be between 1 and 10,000");
        }
        if !self.period_length.is_finite()
            || self.period_length <= 0.0
            || self.horizon() > MAX_MAGNITUDE
        {
            return bad(
                "period_length",
                "must be positive with a horizon of at most 1e12",
            );
        }
        if !self.discount_rate.is_finite() || !(0.0..=10.0).contains(&self.discount_rate) {
            return bad("discount_rate", "must be between 0 and 10 per period");
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CustomerPrediction {
    /// Expected repeat purchases over the horizon.
    pub expected_purchases: f64,
    pub p_alive: f64,
    /// Expected mean value of future purchases (Gamma-Gamma), when a spend model is given.
    pub expected_average_value: Option<f64>,
    /// Discounted lifetime value over the horizon, when a spend model is given.
    pub clv: Option<f64>,
}

/// Predicts one customer over `settings.horizon()`.
pub fn predict(
    bgnbd: &BgNbdParams,
    spend: Option<&GammaGammaParams>,
    customer: &Customer,
    settings: &ClvSettings,
) -> Result<CustomerPrediction, Error> {
    settings.validate()?;
    let mut cumulative = Vec::with_capacity(settings.periods as usize + 1);
    cumulative.push(0.0);
    // Only the value sum needs the intermediate steps.
    if spend.is_some() {
        for k in 1..=settings.periods {
            let t = f64::from(k) * settings.period_length;
            cumulative.push(bgnbd.expected_purchases(customer, t)?);
        }
    } else {
        cumulative.push(bgnbd.expected_purchases(customer, settings.horizon())?);
    }
    let expected_purchases = *cumulative.last().unwrap_or(&0.0);
    let (expected_average_value, clv) = match spend {
        Some(gg) => {
            let value = gg.expected_average_value(customer)?;
            let clv = cumulative
                .windows(2)
                .enumerate()
                .map(|(k, w)| {
                    value * (w[1] - w[0]) / (1.0 + settings.discount_rate).powi(k as i32 + 1)
                })
                .sum();
            (Some(value), Some(clv))
        }
        None => (None, None),
    };
    Ok(CustomerPrediction {
        expected_purchases,
        p_alive: bgnbd.p_alive(customer),
        expected_average_value,
        clv,
    })
}

/// Sums of predictions over one group of customers.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSummary<K> {
    pub key: K,
    pub customers: usize,
    pub expected_purchases: f64,
    /// Mean P(alive) over the group's customers.
    pub mean_p_alive: f64,
    /// Sum of lifetime values, when predictions carry them.
    pub clv: Option<f64>,
}

/// Sums predictions per key (cohort, source, ...), in key order.
pub fn summarize_groups<K: Ord + Clone>(
    rows: impl IntoIterator<Item = (K, CustomerPrediction)>,
) -> Vec<GroupSummary<K>> {
    let mut groups: BTreeMap<K, GroupSummary<K>> = BTreeMap::new();
    for (key, p) in rows {
        let g = groups.entry(key.clone()).or_insert(GroupSummary {
            key,
            customers: 0,
            expected_purchases: 0.0,
            mean_p_alive: 0.0,
            clv: p.clv.map(|_| 0.0),
        });
        g.customers += 1;
        g.expected_purchases += p.expected_purchases;
        g.mean_p_alive += p.p_alive;
        if let (Some(sum), Some(v)) = (g.clv.as_mut(), p.clv) {
            *sum += v;
        }
    }
    groups
        .into_values()
        .map(|mut g| {
            g.mean_p_alive /= g.customers as f64;
            g
        })
        .collect()
}
