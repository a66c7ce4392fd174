//! The domain of the edge attribution platform, with no IO at all.
//!
//! Everything here is a rule that can be tested without a network: decoding and validating
//! Segment payloads, the identity model, turning events into touches, attribution windows and
//! models, fraud rules, re-attribution and re-engagement windows, postback planning,
//! geo-routing policy, the contracts between the edge, the Durable Objects and the origin. It compiles to `wasm32-unknown-unknown` (for the Workers) and natively (for the
//! origin and the tools); it depends on neither `worker` nor tokio. IO happens behind the
//! traits it defines ([`journey::JourneyStore`]), implemented by the crates at the edges.

pub mod app_retention;
pub mod attribution;
pub mod cohorts;
pub mod conversion;
pub mod currency;
pub mod decompress;
pub mod error;
pub mod event;
pub mod fraud;
pub mod geo;
pub mod hrana;
pub mod identity;
pub mod ingest_route;
pub mod journey;
pub mod keys;
pub mod lifecycle;
pub mod limits;
pub mod link_user;
pub mod manage;
pub mod message_id;
pub mod mobile;
pub mod outbox;
pub mod outbox_delivery;
pub mod postback;
pub mod privacy;
pub mod protocol;
pub mod ratelimit;
pub mod rollup;
pub mod sdk_settings;
pub mod segment;
pub mod settings;
pub mod signing;
pub mod spend;
pub mod time;
pub mod touch;

#[cfg(test)]
mod testkit;

pub use error::FieldError;
