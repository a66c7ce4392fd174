//! An in-memory [`JourneyStore`] for unit tests, with real all-or-nothing transactions.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use crate::attribution::AttributionResult;
use crate::event::{Event, EventType};
use crate::outbox::OutboxRecord;
use crate::postback::Postback;
use crate::touch::Touch;

use super::{JourneyStore, NullPathState};

#[derive(Debug, Clone, Default)]
struct State {
    events: BTreeMap<String, Event>,
    touches: BTreeMap<String, Touch>,
    attributions: BTreeMap<String, AttributionResult>,
    outbox: Vec<OutboxRecord>,
    postbacks: BTreeMap<String, Postback>,
    null_paths: NullPathState,
}

#[derive(Debug, Default)]
pub struct MemoryStore {
    state: RefCell<State>,
    /// Makes the write after the next n fail once, to test that nothing is half-written.
    fail_after_writes: Cell<Option<usize>>,
}

#[derive(Debug, thiserror::Error)]
#[error("injected storage failure")]
pub struct InjectedFailure;

impl MemoryStore {
    pub fn outbox(&self) -> Vec<OutboxRecord> {
        self.state.borrow().outbox.clone()
    }

    pub fn postbacks(&self) -> Vec<Postback> {
        self.state.borrow().postbacks.values().cloned().collect()
    }

    pub fn event_count(&self) -> usize {
        self.state.borrow().events.len()
    }

    pub fn fail_after_writes(&self, writes: usize) {
        self.fail_after_writes.set(Some(writes));
    }

    fn write(&self, apply: impl FnOnce(&mut State)) -> Result<(), InjectedFailure> {
        if let Some(left) = self.fail_after_writes.get() {
            if left == 0 {
                self.fail_after_writes.set(None);
                return Err(InjectedFailure);
            }
            self.fail_after_writes.set(Some(left - 1));
        }
        apply(&mut self.state.borrow_mut());
        Ok(())
    }
}

impl JourneyStore for MemoryStore {
    type Error = InjectedFailure;

    fn atomically<T, E: From<Self::Error>>(
        &self,
        work: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let snapshot = self.state.borrow().clone();
        let result = work();
        if result.is_err() {
            *self.state.borrow_mut() = snapshot;
        }
        result
    }

    fn has_event(&self, message_id: &str) -> Result<bool, Self::Error> {
        Ok(self.state.borrow().events.contains_key(message_id))
    }

    fn insert_event_if_new(&self, event: &Event) -> Result<bool, Self::Error> {
        if self.state.borrow().events.contains_key(&event.message_id) {
            return Ok(false);
        }
        self.write(|s| {
            s.events.insert(event.message_id.clone(), event.clone());
        })?;
        Ok(true)
    }

    fn latest_activity(&self, ts_ms: i64, excluding: &str) -> Result<Option<i64>, Self::Error> {
        Ok(self
            .state
            .borrow()
            .events
            .values()
            .filter(|e| e.timestamp_ms <= ts_ms && e.message_id != excluding)
            .map(|e| e.timestamp_ms)
            .max())
    }

    fn has_event_since(&self, ts_ms: i64, excluding: &str) -> Result<bool, Self::Error> {
        Ok(self
            .state
            .borrow()
            .events
            .values()
            .any(|e| e.timestamp_ms >= ts_ms && e.message_id != excluding))
    }

    fn latest_engagement(&self, ts_ms: i64, excluding: &str) -> Result<Option<i64>, Self::Error> {
        Ok(self
            .state
            .borrow()
            .events
            .values()
            .filter(|e| {
                e.timestamp_ms <= ts_ms
                    && e.message_id != excluding
                    && !matches!(e.event_type, EventType::Click | EventType::Impression)
            })
            .map(|e| e.timestamp_ms)
            .max())
    }

    fn has_touch(&self, touch: &Touch) -> Result<bool, Self::Error> {
        Ok(self.state.borrow().touches.contains_key(&touch.touch_id))
    }

    fn insert_touch(&self, touch: &Touch) -> Result<(), Self::Error> {
        self.write(|s| {
            s.touches.insert(touch.touch_id.clone(), touch.clone());
        })
    }

    fn latest_touch(&self, ts_ms: i64) -> Result<Option<Touch>, Self::Error> {
        Ok(self
            .state
            .borrow()
            .touches
            .values()
            .filter(|t| t.ts_ms <= ts_ms)
            .max_by(|a, b| {
                a.ts_ms
                    .cmp(&b.ts_ms)
                    .then_with(|| a.touch_id.cmp(&b.touch_id))
            })
            .cloned())
    }

    fn touches_since(&self, from_ms: i64) -> Result<Vec<Touch>, Self::Error> {
        Ok(self
            .state
            .borrow()
            .touches
            .values()
            .filter(|t| t.ts_ms >= from_ms)
            .cloned()
            .collect())
    }

    fn touches_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<Touch>, Self::Error> {
        let mut touches: Vec<Touch> = self
            .state
            .borrow()
            .touches
            .values()
            .filter(|t| t.ts_ms >= from_ms && t.ts_ms <= to_ms)
            .cloned()
            .collect();
        touches.sort_by(|a, b| {
            a.ts_ms
                .cmp(&b.ts_ms)
                .then_with(|| a.touch_id.cmp(&b.touch_id))
        });
        let excess = touches.len().saturating_sub(limit);
        touches.drain(..excess);
        Ok(touches)
    }

    fn has_order(&self, conversion_name: &str, order_id: &str) -> Result<bool, Self::Error> {
        Ok(self.state.borrow().attributions.values().any(|a| {
            a.conversion.name == conversion_name
                && a.conversion.order_id.as_deref() == Some(order_id)
        }))
    }

    fn has_attribution(&self, result: &AttributionResult) -> Result<bool, Self::Error> {
        Ok(self
            .state
            .borrow()
            .attributions
            .contains_key(&result.conversion.conversion_id))
    }

    fn insert_attribution(&self, result: &AttributionResult) -> Result<(), Self::Error> {
        self.write(|s| {
            s.attributions
                .insert(result.conversion.conversion_id.clone(), result.clone());
        })
    }

    fn replace_attribution(&self, result: &AttributionResult) -> Result<(), Self::Error> {
        self.insert_attribution(result)
    }

    fn latest_conversion_named(
        &self,
        name: &str,
        before_ms: i64,
    ) -> Result<Option<i64>, Self::Error> {
        Ok(self
            .state
            .borrow()
            .attributions
            .values()
            .filter(|a| {
                a.conversion.name == name && a.conversion.ts_ms < before_ms && a.rejected.is_none()
            })
            .map(|a| a.conversion.ts_ms)
            .max())
    }

    fn first_conversion_before(&self, before_ms: i64) -> Result<Option<i64>, Self::Error> {
        Ok(self
            .state
            .borrow()
            .attributions
            .values()
            .filter(|a| a.conversion.ts_ms < before_ms && a.rejected.is_none())
            .map(|a| a.conversion.ts_ms)
            .min())
    }

    fn enqueue(&self, record: &OutboxRecord) -> Result<(), Self::Error> {
        self.write(|s| s.outbox.push(record.clone()))
    }

    fn enqueue_postback(&self, postback: &Postback) -> Result<(), Self::Error> {
        self.write(|s| {
            s.postbacks
                .entry(postback.key.clone())
                .or_insert_with(|| postback.clone());
        })
    }

    fn all_events(&self) -> Result<Vec<Event>, Self::Error> {
        Ok(self.state.borrow().events.values().cloned().collect())
    }

    fn all_touches(&self) -> Result<Vec<Touch>, Self::Error> {
        Ok(self.state.borrow().touches.values().cloned().collect())
    }

    fn all_attributions(&self) -> Result<Vec<AttributionResult>, Self::Error> {
        Ok(self.state.borrow().attributions.values().cloned().collect())
    }

    fn attributions_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: usize,
    ) -> Result<Vec<AttributionResult>, Self::Error> {
        let mut found: Vec<AttributionResult> = self
            .state
            .borrow()
            .attributions
            .values()
            .filter(|a| (from_ms..=to_ms).contains(&a.conversion.ts_ms))
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            (a.conversion.ts_ms, &a.conversion.conversion_id)
                .cmp(&(b.conversion.ts_ms, &b.conversion.conversion_id))
        });
        found.truncate(limit);
        Ok(found)
    }

    fn conversion_times_since(&self, from_ms: i64) -> Result<Vec<i64>, Self::Error> {
        let mut times: Vec<i64> = self
            .state
            .borrow()
            .attributions
            .values()
            .map(|a| a.conversion.ts_ms)
            .filter(|ts| *ts >= from_ms)
            .collect();
        times.sort_unstable();
        Ok(times)
    }

    fn null_path_state(&self) -> Result<NullPathState, Self::Error> {
        Ok(self.state.borrow().null_paths)
    }

    fn set_null_path_state(&self, state: &NullPathState) -> Result<(), Self::Error> {
        self.write(|s| s.null_paths = *state)
    }
}
