//! Exact absorption probabilities of the attribution chain.
//!
//! For transient states with transition matrix `Q` and one-step conversion
//! reward `r`, the expected reward before absorption `x` solves
//! `(I - Q) x = r`. Removing a channel makes its states absorbing-null, i.e.
//! fixes `x = 0` there and solves the same system on the remaining states.
//!
//! Small systems (order 1, and order 2 with few channels) are solved directly
//! by Gaussian elimination with partial pivoting. Larger ones use
//! Gauss-Seidel sweeps in decreasing BFS depth from `(start)` (paths mostly
//! move forward, so this is close to back substitution) until the a-posteriori
//! error bound `delta * rho / (1 - rho)` is below `1e-14` relative: converged
//! to double precision, not a sampling estimate. `I - Q` is a non-singular
//! M-matrix (every state reached by a weighted path also leaves it), so the
//! sweeps converge; a removal solve warm-started from the full solution (an
//! upper bound) converges monotonically.

use std::collections::VecDeque;

use super::markov_chain::{AbsorbingChain, START};
use super::Error;

/// Largest number of active states solved by dense elimination.
const DENSE_SOLVE_MAX_STATES: usize = 160;
/// Gauss-Seidel gives up (with an error) after this many sweeps.
const MAX_SWEEPS: usize = 200_000;
/// Target relative accuracy of each solution component.
const RELATIVE_TOLERANCE: f64 = 1e-14;

/// Solves the chain for `K` reward vectors at once (conversions, value).
pub(super) struct AbsorptionSolver<'a, const K: usize> {
    chain: &'a AbsorbingChain,
    rewards: Vec<[f64; K]>,
    sweep_order: Vec<u32>,
}

impl<'a, const K: usize> AbsorptionSolver<'a, K> {
    pub fn new(chain: &'a AbsorbingChain, rewards: Vec<[f64; K]>) -> Self {
        let sweep_order = deepest_first(chain);
        Self {
            chain,
            rewards,
            sweep_order,
        }
    }

    /// Expected rewards from every state with the `removed` states forced to
    /// zero, starting the iteration from `initial` (any upper bound works).
    pub fn solve(&self, removed: &[bool], initial: &[[f64; K]]) -> Result<Vec<[f64; K]>, Error> {
        let active = removed.iter().filter(|&&r| !r).count();
        if active <= DENSE_SOLVE_MAX_STATES {
            Ok(self.solve_dense(removed))
        } else {
            self.solve_iteratively(removed, initial)
        }
    }

    /// Expected rewards from `(start)`.
    pub fn from_start(solution: &[[f64; K]]) -> [f64; K] {
        solution[START]
    }

    fn solve_iteratively(
        &self,
        removed: &[bool],
        initial: &[[f64; K]],
    ) -> Result<Vec<[f64; K]>, Error> {
        let mut x: Vec<[f64; K]> = initial.to_vec();
        for (value, &gone) in x.iter_mut().zip(removed) {
            if gone {
                *value = [0.0; K];
            }
        }
        let mut previous_delta = [f64::INFINITY; K];
        let mut last_change = f64::INFINITY;
        for sweep in 1..=MAX_SWEEPS {
            let mut delta = [0.0f64; K];
            let mut magnitude = [0.0f64; K];
            for &state in &self.sweep_order {
                let state = state as usize;
                if removed[state] {
                    continue;
                }
                let mut updated = self.rewards[state];
                let (targets, probabilities) = self.chain.transitions(state);
                for (&target, &p) in targets.iter().zip(probabilities) {
                    let next = &x[target as usize];
                    for k in 0..K {
                        updated[k] += p * next[k];
                    }
                }
                for k in 0..K {
                    delta[k] = delta[k].max((updated[k] - x[state][k]).abs());
                    magnitude[k] = magnitude[k].max(updated[k].abs());
                }
                x[state] = updated;
            }
            let converged = (0..K).all(|k| {
                let tolerance = RELATIVE_TOLERANCE * magnitude[k];
                if delta[k] <= f64::MIN_POSITIVE {
                    return true;
                }
                let rate = delta[k] / previous_delta[k];
                sweep > 2
                    && delta[k] <= tolerance
                    && rate < 1.0
                    && delta[k] * rate / (1.0 - rate) <= tolerance
            });
            if converged {
                return Ok(x);
            }
            last_change = delta.iter().copied().fold(0.0, f64::max);
            previous_delta = delta;
        }
        Err(Error::SolverDidNotConverge {
            sweeps: MAX_SWEEPS,
            last_change,
        })
    }

    fn solve_dense(&self, removed: &[bool]) -> Vec<[f64; K]> {
        let states = self.chain.state_count();
        let mut position = vec![usize::MAX; states];
        let active: Vec<usize> = (0..states).filter(|&s| !removed[s]).collect();
        for (i, &s) in active.iter().enumerate() {
            position[s] = i;
        }
        let m = active.len();
        let mut a = vec![0.0f64; m * m];
        let mut b: Vec<[f64; K]> = Vec::with_capacity(m);
        for (i, &s) in active.iter().enumerate() {
            a[i * m + i] = 1.0;
            let (targets, probabilities) = self.chain.transitions(s);
            for (&t, &p) in targets.iter().zip(probabilities) {
                let j = position[t as usize];
                if j != usize::MAX {
                    a[i * m + j] -= p;
                }
            }
            b.push(self.rewards[s]);
        }
        gaussian_elimination(&mut a, &mut b, m);
        let mut x = vec![[0.0; K]; states];
        for (i, &s) in active.iter().enumerate() {
            x[s] = b[i];
        }
        x
    }
}

/// Solves `a x = b` in place (`b` becomes `x`), partial pivoting. `a` is a
/// non-singular M-matrix here, so pivots never vanish.
fn gaussian_elimination<const K: usize>(a: &mut [f64], b: &mut [[f64; K]], m: usize) {
    for col in 0..m {
        let pivot_row = (col..m)
            .max_by(|&i, &j| a[i * m + col].abs().total_cmp(&a[j * m + col].abs()))
            .unwrap_or(col);
        if pivot_row != col {
            for j in 0..m {
                a.swap(col * m + j, pivot_row * m + j);
            }
            b.swap(col, pivot_row);
        }
        let pivot = a[col * m + col];
        if pivot == 0.0 {
            continue;
        }
        for row in col + 1..m {
            let factor = a[row * m + col] / pivot;
            if factor == 0.0 {
                continue;
            }
            for j in col..m {
                a[row * m + j] -= factor * a[col * m + j];
            }
            let pivot_b = b[col];
            for k in 0..K {
                b[row][k] -= factor * pivot_b[k];
            }
        }
    }
    for col in (0..m).rev() {
        let pivot = a[col * m + col];
        let mut value = b[col];
        for j in col + 1..m {
            let coefficient = a[col * m + j];
            for k in 0..K {
                value[k] -= coefficient * b[j][k];
            }
        }
        for v in value.iter_mut() {
            *v = if pivot == 0.0 { 0.0 } else { *v / pivot };
        }
        b[col] = value;
    }
}

/// States ordered by decreasing shortest distance from `(start)`; unreachable
/// states go first (they only matter as targets, and have no weight anyway).
fn deepest_first(chain: &AbsorbingChain) -> Vec<u32> {
    let states = chain.state_count();
    let mut depth = vec![usize::MAX; states];
    let mut queue = VecDeque::from([START]);
    depth[START] = 0;
    while let Some(s) = queue.pop_front() {
        for &t in chain.transitions(s).0 {
            let t = t as usize;
            if depth[t] == usize::MAX {
                depth[t] = depth[s] + 1;
                queue.push_back(t);
            }
        }
    }
    let mut order: Vec<u32> = (0..states as u32).collect();
    order.sort_by_key(|&s| std::cmp::Reverse(depth[s as usize]));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datadriven::markov_chain::build_chain;
    use crate::datadriven::PathSet;

    #[test]
    fn dense_and_iterative_solutions_agree() {
        let rows = [
            ("a > b > c > a", 2.0, 5.0),
            ("b > a > d", 1.0, 3.0),
            ("c > d > b > c", 0.0, 2.0),
            ("d", 4.0, 1.0),
            ("a > c", 1.0, 1.0),
        ];
        let set =
            PathSet::parse(">", false, rows.iter().map(|&(p, c, n)| (p, c, n, None))).unwrap();
        let chain = build_chain(&set, 2).unwrap();
        let rewards: Vec<[f64; 1]> = chain.to_conversion.iter().map(|&r| [r]).collect();
        let solver = AbsorptionSolver::new(&chain, rewards);
        let removed = vec![false; chain.state_count()];
        let dense = solver.solve_dense(&removed);
        let upper = vec![[1.0]; chain.state_count()];
        let iterative = solver.solve_iteratively(&removed, &upper).unwrap();
        for (d, i) in dense.iter().zip(&iterative) {
            assert!((d[0] - i[0]).abs() < 1e-13, "{d:?} vs {i:?}");
        }
    }
}
