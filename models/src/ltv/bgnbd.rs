//! The BG/NBD model: fit by maximum likelihood, conditional expectations, P(alive).
//!
//! Log-likelihood of one customer (x repeat purchases, last at t_x, age T), section 7 of Fader,
//! Hardie & Lee (2005), with no hypergeometric function:
//!
//! ```text
//! LL = A1 + A2 + ln(e^A3 + [x > 0] e^A4)
//! A1 = ln Γ(r+x) − ln Γ(r) + r ln α
//! A2 = ln Γ(a+b) + ln Γ(b+x) − ln Γ(b) − ln Γ(a+b+x)
//! A3 = −(r+x) ln(α+T)
//! A4 = ln a − ln(b+x−1) − (r+x) ln(α+t_x)
//! ```
//!
//! The ln Γ / ψ terms depend on the customer only through x, so they are tabulated once per
//! distinct frequency per evaluation; the per-customer work is two logarithms and one
//! exponential.

use super::limits::MAX_HYP2F1_TERMS;
use super::optimize::{maximize, Objective};
use super::special::{digamma, ln_gamma, signed_ln_hyp2f1, trigamma, CompensatedSum};
use super::{validate_customers, Customer, Error};

/// Customers in the sample fitted first to start a large fit near its optimum.
const WARM_START_SAMPLE: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbdParams {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbdFit {
    pub params: BgNbdParams,
    /// Total log-likelihood of the data at `params` (natural log, time in the input's unit).
    pub log_likelihood: f64,
    pub iterations: usize,
}

/// Fits BG/NBD by maximum likelihood.
///
/// Time is rescaled so the oldest customer's age is 1 while fitting (the optimum does not move:
/// the log-likelihood changes by a constant), which keeps α near 1 whatever the input's unit.
pub fn fit(customers: &[Customer]) -> Result<BgNbdFit, Error> {
    validate_customers(customers)?;
    let max_age = customers.iter().fold(0.0_f64, |m, c| m.max(c.age));
    let scale = 1.0 / max_age;
    // On large inputs, a fit on an evenly strided sample starts the full fit a few Newton steps
    // from its optimum, so the full data is passed over a few times instead of a dozen.
    let mut start = vec![0.0; 4];
    if customers.len() > 2 * WARM_START_SAMPLE {
        let stride = customers.len() / WARM_START_SAMPLE;
        let sample: Vec<Customer> = customers.iter().step_by(stride).copied().collect();
        if let Ok(warm) = maximize(&Data::new(&sample, scale), start.clone()) {
            start = warm.theta;
        }
    }
    let data = Data::new(customers, scale);
    let max = maximize(&data, start).map_err(|iterations| Error::DidNotConverge {
        model: "BG/NBD",
        iterations,
    })?;
    let [r, alpha, a, b] = [0, 1, 2, 3].map(|i| max.theta[i].exp());
    let params = BgNbdParams {
        r,
        alpha: alpha / scale,
        a,
        b,
    };
    Ok(BgNbdFit {
        params,
        log_likelihood: params.log_likelihood(customers),
        iterations: max.iterations,
    })
}

impl BgNbdParams {
    /// Total log-likelihood of `customers` (assumed valid) under these parameters.
    pub fn log_likelihood(&self, customers: &[Customer]) -> f64 {
        let data = Data::new(customers, 1.0);
        let theta = [self.r, self.alpha, self.a, self.b].map(f64::ln);
        data.evaluate(&theta, false).0 * customers.len() as f64
    }

    /// Probability that the customer has not dropped out (Fader, Hardie & Lee, note 021):
    /// 1 for a customer without repeat purchases.
    pub fn p_alive(&self, c: &Customer) -> f64 {
        if c.frequency == 0 {
            return 1.0;
        }
        let x = f64::from(c.frequency);
        let log_odds_dead = (self.r + x) * ((self.alpha + c.age) / (self.alpha + c.recency)).ln()
            + (self.a / (self.b + x - 1.0)).ln();
        1.0 / (1.0 + log_odds_dead.exp())
    }

    /// Expected repeat purchases in the next `horizon` time units given the customer's history,
    /// equation (10) of the paper.
    pub fn expected_purchases(&self, c: &Customer, horizon: f64) -> Result<f64, Error> {
        if !horizon.is_finite() || horizon < 0.0 {
            return Err(Error::InvalidSetting {
                name: "horizon",
                reason: "must be finite and not negative",
            });
        }
        let BgNbdParams { r, alpha, a, b } = *self;
        let x = f64::from(c.frequency);
        let t = horizon;
        let z = t / (alpha + c.age + t);
        // Signed: with a + b < 1 a first-time buyer's c = a + b − 1 is negative and so can be
        // the function (regression: expected_purchases_when_a_plus_b_is_below_one).
        let (sign, ln_hyp) = signed_ln_hyp2f1(r + x, b + x, a + b + x - 1.0, z, MAX_HYP2F1_TERMS)
            .ok_or(Error::Undefined {
            what: "expected purchases",
            reason: "the hypergeometric series did not converge for this horizon",
        })?;
        let first = (a + b + x - 1.0) / (a - 1.0);
        let second =
            1.0 - sign * (ln_hyp + (r + x) * ((alpha + c.age) / (alpha + t + c.age)).ln()).exp();
        let denominator = if c.frequency > 0 {
            1.0 + a / (b + x - 1.0) * ((alpha + c.age) / (alpha + c.recency)).powf(r + x)
        } else {
            1.0
        };
        let value = first * second / denominator;
        if value.is_finite() {
            Ok(value)
        } else {
            Err(Error::Undefined {
                what: "expected purchases",
                reason: "not finite (a = 1?)",
            })
        }
    }
}

/// The data in the form the likelihood needs: per-customer times, and the distinct frequencies
/// with their counts.
struct Data {
    frequency_slot: Vec<u32>,
    recency: Vec<f64>,
    age: Vec<f64>,
    distinct: Vec<u32>,
    counts: Vec<f64>,
}

impl Data {
    fn new(customers: &[Customer], scale: f64) -> Self {
        let max_x = customers.iter().map(|c| c.frequency).max().unwrap_or(0) as usize;
        let mut slot_of = vec![u32::MAX; max_x + 1];
        let mut distinct = Vec::new();
        let mut counts = Vec::new();
        let mut frequency_slot = Vec::with_capacity(customers.len());
        for c in customers {
            let x = c.frequency as usize;
            if slot_of[x] == u32::MAX {
                slot_of[x] = distinct.len() as u32;
                distinct.push(c.frequency);
                counts.push(0.0);
            }
            counts[slot_of[x] as usize] += 1.0;
            frequency_slot.push(slot_of[x]);
        }
        Self {
            frequency_slot,
            recency: customers.iter().map(|c| c.recency * scale).collect(),
            age: customers.iter().map(|c| c.age * scale).collect(),
            distinct,
            counts,
        }
    }

    /// Mean log-likelihood and, when asked, its gradient in log-parameter space.
    fn evaluate(&self, theta: &[f64], with_gradient: bool) -> (f64, Vec<f64>) {
        let [r, alpha, a, b] = [0, 1, 2, 3].map(|i| theta[i].exp());
        let n = self.recency.len() as f64;
        let ln_alpha = alpha.ln();
        let (lg_r, lg_b, lg_ab) = (ln_gamma(r), ln_gamma(b), ln_gamma(a + b));
        let (dg_r, dg_b, dg_ab) = if with_gradient {
            (digamma(r), digamma(b), digamma(a + b))
        } else {
            (0.0, 0.0, 0.0)
        };
        // Per distinct frequency: the terms that do not depend on times.
        struct Slot {
            x: f64,
            ln_a_over: f64,
            inv_bx1: f64,
        }
        let mut slots = Vec::with_capacity(self.distinct.len());
        let mut ll = CompensatedSum::default();
        let (mut gr, mut galpha, mut ga, mut gb) = (0.0, 0.0, 0.0, 0.0);
        for (&xi, &count) in self.distinct.iter().zip(&self.counts) {
            let x = f64::from(xi);
            let a1 = ln_gamma(r + x) - lg_r + r * ln_alpha;
            let a2 = lg_ab + ln_gamma(b + x) - lg_b - ln_gamma(a + b + x);
            ll.add(count * (a1 + a2));
            if with_gradient {
                let dg_abx = digamma(a + b + x);
                gr += count * (digamma(r + x) - dg_r + ln_alpha);
                galpha += count * r / alpha;
                ga += count * (dg_ab - dg_abx);
                gb += count * (dg_ab + digamma(b + x) - dg_b - dg_abx);
            }
            let (ln_a_over, inv_bx1) = if xi > 0 {
                (a.ln() - (b + x - 1.0).ln(), 1.0 / (b + x - 1.0))
            } else {
                (0.0, 0.0)
            };
            slots.push(Slot {
                x,
                ln_a_over,
                inv_bx1,
            });
        }
        for i in 0..self.recency.len() {
            let s = &slots[self.frequency_slot[i] as usize];
            let rx = r + s.x;
            let l3 = (alpha + self.age[i]).ln();
            let a3 = -rx * l3;
            if s.x == 0.0 {
                ll.add(a3);
                if with_gradient {
                    gr -= l3;
                    galpha -= rx / (alpha + self.age[i]);
                }
                continue;
            }
            let l4 = (alpha + self.recency[i]).ln();
            let a4 = s.ln_a_over - rx * l4;
            let m = a3.max(a4);
            let (e3, e4) = ((a3 - m).exp(), (a4 - m).exp());
            let sum = e3 + e4;
            ll.add(m + sum.ln());
            if with_gradient {
                let w3 = e3 / sum;
                let w4 = e4 / sum;
                gr -= w3 * l3 + w4 * l4;
                galpha -= w3 * rx / (alpha + self.age[i]) + w4 * rx / (alpha + self.recency[i]);
                ga += w4 / a;
                gb -= w4 * s.inv_bx1;
            }
        }
        let gradient = if with_gradient {
            vec![r * gr / n, alpha * galpha / n, a * ga / n, b * gb / n]
        } else {
            Vec::new()
        };
        (ll.total() / n, gradient)
    }

    /// Gradient and Hessian of the mean log-likelihood in log-parameter space, in one pass.
    /// Per customer, ln(e^A3 + e^A4) has Hessian w3·∇²A3 + w4·∇²A4 + w3·w4·(∇A3 − ∇A4)(∇A3 − ∇A4)ᵀ.
    fn gradient_and_hessian(&self, theta: &[f64]) -> (Vec<f64>, Vec<Vec<f64>>) {
        let th = [0, 1, 2, 3].map(|i| theta[i].exp());
        let [r, alpha, a, b] = th;
        let n = self.recency.len() as f64;
        let ln_alpha = alpha.ln();
        let mut g = [0.0; 4];
        let mut h = [[0.0; 4]; 4];
        let (dg_r, dg_b, dg_ab) = (digamma(r), digamma(b), digamma(a + b));
        let (tg_r, tg_b, tg_ab) = (trigamma(r), trigamma(b), trigamma(a + b));
        let mut slots = Vec::with_capacity(self.distinct.len());
        for (&xi, &count) in self.distinct.iter().zip(&self.counts) {
            let x = f64::from(xi);
            let (dg_abx, tg_abx) = (digamma(a + b + x), trigamma(a + b + x));
            g[0] += count * (digamma(r + x) - dg_r + ln_alpha);
            g[1] += count * r / alpha;
            g[2] += count * (dg_ab - dg_abx);
            g[3] += count * (dg_ab + digamma(b + x) - dg_b - dg_abx);
            h[0][0] += count * (trigamma(r + x) - tg_r);
            h[0][1] += count / alpha;
            h[1][1] -= count * r / (alpha * alpha);
            h[2][2] += count * (tg_ab - tg_abx);
            h[2][3] += count * (tg_ab - tg_abx);
            h[3][3] += count * (tg_ab + trigamma(b + x) - tg_b - tg_abx);
            let inv_bx1 = if xi > 0 { 1.0 / (b + x - 1.0) } else { 0.0 };
            let ln_a_over = if xi > 0 {
                a.ln() - (b + x - 1.0).ln()
            } else {
                0.0
            };
            slots.push((x, ln_a_over, inv_bx1));
        }
        for i in 0..self.recency.len() {
            let (x, ln_a_over, inv_bx1) = slots[self.frequency_slot[i] as usize];
            let rx = r + x;
            let inv3 = 1.0 / (alpha + self.age[i]);
            let l3 = (alpha + self.age[i]).ln();
            if x == 0.0 {
                g[0] -= l3;
                g[1] -= rx * inv3;
                h[0][1] -= inv3;
                h[1][1] += rx * inv3 * inv3;
                continue;
            }
            let inv4 = 1.0 / (alpha + self.recency[i]);
            let l4 = (alpha + self.recency[i]).ln();
            let (a3, a4) = (-rx * l3, ln_a_over - rx * l4);
            let m = a3.max(a4);
            let (e3, e4) = ((a3 - m).exp(), (a4 - m).exp());
            let (w3, w4) = (e3 / (e3 + e4), e4 / (e3 + e4));
            let d3 = [-l3, -rx * inv3, 0.0, 0.0];
            let d4 = [-l4, -rx * inv4, 1.0 / a, -inv_bx1];
            for k in 0..4 {
                g[k] += w3 * d3[k] + w4 * d4[k];
            }
            h[0][1] -= w3 * inv3 + w4 * inv4;
            h[1][1] += w3 * rx * inv3 * inv3 + w4 * rx * inv4 * inv4;
            h[2][2] -= w4 / (a * a);
            h[3][3] += w4 * inv_bx1 * inv_bx1;
            let w34 = w3 * w4;
            for j in 0..4 {
                let dj = d3[j] - d4[j];
                for k in j..4 {
                    h[j][k] += w34 * dj * (d3[k] - d4[k]);
                }
            }
        }
        // To log-parameters: ∂²/∂ln θj∂ln θk = θj θk H_jk + [j = k] θj g_j.
        let mut out = vec![vec![0.0; 4]; 4];
        for j in 0..4 {
            for k in j..4 {
                let mut v = th[j] * th[k] * h[j][k];
                if j == k {
                    v += th[j] * g[j];
                }
                out[j][k] = v / n;
                out[k][j] = v / n;
            }
        }
        let gradient = (0..4).map(|k| th[k] * g[k] / n).collect();
        (gradient, out)
    }
}

impl Objective for Data {
    fn value_and_gradient(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        self.evaluate(theta, true)
    }

    fn hessian(&self, theta: &[f64]) -> Option<Vec<Vec<f64>>> {
        Some(self.gradient_and_hessian(theta).1)
    }
}

#[cfg(test)]
mod tests {
    use super::super::optimize::negative_hessian;
    use super::*;

    #[test]
    fn the_analytic_hessian_matches_differences_of_the_gradient() {
        let truth = BgNbdParams {
            r: 0.4,
            alpha: 3.0,
            a: 1.2,
            b: 2.0,
        };
        let customers = super::super::synthetic::customers(&truth, None, 2_000, (5.0, 40.0), 9);
        let data = Data::new(&customers, 1.0 / 40.0);
        let theta = [0.3_f64, -1.5, 0.1, 0.8];
        let (g, h) = data.gradient_and_hessian(&theta);
        let (_, g_ref) = data.evaluate(&theta, true);
        let numeric = negative_hessian(&data, &theta, &g_ref);
        for j in 0..4 {
            assert!((g[j] - g_ref[j]).abs() < 1e-12, "gradient {j}");
            for k in 0..4 {
                let want = -numeric[j][k];
                assert!(
                    (h[j][k] - want).abs() < 1e-5 * (1.0 + want.abs()),
                    "H[{j}][{k}] {} vs {want}",
                    h[j][k]
                );
            }
        }
    }
}
