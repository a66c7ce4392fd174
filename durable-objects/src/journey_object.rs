//! The Journey Durable Object: HTTP surface, merges and forwarding, the flush alarm.
//!
//! `POST /record` records events (after merging any journeys they name), `POST /merge` hands
//! this journey over to another, `GET /view` shows it, `POST /reattribute` re-runs attribution
//! over its stored conversions with new settings, `POST /edge-facts` queues an edge
//! journey's SKAN postbacks or spend rows for the origin. The alarm closes null paths, flushes the
//! outbox and sends postbacks ([`crate::alarm`]); every request that carries the app's
//! settings keeps its attribution windows for the alarm. Errors become responses in
//! [`JourneyObject::fetch`] only.

use std::collections::BTreeSet;

use attrib_core::attribution::Windows;
use attrib_core::geo::Placement;
use attrib_core::identity::{bound_user, check_hand_over, merges_for, HandOverHistory, JourneyKey};
use attrib_core::journey::EventOutcome;
use attrib_core::journey::{Journey, JourneyError, JourneyStore};
use attrib_core::keys::WriteKeyClass;
use attrib_core::limits::MAX_MERGE_HOPS;
use attrib_core::privacy::erasure::tombstone_holds;
use attrib_core::protocol::{
    check_edge_facts, EdgeFactsReply, EdgeFactsRequest, EraseRequest, JourneyView, MergeReply,
    MergeRequest, ReattributeReply, ReattributeRequest, RecordReply, RecordRequest, ReplayRequest,
    BENCH_COUNTERS_PATH, BENCH_NOOP_PATH, DEAD_LETTERS_PATH, DEAD_LETTERS_REPLAY_PATH,
    EDGE_FACTS_PATH, ERASE_PATH, EXPORT_PATH, MERGE_PATH, REATTRIBUTE_PATH, RECORD_PATH, VIEW_PATH,
};
use attrib_worker_common::config;
use attrib_worker_common::journeys;
use attrib_worker_common::response;
use attrib_worker_common::EdgeError;
use worker::{durable_object, DurableObject, Env, Method, Request, Response, Result, State};

use crate::alarm;
use crate::bounded;
use crate::dead_letters;
use crate::erase;
use crate::export;
use crate::flush;
use crate::meta::Meta;
use crate::postbacks;
use crate::retention;
use crate::schema;
use crate::store::{SqlJourneyStore, StoreError, Table};

#[durable_object]
pub struct JourneyObject {
    state: State,
    env: Env,
    store: SqlJourneyStore,
    schema_error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
enum ObjectError {
    #[error("bad request to the journey: {0}")]
    BadRequest(String),
    #[error("identity merge chain longer than {MAX_MERGE_HOPS} hops (a cycle?)")]
    MergeLoop,
    /// The first field is the journey's log label ([`JourneyObject::log_label`]), never its name.
    #[error("merging {0} failed: {1}")]
    Merge(String, EdgeError),
    /// The first field is the journey's log label, never its name.
    #[error("forwarding to {0} failed: {1}")]
    Forward(String, EdgeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("schema could not be created: {0}")]
    Schema(String),
    #[error(transparent)]
    Runtime(#[from] worker::Error),
}

impl From<JourneyError<StoreError>> for ObjectError {
    fn from(err: JourneyError<StoreError>) -> Self {
        match err {
            JourneyError::Store(e) => ObjectError::Store(e),
        }
    }
}

impl DurableObject for JourneyObject {
    fn new(state: State, env: Env) -> Self {
        let counting = env
            .var("BENCH_COUNTERS")
            .is_ok_and(|v| v.to_string() == "1");
        let store = SqlJourneyStore::new(state.storage(), counting);
        // The cost ladder's no-op objects (`bench/edge-throughput.mjs`) create nothing: their
        // step measures what an object call costs before this object's own work.
        let bench_noop = env
            .var("BENCH_STAGE")
            .is_ok_and(|v| v.to_string() == "noop_object");
        let schema_error = if bench_noop {
            None
        } else {
            schema::create(&store).err().map(|e| e.to_string())
        };
        JourneyObject {
            state,
            env,
            store,
            schema_error,
        }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        self.store.sql.invoked();
        let outcome = match &self.schema_error {
            Some(err) => Err(ObjectError::Schema(err.clone())),
            None => self.route(req).await,
        };
        self.store.sql.settle();
        match outcome {
            Ok(response) => Ok(response),
            Err(ObjectError::BadRequest(reason)) => response::error(400, "bad_request", reason),
            Err(err @ ObjectError::MergeLoop) => {
                response::error(508, "merge_loop", err.to_string())
            }
            Err(err @ (ObjectError::Merge(..) | ObjectError::Forward(..))) => {
                worker::console_error!("{err}");
                response::error(
                    503,
                    "journey_unavailable",
                    "a linked journey is unavailable; retry",
                )
            }
            Err(err) => response::internal("journey", &err),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        if self.schema_error.is_some() {
            return Response::ok("no schema");
        }
        self.store.sql.invoked();
        let next = alarm::run(&self.store, &self.env).await;
        let rearmed = alarm::rearm(&self.store, &self.state.storage(), next).await;
        self.store.sql.settle();
        rearmed?;
        Response::ok("flushed")
    }
}

impl JourneyObject {
    /// How `key` appears in logs: a keyed hash, never the user or anonymous id (issue 12).
    fn log_label(&self, key: &JourneyKey) -> String {
        let secret = attrib_worker_common::suppression::secret(&self.env).ok();
        attrib_core::privacy::residency::journey_log_label(secret.as_deref(), key)
    }

    async fn route(&self, mut req: Request) -> std::result::Result<Response, ObjectError> {
        let path = req.path();
        match (req.method(), path.as_str()) {
            (Method::Post, RECORD_PATH) => {
                let request: RecordRequest = read_json(&mut req).await?;
                let reply = self.record(request).await?;
                Ok(response::json(200, &reply)?)
            }
            (Method::Post, MERGE_PATH) => {
                let request: MergeRequest = read_json(&mut req).await?;
                Ok(response::json(
                    200,
                    &self.hand_over(&request.into, request.key_class)?,
                )?)
            }
            (Method::Get, VIEW_PATH) => Ok(response::json(200, &self.view()?)?),
            (Method::Post, ERASE_PATH) => {
                let request: EraseRequest = read_json(&mut req).await?;
                let reply = erase::erase(&self.store, &request, flush::now_ms())?;
                // Nothing is left to flush, close or send.
                self.state.storage().delete_alarm().await?;
                Ok(response::json(200, &reply)?)
            }
            (Method::Post, EDGE_FACTS_PATH) => {
                let request: EdgeFactsRequest = read_json(&mut req).await?;
                Ok(response::json(200, &self.edge_facts(request).await?)?)
            }
            (Method::Get, EXPORT_PATH) => Ok(response::json(200, &export::export(&self.store)?)?),
            (Method::Post, REATTRIBUTE_PATH) => {
                let request: ReattributeRequest = read_json(&mut req).await?;
                Ok(response::json(200, &self.reattribute(request).await?)?)
            }
            (Method::Get, DEAD_LETTERS_PATH) => {
                let journey = self.journey_name()?;
                Ok(response::json(
                    200,
                    &dead_letters::view(&self.store, journey)?,
                )?)
            }
            (Method::Post, DEAD_LETTERS_REPLAY_PATH) => {
                let request: ReplayRequest = read_json(&mut req).await?;
                let reply = dead_letters::replay(&self.store, &request)?;
                self.schedule_flush().await?;
                Ok(response::json(200, &reply)?)
            }
            (Method::Post, BENCH_NOOP_PATH) if self.store.sql.counters().is_some() => {
                let request: RecordRequest = read_json(&mut req).await?;
                let outcomes = request
                    .events
                    .iter()
                    .map(|_| EventOutcome::Stored {
                        touch: false,
                        conversion: false,
                    })
                    .collect();
                let reply = RecordReply {
                    outcomes,
                    journey: request.key.object_name(),
                    placement: request.placement,
                };
                Ok(response::json(200, &reply)?)
            }
            (Method::Get, BENCH_COUNTERS_PATH) => match self.store.sql.counters() {
                Some(counters) => Ok(response::json(
                    200,
                    &serde_json::json!({
                        "counters": counters,
                        "database_bytes": self.store.sql.database_size(),
                    }),
                )?),
                None => Ok(response::error(404, "not_found", "no such journey route")?),
            },
            _ => Ok(response::error(404, "not_found", "no such journey route")?),
        }
    }

    async fn record(
        &self,
        request: RecordRequest,
    ) -> std::result::Result<RecordReply, ObjectError> {
        let meta = Meta::new(&self.store);
        if self.erased(&meta)? {
            return Ok(RecordReply {
                outcomes: request
                    .events
                    .iter()
                    .map(|_| EventOutcome::Erased)
                    .collect(),
                journey: request.key.object_name(),
                placement: request.placement,
            });
        }
        if let Some(target) = meta.merged_into()? {
            return self.forward(request, target).await;
        }
        let windows = Windows::of(&request.settings);
        let sources = self.merge_sources(&request)?;
        let placement = if sources.is_empty() {
            meta.placement()?.unwrap_or(request.placement)
        } else {
            // Stored before the merge waits on other objects: an alarm may run meanwhile.
            let placement = meta.adopt(&request.key, &request.placement)?;
            meta.keep_windows(&windows)?;
            self.merge(&request, &placement, sources).await?;
            placement
        };

        let now = flush::now_ms();
        let journey = Journey::new(&self.store, &request.key, &request.settings)
            .using_bytes(self.store.sql.database_bytes_at_most())
            .with_device_ids(&request.device_ids);
        let oldest = request.events.iter().map(|e| e.timestamp_ms).min();
        // One transaction, so the values kept in meta's one row are written once (`meta::PACK`).
        let outcomes = self
            .store
            .atomically(|| -> std::result::Result<_, ObjectError> {
                meta.adopt(&request.key, &request.placement)?;
                meta.keep_windows(&windows)?;
                let outcomes = journey.record_all(
                    &request.events,
                    |event| request.flags.get(&event.message_id),
                    now,
                )?;
                retention::note_events(&self.store, request.settings.retention_days, oldest, now)?;
                Ok(outcomes)
            })?;
        self.schedule_flush().await?;
        Ok(RecordReply {
            outcomes,
            journey: request.key.object_name(),
            placement,
        })
    }

    /// Queues edge facts in the outbox (`attrib_core::outbox`, "Edge facts"): stored before
    /// the reply, sent by the alarm until the origin takes them.
    async fn edge_facts(
        &self,
        request: EdgeFactsRequest,
    ) -> std::result::Result<EdgeFactsReply, ObjectError> {
        check_edge_facts(&request).map_err(|e| ObjectError::BadRequest(e.to_string()))?;
        Meta::new(&self.store).adopt(&request.key, &request.placement)?;
        let bodies = request
            .records
            .iter()
            .map(serde_json::to_string)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| ObjectError::BadRequest(e.to_string()))?;
        if !bodies.is_empty() {
            self.store.insert_outbox_rows(&bodies)?;
            self.schedule_flush().await?;
        }
        Ok(EdgeFactsReply {
            queued: bodies.len(),
            journey: request.key.object_name(),
        })
    }

    /// This journey was merged away: its events belong to the target now.
    async fn forward(
        &self,
        mut request: RecordRequest,
        target: JourneyKey,
    ) -> std::result::Result<RecordReply, ObjectError> {
        if request.hops >= MAX_MERGE_HOPS {
            return Err(ObjectError::MergeLoop);
        }
        request.hops += 1;
        request.key = target.clone();
        let fallback = request.placement;
        self.post_to(&target, fallback, RECORD_PATH, &request).await
    }

    /// POSTs to the journey this one was merged into, where it was placed.
    async fn post_to<Req: serde::Serialize, Rep: serde::de::DeserializeOwned>(
        &self,
        target: &JourneyKey,
        fallback: Placement,
        path: &str,
        request: &Req,
    ) -> std::result::Result<Rep, ObjectError> {
        let placement = Meta::new(&self.store).placement()?.unwrap_or(fallback);
        let forward = |e| ObjectError::Forward(self.log_label(target), e);
        let mode = config::jurisdiction_mode(&self.env).map_err(forward)?;
        let stub = journeys::stub(&self.env, target, &placement, mode).map_err(forward)?;
        journeys::post(&stub, path, request).await.map_err(forward)
    }

    /// Re-runs attribution here, or where this journey was merged.
    async fn reattribute(
        &self,
        mut request: ReattributeRequest,
    ) -> std::result::Result<ReattributeReply, ObjectError> {
        let meta = Meta::new(&self.store);
        if let Some(target) = meta.merged_into()? {
            if request.hops >= MAX_MERGE_HOPS {
                return Err(ObjectError::MergeLoop);
            }
            request.hops += 1;
            request.key = target.clone();
            let fallback = Placement {
                jurisdiction: None,
                location_hint: None,
                origin_region: config::default_region(&self.env)
                    .map_err(|e| ObjectError::Forward(self.log_label(&target), e))?,
            };
            return self
                .post_to(&target, fallback, REATTRIBUTE_PATH, &request)
                .await;
        }
        let Some(key) = meta.key()? else {
            return Ok(ReattributeReply {
                journey: request.key.object_name(),
                exists: false,
                conversions: 0,
                revised: Vec::new(),
            });
        };
        if key.app_id != request.settings.app_id {
            return Err(ObjectError::BadRequest(
                "settings are for another app".into(),
            ));
        }
        meta.keep_windows(&Windows::of(&request.settings))?;
        let journey = Journey::new(&self.store, &key, &request.settings);
        let summary = journey.reattribute(flush::now_ms())?;
        alarm::schedule(&self.store, &self.state.storage()).await?;
        Ok(ReattributeReply {
            journey: key.object_name(),
            exists: true,
            conversions: summary.conversions,
            revised: summary.revised,
        })
    }

    /// The journeys the events name (anonymous ids, alias, click ids) not merged into this one
    /// yet, leaving out sources that refused a client key before.
    fn merge_sources(
        &self,
        request: &RecordRequest,
    ) -> std::result::Result<BTreeSet<JourneyKey>, ObjectError> {
        let meta = Meta::new(&self.store);
        let mut sources = BTreeSet::new();
        for event in &request.events {
            for source in merges_for(event, &request.key, request.key_class) {
                // A refusal to a client key is final; a server key asks again.
                let refused =
                    request.key_class == WriteKeyClass::Client && meta.refused_before(&source)?;
                if !refused && !meta.has_merged(&source)? {
                    sources.insert(source);
                }
            }
        }
        Ok(sources)
    }

    /// Pulls in every journey of `sources`.
    async fn merge(
        &self,
        request: &RecordRequest,
        placement: &Placement,
        sources: BTreeSet<JourneyKey>,
    ) -> std::result::Result<(), ObjectError> {
        let meta = Meta::new(&self.store);
        let mode = config::jurisdiction_mode(&self.env)
            .map_err(|e| ObjectError::Merge(self.log_label(&request.key), e))?;
        let journey = Journey::new(&self.store, &request.key, &request.settings);
        for source in sources {
            let merge_failed = |e| ObjectError::Merge(self.log_label(&source), e);
            let stub = journeys::stub(&self.env, &source, placement, mode).map_err(merge_failed)?;
            let reply: MergeReply = journeys::post(
                &stub,
                MERGE_PATH,
                &MergeRequest {
                    into: request.key.clone(),
                    key_class: request.key_class,
                },
            )
            .await
            .map_err(merge_failed)?;
            if let Some(refusal) = reply.refused {
                // The events stay here, in their own journey; nothing else changes. Not
                // marked merged: a later request with a server key may still merge it; a
                // client key's is not sent again (remembered, up to a bound).
                worker::console_log!(
                    "merge refused: {} into {}: {refusal}",
                    self.log_label(&source),
                    self.log_label(&request.key)
                );
                meta.count_merge_refused(&source)?;
                continue;
            }
            let now = flush::now_ms();
            journey.import(&source, &reply.export, now)?;
            let oldest = reply.export.events.iter().map(|e| e.timestamp_ms).min();
            retention::note_events(&self.store, request.settings.retention_days, oldest, now)?;
            meta.mark_merged(&source, now)?;
        }
        Ok(())
    }

    /// Marks this journey merged into `target` (the first target wins) and exports it, with
    /// its null-path mark: from now on its touches are the target's to close (its alarm closes
    /// nothing more), and the target does not close again what this journey closed. The first
    /// user it is merged into binds it; a client key's request for a journey seen with another
    /// user is refused and changes nothing (issue 13, finding 5).
    fn hand_over(
        &self,
        target: &JourneyKey,
        key_class: WriteKeyClass,
    ) -> std::result::Result<MergeReply, ObjectError> {
        let meta = Meta::new(&self.store);
        if self.erased(&meta)? {
            // An erased person hands nothing over, and is not marked merged: events for this
            // id keep coming here, to be dropped while the tombstone holds.
            return Ok(MergeReply {
                export: attrib_core::journey::JourneyExport::default(),
                refused: None,
            });
        }
        let (key, merged_into, bound) = (meta.key()?, meta.merged_into()?, meta.bound_user()?);
        let history = HandOverHistory {
            key: key.as_ref(),
            merged_into: merged_into.as_ref(),
            bound_user: bound.as_deref(),
        };
        if let Err(refusal) = check_hand_over(key_class, &history, target) {
            return Ok(MergeReply {
                export: attrib_core::journey::JourneyExport::default(),
                refused: Some(refusal),
            });
        }
        self.store.atomically(|| {
            if merged_into.is_none() {
                meta.set_merged_into(target)?;
            }
            if let Some(user) = bound_user(&history, target) {
                meta.set_bound_user(user)?;
            }
            Ok::<_, ObjectError>(())
        })?;
        let newest = bounded::newest(&self.store, true)?;
        Ok(MergeReply {
            export: attrib_core::journey::JourneyExport {
                events: newest.events,
                touches: newest.touches,
                attributions: newest.attributions,
                paths_closed_through_ms: meta.null_path_state()?.closed_through_ms,
            },
            refused: None,
        })
    }

    fn view(&self) -> std::result::Result<JourneyView, ObjectError> {
        let meta = Meta::new(&self.store);
        let key = meta.key()?;
        let newest = bounded::newest(&self.store, false)?;
        Ok(JourneyView {
            journey: key
                .as_ref()
                .map(JourneyKey::object_name)
                .unwrap_or_default(),
            exists: key.is_some(),
            merged_into: meta.merged_into()?.as_ref().map(JourneyKey::object_name),
            merged_from: meta.merged_from()?,
            placement: meta.placement()?,
            event_count: self.store.count(Table::Events)?,
            touches: newest.touches,
            conversions: newest.attributions,
            outbox_pending: self.store.count(Table::Outbox)?,
            postbacks: postbacks::states(&self.store)?,
            paths_closed_through_ms: meta.null_path_state()?.closed_through_ms,
            merges_refused: meta.merges_refused()?,
        })
    }

    /// Whether this journey was erased and still drops events; an expired tombstone is lifted.
    fn erased(&self, meta: &Meta<'_>) -> std::result::Result<bool, ObjectError> {
        let Some(at_ms) = meta.erased_at_ms()? else {
            return Ok(false);
        };
        if tombstone_holds(at_ms, flush::now_ms()) {
            return Ok(true);
        }
        meta.clear_erased()?;
        Ok(false)
    }

    fn journey_name(&self) -> std::result::Result<String, ObjectError> {
        Ok(Meta::new(&self.store)
            .key()?
            .as_ref()
            .map(JourneyKey::object_name)
            .unwrap_or_default())
    }

    async fn schedule_flush(&self) -> std::result::Result<(), ObjectError> {
        Ok(alarm::schedule(&self.store, &self.state.storage()).await?)
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(
    req: &mut Request,
) -> std::result::Result<T, ObjectError> {
    let text = req.text().await?;
    serde_json::from_str(&text).map_err(|e| ObjectError::BadRequest(e.to_string()))
}
