//! Touches that arrive after the conversions they precede: two SDK batches that overtook each
//! other, a mobile SDK's offline queue sent after a newer batch, a server-side call sent late.
//! Without this, a conversion is judged on the touches stored when it arrived, so the order in
//! which requests reach the edge would decide who gets the credit.
//!
//! A touch is late when the journey already holds an event at or after its time (answered
//! from the latest events the store remembers, with no read on the usual in-order path). At
//! the end of the call, the stored conversions from the earliest late touch to the latest
//! late touch plus the journey's look-back are judged again as a re-run judges them
//! ([`super::rerun`]): a changed outcome becomes the conversion's next revision, sent in the
//! outbox, and sends no postback (a conversion's postbacks leave when it is first attributed,
//! as ad networks expect). At most [`MAX_CONVERSIONS_REJUDGED_PER_CALL`] are judged per call,
//! oldest first. A merge's imported touches are treated alike for the importing journey's own
//! conversions (a visit from an ad on one device, the purchase signed in on another, the two
//! linked later).

use super::{Journey, JourneyStore};
use crate::limits::MAX_CONVERSIONS_REJUDGED_PER_CALL;
use crate::touch::Touch;

/// The times of a call's late touches.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct LateTouches {
    span: Option<(i64, i64)>,
}

impl LateTouches {
    /// A touch stored in this call that stored events may follow; a rejected touch earns no
    /// credit, so it changes nothing.
    pub(super) fn add_unless_rejected(&mut self, touch: &Touch) {
        if touch.rejected.is_some() {
            return;
        }
        let ts = touch.ts_ms;
        self.span = Some(match self.span {
            Some((from, to)) => (from.min(ts), to.max(ts)),
            None => (ts, ts),
        });
    }
}

impl<S: JourneyStore> Journey<'_, S> {
    /// Notes `touch`, just stored for the event `message_id`, when it arrived late.
    pub(super) fn note_if_late(
        &self,
        touch: &Touch,
        message_id: &str,
        late: &mut LateTouches,
    ) -> Result<(), S::Error> {
        if self.store.has_event_since(touch.ts_ms, message_id)? {
            late.add_unless_rejected(touch);
        }
        Ok(())
    }

    /// Judges again the conversions the call's late touches may credit.
    pub(super) fn credit_late_touches(
        &self,
        late: LateTouches,
        now_ms: i64,
    ) -> Result<(), S::Error> {
        let Some((from, to)) = late.span else {
            return Ok(());
        };
        let stored = self.store.attributions_between(
            from,
            to.saturating_add(self.lookback_ms()),
            MAX_CONVERSIONS_REJUDGED_PER_CALL,
        )?;
        for old in &stored {
            self.judge_again(old, now_ms)?;
        }
        Ok(())
    }
}
