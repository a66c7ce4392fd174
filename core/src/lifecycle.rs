//! The re-attribution and re-engagement windows.
//!
//! **Re-attribution.** Lifecycle conversions (`AppSettings::lifecycle_events`; by default
//! `Application Installed` and `Signed Up`) happen once per user lifecycle. When one repeats,
//! the user's inactivity decides: the time from their last engagement (any event except
//! tracking-link clicks and impressions, which are ads reaching them, not them acting) to the
//! repeat. Inactive for at least `reattribution_window_secs` (default 90 days): the user came
//! back, and the repeat is a new attribution (`reattributed`), crediting only touches after
//! the previous one. Otherwise it is a reinstall: recorded, not attributed again. A window of
//! 0 attributes every repeat.
//!
//! **Re-engagement.** A click (not direct, not rejected) by a user who already converted is a
//! re-engagement touch. Every conversion within `reengagement_window_secs` (default 30 days)
//! after the latest one is credited to it as well (`AttributionResult::reengagement`, the whole
//! conversion), even beyond the click window, while the models share the conversion as usual.
//! A re-attributed conversion is a new user's, so it has no re-engagement touch. A window of 0
//! turns re-engagement off.

use crate::touch::{Touch, TouchKind};

/// Where a lifecycle conversion stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// The first of its name (not rejected) in the journey.
    First,
    /// A repeat inside the re-attribution window: not attributed again.
    Repeat { previous_ms: i64 },
    /// A repeat after at least the window of inactivity: a new attribution.
    Returning { previous_ms: i64, inactive_ms: i64 },
}

/// Classifies a lifecycle conversion at `conversion_ts` from the previous one of its name
/// and the user's last engagement before it.
pub fn lifecycle(
    conversion_ts: i64,
    previous: Option<i64>,
    last_engagement: Option<i64>,
    window_ms: i64,
) -> Lifecycle {
    let Some(previous_ms) = previous else {
        return Lifecycle::First;
    };
    let active_at = last_engagement.map_or(previous_ms, |e| e.max(previous_ms));
    let inactive_ms = conversion_ts.saturating_sub(active_at);
    if inactive_ms >= window_ms {
        Lifecycle::Returning {
            previous_ms,
            inactive_ms,
        }
    } else {
        Lifecycle::Repeat { previous_ms }
    }
}

/// The re-engagement touch of a conversion at `conversion_ts`: the latest click after the
/// user's first conversion (`converted_at`), inside the window.
pub fn reengagement_touch(
    conversion_ts: i64,
    touches: &[Touch],
    converted_at: Option<i64>,
    window_ms: i64,
) -> Option<&Touch> {
    let since = converted_at?;
    if window_ms <= 0 {
        return None;
    }
    touches
        .iter()
        .filter(|t| {
            t.kind == TouchKind::Click
                && t.rejected.is_none()
                && !t.is_direct()
                && t.ts_ms > since
                && t.ts_ms <= conversion_ts
                && conversion_ts - t.ts_ms <= window_ms
        })
        .max_by(|a, b| {
            a.ts_ms
                .cmp(&b.ts_ms)
                .then_with(|| a.touch_id.cmp(&b.touch_id))
        })
}

#[cfg(test)]
mod tests;
