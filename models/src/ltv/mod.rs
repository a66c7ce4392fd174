//! Customer lifetime value from purchase summaries: BG/NBD and Gamma-Gamma.
//!
//! The input is one [`Customer`] per buyer in the summary format of the `lifetimes` package:
//! `frequency` (repeat purchases), `recency` (age at the last repeat purchase, 0 without one),
//! `T` (age now, since the first purchase) and the mean value of the repeat purchases.
//!
//! * [`bgnbd`]: the BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy
//!   way"): purchases at a Gamma(r, α)-distributed Poisson rate, drop-out after each purchase
//!   with a Beta(a, b)-distributed probability. Fitted by maximum likelihood over the closed form
//!   (no hypergeometric function in the likelihood); predicts expected purchases over a horizon
//!   and P(alive).
//! * [`gamma_gamma`]: spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV"): values
//!   Gamma(p, ν) with ν ~ Gamma(q, γ) across customers (`v` = γ). Fitted on repeat buyers.
//! * [`value`]: lifetime value (expected purchases × expected value, discounted per period) and
//!   per-group sums (cohorts, sources).
//! * [`synthetic`]: customers drawn from known parameters with a seeded PRNG, for parameter
//!   recovery tests and benches.
//!
//! Likelihoods are computed in log space with ln Γ; fits maximise over log-parameters with a
//! damped Newton method on analytic gradients ([`optimize`]).

pub mod bgnbd;
pub mod gamma_gamma;
pub mod limits;
mod optimize;
pub mod special;
pub mod synthetic;
pub mod value;

#[cfg(test)]
mod tests;

use thiserror::Error;

pub use bgnbd::{BgNbdFit, BgNbdParams};
pub use gamma_gamma::{GammaGammaFit, GammaGammaParams};
pub use value::{predict, summarize_groups, ClvSettings, CustomerPrediction, GroupSummary};

/// One customer's purchase summary (time in any unit, the same for every customer).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Customer {
    /// Repeat purchases (all purchases but the first).
    pub frequency: u32,
    /// Age at the last repeat purchase; 0 when `frequency` is 0.
    pub recency: f64,
    /// Age now: time since the first purchase (`T` in the literature).
    pub age: f64,
    /// Mean value of the repeat purchases, when known (Gamma-Gamma needs it for repeat buyers).
    pub monetary_value: Option<f64>,
}

/// Which field of a customer is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerField {
    Frequency,
    Recency,
    Age,
    MonetaryValue,
}

impl CustomerField {
    /// The column name in `lifetimes`' summary format.
    pub fn column(self) -> &'static str {
        match self {
            Self::Frequency => "frequency",
            Self::Recency => "recency",
            Self::Age => "T",
            Self::MonetaryValue => "monetary_value",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    #[error("customer {index}: {}: {reason}", field.column())]
    InvalidCustomer {
        index: usize,
        field: CustomerField,
        reason: &'static str,
    },
    #[error("no customers to fit")]
    NoCustomers,
    #[error("{count} customers exceed the limit of {max}")]
    TooManyCustomers { count: usize, max: usize },
    #[error("no repeat buyers with a monetary value: the Gamma-Gamma model has nothing to fit")]
    NoRepeatBuyers,
    #[error("the {model} fit did not converge after {iterations} iterations")]
    DidNotConverge {
        model: &'static str,
        iterations: usize,
    },
    #[error("{what}: {reason}")]
    Undefined {
        what: &'static str,
        reason: &'static str,
    },
    #[error("invalid setting {name}: {reason}")]
    InvalidSetting {
        name: &'static str,
        reason: &'static str,
    },
}

impl Customer {
    /// Checks the summary is one a BG/NBD customer can have.
    pub fn validate(&self) -> Result<(), (CustomerField, &'static str)> {
        use CustomerField::*;
        if self.frequency > limits::MAX_FREQUENCY {
            return Err((Frequency, "above the limit of 1,000,000"));
        }
        if !self.age.is_finite() || self.age <= 0.0 || self.age > limits::MAX_MAGNITUDE {
            return Err((Age, "must be positive, finite and at most 1e12"));
        }
        if !self.recency.is_finite() || self.recency < 0.0 {
            return Err((Recency, "must be finite and not negative"));
        }
        if self.recency > self.age {
            return Err((Recency, "is larger than T"));
        }
        if self.frequency == 0 && self.recency != 0.0 {
            return Err((Recency, "must be 0 when frequency is 0"));
        }
        if let Some(m) = self.monetary_value {
            if !m.is_finite() || !(0.0..=limits::MAX_MAGNITUDE).contains(&m) {
                return Err((
                    MonetaryValue,
                    "must be finite, not negative and at most 1e12",
                ));
            }
            if self.frequency > 0 && m == 0.0 {
                return Err((MonetaryValue, "must be positive for a repeat buyer"));
            }
        }
        Ok(())
    }
}

/// Validates every customer and the count; the first problem is reported with its index.
pub fn validate_customers(customers: &[Customer]) -> Result<(), Error> {
    if customers.is_empty() {
        return Err(Error::NoCustomers);
    }
    if customers.len() > limits::MAX_CUSTOMERS {
        return Err(Error::TooManyCustomers {
            count: customers.len(),
            max: limits::MAX_CUSTOMERS,
        });
    }
    for (index, c) in customers.iter().enumerate() {
        c.validate()
            .map_err(|(field, reason)| Error::InvalidCustomer {
                index,
                field,
                reason,
            })?;
    }
    Ok(())
}
