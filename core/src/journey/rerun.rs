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
//! that rule off. Re-runs send no postbacks.

use serde::{Deserialize, Serialize};

use super::{Journey, JourneyError, JourneyStore};
use crate::attribution::AttributionResult;
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
            for old in stored {
                let conversion = &old.conversion;
                let after = if old.reattributed {
                    self.store
                        .latest_conversion_named(&conversion.name, conversion.ts_ms)?
                } else {
                    None
                };
                let kept = self.kept_rejection(&old);
                let mut new = self
                    .evaluate(conversion, kept.as_ref(), after, now_ms)?
                    .result;
                new.reattributed = old.reattributed;
                if same_outcome(&old, &new) {
                    continue;
                }
                new.revision = old.revision.saturating_add(1);
                self.store.replace_attribution(&new)?;
                self.store
                    .enqueue(&OutboxRecord::Attribution(Box::new(AttributionRecord {
                        app_id: self.settings.app_id.clone(),
                        journey: self.key.object_name(),
                        result: new.clone(),
                    })))?;
                summary.revised.push(new);
            }
            Ok(summary)
        })
    }

    /// An ingest-time rejection stands while its rule is on; attribution-time ones are
    /// judged again.
    fn kept_rejection(&self, old: &AttributionResult) -> Option<Flag> {
        let reason = Reason::parse(old.rejected.as_deref()?)?;
        (reason.stage() == Stage::Ingest && self.settings.fraud.enabled(reason))
            .then(|| Flag::new(reason, old.rejected_detail.clone().unwrap_or_default()))
    }
}

/// Whether a re-run changed anything downstream cares about (details and times aside).
fn same_outcome(old: &AttributionResult, new: &AttributionResult) -> bool {
    old.basis == new.basis
        && old.default_model == new.default_model
        && old.models == new.models
        && old.rejected == new.rejected
        && old.reattributed == new.reattributed
        && old.reengagement == new.reengagement
}
