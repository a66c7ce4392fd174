//! Handing events to their journeys: one Durable Object call per person, concurrently.
//!
//! Anonymous and click journeys are called before user journeys: an event that merges an
//! anonymous journey into a user's must find, already recorded, the anonymous events that
//! came before it in the same batch.

use std::collections::BTreeMap;

use attrib_core::event::Event;
use attrib_core::fraud::Flag;
use attrib_core::geo::Placement;
use attrib_core::identity::{journey_of, JourneyKey, JourneyKind};
use attrib_core::journey::EventOutcome;
use attrib_core::keys::WriteKeyClass;
use attrib_core::postback::device::PostbackDeviceIds;
use attrib_core::protocol::{RecordReply, RecordRequest, BENCH_NOOP_PATH, RECORD_PATH};
use attrib_core::settings::AppSettings;
use attrib_worker_common::config::{self, JurisdictionMode};
use attrib_worker_common::journeys;
use futures_util::future::join_all;
use worker::Env;

use crate::error::IngestError;

/// An event, where it sat in the request, and the ingest fraud rules' verdict on it.
pub struct Positioned {
    pub index: Option<usize>,
    pub event: Event,
    pub flag: Option<Flag>,
    /// The raw device ids its postbacks may carry (a conversion's, when allowed:
    /// `attrib_core::postback::device`); they travel beside the event, never in it.
    pub device_ids: Option<PostbackDeviceIds>,
}

pub struct Delivered {
    pub index: Option<usize>,
    pub message_id: String,
    pub outcome: EventOutcome,
}

/// Delivers events that did not come with a write key (link clicks and impressions, mobile
/// callbacks): their ids are as public as a client key's, so they merge as a client key's do.
pub async fn deliver(
    env: &Env,
    settings: &AppSettings,
    placement: Placement,
    events: Vec<Positioned>,
) -> Result<Vec<Delivered>, IngestError> {
    deliver_as(env, settings, placement, WriteKeyClass::Client, events).await
}

/// Delivers events sent with a write key of `key_class`, which decides what they may merge.
pub async fn deliver_as(
    env: &Env,
    settings: &AppSettings,
    placement: Placement,
    key_class: WriteKeyClass,
    events: Vec<Positioned>,
) -> Result<Vec<Delivered>, IngestError> {
    let mode = config::jurisdiction_mode(env)?;
    let stage = BenchStage::of(env);
    // The last moment the request holds the full client IP: from here on only what the app's
    // IP handling keeps of it travels (issue 12, scope 7).
    let mut events = events;
    crate::ip::handle_ips(env, settings, events.iter_mut().map(|p| &mut p.event));
    let mut groups: BTreeMap<JourneyKey, Vec<Positioned>> = BTreeMap::new();
    for item in events {
        groups
            .entry(journey_of(&settings.app_id, &item.event))
            .or_default()
            .push(item);
    }
    let (users, others): (Vec<_>, Vec<_>) = groups
        .into_iter()
        .partition(|(key, _)| key.kind == JourneyKind::User);
    let mut delivered = Vec::new();
    for wave in [others, users] {
        let calls = wave.into_iter().map(|(key, items)| {
            let target = Target {
                placement,
                mode,
                stage,
                key_class,
            };
            record(env, settings, target, key, items)
        });
        for result in join_all(calls).await {
            delivered.extend(result?);
        }
    }
    Ok(delivered)
}

/// How a request reaches its journeys, the same for every journey of the request.
#[derive(Clone, Copy)]
struct Target {
    placement: Placement,
    mode: JurisdictionMode,
    stage: BenchStage,
    key_class: WriteKeyClass,
}

async fn record(
    env: &Env,
    settings: &AppSettings,
    target: Target,
    key: JourneyKey,
    items: Vec<Positioned>,
) -> Result<Vec<Delivered>, IngestError> {
    let Target {
        placement,
        mode,
        stage,
        key_class,
    } = target;
    if stage == BenchStage::Validate {
        return Ok(items
            .into_iter()
            .map(|item| Delivered {
                index: item.index,
                message_id: item.event.message_id,
                outcome: EventOutcome::Stored {
                    touch: false,
                    conversion: false,
                },
            })
            .collect());
    }
    // Logged: the journey by its keyed hash, never the user id (issue 12); only on failure.
    let label = || {
        attrib_core::privacy::residency::journey_log_label(
            attrib_worker_common::suppression::secret(env)
                .ok()
                .as_deref(),
            &key,
        )
    };
    let unavailable = |e: attrib_worker_common::EdgeError| {
        IngestError::JourneyUnavailable(format!("{}: {e}", label()))
    };
    let stub = journeys::stub(env, &key, &placement, mode).map_err(unavailable)?;
    let mut flags = BTreeMap::new();
    let mut device_ids = BTreeMap::new();
    let mut positions = Vec::with_capacity(items.len());
    let mut events = Vec::with_capacity(items.len());
    for item in items {
        if let Some(flag) = item.flag {
            flags.insert(item.event.message_id.clone(), flag);
        }
        if let Some(ids) = item.device_ids {
            device_ids.insert(item.event.message_id.clone(), ids);
        }
        positions.push((item.index, item.event.message_id.clone()));
        events.push(item.event);
    }
    let request = RecordRequest {
        key: key.clone(),
        settings: settings.clone(),
        placement,
        events,
        hops: 0,
        flags,
        key_class,
        device_ids,
    };
    let path = match stage {
        BenchStage::NoopObject => BENCH_NOOP_PATH,
        _ => RECORD_PATH,
    };
    let reply: RecordReply = journeys::post(&stub, path, &request)
        .await
        .map_err(unavailable)?;
    if reply.outcomes.len() != positions.len() {
        return Err(IngestError::JourneyUnavailable(format!(
            "{} answered {} outcomes for {} events",
            label(),
            reply.outcomes.len(),
            positions.len()
        )));
    }
    Ok(positions
        .into_iter()
        .zip(reply.outcomes)
        .map(|((index, message_id), outcome)| Delivered {
            index,
            message_id,
            outcome,
        })
        .collect())
}

/// The steps of issue 15's cost ladder (`bench/edge-throughput.mjs`), chosen by the
/// `BENCH_STAGE` variable, which only the benchmark sets: `validate` stops after parsing and
/// validation (no object call), `noop_object` calls each person's object on its no-op route
/// (answered only by objects running with `BENCH_COUNTERS=1`). Unset: the full path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BenchStage {
    Full,
    Validate,
    NoopObject,
}

impl BenchStage {
    fn of(env: &Env) -> Self {
        match env.var("BENCH_STAGE").map(|v| v.to_string()).as_deref() {
            Ok("validate") => BenchStage::Validate,
            Ok("noop_object") => BenchStage::NoopObject,
            _ => BenchStage::Full,
        }
    }
}
