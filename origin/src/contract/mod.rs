//! The outbox contract as the origin reads it: borrowed views of `attrib_core::outbox`
//! records ([`view`]), parsed once at intake, and the names the sinks store for its enums
//! ([`names`]). The JSON shape is `attrib_core`'s; nothing here may accept what it refuses.

pub mod names;
pub mod view;

#[cfg(test)]
mod tests;

pub use view::{parse_record, RecordView, Refused};
