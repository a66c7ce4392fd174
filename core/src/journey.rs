//! One person's journey: recording events, deduplicating, making touches, attributing
//! conversions and filling the outbox, over any [`JourneyStore`].
//!
//! The Journey Durable Object implements the store on its SQLite storage; unit tests use
//! [`memory::MemoryStore`]. Everything an event causes (the event, its touch, its conversion's
//! attribution under every model, its outbox records, its postbacks) is written in one atomic
//! unit, and an event id already stored is never stored again, however many times it is
//! retried. How a conversion is judged (lifecycle, fraud, models, re-engagement) is in
//! [`decide`]; re-running attribution over the stored history is [`Journey::reattribute`], and
//! a touch that arrives after the conversions it precedes has them judged again ([`late`]).
//! Touches that end without a conversion are closed into null paths by [`nulls`], from the
//! journey's alarm; recording and merging keep its due time ([`NullPathState`]) up to date.

pub mod activity;
mod decide;
mod late;
#[cfg(any(test, feature = "memory-store"))]
pub mod memory;
pub mod nulls;
mod rerun;
pub mod size;
pub mod timing;
pub mod unsent;

pub use nulls::{close_null_paths, NullPathState, PathClosure};
pub use rerun::RerunSummary;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::attribution::{AttributionResult, Windows};
use crate::conversion::conversion_of;
use crate::error::FieldError;
use crate::event::Event;
use crate::fraud::Flag;
use crate::identity::JourneyKey;
use crate::limits::{JOURNEY_FULL_REASON, MAX_JOURNEY_BYTES, TOUCH_SESSION_TIMEOUT_MS};
use crate::outbox::{AttributionRecord, EventRecord, MergeRecord, OutboxRecord};
use crate::postback::device::PostbackDeviceIds;
use crate::postback::Postback;
use crate::settings::AppSettings;
use crate::touch::{classify, Recording, Touch};
use late::LateTouches;

/// Storage for one journey. Methods take `&self`: a Durable Object's storage handle is shared.
pub trait JourneyStore {
    type Error: std::error::Error + 'static;

    /// Runs `work` so that its writes all land or none do.
    fn atomically<T, E: From<Self::Error>>(
        &self,
        work: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E>;

    /// The events a call is about to record, before the first: a store may look their message
    /// ids up at once rather than one by one in [`Self::has_event`]. Called in a transaction.
    fn look_up_events(&self, _events: &[Event]) -> Result<(), Self::Error> {
        Ok(())
    }
    fn has_event(&self, message_id: &str) -> Result<bool, Self::Error>;
    /// Stores `event` unless its message id is already stored; `false` when it was (a merge's
    /// import: such events make no outbox records here).
    fn insert_event_if_new(&self, event: &Event) -> Result<bool, Self::Error>;
    /// Stores a new event (its message id is not stored: [`Self::has_event`] said so) with the
    /// outbox records it made, its own event record last. A store may keep the records with
    /// the event's row instead of in the outbox (issue 15: one row written instead of two,
    /// and no delete once sent); they reach the origin all the same.
    fn insert_recorded_event(
        &self,
        event: &Event,
        records: &[OutboxRecord],
    ) -> Result<(), Self::Error> {
        self.insert_event_if_new(event)?;
        records.iter().try_for_each(|record| self.enqueue(record))
    }
    /// The latest event time at or before `ts_ms`, other than event `excluding`.
    fn latest_activity(&self, ts_ms: i64, excluding: &str) -> Result<Option<i64>, Self::Error>;
    /// Like [`Self::latest_activity`], counting only engagement: events other than
    /// tracking-link clicks and impressions.
    fn latest_engagement(&self, ts_ms: i64, excluding: &str) -> Result<Option<i64>, Self::Error>;
    /// Whether an event other than `excluding` is stored with a time at or after `ts_ms`:
    /// the event being recorded may have arrived out of order.
    fn has_event_since(&self, ts_ms: i64, excluding: &str) -> Result<bool, Self::Error>;

    /// Whether a touch with this id and time is stored (touches are keyed by both: time
    /// order is the table's order, with no index to write).
    fn has_touch(&self, touch: &Touch) -> Result<bool, Self::Error>;
    fn insert_touch(&self, touch: &Touch) -> Result<(), Self::Error>;
    /// The latest touch at or before `ts_ms`.
    fn latest_touch(&self, ts_ms: i64) -> Result<Option<Touch>, Self::Error>;
    /// Touches at or after `from_ms`.
    fn touches_since(&self, from_ms: i64) -> Result<Vec<Touch>, Self::Error>;
    /// The newest `limit` touches from `from_ms` to `to_ms` (both included), oldest first: a
    /// conversion's read, bounded however many touches a flooded journey holds.
    fn touches_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<Touch>, Self::Error>;

    fn has_order(&self, conversion_name: &str, order_id: &str) -> Result<bool, Self::Error>;
    /// Whether this conversion (by id and time, the attributions' key) is stored.
    fn has_attribution(&self, result: &AttributionResult) -> Result<bool, Self::Error>;
    fn insert_attribution(&self, result: &AttributionResult) -> Result<(), Self::Error>;
    /// Stores a new revision of an attribution already stored, in its place.
    fn replace_attribution(&self, result: &AttributionResult) -> Result<(), Self::Error>;
    /// The time of the latest conversion named `name` before `before_ms` that was not rejected.
    fn latest_conversion_named(
        &self,
        name: &str,
        before_ms: i64,
    ) -> Result<Option<i64>, Self::Error>;
    /// The time of the earliest conversion before `before_ms` that was not rejected.
    fn first_conversion_before(&self, before_ms: i64) -> Result<Option<i64>, Self::Error>;

    fn enqueue(&self, record: &OutboxRecord) -> Result<(), Self::Error>;
    /// Stores a postback to send; a key already stored is left as it is.
    fn enqueue_postback(&self, postback: &Postback) -> Result<(), Self::Error>;

    fn all_events(&self) -> Result<Vec<Event>, Self::Error>;
    fn all_touches(&self) -> Result<Vec<Touch>, Self::Error>;
    fn all_attributions(&self) -> Result<Vec<AttributionResult>, Self::Error>;
    /// The stored conversions from `from_ms` to `to_ms` (both included), oldest first, the
    /// first `limit` of them.
    fn attributions_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<AttributionResult>, Self::Error>;

    /// Times of the stored conversions (every attribution: credited, organic or
    /// fraud-rejected) at or after `from_ms`, oldest first. Null paths end at them.
    fn conversion_times_since(&self, from_ms: i64) -> Result<Vec<i64>, Self::Error>;
    /// The journey's null-path mark and due time ([`nulls`]); the default when never set.
    fn null_path_state(&self) -> Result<NullPathState, Self::Error>;
    fn set_null_path_state(&self, state: &NullPathState) -> Result<(), Self::Error>;
}

#[derive(Debug, thiserror::Error)]
pub enum JourneyError<S: std::error::Error + 'static> {
    #[error("journey storage failed: {0}")]
    Store(#[from] S),
}

/// What happened to one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum EventOutcome {
    Stored {
        touch: bool,
        conversion: bool,
    },
    /// Already stored (same message id): nothing written.
    Duplicate,
    /// Refused at the journey (e.g. a conversion with a bad revenue); nothing written.
    Rejected {
        error: FieldError,
    },
    /// Dropped: the journey was erased (`crate::privacy::erasure`, an event in flight).
    /// Nothing written; answered like a stored event, as a suppressed one is.
    Erased,
}

/// Everything a journey holds, handed over when it merges into another.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JourneyExport {
    pub events: Vec<Event>,
    pub touches: Vec<Touch>,
    pub attributions: Vec<AttributionResult>,
    /// The source's "paths closed through" mark ([`NullPathState::closed_through_ms`]): the
    /// importing journey keeps the later of the two marks, so touches the source already
    /// closed into null paths are not closed again. Absent from exports of older journeys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths_closed_through_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSummary {
    pub events: usize,
    pub touches: usize,
    pub conversions: usize,
}

pub struct Journey<'a, S: JourneyStore> {
    pub store: &'a S,
    pub key: &'a JourneyKey,
    pub settings: &'a AppSettings,
    /// The journey holds [`MAX_JOURNEY_BYTES`] or more: new events are refused.
    full: bool,
    /// Raw device ids that came beside events, by message id, for their postbacks' device
    /// macros (`crate::postback::device`); never stored with the events.
    device_ids: Option<&'a BTreeMap<String, PostbackDeviceIds>>,
}

impl<'a, S: JourneyStore> Journey<'a, S> {
    pub fn new(store: &'a S, key: &'a JourneyKey, settings: &'a AppSettings) -> Self {
        Journey {
            store,
            key,
            settings,
            full: false,
            device_ids: None,
        }
    }

    /// The raw device ids that came with the events to record, by message id.
    pub fn with_device_ids(mut self, ids: &'a BTreeMap<String, PostbackDeviceIds>) -> Self {
        self.device_ids = Some(ids);
        self
    }

    /// The journey's storage uses `bytes`: at [`MAX_JOURNEY_BYTES`] or more, new events are
    /// refused (issue 13, finding 4).
    pub fn using_bytes(mut self, bytes: u64) -> Self {
        self.full = bytes >= MAX_JOURNEY_BYTES;
        self
    }

    /// Records one event at `now_ms`.
    pub fn record(
        &self,
        event: &Event,
        now_ms: i64,
    ) -> Result<EventOutcome, JourneyError<S::Error>> {
        self.record_flagged(event, None, now_ms)
    }

    /// Records one event that the ingest-time fraud rules may have flagged: its touch is
    /// stored rejected, its conversion reported rejected. Everything the event causes lands,
    /// or nothing does.
    pub fn record_flagged(
        &self,
        event: &Event,
        flag: Option<&Flag>,
        now_ms: i64,
    ) -> Result<EventOutcome, JourneyError<S::Error>> {
        self.store.atomically(|| {
            let mut late = LateTouches::default();
            let outcome = self.record_within(event, flag, now_ms, &mut late)?;
            self.credit_late_touches(late, now_ms)?;
            Ok(outcome)
        })
    }

    /// Records events in order in one transaction (one commit instead of one per event), each
    /// with its ingest-time flag. An event refused by the rules is reported and writes
    /// nothing; a storage failure rolls the whole call back, so a retry finds nothing
    /// half-written.
    pub fn record_all<'f>(
        &self,
        events: &[Event],
        flag_of: impl Fn(&Event) -> Option<&'f Flag>,
        now_ms: i64,
    ) -> Result<Vec<EventOutcome>, JourneyError<S::Error>> {
        self.store.atomically(|| {
            self.store.look_up_events(events)?;
            let mut late = LateTouches::default();
            let outcomes = events
                .iter()
                .map(|event| self.record_within(event, flag_of(event), now_ms, &mut late))
                .collect::<Result<Vec<_>, S::Error>>()?;
            self.credit_late_touches(late, now_ms)?;
            Ok(outcomes)
        })
    }

    /// [`Self::record_flagged`] without its transaction, noting a touch that came late.
    fn record_within(
        &self,
        event: &Event,
        flag: Option<&Flag>,
        now_ms: i64,
        late: &mut LateTouches,
    ) -> Result<EventOutcome, S::Error> {
        if self.full {
            return Ok(if self.store.has_event(&event.message_id)? {
                EventOutcome::Duplicate
            } else {
                EventOutcome::Rejected {
                    error: FieldError::new("journey", JOURNEY_FULL_REASON),
                }
            });
        }
        // Judged before anything is written: a refused event leaves no trace.
        let conversion = match conversion_of(event, self.settings) {
            Ok(conversion) => conversion,
            Err(error) => return Ok(EventOutcome::Rejected { error }),
        };
        if self.store.has_event(&event.message_id)? {
            return Ok(EventOutcome::Duplicate);
        }
        let mut records = Vec::with_capacity(2);
        let mut touch = self.new_touch(event)?;
        if let Some(touch) = &mut touch {
            touch.rejected = flag.map(|f| f.reason.as_str().to_owned());
            self.store.insert_touch(touch)?;
            nulls::touch_recorded(self.store, touch, &Windows::of(self.settings))?;
            self.note_if_late(touch, &event.message_id, late)?;
        }
        let mut attributed = false;
        if let Some(conversion) = conversion {
            let repeated_order = match &conversion.order_id {
                Some(order) => self.store.has_order(&conversion.name, order)?,
                None => false,
            };
            let decided = if repeated_order {
                None
            } else {
                self.decide(&conversion, flag, now_ms)?
            };
            if let Some(decided) = decided {
                self.store.insert_attribution(&decided.result)?;
                nulls::conversion_recorded(self.store, decided.result.conversion.ts_ms)?;
                let device = self.device_ids.and_then(|ids| ids.get(&event.message_id));
                for postback in crate::postback::plan_with_device(
                    &decided.result,
                    &decided.touches,
                    self.settings,
                    device,
                ) {
                    self.store.enqueue_postback(&postback)?;
                }
                records.push(OutboxRecord::Attribution(Box::new(AttributionRecord {
                    app_id: self.settings.app_id.clone(),
                    journey: self.key.object_name(),
                    result: decided.result,
                })));
                attributed = true;
            }
        }
        records.push(OutboxRecord::Event(Box::new(EventRecord {
            app_id: self.settings.app_id.clone(),
            journey: self.key.object_name(),
            event: event.clone(),
            touch: touch.clone(),
            is_conversion: attributed,
        })));
        // Last: the reads above (visits, windows) exclude this event by its message id.
        self.store.insert_recorded_event(event, &records)?;
        Ok(EventOutcome::Stored {
            touch: touch.is_some(),
            conversion: attributed,
        })
    }

    /// The touch `event` adds to this journey, after the visit rules.
    fn new_touch(&self, event: &Event) -> Result<Option<Touch>, S::Error> {
        let Some(classified) = classify(event) else {
            return Ok(None);
        };
        let touch = classified.touch;
        let visit_going_on = || -> Result<bool, S::Error> {
            Ok(self
                .store
                .latest_activity(touch.ts_ms, &event.message_id)?
                .is_some_and(|last| touch.ts_ms - last < TOUCH_SESSION_TIMEOUT_MS))
        };
        let keep = match classified.recording {
            Recording::Always => !self.store.has_touch(&touch)?,
            Recording::UnlessSameVisit => {
                let repeats_latest = self
                    .store
                    .latest_touch(touch.ts_ms)?
                    .is_some_and(|previous| previous.same_visit_as(&touch));
                !(repeats_latest && visit_going_on()?)
            }
            Recording::OnlyNewVisit => !visit_going_on()?,
        };
        Ok(keep.then_some(touch))
    }

    pub fn export(&self) -> Result<JourneyExport, JourneyError<S::Error>> {
        Ok(JourneyExport {
            events: self.store.all_events()?,
            touches: self.store.all_touches()?,
            attributions: self.store.all_attributions()?,
            paths_closed_through_ms: self.store.null_path_state()?.closed_through_ms,
        })
    }

    /// Takes in the journey `from` hands over. Already-present facts are skipped, so importing
    /// the same export twice changes nothing the second time. Conversions keep the attribution
    /// they got in their own journey; this journey's own conversions that the imported touches
    /// may credit are judged again, as after late touches ([`late`]). The null-path mark
    /// becomes the later of both marks (see [`nulls`] for the edge case this accepts), and
    /// closing is due at once so the merged touches are judged together.
    pub fn import(
        &self,
        from: &JourneyKey,
        export: &JourneyExport,
        now_ms: i64,
    ) -> Result<ImportSummary, JourneyError<S::Error>> {
        self.store.atomically(|| {
            let mut summary = ImportSummary::default();
            for event in &export.events {
                if self.store.insert_event_if_new(event)? {
                    summary.events += 1;
                }
            }
            let mut late = LateTouches::default();
            for touch in &export.touches {
                if !self.store.has_touch(touch)? {
                    self.store.insert_touch(touch)?;
                    summary.touches += 1;
                    late.add_unless_rejected(touch);
                }
            }
            // This journey's own conversions, before the imported ones join them: an imported
            // touch may precede one, as a late touch does.
            self.credit_late_touches(late, now_ms)?;
            for result in &export.attributions {
                if !self.store.has_attribution(result)? {
                    self.store.insert_attribution(result)?;
                    summary.conversions += 1;
                }
            }
            nulls::journey_imported(
                self.store,
                export.paths_closed_through_ms,
                summary.touches + summary.conversions > 0,
                now_ms,
            )?;
            if summary != ImportSummary::default() {
                self.store.enqueue(&OutboxRecord::Merge(MergeRecord {
                    app_id: self.settings.app_id.clone(),
                    from: from.object_name(),
                    into: self.key.object_name(),
                    merged_at_ms: now_ms,
                }))?;
            }
            Ok(summary)
        })
    }
}

#[cfg(test)]
mod consent_tests;
#[cfg(test)]
mod fraud_tests;
#[cfg(test)]
mod late_tests;
#[cfg(test)]
mod limit_tests;
#[cfg(test)]
mod null_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod window_tests;
