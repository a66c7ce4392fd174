//! Re-running attribution over a journey's stored conversions with new settings.
//!
//! Each stored conversion is judged again, oldest first, exactly as a new one would be
//! (windows, models, default model, re-engagement, attribution-time fraud rules with the new
//! thresholds). Where the outcome differs, the conversion gets a new revision (revision + 1,
//! `attributed_at_ms` = now), stored in place of the old and sent in the outbox; the origin
//! and its rollups keep the latest revision per conversion. Unchanged outcomes write nothing,
//! so a re-run with the same settings is a no-op.
//!
//! What stays as decided: the set of conversions (a re-run neither adds conversions for newly
//! configured names nor drops any), lifecycle decisions (a re-attributed conversion stays
//! one), touch rejections, and ingest-time conversion rejections unless the app has switched
//! that rule off. Re-runs send no postbacks. A conversion whose look-back (the longest of
//! the click, view and re-engagement windows) reaches before the app's retention cutoff keeps
//! its stored result: the raw events and touches it was judged on may have been removed
//! (`super::timing::rerun_may_judge`), and judging it on what is left would revise it wrongly.

use serde::{Deserialize, Serialize};

use super::{Journey, JourneyError, JourneyStore};
use crate::attribution::{AttributionResult, CreditedTouch, ModelResult};
use crate::fraud::{Flag, Reason, Stage};
use crate::outbox::{AttributionRecord, OutboxRecord};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RerunSummary {
    /// Conversions judged again.
    pub conversions: usize,
    /// The new revisions written, oldest conversion first.
    pub revised: Vec<AttributionResult>,
}

impl<S: JourneyStore> Journey<'_, S> {
    /// Re-runs attribution over every stored conversion with this journey's settings.
    pub fn reattribute(&self, now_ms: i64) -> Result<RerunSummary, JourneyError<S::Error>> {
        self.store.atomically(|| {
            let mut stored = self.store.all_attributions()?;
            stored.sort_by(|a, b| {
                (a.conversion.ts_ms, &a.conversion.conversion_id)
                    .cmp(&(b.conversion.ts_ms, &b.conversion.conversion_id))
            });
            let mut summary = RerunSummary {
                conversions: stored.len(),
                revised: Vec::new(),
            };
            for old in &stored {
                if let Some(new) = self.judge_again(old, now_ms)? {
                    summary.revised.push(new);
                }
            }
            Ok(summary)
        })
    }

    /// How far back a conversion's touches may lie: the longest of the click, view and
    /// re-engagement windows.
    pub(super) fn lookback_ms(&self) -> i64 {
        i64::from(
            self.settings
                .click_window_secs
                .max(self.settings.view_window_secs)
                .max(self.settings.reengagement_window_secs),
        ) * 1000
    }

    /// Judges a stored conversion again, exactly as a new one would be. When the outcome
    /// differs, its next revision replaces it and goes in the outbox; it is returned.
    pub(super) fn judge_again(
        &self,
        old: &AttributionResult,
        now_ms: i64,
    ) -> Result<Option<AttributionResult>, S::Error> {
        let conversion = &old.conversion;
        let settings = self.settings;
        if !super::timing::rerun_may_judge(
            conversion.ts_ms,
            self.lookback_ms(),
            settings.retention_days,
            now_ms,
        ) {
            return Ok(None);
        }
        let after = if old.reattributed {
            self.store
                .latest_conversion_named(&conversion.name, conversion.ts_ms)?
        } else {
            None
        };
        let kept = self.kept_rejection(old);
        let mut new = self
            .evaluate(conversion, kept.as_ref(), after, now_ms)?
            .result;
        new.reattributed = old.reattributed;
        if same_outcome(old, &new) {
            return Ok(None);
        }
        new.revision = old.revision.saturating_add(1);
        self.store.replace_attribution(&new)?;
        self.store
            .enqueue(&OutboxRecord::Attribution(Box::new(AttributionRecord {
                app_id: settings.app_id.clone(),
                journey: self.key.object_name(),
                result: new.clone(),
            })))?;
        Ok(Some(new))
    }

    /// An ingest-time rejection stands while its rule is on; attribution-time ones are
    /// judged again.
    fn kept_rejection(&self, old: &AttributionResult) -> Option<Flag> {
        let reason = Reason::parse(old.rejected.as_deref()?)?;
        (reason.stage() == Stage::Ingest && self.settings.fraud.enabled(reason))
            .then(|| Flag::new(reason, old.rejected_detail.clone().unwrap_or_default()))
    }
}

/// Shares and values closer than this (relative) are the same: a stored result has been
/// through JSON, and serde_json's float parsing may be one unit in the last place off.
pub const CREDIT_TOLERANCE: f64 = 1e-9;

/// Whether a re-run changed anything downstream cares about (details and times aside).
fn same_outcome(old: &AttributionResult, new: &AttributionResult) -> bool {
    old.basis == new.basis
        && old.default_model == new.default_model
        && old.rejected == new.rejected
        && old.reattributed == new.reattributed
        && same_models(&old.models, &new.models)
        && match (&old.reengagement, &new.reengagement) {
            (Some(a), Some(b)) => same_credit(a, b),
            (a, b) => a.is_none() && b.is_none(),
        }
}

fn same_models(old: &[ModelResult], new: &[ModelResult]) -> bool {
    old.len() == new.len()
        && old.iter().zip(new).all(|(a, b)| {
            a.model == b.model
                && a.credits.len() == b.credits.len()
                && a.credits
                    .iter()
                    .zip(&b.credits)
                    .all(|(x, y)| same_credit(x, y))
        })
}

fn same_credit(a: &CreditedTouch, b: &CreditedTouch) -> bool {
    let close = |x: f64, y: f64| (x - y).abs() <= CREDIT_TOLERANCE * x.abs().max(y.abs()).max(1.0);
    a.touch_id == b.touch_id
        && a.ts_ms == b.ts_ms
        && a.kind == b.kind
        && a.channel == b.channel
        && a.source == b.source
        && a.medium == b.medium
        && a.campaign == b.campaign
        && close(a.credit, b.credit)
        && close(a.value, b.value)
}
