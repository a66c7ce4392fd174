//! Special functions the LTV models need: ln Γ, digamma and the Gauss hypergeometric 2F1 (in log
//! space), written here so the crate stays dependency-free and identical in wasm.

/// Lanczos coefficients for g = 7, n = 9 (Numerical Recipes / Boost's choice): about 1e-15
/// relative accuracy over the positive reals, which is what the likelihoods need.
const LANCZOS_G: f64 = 7.0;
const LANCZOS: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];

/// ln Γ(x) for x > 0 (NaN otherwise: callers validate parameters first).
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x < 0.5 {
        // Reflection keeps the Lanczos sum in its accurate range.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = LANCZOS[0];
    for (i, c) in LANCZOS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + LANCZOS_G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The digamma function ψ(x) = d ln Γ(x) / dx for x > 0: recurrence up to x ≥ 10, then the
/// asymptotic series to the x^-12 term (error about 1e-15 there).
pub fn digamma(mut x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    let series = inv2
        * (1.0 / 12.0
            - inv2
                * (1.0 / 120.0
                    - inv2
                        * (1.0 / 252.0
                            - inv2
                                * (1.0 / 240.0 - inv2 * (1.0 / 132.0 - inv2 * 691.0 / 32_760.0)))));
    acc + x.ln() - 0.5 * inv - series
}

/// The trigamma function ψ'(x) for x > 0: recurrence up to x ≥ 10, then the asymptotic series.
pub fn trigamma(mut x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    let mut acc = 0.0;
    while x < 10.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    // 1/x + 1/(2x²) + Σ B_2k / x^(2k+1)
    let series = inv
        + 0.5 * inv2
        + inv
            * inv2
            * (1.0 / 6.0
                - inv2
                    * (1.0 / 30.0 - inv2 * (1.0 / 42.0 - inv2 * (1.0 / 30.0 - inv2 * 5.0 / 66.0))));
    acc + series
}

/// ln 2F1(a, b; c; z) for 0 ≤ z < 1 by its power series, summed with a running rescale so
/// values far beyond f64's range (large frequencies, z near 1) stay representable.
///
/// Returns `None` when the series has not converged within `max_terms` or its sum is not
/// positive (only possible with a negative `c`, which the models never produce for valid
/// parameters).
pub fn ln_hyp2f1(a: f64, b: f64, c: f64, z: f64, max_terms: usize) -> Option<f64> {
    signed_ln_hyp2f1(a, b, c, z, max_terms)
        .and_then(|(sign, ln_abs)| (sign > 0.0).then_some(ln_abs))
}

/// 2F1(a, b; c; z) for 0 ≤ z < 1 as (sign, ln |value|): with a negative `c` (BG/NBD's
/// a + b + x − 1 when a + b < 1 and x = 0) the function can be negative, and the models'
/// formulas still hold with the signed value. `None` when the series does not converge within
/// `max_terms` or sums to exactly 0.
pub fn signed_ln_hyp2f1(a: f64, b: f64, c: f64, z: f64, max_terms: usize) -> Option<(f64, f64)> {
    if !(0.0..1.0).contains(&z) || !a.is_finite() || !b.is_finite() || !c.is_finite() {
        return None;
    }
    const RESCALE_ABOVE: f64 = 1e250;
    let mut log_scale = 0.0;
    let mut sum = 1.0_f64;
    let mut term = 1.0_f64;
    for n in 0..max_terms {
        let nf = n as f64;
        let ratio = (a + nf) * (b + nf) / ((c + nf) * (nf + 1.0)) * z;
        term *= ratio;
        sum += term;
        if sum.abs() > RESCALE_ABOVE {
            sum /= RESCALE_ABOVE;
            term /= RESCALE_ABOVE;
            log_scale += RESCALE_ABOVE.ln();
        }
        // Once the term ratio is below 1 and falling towards z, the tail is bounded by a
        // geometric series with ratio max(ratio, z).
        let next = (a + nf + 1.0) * (b + nf + 1.0) / ((c + nf + 1.0) * (nf + 2.0)) * z;
        if (0.0..1.0).contains(&next) && ratio >= 0.0 {
            let rho = next.max(z);
            if term.abs() * rho / (1.0 - rho) <= 1e-17 * sum.abs() {
                return (sum != 0.0).then(|| (sum.signum(), sum.abs().ln() + log_scale));
            }
        }
        if term == 0.0 {
            return (sum != 0.0).then(|| (sum.signum(), sum.abs().ln() + log_scale));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    #[test]
    fn ln_gamma_matches_known_values() {
        assert!(close(ln_gamma(1.0), 0.0, 1e-15));
        assert!(close(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            1e-14
        ));
        // ln(10!) = ln Γ(11)
        assert!(close(ln_gamma(11.0), 15.104_412_573_075_516, 1e-14));
        assert!(close(ln_gamma(0.1), 2.252_712_651_734_206, 1e-14));
        assert!(close(ln_gamma(1000.5), 5_908.674_175_848_678, 1e-14));
        assert!(ln_gamma(0.0).is_nan());
    }

    #[test]
    fn digamma_matches_known_values() {
        let euler = 0.577_215_664_901_532_9;
        assert!(close(digamma(1.0), -euler, 1e-14));
        assert!(close(digamma(0.5), -euler - 2.0 * 2f64.ln(), 1e-14));
        assert!(close(digamma(10.0), 2.251_752_589_066_721, 1e-14));
        // ψ is the derivative of ln Γ.
        for x in [0.3, 1.7, 4.2, 25.0] {
            let h = 1e-5;
            let numeric = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert!(close(digamma(x), numeric, 1e-8), "x={x}");
        }
    }

    #[test]
    fn trigamma_is_the_derivative_of_digamma() {
        assert!(close(
            trigamma(1.0),
            std::f64::consts::PI.powi(2) / 6.0,
            1e-14
        ));
        for x in [0.2, 1.3, 7.5, 40.0] {
            let h = 1e-5;
            let numeric = (digamma(x + h) - digamma(x - h)) / (2.0 * h);
            assert!(close(trigamma(x), numeric, 1e-7), "x={x}");
        }
    }

    #[test]
    fn hyp2f1_matches_closed_forms() {
        // 2F1(1, 1; 2; z) = -ln(1 - z) / z
        for z in [0.0001_f64, 0.3, 0.9, 0.999] {
            let exact = -(1.0 - z).ln() / z;
            let got = ln_hyp2f1(1.0, 1.0, 2.0, z, 10_000_000).unwrap().exp();
            assert!(close(got, exact, 1e-13), "z={z}: {got} vs {exact}");
        }
        // 2F1(a, b; b; z) = (1 - z)^-a, far beyond f64's range in log space.
        let got = ln_hyp2f1(400.0, 3.5, 3.5, 0.99, 10_000_000).unwrap();
        assert!(close(got, -400.0 * 0.01f64.ln(), 1e-12));
        assert!(ln_hyp2f1(1.0, 1.0, 2.0, 1.0, 100).is_none());
    }
}

/// Neumaier's compensated sum: log-likelihoods over millions of customers stay exact to a few
/// ulps, so two nearby optima compare by the model, not by rounding order.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    pub(crate) fn add(&mut self, value: f64) {
        let t = self.sum + value;
        if self.sum.abs() >= value.abs() {
            self.compensation += (self.sum - t) + value;
        } else {
            self.compensation += (value - t) + self.sum;
        }
        self.sum = t;
    }

    pub(crate) fn total(&self) -> f64 {
        self.sum + self.compensation
    }
}
