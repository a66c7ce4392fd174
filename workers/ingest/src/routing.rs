//! Worker-side routing config: the path prefixes ingest is served under (first-party
//! collection) and the public URL SDKs are pointed back at. The rules are pure in
//! `attrib_core::ingest_route`; this only reads the vars.

use attrib_core::ingest_route::parse_path_prefixes;
use attrib_worker_common::{config, EdgeError};

/// Comma-separated path prefixes stripped before routing, e.g. `/t` for a route
/// `shop.example/t/*` on the customer's own domain (see README, "First-party collection").
pub const PATH_PREFIXES: &str = "PATH_PREFIXES";
/// The URL SDKs reach ingest at (scheme, host, optional path prefix), for the settings document;
/// without it the request's own scheme, host and prefix are used.
pub const PUBLIC_INGEST_URL: &str = "PUBLIC_INGEST_URL";

pub fn path_prefixes(env: &worker::Env) -> Result<Vec<String>, EdgeError> {
    match config::var(env, PATH_PREFIXES) {
        None => Ok(Vec::new()),
        Some(raw) => parse_path_prefixes(&raw).map_err(|err| EdgeError::Config {
            name: PATH_PREFIXES,
            reason: err.reason,
        }),
    }
}
