//! How a journey judges one conversion: its lifecycle (re-attribution window), the fraud
//! rules, the models, and its re-engagement touch. Shared by recording and re-runs.

use super::{Journey, JourneyStore};
use crate::attribution::{
    credit, credited, eligible_touches, rejected, AttributionResult, Windows,
};
use crate::conversion::Conversion;
use crate::fraud::screen::judge_conversion;
use crate::fraud::Flag;
use crate::lifecycle::{lifecycle, reengagement_touch, Lifecycle};
use crate::limits::MAX_TOUCHES_READ_PER_CONVERSION;
use crate::touch::Touch;

/// An attribution and the touches it was decided from (postbacks read their click ids).
pub(super) struct Decided {
    pub result: AttributionResult,
    pub touches: Vec<Touch>,
}

impl<S: JourneyStore> Journey<'_, S> {
    /// The attribution of a new conversion, or `None` for a lifecycle repeat inside the
    /// re-attribution window (recorded, not attributed). `flag` is the ingest-time verdict.
    pub(super) fn decide(
        &self,
        conversion: &Conversion,
        flag: Option<&Flag>,
        now_ms: i64,
    ) -> Result<Option<Decided>, S::Error> {
        let mut after = None;
        if self.settings.is_lifecycle(&conversion.name) {
            let previous = self
                .store
                .latest_conversion_named(&conversion.name, conversion.ts_ms)?;
            let engagement = match previous {
                Some(_) => self
                    .store
                    .latest_engagement(conversion.ts_ms, &conversion.conversion_id)?,
                None => None,
            };
            let window = self.settings.reattribution_window_ms();
            match lifecycle(conversion.ts_ms, previous, engagement, window) {
                Lifecycle::First => {}
                Lifecycle::Repeat { .. } => return Ok(None),
                Lifecycle::Returning { previous_ms, .. } => after = Some(previous_ms),
            }
        }
        self.evaluate(conversion, flag, after, now_ms).map(Some)
    }

    /// Attributes `conversion` with the journey's settings. `flag` rejects it outright;
    /// `after` (a re-attribution) leaves out touches at or before the previous lifecycle's
    /// conversion and re-engagement.
    pub(super) fn evaluate(
        &self,
        conversion: &Conversion,
        flag: Option<&Flag>,
        after: Option<i64>,
        now_ms: i64,
    ) -> Result<Decided, S::Error> {
        let settings = self.settings;
        let windows = Windows::of(settings);
        let reengagement_ms = match after {
            Some(_) => 0,
            None => settings.reengagement_window_ms(),
        };
        let converted_at = match reengagement_ms {
            0 => None,
            _ => self.store.first_conversion_before(conversion.ts_ms)?,
        };
        let mut from = windows.lookback_start(conversion.ts_ms);
        if let Some(converted_at) = converted_at {
            let reengagement_from = conversion
                .ts_ms
                .saturating_sub(reengagement_ms)
                .max(converted_at);
            from = from.min(reengagement_from);
        }
        // Every use of these touches looks only at those up to the conversion.
        let mut touches =
            self.store
                .touches_between(from, conversion.ts_ms, MAX_TOUCHES_READ_PER_CONVERSION)?;
        if let Some(previous) = after {
            touches.retain(|t| t.ts_ms > previous);
        }

        let (basis, eligible) = eligible_touches(conversion.ts_ms, &touches, &windows);
        let verdict = match flag {
            Some(flag) => Some(flag.clone()),
            None => judge_conversion(conversion, basis, &eligible, &settings.fraud),
        };
        let mut result = match &verdict {
            Some(v) => rejected(
                conversion,
                basis,
                settings,
                now_ms,
                v.reason.as_str(),
                &v.detail,
            ),
            None => credit(conversion, basis, &eligible, settings, now_ms),
        };
        result.reattributed = after.is_some();
        if verdict.is_none() {
            result.reengagement =
                reengagement_touch(conversion.ts_ms, &touches, converted_at, reengagement_ms)
                    .map(|t| credited(t, 1.0, conversion.revenue));
        }
        Ok(Decided { result, touches })
    }
}
