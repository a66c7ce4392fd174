//! A damped Newton (Levenberg-Marquardt) maximiser for smooth, low-dimensional log-likelihoods
//! over log-parameters.
//!
//! Why this one: the likelihoods have 3 or 4 parameters and analytic gradients, so a Hessian from
//! forward differences of the gradient costs a few passes over the data and gives quadratic-like
//! convergence to a tight optimum (the comparison with `lifetimes` asks for a log-likelihood at
//! least as high as its BFGS fit). The damping keeps every accepted step an ascent step, so a poor
//! start or a locally non-concave region only slows it down.

// Small dense matrices (k ≤ 4) read clearest with index loops.
#![allow(clippy::needless_range_loop)]

use super::limits::MAX_FIT_ITERATIONS;

/// A function to maximise: its value and gradient at `theta`. Non-finite values mean "outside
/// the domain" and are never accepted.
pub(crate) trait Objective {
    fn value_and_gradient(&self, theta: &[f64]) -> (f64, Vec<f64>);

    /// The Hessian at `theta`, when the objective computes it analytically (one pass instead
    /// of one gradient pass per parameter); `None` uses forward differences of the gradient.
    fn hessian(&self, _theta: &[f64]) -> Option<Vec<Vec<f64>>> {
        None
    }
}

pub(crate) struct Maximum {
    pub theta: Vec<f64>,
    pub iterations: usize,
}

/// Mean log-likelihood gradient (per customer, in log-parameter space) below which the fit has
/// converged.
const GRADIENT_TOLERANCE: f64 = 1e-13;
/// Forward-difference step for the Hessian, in log-parameter space.
const HESSIAN_STEP: f64 = 1e-6;
/// Largest move of one log-parameter in one step (e^3 ≈ 20×): keeps trial points finite.
const MAX_STEP: f64 = 3.0;

pub(crate) fn maximize(objective: &impl Objective, start: Vec<f64>) -> Result<Maximum, usize> {
    let mut theta = start;
    let (mut value, mut gradient) = objective.value_and_gradient(&theta);
    if !value.is_finite() || gradient.iter().any(|g| !g.is_finite()) {
        return Err(0);
    }
    let mut lambda = 1e-3;
    for iteration in 0..MAX_FIT_ITERATIONS {
        if gradient.iter().all(|g| g.abs() <= GRADIENT_TOLERANCE) {
            return Ok(Maximum {
                theta,
                iterations: iteration,
            });
        }
        let neg_hessian = match objective.hessian(&theta) {
            Some(h) if h.iter().flatten().all(|v| v.is_finite()) => h
                .iter()
                .map(|row| row.iter().map(|v| -v).collect())
                .collect(),
            _ => negative_hessian(objective, &theta, &gradient),
        };
        let mut accepted = false;
        for _ in 0..60 {
            let Some(mut step) = solve_damped(&neg_hessian, &gradient, lambda) else {
                lambda = (lambda * 10.0).max(1e-8);
                continue;
            };
            let largest = step.iter().fold(0.0_f64, |m, s| m.max(s.abs()));
            if largest > MAX_STEP {
                step.iter_mut().for_each(|s| *s *= MAX_STEP / largest);
            }
            let trial: Vec<f64> = theta.iter().zip(&step).map(|(t, s)| t + s).collect();
            let (trial_value, trial_gradient) = objective.value_and_gradient(&trial);
            if trial_value.is_finite()
                && trial_gradient.iter().all(|g| g.is_finite())
                && trial_value >= value
            {
                let gain = trial_value - value;
                theta = trial;
                value = trial_value;
                gradient = trial_gradient;
                lambda = if lambda < 1e-12 { 0.0 } else { lambda / 10.0 };
                accepted = true;
                // A step too small to change anything: as converged as f64 allows.
                if gain <= 1e-16 * value.abs() && largest <= 1e-12 {
                    return Ok(Maximum {
                        theta,
                        iterations: iteration + 1,
                    });
                }
                break;
            }
            lambda = (lambda * 10.0).max(1e-8);
        }
        if !accepted {
            // No ascent direction left at f64 precision: a maximum if the gradient is small.
            let tiny = gradient.iter().all(|g| g.abs() <= 1e-6);
            return if tiny {
                Ok(Maximum {
                    theta,
                    iterations: iteration,
                })
            } else {
                Err(iteration)
            };
        }
    }
    Err(MAX_FIT_ITERATIONS)
}

pub(crate) fn negative_hessian(
    objective: &impl Objective,
    theta: &[f64],
    gradient: &[f64],
) -> Vec<Vec<f64>> {
    let k = theta.len();
    let mut h = vec![vec![0.0; k]; k];
    for j in 0..k {
        let mut shifted = theta.to_vec();
        shifted[j] += HESSIAN_STEP;
        let (_, g) = objective.value_and_gradient(&shifted);
        for i in 0..k {
            h[i][j] = -(g[i] - gradient[i]) / HESSIAN_STEP;
        }
    }
    for i in 0..k {
        for j in 0..i {
            let mean = 0.5 * (h[i][j] + h[j][i]);
            h[i][j] = mean;
            h[j][i] = mean;
        }
    }
    h
}

/// Solves (H + λ·diag(max(|H_ii|, 1e-12))) δ = g by Cholesky; `None` when that matrix is not
/// positive definite (the caller raises λ) or anything is non-finite.
fn solve_damped(neg_hessian: &[Vec<f64>], gradient: &[f64], lambda: f64) -> Option<Vec<f64>> {
    let k = gradient.len();
    let mut m: Vec<Vec<f64>> = neg_hessian.to_vec();
    for (i, row) in m.iter_mut().enumerate() {
        row[i] += lambda * row[i].abs().max(1e-12);
    }
    // Cholesky: m = L Lᵀ.
    let mut l = vec![vec![0.0; k]; k];
    for i in 0..k {
        for j in 0..=i {
            let mut s = m[i][j];
            for p in 0..j {
                s -= l[i][p] * l[j][p];
            }
            if i == j {
                if s.is_nan() || s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    let mut y = vec![0.0; k];
    for i in 0..k {
        let s: f64 = (0..i).map(|p| l[i][p] * y[p]).sum();
        y[i] = (gradient[i] - s) / l[i][i];
    }
    let mut x = vec![0.0; k];
    for i in (0..k).rev() {
        let s: f64 = (i + 1..k).map(|p| l[p][i] * x[p]).sum();
        x[i] = (y[i] - s) / l[i][i];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A concave quadratic with a known maximum, and the Rosenbrock valley (negated), which
    /// is not concave away from its maximum.
    struct Quadratic;
    impl Objective for Quadratic {
        fn value_and_gradient(&self, t: &[f64]) -> (f64, Vec<f64>) {
            let (x, y) = (t[0] - 1.0, t[1] + 2.0);
            (
                -(x * x) - 10.0 * y * y - x * y,
                vec![-2.0 * x - y, -20.0 * y - x],
            )
        }
    }
    struct Rosenbrock;
    impl Objective for Rosenbrock {
        fn value_and_gradient(&self, t: &[f64]) -> (f64, Vec<f64>) {
            let (x, y) = (t[0], t[1]);
            let v = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
            let gx = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x);
            let gy = 200.0 * (y - x * x);
            (-v, vec![-gx, -gy])
        }
    }

    #[test]
    fn finds_the_maximum_of_a_quadratic() {
        let m = maximize(&Quadratic, vec![10.0, 10.0]).unwrap();
        assert!((m.theta[0] - 1.0).abs() < 1e-9 && (m.theta[1] + 2.0).abs() < 1e-9);
    }

    #[test]
    fn climbs_out_of_a_non_concave_valley() {
        let m = maximize(&Rosenbrock, vec![-1.2, 1.0]).unwrap();
        assert!(
            (m.theta[0] - 1.0).abs() < 1e-6 && (m.theta[1] - 1.0).abs() < 1e-6,
            "{:?}",
            m.theta
        );
    }
}
