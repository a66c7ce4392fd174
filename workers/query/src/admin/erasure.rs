//! The edge half of an erasure regulation (`DELETE_ONLY`, `SUPPRESS_WITH_DELETE`; issue 12):
//! the subjects' journeys and every journey linked to them are found first
//! (`attrib_core::privacy::erasure::LinkedJourneys`, from each journey's view), then each is
//! erased (`POST /erase` on its Durable Object: storage deleted, tombstone left, alarm
//! cleared), then their rows in D1's postback log are deleted. Each step reports its store's
//! status; a failed step leaves the later ones failed with the reason, and sending the
//! regulation again finishes the work (every step is idempotent).

use std::collections::BTreeMap;

use attrib_core::privacy::erasure::{
    subject_journey, ErasureError, LinkedJourneys, StoreStatus, EDGE_JOURNEYS_STORE,
    EDGE_POSTBACK_LOG_STORE,
};
use attrib_core::privacy::RegulationInput;
use attrib_core::protocol::{EraseReply, JourneyView, ERASE_PATH, VIEW_PATH};
use attrib_worker_common::apps::{self, DB_BINDING};
use attrib_worker_common::{config, journeys, EdgeError};
use wasm_bindgen::JsValue;
use worker::Env;

use crate::error::QueryError;
use crate::journeys::placement_of;

/// Journey names per D1 statement (D1 binds at most 100 parameters).
const NAMES_PER_DELETE: usize = 90;

#[derive(Debug, thiserror::Error)]
enum EraseError {
    #[error(transparent)]
    Walk(#[from] ErasureError),
    #[error("a journey could not be reached: {0}")]
    Edge(#[from] EdgeError),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("the app has no settings")]
    NoApp,
}

/// Runs the edge erasure of `input` in `app_id`, recording each store's status in `stores`.
pub async fn run(
    env: &Env,
    app_id: &str,
    input: &RegulationInput,
    stores: &mut BTreeMap<String, StoreStatus>,
) {
    let names = match erase_journeys(env, app_id, input).await {
        Ok(names) => {
            stores.insert(EDGE_JOURNEYS_STORE.into(), StoreStatus::Done);
            names
        }
        Err(err) => {
            worker::console_error!("app {app_id}: erasure of journeys failed: {err}");
            stores.insert(
                EDGE_JOURNEYS_STORE.into(),
                StoreStatus::failed(err.to_string()),
            );
            stores.insert(
                EDGE_POSTBACK_LOG_STORE.into(),
                StoreStatus::failed("not attempted: the journeys were not erased; send again"),
            );
            return;
        }
    };
    // After the journeys: an erased journey copies no more attempts into the log.
    let status = match delete_postback_log(env, app_id, &names).await {
        Ok(()) => StoreStatus::Done,
        Err(err) => {
            worker::console_error!("app {app_id}: erasure of the postback log failed: {err}");
            StoreStatus::failed(err.to_string())
        }
    };
    stores.insert(EDGE_POSTBACK_LOG_STORE.into(), status);
}

/// Erases every journey linked to the subjects; the names of those journeys.
async fn erase_journeys(
    env: &Env,
    app_id: &str,
    input: &RegulationInput,
) -> Result<Vec<String>, EraseError> {
    let settings = apps::app_settings(env, app_id)
        .await?
        .ok_or(EraseError::NoApp)?;
    let placement = placement_of(&settings, env)?;
    let mode = config::jurisdiction_mode(env)?;
    let starts = input
        .subject_ids
        .iter()
        .filter_map(|id| subject_journey(app_id, input.subject_type, id));
    let mut walk = LinkedJourneys::new(app_id, starts)?;
    // The whole graph first: an erased journey no longer knows its links.
    while let Some(key) = walk.next_to_visit() {
        let stub = journeys::stub(env, &key, &placement, mode)?;
        let view: JourneyView = journeys::get(&stub, VIEW_PATH).await?;
        let links = view.merged_into.iter().chain(view.merged_from.iter());
        walk.link(links.map(String::as_str))?;
    }
    let mut names = Vec::with_capacity(walk.journeys().len());
    for key in walk.journeys() {
        let stub = journeys::stub(env, key, &placement, mode)?;
        let _: EraseReply = journeys::post(&stub, ERASE_PATH, &serde_json::json!({})).await?;
        names.push(key.object_name());
    }
    Ok(names)
}

async fn delete_postback_log(env: &Env, app_id: &str, names: &[String]) -> Result<(), QueryError> {
    let db = env.d1(DB_BINDING)?;
    let mut statements = Vec::new();
    for chunk in names.chunks(NAMES_PER_DELETE) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("?{}", i + 2)).collect();
        let mut binds = vec![JsValue::from_str(app_id)];
        binds.extend(chunk.iter().map(|n| JsValue::from_str(n)));
        statements.push(
            db.prepare(format!(
                "DELETE FROM postback_attempts WHERE app_id = ?1 AND journey IN ({})",
                marks.join(", ")
            ))
            .bind(&binds)?,
        );
    }
    if !statements.is_empty() {
        db.batch(statements).await?;
    }
    Ok(())
}
