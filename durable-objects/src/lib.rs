//! The Durable Objects: one Journey object per app and person, and one click counter per
//! (app, IP) and (app, device) for the click-flooding rules.
//!
//! Thin by design: the objects hold SQLite storage and the calls between journeys (merges,
//! forwarding), to the origin (the outbox flush) and to ad networks (postbacks); every rule
//! lives in `attrib_core`. The ingest Worker links this crate and exports the classes.

mod alarm;
mod bounded;
mod counter;
mod dead_letters;
mod device;
mod erase;
mod event_batch;
mod export;
mod extras;
mod flush;
mod journey_object;
mod meta;
mod postbacks;
mod retention;
mod schema;
mod sql;
mod store;
mod tx;
mod unsent;

pub use counter::ClickCounter;
pub use device::DeviceTouches;
pub use journey_object::JourneyObject;
