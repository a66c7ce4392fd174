//! Shapley value attribution (Zhao, Mahboobi & Bagheri 2018, "Shapley Value
//! Methods for Attribution Modeling in Online Advertising").
//!
//! Players are channels. For a set of channels `T`, `R(T)` is the
//! conversions (or value) of the rows whose *set* of channels is exactly `T`
//! (order and repeats ignored). The characteristic function is
//! `v(S) = sum of R(T) over all T ⊆ S`: what the coalition `S` converts on
//! its own. The Shapley value is the textbook
//!
//! `phi_c = sum over S ⊆ N \ {c} of |S|! (n - |S| - 1)! / n! * (v(S ∪ {c}) - v(S))`.
//!
//! * [`ShapleyMethod::Exact`] evaluates that sum literally: `v` on all `2^n`
//!   coalitions (subset-sum transform), `O(n 2^n)` time and `2^n` memory, so
//!   it is limited to [`MAX_EXACT_SHAPLEY_CHANNELS`] channels that carry
//!   conversions or value.
//! * [`ShapleyMethod::Sampled`] averages marginal contributions over
//!   `permutations` uniformly random channel orders drawn from `seed`
//!   (xoshiro256**, Fisher-Yates), taken as antithetic pairs (each drawn
//!   order is also used reversed, which balances two-channel sets exactly and
//!   cuts the variance of the rest). In one order, the marginal contribution
//!   of `c` is the sum of `R(T)` over the observed sets `T` in which `c`
//!   arrives last, so a sample costs `O(sum of |T|)` and every sample is
//!   efficient (credits add up to the total exactly). The standard error of a
//!   credit is at most `total / (2 sqrt(permutations))`. Cost is
//!   `permutations x sum of |T|` over the distinct channel sets, so choose
//!   the sample count with the input size in mind.
//!
//! Because `v` is a sum of unanimity games, the exact result equals Zhao's
//! simplified formula `phi_c = sum over T ∋ c of R(T) / |T|`; the tests use it
//! as an independent oracle. [`ShapleyMethod::ClosedForm`] computes exactly
//! that, in `O(sum of |T|)` and for any number of channels: it is what the
//! query Worker uses, since an app's sources (every referring site is one)
//! easily outnumber the enumeration's limit.
//!
//! The ordered form ([`shapley_ordered`]) is Zhao's "ordered Shapley value":
//! it splits each channel's credit by touchpoint position. A row with set `T`
//! gives channel `c` the share `s_c(T)` of its conversions (`1 / |T|` exactly,
//! or the sampled frequency of `c` arriving last among `T`), spread evenly
//! over the positions where `c` occurs in that row. Per-channel totals equal
//! the unordered result of the same method.

use std::collections::HashMap;

use serde::Serialize;

use super::rng::{FxBuildHasher, Xoshiro256StarStar};
use super::{ChannelCredits, ChannelId, Error, PathSet};

/// Most channels (with any conversions or value) [`ShapleyMethod::Exact`]
/// accepts: `2^20` coalitions is 8 MiB per measure and ~20M updates.
pub const MAX_EXACT_SHAPLEY_CHANNELS: usize = 20;

/// How to evaluate the Shapley value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ShapleyMethod {
    /// Enumerate every coalition (at most [`MAX_EXACT_SHAPLEY_CHANNELS`]).
    Exact,
    /// Monte Carlo over `permutations` random channel orders from `seed`.
    Sampled { permutations: u32, seed: u64 },
    /// Zhao's closed form `sum over T ∋ c of R(T) / |T|`: exact for this game at any size.
    ClosedForm,
}

impl ShapleyMethod {
    /// Exact when `paths` is small enough, otherwise sampling.
    pub fn auto(paths: &PathSet, permutations: u32, seed: u64) -> Self {
        if Coalitions::from_paths(paths).players.len() <= MAX_EXACT_SHAPLEY_CHANNELS {
            ShapleyMethod::Exact
        } else {
            ShapleyMethod::Sampled { permutations, seed }
        }
    }
}

/// Position-resolved Shapley credits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderedShapley {
    /// Per-channel totals (equal to [`shapley_simplified`] with the same method).
    pub credits: ChannelCredits,
    /// `conversions_by_position[channel][i]`: credit earned at touchpoint `i + 1`.
    pub conversions_by_position: Vec<Vec<f64>>,
    /// Same for value, when the input has values.
    pub value_by_position: Option<Vec<Vec<f64>>>,
}

/// Unordered ("simplified") Shapley attribution.
pub fn shapley_simplified(paths: &PathSet, method: ShapleyMethod) -> Result<ChannelCredits, Error> {
    let coalitions = Coalitions::from_paths(paths);
    let (conversions, values) = match method {
        ShapleyMethod::Exact => {
            let conversions = exact_by_enumeration(&coalitions, &coalitions.conversions, paths)?;
            let values = match &coalitions.values {
                Some(v) => Some(exact_by_enumeration(&coalitions, v, paths)?),
                None => None,
            };
            (conversions, values)
        }
        ShapleyMethod::Sampled { .. } | ShapleyMethod::ClosedForm => {
            let shares = member_shares(&coalitions, method)?;
            let per_channel = |measure: &[f64]| {
                let mut credit = vec![0.0; paths.channel_count()];
                for (t, members) in coalitions.members.iter().enumerate() {
                    for (i, &c) in members.iter().enumerate() {
                        credit[c as usize] += measure[t] * shares[t][i];
                    }
                }
                credit
            };
            let values = coalitions.values.as_deref().map(per_channel);
            (per_channel(&coalitions.conversions), values)
        }
    };
    Ok(ChannelCredits::from_vectors(
        model_name("shapley", method),
        paths,
        &conversions,
        values.as_deref(),
    ))
}

/// Ordered (position-aware) Shapley attribution.
pub fn shapley_ordered(paths: &PathSet, method: ShapleyMethod) -> Result<OrderedShapley, Error> {
    let coalitions = Coalitions::from_paths(paths);
    let shares = member_shares(&coalitions, method)?;
    let channels = paths.channel_count();
    let positions = paths.max_path_len();
    let mut by_position = vec![vec![0.0; positions]; channels];
    let mut value_by_position = paths
        .has_values()
        .then(|| vec![vec![0.0; positions]; channels]);
    let mut occurrences: Vec<u32> = vec![0; channels];
    for row in 0..paths.len() {
        let path = paths.path(row);
        let t = coalitions.row_coalition[row];
        let members = &coalitions.members[t];
        for &c in path {
            occurrences[c as usize] += 1;
        }
        let conversions = paths.conversions()[row];
        let value = paths.values().map_or(0.0, |v| v[row]);
        for (position, &c) in path.iter().enumerate() {
            let i = members.binary_search(&c).unwrap_or(0);
            let weight = shares[t][i] / f64::from(occurrences[c as usize]);
            by_position[c as usize][position] += conversions * weight;
            if let Some(v) = value_by_position.as_mut() {
                v[c as usize][position] += value * weight;
            }
        }
        for &c in path {
            occurrences[c as usize] = 0;
        }
    }
    let total =
        |table: &Vec<Vec<f64>>| -> Vec<f64> { table.iter().map(|p| p.iter().sum()).collect() };
    let conversions = total(&by_position);
    let values = value_by_position.as_ref().map(total);
    Ok(OrderedShapley {
        credits: ChannelCredits::from_vectors(
            model_name("shapley_ordered", method),
            paths,
            &conversions,
            values.as_deref(),
        ),
        conversions_by_position: by_position,
        value_by_position,
    })
}

fn model_name(base: &str, method: ShapleyMethod) -> String {
    match method {
        ShapleyMethod::Exact | ShapleyMethod::ClosedForm => base.to_owned(),
        ShapleyMethod::Sampled { .. } => format!("{base}_sampled"),
    }
}

/// Distinct channel sets of the rows with their measures `R(T)`.
struct Coalitions {
    /// Sorted distinct channels of each observed set.
    members: Vec<Vec<ChannelId>>,
    conversions: Vec<f64>,
    values: Option<Vec<f64>>,
    /// Coalition index of each row.
    row_coalition: Vec<usize>,
    /// Channels appearing in a set with non-zero conversions or value.
    players: Vec<ChannelId>,
}

impl Coalitions {
    fn from_paths(paths: &PathSet) -> Self {
        let mut index: HashMap<Vec<ChannelId>, usize, FxBuildHasher> = HashMap::default();
        let mut coalitions = Coalitions {
            members: Vec::new(),
            conversions: Vec::new(),
            values: paths.has_values().then(Vec::new),
            row_coalition: Vec::with_capacity(paths.len()),
            players: Vec::new(),
        };
        let mut set: Vec<ChannelId> = Vec::new();
        for row in 0..paths.len() {
            set.clear();
            set.extend_from_slice(paths.path(row));
            set.sort_unstable();
            set.dedup();
            let t = match index.get(&set) {
                Some(&t) => t,
                None => {
                    let t = coalitions.members.len();
                    index.insert(set.clone(), t);
                    coalitions.members.push(set.clone());
                    coalitions.conversions.push(0.0);
                    if let Some(v) = coalitions.values.as_mut() {
                        v.push(0.0);
                    }
                    t
                }
            };
            coalitions.conversions[t] += paths.conversions()[row];
            if let (Some(v), Some(row_values)) = (coalitions.values.as_mut(), paths.values()) {
                v[t] += row_values[row];
            }
            coalitions.row_coalition.push(t);
        }
        let mut is_player = vec![false; paths.channel_count()];
        for (t, members) in coalitions.members.iter().enumerate() {
            let value = coalitions.values.as_ref().map_or(0.0, |v| v[t]);
            if coalitions.conversions[t] > 0.0 || value > 0.0 {
                for &c in members {
                    is_player[c as usize] = true;
                }
            }
        }
        coalitions.players = (0..paths.channel_count() as ChannelId)
            .filter(|&c| is_player[c as usize])
            .collect();
        coalitions
    }
}

/// The textbook Shapley sum over all coalitions of the players.
fn exact_by_enumeration(
    coalitions: &Coalitions,
    measure: &[f64],
    paths: &PathSet,
) -> Result<Vec<f64>, Error> {
    let players = &coalitions.players;
    let n = players.len();
    if n > MAX_EXACT_SHAPLEY_CHANNELS {
        return Err(Error::TooManyChannelsForExactShapley {
            channels: n,
            max: MAX_EXACT_SHAPLEY_CHANNELS,
        });
    }
    let mut bit_of = vec![None; paths.channel_count()];
    for (bit, &c) in players.iter().enumerate() {
        bit_of[c as usize] = Some(bit);
    }
    // v starts as R on the observed sets, then becomes sum over subsets.
    let mut v = vec![0.0f64; 1usize << n];
    for (t, members) in coalitions.members.iter().enumerate() {
        if measure[t] == 0.0 {
            continue;
        }
        let mask = members
            .iter()
            .filter_map(|&c| bit_of[c as usize])
            .fold(0usize, |mask, bit| mask | (1 << bit));
        v[mask] += measure[t];
    }
    for bit in 0..n {
        for mask in 0..v.len() {
            if mask & (1 << bit) != 0 {
                v[mask] += v[mask ^ (1 << bit)];
            }
        }
    }
    // weight[s] = s! (n - s - 1)! / n! = 1 / (n * C(n - 1, s))
    let mut weight = vec![0.0f64; n.max(1)];
    let mut binomial = 1.0f64;
    for (s, w) in weight.iter_mut().enumerate() {
        *w = 1.0 / (n as f64 * binomial);
        if s + 1 < n {
            binomial = binomial * (n - 1 - s) as f64 / (s + 1) as f64;
        }
    }
    let mut credit = vec![0.0; paths.channel_count()];
    for (bit, &c) in players.iter().enumerate() {
        let mut phi = 0.0;
        for mask in 0..v.len() {
            if mask & (1 << bit) == 0 {
                let size = mask.count_ones() as usize;
                phi += weight[size] * (v[mask | (1 << bit)] - v[mask]);
            }
        }
        credit[c as usize] = phi;
    }
    Ok(credit)
}

/// `shares[t][i]`: the Shapley share of member `i` of set `t` in the
/// unanimity game on `t` (exact `1/|t|`, or sampled last-arrival frequency).
fn member_shares(coalitions: &Coalitions, method: ShapleyMethod) -> Result<Vec<Vec<f64>>, Error> {
    match method {
        ShapleyMethod::Exact => {
            if coalitions.players.len() > MAX_EXACT_SHAPLEY_CHANNELS {
                return Err(Error::TooManyChannelsForExactShapley {
                    channels: coalitions.players.len(),
                    max: MAX_EXACT_SHAPLEY_CHANNELS,
                });
            }
            Ok(coalitions
                .members
                .iter()
                .map(|m| vec![1.0 / m.len() as f64; m.len()])
                .collect())
        }
        ShapleyMethod::ClosedForm => Ok(coalitions
            .members
            .iter()
            .map(|m| vec![1.0 / m.len() as f64; m.len()])
            .collect()),
        ShapleyMethod::Sampled { permutations, seed } => {
            if permutations == 0 {
                return Err(Error::ZeroShapleySamples);
            }
            Ok(sampled_shares(coalitions, permutations, seed))
        }
    }
}

fn sampled_shares(coalitions: &Coalitions, permutations: u32, seed: u64) -> Vec<Vec<f64>> {
    let mut rng = Xoshiro256StarStar::seed_from_u64(seed);
    let channel_count = coalitions
        .members
        .iter()
        .flat_map(|m| m.iter())
        .map(|&c| c as usize + 1)
        .max()
        .unwrap_or(0);
    let mut order: Vec<u32> = (0..channel_count as u32).collect();
    let mut arrival = vec![0u32; channel_count];
    let mut wins: Vec<Vec<u32>> = coalitions
        .members
        .iter()
        .map(|m| vec![0; m.len()])
        .collect();
    // Sets without conversions or value get no credit whatever their shares:
    // skipping them saves most of the work on typical inputs.
    let carries_measure: Vec<bool> = (0..coalitions.members.len())
        .map(|t| {
            coalitions.conversions[t] > 0.0
                || coalitions.values.as_ref().is_some_and(|v| v[t] > 0.0)
        })
        .collect();
    let mut remaining = permutations;
    while remaining > 0 {
        rng.shuffle(&mut order);
        for (rank, &c) in order.iter().enumerate() {
            arrival[c as usize] = rank as u32;
        }
        // Antithetic pair: the reversed order is also a uniform permutation,
        // and in it the first arrival of each set is the last one.
        let use_reverse = remaining >= 2;
        for ((members, wins), _) in coalitions
            .members
            .iter()
            .zip(wins.iter_mut())
            .zip(&carries_measure)
            .filter(|(_, &carries)| carries)
        {
            let (mut last, mut first) = (0, 0);
            for (i, &c) in members.iter().enumerate() {
                let at = arrival[c as usize];
                if at > arrival[members[last] as usize] {
                    last = i;
                }
                if at < arrival[members[first] as usize] {
                    first = i;
                }
            }
            wins[last] += 1;
            if use_reverse {
                wins[first] += 1;
            }
        }
        remaining -= if use_reverse { 2 } else { 1 };
    }
    let samples = f64::from(permutations);
    wins.into_iter()
        .zip(&carries_measure)
        .map(|(w, &carries)| {
            let members = w.len() as f64;
            w.into_iter()
                .map(|count| {
                    if carries {
                        f64::from(count) / samples
                    } else {
                        1.0 / members
                    }
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests;
