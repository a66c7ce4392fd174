//! The edge half of an erasure regulation (`DELETE_ONLY`, `SUPPRESS_WITH_DELETE`; issue 12):
//! the subjects' journeys and every journey linked to them are found first
//! (`attrib_core::privacy::erasure::LinkedJourneys`, from each journey's view), then each is
//! erased (`POST /erase` on its Durable Object: storage deleted, tombstone left, alarm
//! cleared), then their rows in D1's postback log are deleted. Each step reports its store's
//! status; a failed step leaves the later ones failed with the reason, and sending the
//! regulation again finishes the work (every step is idempotent). Last, every origin is asked
//! (`POST /v1/erase`, signed with the outbox keys) to delete the journeys' rows, and answers
//! per store.
//!
//! A `DEVICE_ID` erasure names no journey: it empties the device-touches objects of the
//! advertising ids (`POST /erase`), store `edge_device_touches`.

use std::collections::BTreeMap;

use attrib_core::geo::Jurisdiction;
use attrib_core::geo::Placement;
use attrib_core::identity::JourneyKey;
use attrib_core::mobile::device::DEVICE_ERASE_PATH;
use attrib_core::privacy::erasure::{
    device_object_names, subject_journey, ErasureError, LinkedJourneys, OriginErasure,
    OriginErasureReply, StoreStatus, EDGE_DEVICE_TOUCHES_STORE, EDGE_JOURNEYS_STORE,
    EDGE_POSTBACK_LOG_STORE, ORIGIN_ERASE_PATH, ORIGIN_STORE,
};
use attrib_core::privacy::residency::log_names;
use attrib_core::privacy::{RegulationInput, SubjectType};
use attrib_core::protocol::{EraseReply, EraseRequest, JourneyView, ERASE_PATH, VIEW_PATH};
use attrib_core::settings::Residency;
use attrib_core::signing::Direction;
use attrib_worker_common::apps::{self, DB_BINDING};
use attrib_worker_common::config::JurisdictionMode;
use attrib_worker_common::{config, journeys, signed, EdgeError};
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
    #[error("the origin answered {status}: {body}")]
    Origin { status: u16, body: String },
    #[error(
        "DEVICE_ID_SECRET is not set for the query Worker: the device objects cannot be named"
    )]
    NoDeviceSecret,
}

/// Runs the edge erasure of `input` in `app_id`, recording each store's status in `stores`.
pub async fn run(
    env: &Env,
    app_id: &str,
    input: &RegulationInput,
    stores: &mut BTreeMap<String, StoreStatus>,
) {
    if input.subject_type == SubjectType::DeviceId {
        let status = match erase_devices(env, app_id, input).await {
            Ok(()) => StoreStatus::Done,
            Err(err) => {
                worker::console_error!("app {app_id}: erasure of device objects failed: {err}");
                StoreStatus::failed(err.to_string())
            }
        };
        stores.insert(EDGE_DEVICE_TOUCHES_STORE.into(), status);
        return;
    }
    let reached = match erase_journeys(env, app_id, input).await {
        Ok(reached) => {
            stores.insert(EDGE_JOURNEYS_STORE.into(), StoreStatus::Done);
            reached
        }
        Err(err) => {
            worker::console_error!("app {app_id}: erasure of journeys failed: {err}");
            stores.insert(
                EDGE_JOURNEYS_STORE.into(),
                StoreStatus::failed(err.to_string()),
            );
            let later =
                StoreStatus::failed("not attempted: the journeys were not erased; send again");
            stores.insert(EDGE_POSTBACK_LOG_STORE.into(), later.clone());
            stores.insert(ORIGIN_STORE.into(), later);
            return;
        }
    };
    let names: Vec<String> = reached.keys.iter().map(JourneyKey::object_name).collect();
    // After the journeys: an erased journey copies no more attempts into the log.
    let status = match delete_postback_log(env, app_id, &names).await {
        Ok(()) => StoreStatus::Done,
        Err(err) => {
            worker::console_error!("app {app_id}: erasure of the postback log failed: {err}");
            StoreStatus::failed(err.to_string())
        }
    };
    stores.insert(EDGE_POSTBACK_LOG_STORE.into(), status);
    // Last: the journeys made their last outbox records before they were erased.
    erase_at_origins(env, app_id, names, stores).await;
    // Every store done: the journeys forget their links. Otherwise they keep them, so that
    // the regulation sent again reaches every journey (and forgets them then).
    if stores.values().all(|s| *s == StoreStatus::Done) {
        if let Err(err) = post_erase(env, &reached, true).await {
            worker::console_error!("app {app_id}: erased journeys kept their links: {err}");
        }
    }
}

/// The journeys an erasure reached, and how the query Worker addresses them.
struct Reached {
    keys: Vec<JourneyKey>,
    placement: Placement,
    mode: JurisdictionMode,
}

async fn post_erase(env: &Env, reached: &Reached, forget_links: bool) -> Result<(), EraseError> {
    let request = EraseRequest { forget_links };
    for key in &reached.keys {
        let stub = journeys::stub(env, key, &reached.placement, reached.mode)?;
        let _: EraseReply = journeys::post(&stub, ERASE_PATH, &request).await?;
    }
    Ok(())
}

/// Asks every configured origin to delete the journeys' rows; each origin store's status
/// replaces the `origin` placeholder (named `<store>@<region>` when there are several origins).
async fn erase_at_origins(
    env: &Env,
    app_id: &str,
    journeys: Vec<String>,
    stores: &mut BTreeMap<String, StoreStatus>,
) {
    let origins = match origin_urls(env) {
        Ok(origins) if !origins.is_empty() => origins,
        Ok(_) => {
            stores.insert(
                ORIGIN_STORE.into(),
                StoreStatus::failed(
                    "ORIGIN_URLS is not set for the query Worker: the origin was not asked",
                ),
            );
            return;
        }
        Err(err) => {
            stores.insert(ORIGIN_STORE.into(), StoreStatus::failed(err.to_string()));
            return;
        }
    };
    let request = OriginErasure {
        app_id: app_id.to_owned(),
        journeys,
    };
    let several = origins.len() > 1;
    let mut failures = Vec::new();
    let mut answered = BTreeMap::new();
    for (region, url) in &origins {
        match ask_origin(env, url, &request).await {
            Ok(reply) => {
                for (store, status) in reply.stores {
                    let name = if several {
                        format!("{store}@{region}")
                    } else {
                        store
                    };
                    answered.insert(name, status);
                }
            }
            Err(err) => {
                worker::console_error!("app {app_id}: origin {region} erasure failed: {err}");
                failures.push(format!("{region}: {err}"));
            }
        }
    }
    stores.remove(ORIGIN_STORE);
    stores.extend(answered);
    if !failures.is_empty() {
        stores.insert(
            ORIGIN_STORE.into(),
            StoreStatus::failed(format!("{}; send again", failures.join("; "))),
        );
    }
}

/// Region → origin base URL, each URL once (regions may share an origin).
fn origin_urls(env: &Env) -> Result<BTreeMap<String, String>, EdgeError> {
    let Some(raw) = config::var(env, config::ORIGIN_URLS) else {
        return Ok(BTreeMap::new());
    };
    let urls: BTreeMap<String, String> =
        serde_json::from_str(&raw).map_err(|e| EdgeError::Config {
            name: config::ORIGIN_URLS,
            reason: e.to_string(),
        })?;
    let mut seen = Vec::new();
    Ok(urls
        .into_iter()
        .filter_map(|(region, url)| {
            let url = url.trim_end_matches('/').to_owned();
            (!seen.contains(&url)).then(|| {
                seen.push(url.clone());
                (region, url)
            })
        })
        .collect())
}

async fn ask_origin(
    env: &Env,
    base: &str,
    request: &OriginErasure,
) -> Result<OriginErasureReply, EraseError> {
    let keys = signed::keyring(env, Direction::Outbox)?;
    let body = serde_json::to_string(request).map_err(EdgeError::from)?;
    let mut response = signed::post_signed(base, ORIGIN_ERASE_PATH, &keys, &body).await?;
    let status = response.status_code();
    let text = response.text().await.map_err(EdgeError::from)?;
    if !(200..300).contains(&status) {
        return Err(EraseError::Origin {
            status,
            body: text.chars().take(500).collect(),
        });
    }
    Ok(serde_json::from_str(&text).map_err(EdgeError::from)?)
}

/// Empties the device-touches objects of each device id, as an advertising and as a vendor id
/// (in the EU jurisdiction for an EU app, where the ingest Worker keeps them).
async fn erase_devices(env: &Env, app_id: &str, input: &RegulationInput) -> Result<(), EraseError> {
    let secret = config::secret(env, config::DEVICE_ID_SECRET).ok_or(EraseError::NoDeviceSecret)?;
    let settings = apps::app_settings(env, app_id)
        .await?
        .ok_or(EraseError::NoApp)?;
    let jurisdiction = (settings.residency == Residency::Eu).then_some(Jurisdiction::Eu);
    let mode = config::jurisdiction_mode(env)?;
    let namespace = journeys::namespace_of(env, config::DEVICE_BINDING, jurisdiction, mode)?;
    for name in device_object_names(secret.as_bytes(), app_id, &input.subject_ids) {
        let stub = namespace
            .id_from_name(&name)
            .and_then(|id| id.get_stub())
            .map_err(EdgeError::from)?;
        let _: serde_json::Value =
            journeys::post(&stub, DEVICE_ERASE_PATH, &serde_json::json!({})).await?;
    }
    Ok(())
}

/// Erases every journey linked to the subjects (their links kept for now).
async fn erase_journeys(
    env: &Env,
    app_id: &str,
    input: &RegulationInput,
) -> Result<Reached, EraseError> {
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
    // The whole graph first: nothing is erased if it is larger than the bound.
    while let Some(key) = walk.next_to_visit() {
        let stub = journeys::stub(env, &key, &placement, mode)?;
        let view: JourneyView = journeys::get(&stub, VIEW_PATH).await?;
        let links = view.merged_into.iter().chain(view.merged_from.iter());
        walk.link(links.map(String::as_str))?;
    }
    let reached = Reached {
        keys: walk.journeys().to_vec(),
        placement,
        mode,
    };
    post_erase(env, &reached, false).await?;
    Ok(reached)
}

async fn delete_postback_log(env: &Env, app_id: &str, names: &[String]) -> Result<(), QueryError> {
    // EU journeys' rows hold the journey's keyed hash (`attrib_core::privacy::residency`).
    let secret = attrib_worker_common::suppression::secret(env).ok();
    let names = log_names(secret.as_deref(), app_id, names);
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
