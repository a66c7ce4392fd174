//! Estimation of the absorbing Markov chain behind Markov attribution.
//!
//! States are `(start)`, the observed channel tuples of the chosen order, and
//! the two absorbing outcomes `(conversion)` / `(null)` (kept implicit: only
//! the per-state probabilities of stepping into them are stored).
//!
//! Built exactly as ChannelAttribution's `markov_model` does (read from its
//! 2.2.5 C++ source):
//! * a path `c1 > ... > cn` at order `k` visits the sliding windows
//!   `(c1..ck), (c2..ck+1), ...`; a path shorter than `k` is one state holding
//!   the whole path;
//! * consecutive identical states are collapsed (so `a > a > b` at order 1 is
//!   `a > b`), hence there are no self-transitions;
//! * every transition of a row, including `start -> first state`, is weighted
//!   by the row's conversions + nulls; the last state steps to `(conversion)`
//!   with the conversions and to `(null)` with the nulls;
//! * conversion value is tied to the last state before conversion: the mean
//!   value per conversion of the rows ending there (rows without conversions
//!   carry no value information).

use std::collections::HashMap;

use super::paths::{ChannelId, PathSet};
use super::rng::FxBuildHasher;
use super::Error;

/// Index of the `(start)` state.
pub(super) const START: usize = 0;

/// Above this many possible tuple keys the state index is a hash map instead
/// of a direct lookup table (8 MiB of `u32`).
const MAX_DIRECT_STATE_TABLE: u64 = 1 << 21;

/// Sentinel for "no state yet" in the direct table.
const NO_STATE: u32 = u32::MAX;

/// The transient part of the chain in compressed sparse rows.
#[derive(Debug, Clone)]
pub(super) struct AbsorbingChain {
    /// Transitions of state `s` are `targets/probabilities[row_start[s]..row_start[s + 1]]`.
    pub row_start: Vec<usize>,
    pub targets: Vec<u32>,
    pub probabilities: Vec<f64>,
    /// Probability of stepping from the state straight into `(conversion)`.
    pub to_conversion: Vec<f64>,
    /// Expected conversion value earned on that step (probability times the
    /// mean value per conversion of rows ending in this state).
    pub value_on_conversion: Vec<f64>,
    /// For each channel, the states whose tuple contains it: the states that
    /// become `(null)` when the channel is removed.
    pub states_of_channel: Vec<Vec<u32>>,
}

impl AbsorbingChain {
    pub fn state_count(&self) -> usize {
        self.to_conversion.len()
    }

    pub fn transition_count(&self) -> usize {
        self.targets.len()
    }

    pub fn transitions(&self, state: usize) -> (&[u32], &[f64]) {
        let range = self.row_start[state]..self.row_start[state + 1];
        (&self.targets[range.clone()], &self.probabilities[range])
    }
}

/// Maps a channel tuple key to a dense state id.
enum StateIndex {
    Table(Vec<u32>),
    Hash(HashMap<u64, u32, FxBuildHasher>),
}

impl StateIndex {
    fn new(key_space: u64) -> Self {
        if key_space <= MAX_DIRECT_STATE_TABLE {
            StateIndex::Table(vec![NO_STATE; key_space as usize])
        } else {
            StateIndex::Hash(HashMap::default())
        }
    }

    fn get_or_insert(&mut self, key: u64, keys: &mut Vec<u64>) -> u32 {
        let next = keys.len() as u32;
        let id = match self {
            StateIndex::Table(table) => {
                let slot = &mut table[key as usize];
                if *slot == NO_STATE {
                    *slot = next;
                }
                *slot
            }
            StateIndex::Hash(map) => *map.entry(key).or_insert(next),
        };
        if id == next {
            keys.push(key);
        }
        id
    }
}

/// Above this many possible (from, to) pairs, edge weights go to a hash map
/// instead of a dense matrix (8 MiB of `f64`).
const MAX_DENSE_EDGES: u64 = 1 << 20;

/// Transition weights keyed by `(from << 32) | to`.
enum EdgeWeights {
    /// Row-major `states x states`, for small state spaces (order 1).
    Dense {
        states: usize,
        weights: Vec<f64>,
    },
    Hash(HashMap<u64, f64, FxBuildHasher>),
}

impl EdgeWeights {
    fn new(max_states: u64) -> Self {
        match max_states.checked_mul(max_states) {
            Some(cells) if cells <= MAX_DENSE_EDGES => EdgeWeights::Dense {
                states: max_states as usize,
                weights: vec![0.0; cells as usize],
            },
            _ => EdgeWeights::Hash(HashMap::default()),
        }
    }

    #[inline]
    fn add(&mut self, from: u32, to: u32, weight: f64) {
        match self {
            EdgeWeights::Dense { states, weights } => {
                weights[from as usize * *states + to as usize] += weight;
            }
            EdgeWeights::Hash(map) => {
                *map.entry((u64::from(from) << 32) | u64::from(to))
                    .or_insert(0.0) += weight;
            }
        }
    }

    /// Non-zero edges as `(key, weight)`, in arbitrary order.
    fn into_list(self) -> Vec<(u64, f64)> {
        match self {
            EdgeWeights::Dense { states, weights } => weights
                .iter()
                .enumerate()
                .filter(|(_, &w)| w > 0.0)
                .map(|(cell, &w)| ((((cell / states) as u64) << 32) | (cell % states) as u64, w))
                .collect(),
            EdgeWeights::Hash(map) => map.into_iter().collect(),
        }
    }
}

/// Accumulated weights before normalisation.
struct Counts {
    edges: EdgeWeights,
    conversions: Vec<f64>,
    nulls: Vec<f64>,
    values: Vec<f64>,
}

impl Counts {
    fn grow_to(&mut self, states: usize) {
        if self.conversions.len() < states {
            self.conversions.resize(states, 0.0);
            self.nulls.resize(states, 0.0);
            self.values.resize(states, 0.0);
        }
    }
}

/// Builds the order-`order` chain from the paths in one pass over the rows.
pub(super) fn build_chain(paths: &PathSet, order: usize) -> Result<AbsorbingChain, Error> {
    let channels = paths.channel_count();
    let base = channels as u64 + 1;
    let too_large = Error::StateSpaceTooLarge { channels, order };
    let order_u32 = u32::try_from(order).map_err(|_| too_large.clone())?;
    // Tuple keys are little-endian base-(n+1) numbers of (channel + 1), so
    // every key is below base^order and shorter tuples never collide.
    let key_space = base.checked_pow(order_u32).ok_or(too_large.clone())?;
    let top_digit = key_space / base;

    let mut index = StateIndex::new(key_space);
    let mut state_keys: Vec<u64> = vec![0]; // the start state has the empty key
    let mut counts = Counts {
        // States are (start) plus at most one per key.
        edges: EdgeWeights::new(key_space.saturating_add(1)),
        conversions: vec![0.0],
        nulls: vec![0.0],
        values: vec![0.0],
    };
    let values = paths.values();

    for row in 0..paths.len() {
        let conversions = paths.conversions()[row];
        let nulls = paths.nulls()[row];
        let weight = conversions + nulls;
        if weight <= 0.0 {
            continue;
        }
        let path = paths.path(row);
        let mut previous = START as u32;
        let mut visit = |key: u64, counts: &mut Counts| {
            let state = index.get_or_insert(key, &mut state_keys);
            if state != previous {
                counts.edges.add(previous, state, weight);
                previous = state;
            }
        };
        if path.len() < order {
            let key = path
                .iter()
                .rev()
                .fold(0u64, |key, &c| key * base + u64::from(c) + 1);
            visit(key, &mut counts);
        } else {
            let mut key = path[..order]
                .iter()
                .rev()
                .fold(0u64, |key, &c| key * base + u64::from(c) + 1);
            visit(key, &mut counts);
            for &channel in &path[order..] {
                key = key / base + (u64::from(channel) + 1) * top_digit;
                visit(key, &mut counts);
            }
        }
        counts.grow_to(state_keys.len());
        let last = previous as usize;
        counts.conversions[last] += conversions;
        counts.nulls[last] += nulls;
        if conversions > 0.0 {
            counts.values[last] += values.map_or(0.0, |v| v[row]);
        }
    }
    counts.grow_to(state_keys.len());
    Ok(normalise(counts, &state_keys, base, channels))
}

/// Turns weights into probabilities and lays the transitions out as CSR.
fn normalise(counts: Counts, state_keys: &[u64], base: u64, channels: usize) -> AbsorbingChain {
    let states = state_keys.len();
    let mut out_weight: Vec<f64> = counts
        .conversions
        .iter()
        .zip(&counts.nulls)
        .map(|(c, n)| c + n)
        .collect();
    let mut row_start = vec![0usize; states + 1];
    let edges = counts.edges.into_list();
    for &(edge, weight) in &edges {
        let from = (edge >> 32) as usize;
        row_start[from + 1] += 1;
        out_weight[from] += weight;
    }
    for s in 0..states {
        row_start[s + 1] += row_start[s];
    }
    let mut fill = row_start.clone();
    let mut targets = vec![0u32; edges.len()];
    let mut probabilities = vec![0.0; edges.len()];
    for &(edge, weight) in &edges {
        let from = (edge >> 32) as usize;
        let slot = fill[from];
        fill[from] += 1;
        targets[slot] = edge as u32;
        probabilities[slot] = weight / out_weight[from];
    }
    // Hash iteration order is arbitrary; sort each row so results do not
    // depend on it (floating-point sums are order-sensitive).
    for s in 0..states {
        let range = row_start[s]..row_start[s + 1];
        let mut row: Vec<(u32, f64)> = targets[range.clone()]
            .iter()
            .copied()
            .zip(probabilities[range.clone()].iter().copied())
            .collect();
        row.sort_unstable_by_key(|&(t, _)| t);
        for (i, (t, p)) in row.into_iter().enumerate() {
            targets[range.start + i] = t;
            probabilities[range.start + i] = p;
        }
    }
    let ratio = |numerator: &[f64]| -> Vec<f64> {
        numerator
            .iter()
            .zip(&out_weight)
            .map(|(&x, &w)| if w > 0.0 { x / w } else { 0.0 })
            .collect()
    };
    AbsorbingChain {
        row_start,
        targets,
        probabilities,
        to_conversion: ratio(&counts.conversions),
        value_on_conversion: ratio(&counts.values),
        states_of_channel: states_of_channel(state_keys, base, channels),
    }
}

fn states_of_channel(state_keys: &[u64], base: u64, channels: usize) -> Vec<Vec<u32>> {
    let mut by_channel: Vec<Vec<u32>> = vec![Vec::new(); channels];
    let mut seen: Vec<ChannelId> = Vec::new();
    for (state, &key) in state_keys.iter().enumerate().skip(1) {
        seen.clear();
        let mut rest = key;
        while rest > 0 {
            let channel = (rest % base - 1) as ChannelId;
            if !seen.contains(&channel) {
                seen.push(channel);
                by_channel[channel as usize].push(state as u32);
            }
            rest /= base;
        }
    }
    by_channel
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(rows: &[(&str, f64, f64)], order: usize) -> AbsorbingChain {
        let set =
            PathSet::parse(">", false, rows.iter().map(|&(p, c, n)| (p, c, n, None))).unwrap();
        build_chain(&set, order).unwrap()
    }

    #[test]
    fn collapses_repeats_and_weights_by_conversions_plus_nulls() {
        let c = chain(
            &[
                ("a > a > b", 3.0, 1.0),
                ("b > a", 1.0, 2.0),
                ("c", 0.0, 4.0),
            ],
            1,
        );
        // states: start, a, b, c
        assert_eq!(c.state_count(), 4);
        let (targets, probs) = c.transitions(1);
        assert_eq!(targets, [2]);
        assert!((probs[0] - 4.0 / 7.0).abs() < 1e-15);
        assert!((c.to_conversion[1] - 1.0 / 7.0).abs() < 1e-15);
        assert!((c.to_conversion[2] - 3.0 / 7.0).abs() < 1e-15);
        assert_eq!(c.to_conversion[3], 0.0);
    }

    #[test]
    fn higher_order_uses_sliding_windows_and_short_paths_as_one_state() {
        let c = chain(
            &[
                ("a > b > c", 1.0, 0.0),
                ("a", 1.0, 0.0),
                ("a > b", 0.0, 1.0),
            ],
            2,
        );
        // start, (a,b), (b,c), (a)
        assert_eq!(c.state_count(), 4);
        assert_eq!(c.states_of_channel[0], vec![1, 3]);
        assert_eq!(c.states_of_channel[1], vec![1, 2]);
        assert_eq!(c.states_of_channel[2], vec![2]);
        let (targets, probs) = c.transitions(1);
        assert_eq!(targets, [2]);
        assert!((probs[0] - 0.5).abs() < 1e-15);
    }

    #[test]
    fn rows_without_weight_add_no_transitions() {
        let c = chain(&[("a > b", 0.0, 0.0), ("b", 1.0, 0.0)], 1);
        let (targets, _) = c.transitions(START);
        assert_eq!(targets.len(), 1);
    }
}
