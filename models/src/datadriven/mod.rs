//! Data-driven and heuristic multi-touch attribution over aggregated journeys.
//!
//! This module owns the attribution *models* that work on aggregated customer
//! journeys in the ChannelAttribution format (one row per distinct path
//! `"a > b > c"` with its total conversions, total nulls and optional total
//! conversion value). It is pure computation: no IO, no clocks, no threads, no
//! global randomness, so it runs unchanged natively and in a Worker
//! (`wasm32-unknown-unknown`).
//!
//! * [`paths`]: parsing and validating the input into an interned [`PathSet`].
//! * [`mod@markov`]: Markov-chain attribution (order 1 to 4) with exact removal
//!   effects, semantically matching ChannelAttribution's `markov_model`.
//! * [`shapley`]: Shapley value attribution, unordered ("simplified") and
//!   ordered (position-aware), exact or by seeded permutation sampling.
//! * [`heuristic`]: first touch, last touch and linear attribution, matching
//!   ChannelAttribution's `heuristic_models` exactly.
//! * [`rng`]: a small seeded PRNG so sampling is reproducible everywhere.
//!
//! Every model returns per-channel credits for total conversions and, when the
//! input carries conversion values, for total value, in [`ChannelCredits`].

pub mod heuristic;
mod interner;
pub mod markov;
mod markov_chain;
mod markov_solver;
pub mod paths;
pub mod rng;
pub mod shapley;

use serde::Serialize;
use thiserror::Error;

pub use heuristic::{first_touch, heuristics, last_touch, linear, HeuristicCredits};
pub use markov::{markov, markov_with_progress, MarkovAttribution, MAX_MARKOV_ORDER};
pub use paths::{ChannelId, PathError, PathField, PathSet, PathSetBuilder};
pub use shapley::{
    shapley_ordered, shapley_simplified, OrderedShapley, ShapleyMethod, MAX_EXACT_SHAPLEY_CHANNELS,
};

/// Failures of the attribution models themselves (input parsing has its own
/// [`PathError`]).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    #[error("the input has no conversions to attribute")]
    NoConversions,
    #[error("markov order must be between 1 and {max}, got {order}")]
    UnsupportedOrder { order: usize, max: usize },
    #[error(
        "{channels} channels at markov order {order} exceed the state encoding; \
         lower the order or merge rare channels"
    )]
    StateSpaceTooLarge { channels: usize, order: usize },
    #[error(
        "the markov linear system did not converge after {sweeps} sweeps \
         (last change {last_change:e}); the chain is nearly non-absorbing"
    )]
    SolverDidNotConverge { sweeps: usize, last_change: f64 },
    #[error(
        "exact shapley supports at most {max} channels, the input has {channels}; \
         use sampling"
    )]
    TooManyChannelsForExactShapley { channels: usize, max: usize },
    #[error("shapley sampling needs at least one permutation sample")]
    ZeroShapleySamples,
}

/// The attribution of one model: credit per channel, in the [`PathSet`]'s
/// channel order (order of first appearance in the input).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelCredits {
    /// Short model label, e.g. `markov_order_2` or `last_touch`.
    pub model: String,
    pub channels: Vec<ChannelCredit>,
    /// Sum of conversions over all input rows: what the credits add up to.
    pub total_conversions: f64,
    /// Sum of conversion value over all input rows, when the input has values.
    pub total_value: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelCredit {
    pub channel: String,
    pub conversions: f64,
    /// `None` when the input has no conversion values.
    pub value: Option<f64>,
}

impl ChannelCredits {
    /// Assembles credits from per-channel vectors indexed by [`ChannelId`].
    pub(crate) fn from_vectors(
        model: impl Into<String>,
        paths: &PathSet,
        conversions: &[f64],
        values: Option<&[f64]>,
    ) -> Self {
        let channels = paths
            .channel_names()
            .iter()
            .enumerate()
            .map(|(id, name)| ChannelCredit {
                channel: name.clone(),
                conversions: conversions.get(id).copied().unwrap_or(0.0),
                value: values.map(|v| v.get(id).copied().unwrap_or(0.0)),
            })
            .collect();
        Self {
            model: model.into(),
            channels,
            total_conversions: paths.total_conversions(),
            total_value: paths.total_value(),
        }
    }

    /// Credit of one channel by name, if the channel exists.
    pub fn get(&self, channel: &str) -> Option<&ChannelCredit> {
        self.channels.iter().find(|c| c.channel == channel)
    }
}
