//! Sending edge facts (verified SKAN postbacks, spend rows) to the origin through an edge
//! journey's outbox (`attrib_core::outbox`, "Edge facts", says why not a direct POST).
//!
//! Each app has one edge journey per kind of fact (`e:{app}:skan`, `e:{app}:spend`), placed
//! as the app's residency says (no request geography: the facts are not a visitor's), so the
//! facts go to the origin region of the app's other data.

use attrib_core::geo::{place, RequestGeo};
use attrib_core::identity::{JourneyKey, JourneyKind};
use attrib_core::limits::MAX_EDGE_FACTS_PER_REQUEST;
use attrib_core::outbox::OutboxRecord;
use attrib_core::protocol::{EdgeFactsReply, EdgeFactsRequest, EDGE_FACTS_PATH};
use attrib_core::settings::Residency;
use worker::Env;

use crate::{config, journeys, EdgeError};

/// The edge journey of `app_id`'s facts of `what` (`skan`, `spend`).
pub fn edge_key(app_id: &str, what: &str) -> JourneyKey {
    JourneyKey::new(app_id, JourneyKind::Edge, what)
}

/// Queues `records` (all of `app_id`, all edge facts) in the edge journey for `what`, in
/// requests of at most [`MAX_EDGE_FACTS_PER_REQUEST`]; returns how many were queued. When it
/// returns `Ok`, every record is stored in the object and will reach the origin.
pub async fn queue(
    env: &Env,
    app_id: &str,
    residency: Residency,
    what: &str,
    records: Vec<OutboxRecord>,
) -> Result<usize, EdgeError> {
    let key = edge_key(app_id, what);
    let placement = place(
        &RequestGeo::default(),
        residency,
        config::default_region(env)?,
    );
    let stub = journeys::stub(env, &key, &placement, config::jurisdiction_mode(env)?)?;
    let mut queued = 0;
    let mut records = records;
    while !records.is_empty() {
        let rest = records.split_off(records.len().min(MAX_EDGE_FACTS_PER_REQUEST));
        let request = EdgeFactsRequest {
            key: key.clone(),
            placement,
            records,
        };
        let reply: EdgeFactsReply = journeys::post(&stub, EDGE_FACTS_PATH, &request).await?;
        queued += reply.queued;
        records = rest;
    }
    Ok(queued)
}
