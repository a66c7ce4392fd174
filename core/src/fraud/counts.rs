//! Rejections per (app, UTC day, reason), from outbox records: what the origin's rollups
//! write to the read store's `fraud_counts` table.
//!
//! A rejection is a touch stored with `rejected` (counted on the touch's day) or a conversion
//! whose latest attribution revision is `rejected` (counted on the conversion's day). Like
//! daily stats, counts are recomputed from the facts: each event id counts once however often
//! it is delivered, and a conversion counts by its latest revision only, so a re-run that
//! lifts (or adds) a rejection changes the count instead of adding to it.
//!
//! Rejections that are not fraud ([`Reason::is_fraud`]: no advertising consent) are not counted.

use std::collections::{BTreeMap, BTreeSet};

use crate::attribution::AttributionResult;
use crate::fraud::Reason;
use crate::outbox::OutboxRecord;
use crate::rollup::FraudCount;
use crate::time::day_of_millis;

/// Counts every rejection in `records`; give it every record of the (app, day) pairs wanted.
pub fn fraud_counts<'a>(records: impl IntoIterator<Item = &'a OutboxRecord>) -> Vec<FraudCount> {
    let mut seen_events = BTreeSet::new();
    let mut counts: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    let mut latest: BTreeMap<(String, String), &AttributionResult> = BTreeMap::new();
    for record in records {
        match record {
            OutboxRecord::Event(r) => {
                if !seen_events.insert((r.app_id.clone(), r.event.message_id.clone())) {
                    continue;
                }
                if let Some((touch, reason)) = r
                    .touch
                    .as_ref()
                    .and_then(|t| t.rejected.as_ref().map(|reason| (t, reason)))
                    .filter(|(_, reason)| is_fraud_code(reason))
                {
                    *counts
                        .entry((r.app_id.clone(), day_of_millis(touch.ts_ms), reason.clone()))
                        .or_default() += 1;
                }
            }
            OutboxRecord::Attribution(r) => {
                let key = (r.app_id.clone(), r.result.conversion.conversion_id.clone());
                if latest
                    .get(&key)
                    .is_none_or(|old| old.revision < r.result.revision)
                {
                    latest.insert(key, &r.result);
                }
            }
            OutboxRecord::Merge(_)
            | OutboxRecord::NullPath(_)
            | OutboxRecord::SkanPostback(_)
            | OutboxRecord::Spend(_) => {}
        }
    }
    for ((app_id, _), result) in latest {
        if let Some(reason) = result.rejected.as_ref().filter(|r| is_fraud_code(r)) {
            *counts
                .entry((
                    app_id,
                    day_of_millis(result.conversion.ts_ms),
                    reason.clone(),
                ))
                .or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|((app_id, day, reason), count)| FraudCount {
            app_id,
            day,
            reason,
            count,
        })
        .collect()
}

/// Whether a stored `rejected` code is counted as fraud. Codes written by a later release than
/// this one count (they are fraud until known not to be).
pub fn is_fraud_code(code: &str) -> bool {
    Reason::parse(code).is_none_or(Reason::is_fraud)
}
