//! The models that run over aggregated data, with no IO and nothing else of the domain.
//!
//! This crate owns:
//! * [`datadriven`]: multi-touch attribution over aggregated channel paths in the
//!   ChannelAttribution format: Markov chains, Shapley values, first/last/linear touch;
//! * [`ltv`]: customer lifetime value from per-customer purchase summaries: the BG/NBD model
//!   (purchase frequency and drop-out) and the Gamma-Gamma model (spend per purchase), fitted
//!   by maximum likelihood, with per-customer and per-group predictions.
//!
//! It imports no other crate of the platform (events, journeys and stores live in
//! `attrib-core` and the services), so the query Worker (`wasm32-unknown-unknown`) and the
//! native CLI run the same code. No clocks, threads or global randomness: sampling takes a
//! seeded PRNG ([`datadriven::rng`]).

pub mod datadriven;
pub mod ltv;
