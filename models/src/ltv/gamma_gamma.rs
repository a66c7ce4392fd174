//! The Gamma-Gamma spend model: fit by maximum likelihood on repeat buyers, conditional expected
//! value per purchase.
//!
//! Log-likelihood of a repeat buyer's mean value m over x purchases (Fader, Hardie & Lee 2005,
//! "RFM and CLV", with `v` = γ):
//!
//! ```text
//! LL = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln v + (px−1) ln m + px ln x − (px+q) ln(xm+v)
//! ```

use super::optimize::{maximize, Objective};
use super::special::{digamma, ln_gamma, CompensatedSum};
use super::{validate_customers, Customer, Error};

/// Repeat buyers in the sample fitted first to start a large fit near its optimum.
const WARM_START_SAMPLE: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGammaParams {
    pub p: f64,
    pub q: f64,
    pub v: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGammaFit {
    pub params: GammaGammaParams,
    /// Total log-likelihood of the repeat buyers at `params`.
    pub log_likelihood: f64,
    /// Customers the fit used: repeat buyers with a monetary value.
    pub customers: usize,
    pub iterations: usize,
}

/// Fits Gamma-Gamma on the customers with at least one repeat purchase and a monetary value.
///
/// Values are rescaled to mean 1 while fitting (p and q are scale-free, v scales with the
/// values), for the same conditioning reason BG/NBD rescales time.
pub fn fit(customers: &[Customer]) -> Result<GammaGammaFit, Error> {
    validate_customers(customers)?;
    let buyers: Vec<(u32, f64)> = repeat_buyers(customers).collect();
    if buyers.is_empty() {
        return Err(Error::NoRepeatBuyers);
    }
    let mean = buyers.iter().map(|(_, m)| m).sum::<f64>() / buyers.len() as f64;
    let scale = 1.0 / mean;
    // As BG/NBD: a strided sample's fit starts a large fit near its optimum.
    let mut start = vec![0.0; 3];
    if buyers.len() > 2 * WARM_START_SAMPLE {
        let sample: Vec<(u32, f64)> = buyers
            .iter()
            .step_by(buyers.len() / WARM_START_SAMPLE)
            .copied()
            .collect();
        if let Ok(warm) = maximize(&Data::new(&sample, scale), start.clone()) {
            start = warm.theta;
        }
    }
    let data = Data::new(&buyers, scale);
    let max = maximize(&data, start).map_err(|iterations| Error::DidNotConverge {
        model: "Gamma-Gamma",
        iterations,
    })?;
    let [p, q, v] = [0, 1, 2].map(|i| max.theta[i].exp());
    let params = GammaGammaParams { p, q, v: v / scale };
    Ok(GammaGammaFit {
        params,
        log_likelihood: params.log_likelihood(customers),
        customers: buyers.len(),
        iterations: max.iterations,
    })
}

fn repeat_buyers(customers: &[Customer]) -> impl Iterator<Item = (u32, f64)> + '_ {
    customers
        .iter()
        .filter(|c| c.frequency > 0)
        .filter_map(|c| c.monetary_value.map(|m| (c.frequency, m)))
}

impl GammaGammaParams {
    /// Total log-likelihood of the repeat buyers among `customers` (assumed valid).
    pub fn log_likelihood(&self, customers: &[Customer]) -> f64 {
        let buyers: Vec<(u32, f64)> = repeat_buyers(customers).collect();
        if buyers.is_empty() {
            return 0.0;
        }
        let theta = [self.p, self.q, self.v].map(f64::ln);
        Data::new(&buyers, 1.0).evaluate(&theta, false).0 * buyers.len() as f64
    }

    /// Expected mean value of the customer's future purchases: a weighted average of the
    /// population mean v·p/(q−1) and the customer's own mean. Needs q > 1 (the population mean
    /// is infinite otherwise); a customer without repeat purchases gets the population mean.
    pub fn expected_average_value(&self, c: &Customer) -> Result<f64, Error> {
        let GammaGammaParams { p, q, v } = *self;
        if q <= 1.0 {
            return Err(Error::Undefined {
                what: "expected average value",
                reason: "q ≤ 1: the population mean spend is infinite",
            });
        }
        let population_mean = v * p / (q - 1.0);
        let (x, m) = match c.monetary_value {
            Some(m) if c.frequency > 0 => (f64::from(c.frequency), m),
            _ => return Ok(population_mean),
        };
        let weight = p * x / (p * x + q - 1.0);
        Ok((1.0 - weight) * population_mean + weight * m)
    }
}

struct Data {
    frequency_slot: Vec<u32>,
    /// x·m per buyer (scaled).
    xm: Vec<f64>,
    /// Distinct frequencies, their counts, and per frequency (Σ ln m of its buyers, ln x).
    distinct: Vec<f64>,
    counts: Vec<f64>,
    sum_px_terms: Vec<(f64, f64)>,
}

impl Data {
    fn new(buyers: &[(u32, f64)], scale: f64) -> Self {
        let max_x = buyers.iter().map(|b| b.0).max().unwrap_or(0) as usize;
        let mut slot_of = vec![u32::MAX; max_x + 1];
        let (mut distinct, mut counts, mut frequency_slot) = (Vec::new(), Vec::new(), Vec::new());
        // Per slot: Σ ln m over its buyers, and ln x.
        let mut sum_px_terms: Vec<(f64, f64)> = Vec::new();
        for &(x, m) in buyers {
            let xi = x as usize;
            if slot_of[xi] == u32::MAX {
                slot_of[xi] = distinct.len() as u32;
                distinct.push(f64::from(x));
                counts.push(0.0);
                sum_px_terms.push((0.0, f64::from(x).ln()));
            }
            let s = slot_of[xi] as usize;
            counts[s] += 1.0;
            sum_px_terms[s].0 += (m * scale).ln();
            frequency_slot.push(slot_of[xi]);
        }
        Self {
            frequency_slot,
            xm: buyers
                .iter()
                .map(|&(x, m)| f64::from(x) * m * scale)
                .collect(),
            distinct,
            counts,
            sum_px_terms,
        }
    }

    fn evaluate(&self, theta: &[f64], with_gradient: bool) -> (f64, Vec<f64>) {
        let [p, q, v] = [0, 1, 2].map(|i| theta[i].exp());
        let n = self.xm.len() as f64;
        let ln_v = v.ln();
        let lg_q = ln_gamma(q);
        let dg_q = if with_gradient { digamma(q) } else { 0.0 };
        let mut ll = CompensatedSum::default();
        let (mut gp, mut gq, mut gv) = (0.0, 0.0, 0.0);
        // Per distinct x: everything but ln(xm + v).
        let mut per_slot = Vec::with_capacity(self.distinct.len());
        for ((&x, &count), &(sum_ln_m, ln_x)) in self
            .distinct
            .iter()
            .zip(&self.counts)
            .zip(&self.sum_px_terms)
        {
            let px = p * x;
            ll.add(count * (ln_gamma(px + q) - ln_gamma(px) - lg_q + q * ln_v + px * ln_x));
            ll.add((px - 1.0) * sum_ln_m);
            let mut dg_pxq = 0.0;
            if with_gradient {
                dg_pxq = digamma(px + q);
                gp += count * x * (dg_pxq - digamma(px) + ln_x) + x * sum_ln_m;
                gq += count * (dg_pxq - dg_q + ln_v);
                gv += count * q / v;
            }
            per_slot.push((x, px + q, dg_pxq));
        }
        for i in 0..self.xm.len() {
            let (x, pxq, _) = per_slot[self.frequency_slot[i] as usize];
            let l = (self.xm[i] + v).ln();
            ll.add(-pxq * l);
            if with_gradient {
                gp -= x * l;
                gq -= l;
                gv -= pxq / (self.xm[i] + v);
            }
        }
        let gradient = if with_gradient {
            vec![p * gp / n, q * gq / n, v * gv / n]
        } else {
            Vec::new()
        };
        (ll.total() / n, gradient)
    }
}

impl Objective for Data {
    fn value_and_gradient(&self, theta: &[f64]) -> (f64, Vec<f64>) {
        self.evaluate(theta, true)
    }
}
