use super::*;
use crate::testkit::*;
use crate::touch::Channel;

const WINDOW: i64 = 90 * DAY_MS;

#[test]
fn first_repeat_and_returning() {
    let now = 400 * DAY_MS;
    assert_eq!(
        lifecycle(now, None, Some(now - DAY_MS), WINDOW),
        Lifecycle::First
    );
    // Active yesterday: a reinstall, not a new user.
    assert_eq!(
        lifecycle(now, Some(now - 200 * DAY_MS), Some(now - DAY_MS), WINDOW),
        Lifecycle::Repeat {
            previous_ms: now - 200 * DAY_MS
        }
    );
    // Inactive for exactly the window: back.
    assert_eq!(
        lifecycle(now, Some(now - 200 * DAY_MS), Some(now - WINDOW), WINDOW),
        Lifecycle::Returning {
            previous_ms: now - 200 * DAY_MS,
            inactive_ms: WINDOW
        }
    );
    // One millisecond short of it: still a repeat.
    assert!(matches!(
        lifecycle(
            now,
            Some(now - 200 * DAY_MS),
            Some(now - WINDOW + 1),
            WINDOW
        ),
        Lifecycle::Repeat { .. }
    ));
}

#[test]
fn inactivity_counts_from_the_previous_conversion_when_nothing_came_after() {
    let now = 400 * DAY_MS;
    assert!(matches!(
        lifecycle(now, Some(now - WINDOW), None, WINDOW),
        Lifecycle::Returning { .. }
    ));
    // An engagement older than the previous conversion does not shorten the inactivity.
    assert!(matches!(
        lifecycle(now, Some(now - DAY_MS), Some(now - 300 * DAY_MS), WINDOW),
        Lifecycle::Repeat { .. }
    ));
}

#[test]
fn a_zero_window_attributes_every_repeat() {
    assert!(matches!(
        lifecycle(DAY_MS, Some(DAY_MS - 1), Some(DAY_MS - 1), 0),
        Lifecycle::Returning { .. }
    ));
}

#[test]
fn reengagement_is_the_latest_click_after_the_first_conversion_inside_the_window() {
    let now = 100 * DAY_MS;
    let window = 30 * DAY_MS;
    let converted = now - 40 * DAY_MS;
    let before_conversion = click("before", converted - DAY_MS);
    let old = click("old", now - 31 * DAY_MS);
    let retarget = click("retarget", now - 10 * DAY_MS);
    let latest = click("latest", now - 5 * DAY_MS);
    let mut direct = touch("direct", now - DAY_MS, TouchKind::Click, Channel::Direct);
    direct.source = "(direct)".into();
    let mut rejected = click("rejected", now - HOUR_MS);
    rejected.rejected = Some("bot_user_agent".into());
    let view = view("view", now - HOUR_MS);
    let after = click("after", now + 1);
    let touches = vec![
        before_conversion,
        old,
        retarget,
        latest,
        direct,
        rejected,
        view,
        after,
    ];
    let found =
        reengagement_touch(now, &touches, Some(converted), window).map(|t| t.touch_id.as_str());
    assert_eq!(found, Some("latest"));
    // A user who never converted is not re-engaged: every click is a plain touch.
    assert_eq!(reengagement_touch(now, &touches, None, window), None);
    // Only clicks after the first conversion count.
    assert_eq!(
        reengagement_touch(converted, &touches, Some(converted), window)
            .map(|t| t.touch_id.as_str()),
        None
    );
    assert_eq!(reengagement_touch(now, &touches, Some(converted), 0), None);
}
