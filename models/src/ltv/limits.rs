//! Bounds of the LTV models: what a caller may hand them and how long they may work.

/// Repeat purchases of one customer (the likelihoods tabulate per distinct frequency).
pub const MAX_FREQUENCY: u32 = 1_000_000;
/// Customers in one fit.
pub const MAX_CUSTOMERS: usize = 20_000_000;
/// Largest recency, age, horizon or monetary value accepted (any unit): far beyond any real
/// data, small enough that sums of them stay exact to well under 1e-6.
pub const MAX_MAGNITUDE: f64 = 1e12;
/// Damped Newton iterations of one fit.
pub const MAX_FIT_ITERATIONS: usize = 500;
/// Terms of the 2F1 series in one conditional expectation (reached only for horizons many
/// thousand times the customer's age).
pub const MAX_HYP2F1_TERMS: usize = 10_000_000;
/// Discounting periods in one lifetime-value sum.
pub const MAX_CLV_PERIODS: u32 = 10_000;
