//! When the journey's one alarm fires: the timing policy of its three duties (closing null
//! paths, flushing the outbox, sending postbacks), with no IO. The Durable Object reads what
//! storage holds into a [`Waiting`], asks these functions for a time, and sets the alarm.
//!
//! Two facts of the runtime shape the rules:
//! - requests run while the alarm awaits the origin or a network, and `getAlarm` answers null
//!   while an alarm runs, so a request's [`after_request`] sets an alarm that the run's own
//!   rearm would overwrite. [`after_run`] therefore takes what storage holds at the *end* of
//!   the run and never answers later than that needs (regression: an event stored while the
//!   alarm was sending waited for the null-path due time, days away);
//! - a close that fails leaves the null-path due time in the past; such overdue paths are
//!   served no sooner than [`PATHS_RETRY_MS`] after a run (regression: a failing close looped
//!   every [`WAKE_DELAY_MS`]).

/// Delay between recording and the first flush: the calls of a burst share one flush, its
/// POST and its one row written (issue 15: events keep their records in their rows, and the
/// flush moves one mark over them). A flush costs about as much CPU as a call; 5 s lets a
/// visit's page views and tracks share one, and delays only the origin's copy (the journey,
/// its attribution and its postbacks do not wait for it).
pub const FLUSH_DELAY_MS: i64 = 5_000;
/// The soonest the alarm comes back for other work (postbacks, null paths, retention):
/// postbacks go out within a second of their attribution.
pub const WAKE_DELAY_MS: i64 = 50;
/// Outbox flush backoff after a failure: from the base, doubling, capped.
pub const FLUSH_BACKOFF_BASE_MS: i64 = 1_000;
pub const FLUSH_BACKOFF_MAX_MS: i64 = 5 * 60 * 1_000;
/// When closing null paths failed (storage), the alarm tries again this much later.
pub const PATHS_RETRY_MS: i64 = 30_000;
/// When reading what waits in storage failed after a run, the alarm comes back this soon.
pub const STORAGE_RETRY_MS: i64 = FLUSH_BACKOFF_BASE_MS;

/// What storage holds that needs the alarm, as the object read it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Waiting {
    /// The outbox has rows to send.
    pub outbox_rows: bool,
    /// When the outbox may be flushed again after a failure (0: any time).
    pub flush_not_before_ms: i64,
    /// The earliest pending postback's due time.
    pub postback_due_ms: Option<i64>,
    /// The null-path due time (`NullPathState::due_ms`).
    pub paths_due_ms: Option<i64>,
    /// When expired raw events and touches are next removed ([`RetentionState::due_ms`]).
    pub retention_due_ms: Option<i64>,
}

pub fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// When what storage holds needs the alarm: outbox rows after their backoff (at least
/// [`FLUSH_DELAY_MS`] from now, so writes close together leave in one batch), pending
/// postbacks, the null-path due time. A due time already past is served no sooner than
/// `overdue_paths_at`.
pub fn waiting_work_due(waiting: &Waiting, now_ms: i64, overdue_paths_at: i64) -> Option<i64> {
    let soon = now_ms + WAKE_DELAY_MS;
    let outbox = waiting
        .outbox_rows
        .then(|| waiting.flush_not_before_ms.max(now_ms + FLUSH_DELAY_MS));
    let postbacks = waiting.postback_due_ms.map(|due| due.max(soon));
    let paths = waiting.paths_due_ms.map(|due| {
        if due <= now_ms {
            overdue_paths_at
        } else {
            due.max(soon)
        }
    });
    let retention = waiting.retention_due_ms.map(|due| due.max(soon));
    earliest(earliest(earliest(outbox, postbacks), paths), retention)
}

/// After a request wrote: the time to set the alarm to, or `None` to leave it (nothing waits,
/// or the alarm `current`ly set fires soon enough).
pub fn after_request(waiting: &Waiting, now_ms: i64, current: Option<i64>) -> Option<i64> {
    let wanted = waiting_work_due(waiting, now_ms, now_ms + WAKE_DELAY_MS)?;
    current.is_none_or(|at| at > wanted).then_some(wanted)
}

/// After an alarm run that asked for `next`: when to fire again, given what storage holds at
/// the end of the run (`Err`: storage could not be read, so come back soon). Never later than
/// the waiting work needs, and overdue null paths (a close that failed) no sooner than
/// [`PATHS_RETRY_MS`].
pub fn after_run<E>(next: Option<i64>, waiting: Result<Waiting, E>, now_ms: i64) -> Option<i64> {
    let needed = match waiting {
        Ok(waiting) => waiting_work_due(&waiting, now_ms, now_ms + PATHS_RETRY_MS),
        Err(_) => Some(now_ms + STORAGE_RETRY_MS),
    };
    earliest(next, needed).map(|at| at.max(now_ms + 1))
}

/// What the alarm should do about null paths now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathsStep {
    /// Nothing is open.
    Idle,
    /// Not due yet: come back then.
    NotYet(i64),
    /// Close now.
    Close,
}

pub fn paths_step(due_ms: Option<i64>, now_ms: i64) -> PathsStep {
    match due_ms {
        None => PathsStep::Idle,
        Some(due) if now_ms < due => PathsStep::NotYet(due),
        Some(_) => PathsStep::Close,
    }
}

/// When closing is due next after a close that failed at `now_ms`.
pub fn paths_retry_at(now_ms: i64) -> i64 {
    now_ms + PATHS_RETRY_MS
}

/// What the alarm should do about the outbox now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushStep {
    /// The outbox is empty.
    Idle,
    /// Backing off after a failure until then.
    NotYet(i64),
    Send,
}

pub fn flush_step(outbox_rows: bool, not_before_ms: i64, now_ms: i64) -> FlushStep {
    if !outbox_rows {
        FlushStep::Idle
    } else if now_ms < not_before_ms {
        FlushStep::NotYet(not_before_ms)
    } else {
        FlushStep::Send
    }
}

/// How a flush ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushResult {
    /// Everything sent (or set aside): the outbox is empty.
    Drained,
    /// Sent, and more rows wait (a full batch, or rows written meanwhile).
    MoreWaiting,
    /// The `attempts`-th failure in a row.
    Failed { attempts: u32 },
}

/// After a flush: when to flush again, and the backoff mark to store (`flush_not_before_ms`).
pub fn after_flush(result: FlushResult, now_ms: i64) -> (Option<i64>, i64) {
    match result {
        FlushResult::Drained => (None, 0),
        FlushResult::MoreWaiting => (Some(now_ms), 0),
        FlushResult::Failed { attempts } => {
            let at = now_ms + flush_backoff_ms(attempts);
            (Some(at), at)
        }
    }
}

/// Backoff after the `attempts`-th failure in a row: 1 s, 2 s, 4 s, ... up to 5 min.
pub fn flush_backoff_ms(attempts: u32) -> i64 {
    let exponent = attempts.saturating_sub(1).min(20);
    (FLUSH_BACKOFF_BASE_MS << exponent).min(FLUSH_BACKOFF_MAX_MS)
}

/// Retention (issue 12): the journey removes raw events and touches older than the app's
/// `retention_days`, a bounded batch per alarm run. What is kept, and why:
/// - conversions and their attribution results (each result holds the touches it credited);
/// - touches not yet decided for null paths (after `paths_closed_through_ms`): a touch removed
///   before its window closed would vanish from the null-path counts. They go once closed.
pub const DAY_MS: i64 = 86_400_000;
/// A run that removed a full batch comes back this soon for the rest.
pub const RETENTION_CONTINUE_MS: i64 = 1_000;
/// Retention runs no more often than this once nothing more has expired (touches waiting for
/// their null paths to close, say), and again this long after a failed run.
pub const RETENTION_MIN_INTERVAL_MS: i64 = 3_600_000;

/// What the journey remembers of retention (its meta row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct RetentionState {
    /// The app's `retention_days` as last seen with its settings.
    pub days: u32,
    /// When the alarm removes what has expired next (`None`: nothing stored can expire).
    #[serde(default)]
    pub due_ms: Option<i64>,
}

/// What one retention run removes: raw events before `events_before_ms`, touches before
/// `touches_before_ms` (none when `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionCutoff {
    pub events_before_ms: i64,
    pub touches_before_ms: Option<i64>,
}

/// The cutoff `days` days before `now_ms`; touches only as far as null paths are closed.
pub fn retention_cutoff(
    days: u32,
    paths_closed_through_ms: Option<i64>,
    now_ms: i64,
) -> RetentionCutoff {
    let events_before_ms = now_ms.saturating_sub(i64::from(days).saturating_mul(DAY_MS));
    RetentionCutoff {
        events_before_ms,
        // Closed *through* the mark: a touch at the mark is decided, one after it is not.
        touches_before_ms: paths_closed_through_ms
            .map(|closed| events_before_ms.min(closed.saturating_add(1))),
    }
}

/// After a request with settings (or a merge): the state to store, or `None` when the stored
/// one stands. A changed `retention_days` runs soon (the run finds the oldest row); otherwise
/// the oldest event just stored brings the due time forward when it expires earlier.
pub fn retention_after_request(
    stored: Option<RetentionState>,
    days: u32,
    oldest_new_event_ms: Option<i64>,
    now_ms: i64,
) -> Option<RetentionState> {
    match stored {
        Some(state) if state.days == days => {
            let expires = oldest_new_event_ms?.saturating_add(i64::from(days) * DAY_MS);
            let due = earliest(state.due_ms, Some(expires));
            (due != state.due_ms).then_some(RetentionState { days, due_ms: due })
        }
        None => Some(RetentionState {
            days,
            due_ms: oldest_new_event_ms.map(|t| t.saturating_add(i64::from(days) * DAY_MS)),
        }),
        Some(_) => Some(RetentionState {
            days,
            due_ms: Some(now_ms),
        }),
    }
}

/// After a retention run: when to run next. A full batch of either kind means more may be
/// waiting; otherwise when the oldest row left expires, no sooner than
/// [`RETENTION_MIN_INTERVAL_MS`] (a kept touch older than the cutoff must not loop the alarm).
pub fn retention_next_due(
    days: u32,
    removed_full_batch: bool,
    oldest_left_ms: Option<i64>,
    now_ms: i64,
) -> Option<i64> {
    if removed_full_batch {
        return Some(now_ms + RETENTION_CONTINUE_MS);
    }
    let expires = oldest_left_ms?.saturating_add(i64::from(days) * DAY_MS);
    Some(expires.max(now_ms + RETENTION_MIN_INTERVAL_MS))
}

/// Whether a re-run may judge a conversion at `conversion_ms` again: only when everything it
/// can look back to (`lookback_ms`) is still inside the retention period.
pub fn rerun_may_judge(conversion_ms: i64, lookback_ms: i64, days: u32, now_ms: i64) -> bool {
    let cutoff = now_ms.saturating_sub(i64::from(days).saturating_mul(DAY_MS));
    conversion_ms.saturating_sub(lookback_ms) >= cutoff
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;
    const DAY: i64 = 86_400_000;

    #[test]
    fn nothing_waiting_needs_no_alarm() {
        assert_eq!(waiting_work_due(&Waiting::default(), NOW, NOW), None);
        assert_eq!(after_request(&Waiting::default(), NOW, None), None);
        assert_eq!(after_run::<()>(None, Ok(Waiting::default()), NOW), None);
    }

    #[test]
    fn new_outbox_rows_leave_after_the_flush_delay_unless_backing_off() {
        let fresh = Waiting {
            outbox_rows: true,
            ..Waiting::default()
        };
        assert_eq!(after_request(&fresh, NOW, None), Some(NOW + FLUSH_DELAY_MS));
        let backing_off = Waiting {
            flush_not_before_ms: NOW + FLUSH_DELAY_MS + 3_000,
            ..fresh
        };
        assert_eq!(
            after_request(&backing_off, NOW, None),
            Some(NOW + FLUSH_DELAY_MS + 3_000)
        );
    }

    /// Issue 15: outbox rows wait [`FLUSH_DELAY_MS`] so a burst of calls shares one row and
    /// one flush; a postback is not held back by it (it goes out within a second).
    #[test]
    fn outbox_rows_wait_for_the_flush_delay_and_postbacks_do_not() {
        let outbox = Waiting {
            outbox_rows: true,
            ..Waiting::default()
        };
        assert_eq!(
            waiting_work_due(&outbox, NOW, NOW),
            Some(NOW + FLUSH_DELAY_MS)
        );
        let with_postback = Waiting {
            postback_due_ms: Some(NOW),
            ..outbox
        };
        assert_eq!(
            waiting_work_due(&with_postback, NOW, NOW),
            Some(NOW + WAKE_DELAY_MS)
        );
    }

    #[test]
    fn a_request_never_moves_an_earlier_alarm_later() {
        let fresh = Waiting {
            outbox_rows: true,
            ..Waiting::default()
        };
        assert_eq!(after_request(&fresh, NOW, Some(NOW + 10)), None);
        assert_eq!(
            after_request(&fresh, NOW, Some(NOW + DAY)),
            Some(NOW + FLUSH_DELAY_MS)
        );
    }

    #[test]
    fn postbacks_and_paths_are_served_at_their_due_time() {
        let waiting = Waiting {
            postback_due_ms: Some(NOW + 2_000),
            paths_due_ms: Some(NOW + DAY),
            ..Waiting::default()
        };
        assert_eq!(waiting_work_due(&waiting, NOW, NOW), Some(NOW + 2_000));
        let only_paths = Waiting {
            paths_due_ms: Some(NOW + DAY),
            ..Waiting::default()
        };
        assert_eq!(waiting_work_due(&only_paths, NOW, NOW), Some(NOW + DAY));
    }

    /// Regression (commit 5b947da): a request stored an event while the alarm was sending the
    /// outbox; `getAlarm` answered null during the run, the request set an alarm, and the run's
    /// rearm overwrote it with the null-path due time, days away. The rearm now takes what
    /// storage holds at the end of the run.
    #[test]
    fn regression_event_stored_while_the_alarm_sent_does_not_wait_for_the_null_path_due_time() {
        let run_asked_for = Some(NOW + 3 * DAY); // null paths due in 3 days, outbox drained
        let at_end_of_run = Waiting {
            outbox_rows: true, // the event written while the batch was on its way
            paths_due_ms: Some(NOW + 3 * DAY),
            ..Waiting::default()
        };
        let at = after_run::<()>(run_asked_for, Ok(at_end_of_run), NOW).unwrap();
        assert!(
            at <= NOW + FLUSH_DELAY_MS,
            "the event waited {} ms",
            at - NOW
        );
    }

    /// Regression (commit 24d5bd5): closing null paths failed, leaving their due time in the
    /// past; the rearm saw overdue paths and fired again at once, every 50 ms, for ever. Overdue
    /// paths after a run now wait [`PATHS_RETRY_MS`].
    #[test]
    fn regression_a_failing_close_does_not_loop() {
        let due = NOW - 1_000;
        assert_eq!(paths_step(Some(due), NOW), PathsStep::Close);
        let run_asked_for = Some(paths_retry_at(NOW)); // the close failed
        let still_overdue = Waiting {
            paths_due_ms: Some(due),
            ..Waiting::default()
        };
        let at = after_run::<()>(run_asked_for, Ok(still_overdue), NOW).unwrap();
        assert!(at >= NOW + PATHS_RETRY_MS, "retried after {} ms", at - NOW);
    }

    #[test]
    fn an_unreadable_storage_after_a_run_brings_the_alarm_back_soon() {
        assert_eq!(
            after_run(None, Err("boom"), NOW),
            Some(NOW + STORAGE_RETRY_MS)
        );
        assert_eq!(after_run(Some(NOW + 10), Err("boom"), NOW), Some(NOW + 10));
    }

    #[test]
    fn an_alarm_is_never_set_in_the_past() {
        assert_eq!(
            after_run::<()>(Some(NOW - 5), Ok(Waiting::default()), NOW),
            Some(NOW + 1)
        );
    }

    #[test]
    fn flush_steps_and_backoff() {
        assert_eq!(flush_step(false, 0, NOW), FlushStep::Idle);
        assert_eq!(flush_step(true, NOW + 5, NOW), FlushStep::NotYet(NOW + 5));
        assert_eq!(flush_step(true, NOW, NOW), FlushStep::Send);
        assert_eq!(after_flush(FlushResult::Drained, NOW), (None, 0));
        assert_eq!(after_flush(FlushResult::MoreWaiting, NOW), (Some(NOW), 0));
        assert_eq!(
            after_flush(FlushResult::Failed { attempts: 3 }, NOW),
            (Some(NOW + 4_000), NOW + 4_000)
        );
        assert_eq!(flush_backoff_ms(1), 1_000);
        assert_eq!(flush_backoff_ms(100), FLUSH_BACKOFF_MAX_MS);
    }

    #[test]
    fn retention_cutoff_keeps_touches_not_closed_for_null_paths() {
        let cutoff = retention_cutoff(30, None, NOW);
        assert_eq!(cutoff.events_before_ms, NOW - 30 * DAY);
        assert_eq!(
            cutoff.touches_before_ms, None,
            "nothing closed: no touch removed"
        );
        let closed_long_ago = retention_cutoff(30, Some(NOW - 40 * DAY), NOW);
        assert_eq!(closed_long_ago.touches_before_ms, Some(NOW - 40 * DAY + 1));
        let closed_recently = retention_cutoff(30, Some(NOW - DAY), NOW);
        assert_eq!(closed_recently.touches_before_ms, Some(NOW - 30 * DAY));
    }

    #[test]
    fn retention_is_due_when_the_first_event_expires_or_soon_when_days_change() {
        let fresh = retention_after_request(None, 395, Some(NOW - DAY), NOW);
        assert_eq!(
            fresh,
            Some(RetentionState {
                days: 395,
                due_ms: Some(NOW + 394 * DAY)
            })
        );
        let injected_old = retention_after_request(None, 1, Some(NOW - 3 * DAY), NOW);
        assert_eq!(injected_old.and_then(|s| s.due_ms), Some(NOW - 2 * DAY));
        let stored = RetentionState {
            days: 395,
            due_ms: Some(NOW + 100 * DAY),
        };
        let changed = retention_after_request(Some(stored), 1, None, NOW);
        assert_eq!(changed.and_then(|s| s.due_ms), Some(NOW));
        assert_eq!(changed.map(|s| s.days), Some(1));
    }

    #[test]
    fn an_old_event_brings_retention_forward_and_a_new_one_changes_nothing() {
        let stored = RetentionState {
            days: 10,
            due_ms: Some(NOW + 5 * DAY),
        };
        let old = retention_after_request(Some(stored), 10, Some(NOW - 8 * DAY), NOW);
        assert_eq!(old.and_then(|s| s.due_ms), Some(NOW + 2 * DAY));
        assert_eq!(
            retention_after_request(Some(stored), 10, Some(NOW), NOW),
            None
        );
        assert_eq!(retention_after_request(Some(stored), 10, None, NOW), None);
        let idle = RetentionState {
            days: 10,
            due_ms: None,
        };
        let first = retention_after_request(Some(idle), 10, Some(NOW), NOW);
        assert_eq!(first.and_then(|s| s.due_ms), Some(NOW + 10 * DAY));
    }

    #[test]
    fn retention_continues_a_full_batch_soon_and_otherwise_waits_for_the_oldest_row() {
        assert_eq!(
            retention_next_due(10, true, Some(NOW - 20 * DAY), NOW),
            Some(NOW + RETENTION_CONTINUE_MS)
        );
        assert_eq!(
            retention_next_due(10, false, Some(NOW - DAY), NOW),
            Some(NOW + 9 * DAY)
        );
        assert_eq!(retention_next_due(10, false, None, NOW), None, "empty");
    }

    /// A touch older than the cutoff but kept (its null path is not closed) must not bring
    /// the alarm back at once, for ever.
    #[test]
    fn a_kept_expired_touch_does_not_loop_the_alarm() {
        let next = retention_next_due(1, false, Some(NOW - 30 * DAY), NOW).unwrap();
        assert!(next >= NOW + RETENTION_MIN_INTERVAL_MS);
    }

    #[test]
    fn retention_due_wakes_the_alarm() {
        let waiting = Waiting {
            retention_due_ms: Some(NOW + DAY),
            ..Waiting::default()
        };
        assert_eq!(waiting_work_due(&waiting, NOW, NOW), Some(NOW + DAY));
        let overdue = Waiting {
            retention_due_ms: Some(NOW - DAY),
            ..Waiting::default()
        };
        assert_eq!(
            after_request(&overdue, NOW, None),
            Some(NOW + WAKE_DELAY_MS)
        );
    }

    #[test]
    fn a_rerun_leaves_conversions_whose_touches_may_be_gone() {
        let week = 7 * DAY;
        assert!(rerun_may_judge(NOW - DAY, week, 30, NOW));
        assert!(!rerun_may_judge(NOW - 25 * DAY, week, 30, NOW));
        assert!(rerun_may_judge(NOW - 23 * DAY, week, 30, NOW));
    }

    #[test]
    fn paths_steps() {
        assert_eq!(paths_step(None, NOW), PathsStep::Idle);
        assert_eq!(paths_step(Some(NOW + 1), NOW), PathsStep::NotYet(NOW + 1));
        assert_eq!(paths_step(Some(NOW), NOW), PathsStep::Close);
    }
}
