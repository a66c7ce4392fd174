//! Null paths: runs of touches that ended without a conversion, closed by the journey itself.
//!
//! Data-driven attribution (Markov chains, as in the ChannelAttribution package) needs, for
//! every channel path, the journeys that followed it and converted and those that followed it
//! and did not ("nulls"). Converting paths come from attributions (`crate::rollup`); null
//! paths come from here, as `null_path` outbox records.
//!
//! The rules:
//! - The journey's touches (not fraud-rejected) later than its "paths closed through" mark
//!   ([`NullPathState::closed_through_ms`]) are cut into sequences by its conversions (every
//!   stored attribution: credited, organic or fraud-rejected): a touch belongs to the first
//!   conversion at or after it, as attribution counts a touch at the conversion's own
//!   millisecond as eligible. The touches after the latest conversion are the TRAILING ones.
//!   A touch at or after the due time (below) of the touches before it starts a sequence of
//!   its own: by its time those were already a null path.
//! - A sequence can be credited until `max over its touches of (touch ts + window of its
//!   kind)` (click window for clicks, view-through window for views). A conversion at or
//!   before that time takes the sequence in: its touches belong to that conversion, whose
//!   path is already counted from its attribution, and no null path is written. Otherwise
//!   the sequence becomes a NULL PATH once that time has passed (from the next millisecond,
//!   [`PathClosure::next_due_ms`]).
//! - Judging a sequence by its next conversion's *time* rather than by when the alarm runs
//!   makes the outcome independent of the alarm's timing: a conversion recorded between a
//!   sequence's due time and a late alarm, at a time when none of the sequence could be
//!   credited any more, does not swallow it (it could not credit those touches: its own path
//!   does not hold them). With a prompt alarm this is exactly "the trailing touches close at
//!   their due time unless a conversion came first".
//! - Steps: the touches' sources, oldest first, consecutive repeats merged, the last
//!   `MAX_PATH_STEPS` kept (`crate::rollup::path_steps`, as for conversions). The record is
//!   counted on the UTC day of its last touch.
//! - Closing writes one record per null path and advances the mark to the last touch of the
//!   last sequence decided (closed or taken in by a conversion), in one transaction; the
//!   record id is `null_path:{journey}:{last touch id}`. Touches at or before the mark are
//!   never looked at again, so however often closing runs, a sequence is written once.
//!
//! Accepted edge cases (each chosen over counting a path twice):
//! - An event that arrives after its sequence was closed, with a time before the mark (an
//!   SDK that sends late, clock skew): a late touch is in no null path; a late conversion is
//!   attributed as usual, so its touches may count both as its path and as the null path
//!   already sent. Closing a while after the due time would narrow that window (the outcome
//!   does not otherwise depend on when closing runs), at the cost of later nulls; closing
//!   runs at the due time, as decided.
//! - Merges: the importing journey keeps the later of both marks. Touches the source already
//!   closed are not closed again; but touches of either journey that were still open and lie
//!   at or before the later mark are never closed (a null path less, not one too many).
//! - Settings: the windows are the app's at closing time (the Durable Object keeps the
//!   latest it was sent); changing them re-judges only sequences not yet decided.
//! - Lifecycle repeats inside the re-attribution window have no attribution and do not end
//!   a sequence; repeated order ids are not conversions at all.
//!
//! Due time: closing is worth running only when something may be decided. The store keeps
//! [`NullPathState::due_ms`], never later than the next sequence's due time: closing sets it
//! exactly; recording a touch lowers it to that touch's own due time, recording a conversion
//! (which may split a sequence) to the conversion's time, a merge to "now". An early run
//! decides nothing and sets the exact time; for events recorded in time order, what is
//! written never depends on when closing runs (`null_tests.rs` checks this).

use serde::{Deserialize, Serialize};

use super::{JourneyError, JourneyStore};
use crate::attribution::Windows;
use crate::identity::JourneyKey;
use crate::outbox::{NullPathRecord, OutboxRecord};
use crate::rollup::path_steps;
use crate::touch::Touch;

/// The journey's null-path bookkeeping, stored with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NullPathState {
    /// "Paths closed through": touches at or before this time are decided (closed into a null
    /// path, taken in by a conversion, or left out by a merge); `None` before the first
    /// closing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_through_ms: Option<i64>,
    /// When closing should run next: at or before the next sequence's due time. `None` when
    /// no touch is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_ms: Option<i64>,
}

/// What one closing run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathClosure {
    /// The null paths written to the outbox, oldest first.
    pub closed: Vec<NullPathRecord>,
    /// When the next open sequence falls due (the first millisecond at which none of its
    /// touches can be credited), if there is one: when the alarm should run again.
    pub next_due_ms: Option<i64>,
}

/// Closes every sequence of the journey `key` that is due at `now_ms`, with the app's
/// `windows`: writes their records and the new mark and due time in one transaction.
/// Running it again changes nothing until a new sequence falls due.
pub fn close_null_paths<S: JourneyStore>(
    store: &S,
    key: &JourneyKey,
    windows: &Windows,
    now_ms: i64,
) -> Result<PathClosure, JourneyError<S::Error>> {
    store.atomically(|| {
        let state = store.null_path_state()?;
        let from = state
            .closed_through_ms
            .map_or(i64::MIN, |mark| mark.saturating_add(1));
        let touches = store.touches_since(from)?;
        let conversions = store.conversion_times_since(from)?;
        let plan = plan(&touches, &conversions, windows, now_ms);
        let journey = key.object_name();
        let mut closed = Vec::with_capacity(plan.null.len());
        for sequence in &plan.null {
            let (Some(first), Some(last)) = (sequence.first(), sequence.last()) else {
                continue;
            };
            let record = NullPathRecord {
                app_id: key.app_id.clone(),
                journey: journey.clone(),
                path: path_steps(sequence.iter().map(|t| t.source.as_str())),
                touches: u32::try_from(sequence.len()).unwrap_or(u32::MAX),
                first_touch_ms: first.ts_ms,
                last_touch_ms: last.ts_ms,
                last_touch_id: last.touch_id.clone(),
                closed_at_ms: now_ms,
            };
            store.enqueue(&OutboxRecord::NullPath(record.clone()))?;
            closed.push(record);
        }
        let new_state = NullPathState {
            closed_through_ms: state.closed_through_ms.max(plan.closed_through_ms),
            due_ms: plan.next_due_ms,
        };
        if new_state != state {
            store.set_null_path_state(&new_state)?;
        }
        Ok(PathClosure {
            closed,
            next_due_ms: plan.next_due_ms,
        })
    })
}

/// What becomes of the open touches (`touches` after the mark, `conversions` the conversion
/// times after it) at `now_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan<'t> {
    /// Sequences to close into null paths, oldest first, each oldest touch first.
    pub null: Vec<Vec<&'t Touch>>,
    /// The last touch of the last sequence decided (closed or taken in), if any was.
    pub closed_through_ms: Option<i64>,
    /// The due time of the first sequence still open.
    pub next_due_ms: Option<i64>,
}

/// Cuts the open touches into sequences and decides each, oldest first, stopping at the
/// first one still open (the mark cannot pass it). Pure: the rules of the module docs.
pub fn plan<'t>(
    touches: &'t [Touch],
    conversions: &[i64],
    windows: &Windows,
    now_ms: i64,
) -> Plan<'t> {
    let mut live: Vec<&Touch> = touches.iter().filter(|t| t.rejected.is_none()).collect();
    live.sort_by(|a, b| {
        a.ts_ms
            .cmp(&b.ts_ms)
            .then_with(|| a.touch_id.cmp(&b.touch_id))
    });
    live.dedup_by(|a, b| a.touch_id == b.touch_id);
    let mut conversions = conversions.to_vec();
    conversions.sort_unstable();

    // (touches, the conversion that ends them, when they can no longer be credited), in time
    // order. A touch at or after the due time of the sequence before it starts a new one:
    // by its time that sequence was already a null path, whenever closing got to run.
    let mut sequences: Vec<(Vec<&Touch>, Option<i64>, i64)> = Vec::new();
    let mut next = 0;
    for touch in live {
        while conversions.get(next).is_some_and(|&c| c < touch.ts_ms) {
            next += 1;
        }
        let ended_by = conversions.get(next).copied();
        let own_close = closes_at(&[touch], windows);
        match sequences.last_mut() {
            Some((members, end, close)) if *end == ended_by && touch.ts_ms < *close => {
                members.push(touch);
                *close = (*close).max(own_close);
            }
            _ => sequences.push((vec![touch], ended_by, own_close)),
        }
    }

    let mut plan = Plan {
        null: Vec::new(),
        closed_through_ms: None,
        next_due_ms: None,
    };
    for (members, ended_by, closes_at) in sequences {
        let Some(last) = members.last() else {
            continue;
        };
        let last_ms = last.ts_ms;
        match ended_by {
            // A conversion that could still credit one of them took them in.
            Some(conversion) if conversion < closes_at => {}
            _ if now_ms >= closes_at => plan.null.push(members),
            _ => {
                plan.next_due_ms = Some(closes_at);
                break;
            }
        }
        plan.closed_through_ms = Some(last_ms);
    }
    plan
}

/// The first millisecond at which no conversion can credit any of `touches`: one after the
/// latest (touch time + window of its kind), as `conversion - touch <= window` is eligible.
pub fn closes_at(touches: &[&Touch], windows: &Windows) -> i64 {
    touches
        .iter()
        .map(|t| t.ts_ms.saturating_add(windows.of_kind(t.kind)))
        .max()
        .unwrap_or(i64::MIN)
        .saturating_add(1)
}

/// After a touch is stored: an open touch brings the due time forward to its own.
pub(super) fn touch_recorded<S: JourneyStore>(
    store: &S,
    touch: &Touch,
    windows: &Windows,
) -> Result<(), S::Error> {
    if touch.rejected.is_some() {
        return Ok(());
    }
    let state = store.null_path_state()?;
    if state
        .closed_through_ms
        .is_some_and(|mark| touch.ts_ms <= mark)
    {
        return Ok(());
    }
    lower_due(store, state, closes_at(&[touch], windows))
}

/// After a conversion is stored: it may cut an open sequence in two, and the part before it
/// may be due by its time, so closing runs then (at once for a conversion in the past). With
/// nothing open there is nothing to cut.
pub(super) fn conversion_recorded<S: JourneyStore>(store: &S, ts_ms: i64) -> Result<(), S::Error> {
    let state = store.null_path_state()?;
    if state.due_ms.is_none() || state.closed_through_ms.is_some_and(|mark| ts_ms <= mark) {
        return Ok(());
    }
    lower_due(store, state, ts_ms)
}

/// After a merge: keep the later mark; judge the merged touches at once.
pub(super) fn journey_imported<S: JourneyStore>(
    store: &S,
    source_mark: Option<i64>,
    imported_facts: bool,
    now_ms: i64,
) -> Result<(), S::Error> {
    let state = store.null_path_state()?;
    let mut new = state;
    new.closed_through_ms = state.closed_through_ms.max(source_mark);
    if imported_facts && new.due_ms.is_none_or(|due| now_ms < due) {
        new.due_ms = Some(now_ms);
    }
    if new != state {
        store.set_null_path_state(&new)?;
    }
    Ok(())
}

fn lower_due<S: JourneyStore>(store: &S, state: NullPathState, at: i64) -> Result<(), S::Error> {
    if state.due_ms.is_some_and(|due| due <= at) {
        return Ok(());
    }
    store.set_null_path_state(&NullPathState {
        due_ms: Some(at),
        ..state
    })
}
