//! What the ingest Worker, the query Worker and the Journey Durable Object share: reaching a
//! journey (stub, placement, jurisdiction), reading `request.cf`, apps and keys in D1, the
//! edge configuration, and the JSON error shape every endpoint answers with.
//!
//! It exists so the query Worker can talk to journeys without linking the Durable Object
//! crate (whose classes would otherwise be exported by both Workers).

pub mod apps;
pub mod config;
pub mod edge_facts;
pub mod error;
pub mod geo;
pub mod journeys;
pub mod lru;
pub mod response;
pub mod signed;
pub mod suppression;

pub use error::EdgeError;
pub mod body;
pub mod random;
