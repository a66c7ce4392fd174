//! The Durable Objects: one Journey object per app and person.
//!
//! Thin by design: the object holds SQLite storage and the calls between journeys (merges,
//! forwarding) and to the origin (the outbox flush); every rule lives in `attrib_core`. The
//! ingest Worker links this crate and exports the classes.

mod flush;
mod journey_object;
mod meta;
mod schema;
mod store;
mod tx;

pub use journey_object::JourneyObject;
