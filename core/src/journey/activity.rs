//! A journey's latest activity before a time, answered from the two latest events a store
//! remembers instead of a time index on every stored event (issue 15: each index entry is a
//! row written, billed like the event itself).
//!
//! The visit and lifecycle rules ask for the latest other event at or before a time
//! ([`super::JourneyStore::latest_activity`], `latest_engagement`). Events mostly arrive in
//! time order, so the answer is nearly always the latest stored event other than the one
//! being recorded: keeping the two latest (one may be the excluded event) answers those
//! questions with no read. An event older than them (out of order, a merge's import) gets
//! [`Answer::Look`]: the store scans its events, which only happens off the usual path.

use crate::event::{Event, EventType};

/// One stored event, as far as activity goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub ts_ms: i64,
    pub message_id: String,
    /// Not a tracking-link click or impression (`latest_engagement` counts only these).
    pub engaged: bool,
}

impl Seen {
    pub fn of(event: &Event) -> Self {
        Seen {
            ts_ms: event.timestamp_ms,
            message_id: event.message_id.clone(),
            engaged: engaged(event.event_type),
        }
    }
}

pub fn engaged(event_type: EventType) -> bool {
    !matches!(event_type, EventType::Click | EventType::Impression)
}

/// What the remembered events tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The answer, with no read.
    Known(Option<i64>),
    /// The remembered events cannot tell: look in storage.
    Look,
}

/// The two latest stored events (newest first) and whether they are all the stored events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentActivity {
    latest: Vec<Seen>,
    /// Every stored event is in `latest` (the journey holds at most two).
    complete: bool,
}

/// How many latest events are kept: one of them may be the event being recorded.
const KEPT: usize = 2;

impl RecentActivity {
    /// From the latest stored events as read (up to [`KEPT`], any order; fewer means the
    /// journey holds no more).
    pub fn from_latest(mut rows: Vec<Seen>) -> Self {
        let complete = rows.len() < KEPT;
        rows.sort_by_key(|s| std::cmp::Reverse(s.ts_ms));
        rows.truncate(KEPT);
        RecentActivity {
            latest: rows,
            complete,
        }
    }

    /// An event was stored.
    pub fn stored(&mut self, seen: Seen) {
        let at = self
            .latest
            .iter()
            .position(|s| s.ts_ms < seen.ts_ms)
            .unwrap_or(self.latest.len());
        self.latest.insert(at, seen);
        if self.latest.len() > KEPT {
            self.latest.truncate(KEPT);
            self.complete = false;
        }
    }

    /// The latest event time at or before `ts_ms`, other than event `excluding`.
    pub fn latest_activity(&self, ts_ms: i64, excluding: &str) -> Answer {
        self.latest_where(ts_ms, excluding, |_| true)
    }

    /// Like [`Self::latest_activity`], counting only engaged events.
    pub fn latest_engagement(&self, ts_ms: i64, excluding: &str) -> Answer {
        self.latest_where(ts_ms, excluding, |s| s.engaged)
    }

    /// Whether an event other than `excluding` is at or after `ts_ms`: the event being
    /// recorded may have arrived out of order. Always known: the first other remembered event
    /// is the latest of all the others.
    pub fn any_since(&self, ts_ms: i64, excluding: &str) -> bool {
        self.latest
            .iter()
            .find(|s| s.message_id != excluding)
            .is_some_and(|latest| latest.ts_ms >= ts_ms)
    }

    fn latest_where(&self, ts_ms: i64, excluding: &str, counts: impl Fn(&Seen) -> bool) -> Answer {
        let mut others = self.latest.iter().filter(|s| s.message_id != excluding);
        if self.complete {
            return Answer::Known(
                others
                    .filter(|s| s.ts_ms <= ts_ms && counts(s))
                    .map(|s| s.ts_ms)
                    .max(),
            );
        }
        // Not complete: `latest` holds two events, so one other than `excluding`, and it is
        // the latest of all the others. Older ones are not remembered.
        match others.next() {
            Some(other) if other.ts_ms <= ts_ms && counts(other) => {
                Answer::Known(Some(other.ts_ms))
            }
            _ => Answer::Look,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(ts_ms: i64, id: &str) -> Seen {
        Seen {
            ts_ms,
            message_id: id.into(),
            engaged: true,
        }
    }

    fn click(ts_ms: i64, id: &str) -> Seen {
        Seen {
            engaged: false,
            ..seen(ts_ms, id)
        }
    }

    /// The same questions over every stored event, as the store's scan answers them.
    fn scan(all: &[Seen], ts_ms: i64, excluding: &str, engaged_only: bool) -> Option<i64> {
        all.iter()
            .filter(|s| s.ts_ms <= ts_ms && s.message_id != excluding)
            .filter(|s| !engaged_only || s.engaged)
            .map(|s| s.ts_ms)
            .max()
    }

    #[test]
    fn an_empty_journey_has_no_activity() {
        let recent = RecentActivity::from_latest(Vec::new());
        assert_eq!(recent.latest_activity(100, "a"), Answer::Known(None));
    }

    #[test]
    fn in_order_events_are_answered_without_a_read() {
        let mut recent = RecentActivity::from_latest(Vec::new());
        for (i, ts) in [10, 20, 30, 40].into_iter().enumerate() {
            recent.stored(seen(ts, &format!("e{i}")));
        }
        // The event being recorded (e3, at 40) is excluded: the latest other is e2.
        assert_eq!(recent.latest_activity(40, "e3"), Answer::Known(Some(30)));
        assert_eq!(recent.latest_activity(45, "x"), Answer::Known(Some(40)));
    }

    #[test]
    fn an_event_older_than_the_remembered_ones_is_looked_up() {
        let mut recent = RecentActivity::from_latest(vec![seen(30, "b"), seen(40, "c")]);
        recent.stored(seen(5, "old"));
        assert_eq!(recent.latest_activity(5, "old"), Answer::Look);
        assert_eq!(recent.latest_activity(35, "x"), Answer::Look);
    }

    #[test]
    fn a_journey_of_two_events_is_answered_in_full() {
        let mut recent = RecentActivity::from_latest(vec![seen(30, "b")]);
        recent.stored(seen(10, "a"));
        assert_eq!(recent.latest_activity(20, "x"), Answer::Known(Some(10)));
        assert_eq!(recent.latest_activity(5, "x"), Answer::Known(None));
        assert_eq!(recent.latest_activity(30, "b"), Answer::Known(Some(10)));
    }

    #[test]
    fn a_click_is_not_engagement() {
        let mut recent = RecentActivity::from_latest(vec![seen(10, "a"), seen(20, "b")]);
        recent.stored(click(30, "c"));
        recent.stored(seen(40, "conv"));
        assert_eq!(recent.latest_engagement(40, "conv"), Answer::Look);
        assert_eq!(recent.latest_activity(40, "conv"), Answer::Known(Some(30)));
    }

    #[test]
    fn every_known_answer_is_the_scans_answer() {
        // Deterministic pseudo-random orders of arrival, out of order included.
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as i64
        };
        for _ in 0..200 {
            let mut recent = RecentActivity::from_latest(Vec::new());
            let mut all = Vec::new();
            for i in 0..(next() % 8) {
                let ts = next() % 50;
                let event = if next() % 4 == 0 {
                    click(ts, &format!("e{i}"))
                } else {
                    seen(ts, &format!("e{i}"))
                };
                recent.stored(event.clone());
                all.push(event);
                let at = next() % 60;
                let excluding = format!("e{}", next() % (i + 2));
                let later = |all: &[Seen]| {
                    all.iter()
                        .any(|s| s.ts_ms >= at && s.message_id != excluding)
                };
                assert_eq!(recent.any_since(at, &excluding), later(&all));
                for engaged_only in [false, true] {
                    let answer = if engaged_only {
                        recent.latest_engagement(at, &excluding)
                    } else {
                        recent.latest_activity(at, &excluding)
                    };
                    if let Answer::Known(known) = answer {
                        assert_eq!(known, scan(&all, at, &excluding, engaged_only));
                    }
                }
            }
            // Reloaded from storage (the two latest), it still agrees.
            let mut sorted = all.clone();
            sorted.sort_by_key(|s| std::cmp::Reverse(s.ts_ms));
            sorted.truncate(2);
            let reloaded = RecentActivity::from_latest(sorted);
            for at in [0, 25, 60] {
                let later = all.iter().any(|s| s.ts_ms >= at && s.message_id != "e0");
                assert_eq!(reloaded.any_since(at, "e0"), later);
                if let Answer::Known(known) = reloaded.latest_activity(at, "e0") {
                    assert_eq!(known, scan(&all, at, "e0", false));
                }
            }
        }
    }
}
