//! Rule-based attribution on the same path input as the data-driven models,
//! defined exactly as ChannelAttribution's `heuristic_models`:
//!
//! * first touch: all of a row's conversions (and value) go to its first channel;
//! * last touch: all go to its last channel;
//! * linear: every touchpoint gets an equal share, so a channel appearing `k`
//!   times in a path of `n` touchpoints gets `k / n` of the row. Repeats are
//!   *not* collapsed, matching ChannelAttribution.
//!
//! They serve as baselines next to Markov and Shapley, and as a cheap sanity
//! check that inputs were read identically by both implementations.

use super::{ChannelCredits, PathSet};

/// The three heuristic attributions, computed in one pass.
#[derive(Debug, Clone, PartialEq)]
pub struct HeuristicCredits {
    pub first_touch: ChannelCredits,
    pub last_touch: ChannelCredits,
    pub linear: ChannelCredits,
}

/// Per-channel accumulators for one heuristic rule.
struct Tally {
    conversions: Vec<f64>,
    values: Option<Vec<f64>>,
}

impl Tally {
    fn new(paths: &PathSet) -> Self {
        let n = paths.channel_count();
        Self {
            conversions: vec![0.0; n],
            values: paths.has_values().then(|| vec![0.0; n]),
        }
    }

    fn add(&mut self, channel: u32, conversions: f64, value: f64) {
        let channel = channel as usize;
        self.conversions[channel] += conversions;
        if let Some(values) = self.values.as_mut() {
            values[channel] += value;
        }
    }

    fn into_credits(self, model: &str, paths: &PathSet) -> ChannelCredits {
        ChannelCredits::from_vectors(model, paths, &self.conversions, self.values.as_deref())
    }
}

/// First touch, last touch and linear attribution in a single pass.
pub fn heuristics(paths: &PathSet) -> HeuristicCredits {
    let mut first = Tally::new(paths);
    let mut last = Tally::new(paths);
    let mut linear = Tally::new(paths);
    let mut per_channel_touches: Vec<u32> = vec![0; paths.channel_count()];
    let mut touched: Vec<u32> = Vec::new();
    for row in 0..paths.len() {
        let path = paths.path(row);
        let (Some(&head), Some(&tail)) = (path.first(), path.last()) else {
            continue;
        };
        let conversions = paths.conversions()[row];
        let value = paths.values().map_or(0.0, |v| v[row]);
        first.add(head, conversions, value);
        last.add(tail, conversions, value);
        for &channel in path {
            if per_channel_touches[channel as usize] == 0 {
                touched.push(channel);
            }
            per_channel_touches[channel as usize] += 1;
        }
        let len = path.len() as f64;
        for channel in touched.drain(..) {
            let touches = f64::from(std::mem::take(&mut per_channel_touches[channel as usize]));
            // Same arithmetic as ChannelAttribution: (sum of the row over the
            // channel's touches) / path length.
            linear.add(channel, conversions * touches / len, value * touches / len);
        }
    }
    HeuristicCredits {
        first_touch: first.into_credits("first_touch", paths),
        last_touch: last.into_credits("last_touch", paths),
        linear: linear.into_credits("linear", paths),
    }
}

pub fn first_touch(paths: &PathSet) -> ChannelCredits {
    heuristics(paths).first_touch
}

pub fn last_touch(paths: &PathSet) -> ChannelCredits {
    heuristics(paths).last_touch
}

pub fn linear(paths: &PathSet) -> ChannelCredits {
    heuristics(paths).linear
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PathSet {
        PathSet::parse(
            ">",
            true,
            [
                ("a > b > a", 3.0, 1.0, Some(30.0)),
                ("b", 1.0, 0.0, Some(5.0)),
                ("c > b", 0.0, 4.0, Some(0.0)),
            ],
        )
        .unwrap()
    }

    #[test]
    fn first_and_last_touch_give_whole_rows() {
        let h = heuristics(&sample());
        let first = |c: &str| h.first_touch.get(c).unwrap().conversions;
        let last = |c: &str| h.last_touch.get(c).unwrap().conversions;
        assert_eq!((first("a"), first("b"), first("c")), (3.0, 1.0, 0.0));
        assert_eq!((last("a"), last("b"), last("c")), (3.0, 1.0, 0.0));
        assert_eq!(h.first_touch.get("a").unwrap().value, Some(30.0));
    }

    #[test]
    fn linear_counts_repeated_touches() {
        let h = heuristics(&sample());
        let a = h.linear.get("a").unwrap();
        let b = h.linear.get("b").unwrap();
        assert!((a.conversions - 2.0).abs() < 1e-12);
        assert!((b.conversions - 2.0).abs() < 1e-12);
        assert!((a.value.unwrap() - 20.0).abs() < 1e-12);
        assert!((b.value.unwrap() - 15.0).abs() < 1e-12);
    }

    #[test]
    fn every_rule_conserves_total_conversions() {
        let set = sample();
        let h = heuristics(&set);
        for credits in [&h.first_touch, &h.last_touch, &h.linear] {
            let sum: f64 = credits.channels.iter().map(|c| c.conversions).sum();
            assert!((sum - set.total_conversions()).abs() < 1e-9);
        }
    }
}
