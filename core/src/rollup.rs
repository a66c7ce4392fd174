//! Daily stats: the rows dashboards read at the edge.
//!
//! One row per (app, UTC day, source, campaign, model, currency):
//! - `touches`: touches from that source and campaign that day (fraud-rejected ones excluded).
//!   Touches carry no currency, so they sit in rows with `currency = ""`, repeated per model
//!   so that any one model's rows carry the whole picture.
//! - `conversions`: conversions credited to the source and campaign, as the sum of their
//!   shares under the model (fractional conversions).
//! - `revenue`: revenue of the conversions in which the source and campaign had any share.
//! - `credited_value`: the sum of share × revenue.
//!
//! Unattributed conversions are credited to source `(organic)`, campaign `(none)`, so that
//! conversions add up to the real total under every model. Conversions rejected by a fraud
//! rule are not counted here at all (they are in `crate::fraud::counts`). Revenue in different currencies
//! is never summed together. Rollups are recomputed from the facts, not incremented, so a
//! record delivered twice cannot count twice; when a conversion is re-attributed, its latest
//! revision is the one counted.
//!
//! Paths (ChannelAttribution's input, [`PathStat`]): converting paths from each conversion's
//! latest attribution ([`conversion_paths`]), null paths from the journeys' `null_path`
//! records ([`null_paths`]: one null per record id, on the UTC day of its last touch, with
//! `currency = ""`), combined per (app, day, path, currency) by [`combine_paths`] so that a
//! key appears once ([`all_paths`] does both).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::attribution::{AttributionResult, Basis, Model};
use crate::outbox::{NullPathRecord, OutboxRecord};
use crate::time::day_of_millis;

/// `POST` path on the query Worker where the origin upserts rows (signed like outbox batches).
pub const ROLLUP_PATH: &str = "/internal/rollups";
pub const ORGANIC_SOURCE: &str = "(organic)";
pub const ORGANIC_CAMPAIGN: &str = "(none)";

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StatKey {
    pub app_id: String,
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub source: String,
    pub campaign: String,
    pub model: Model,
    pub currency: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatValues {
    pub touches: u64,
    pub conversions: f64,
    pub revenue: f64,
    pub credited_value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyStat {
    #[serde(flatten)]
    pub key: StatKey,
    #[serde(flatten)]
    pub values: StatValues,
}

/// The body of a rollup upsert: complete rows for whole (app, day) pairs. Rows of those days
/// that are not in `rows` are deleted, so a day's stats are replaced, never mixed. `paths` and
/// `fraud`, when present, replace those days' paths and fraud counts the same way; when
/// absent, they are left alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollupUpsert {
    pub days: Vec<AppDay>,
    pub rows: Vec<DailyStat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<PathStat>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraud: Option<Vec<FraudCount>>,
    /// Acquisition-cohort rows of the listed days as cohort days (`crate::cohorts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohorts: Option<Vec<crate::cohorts::CohortRow>>,
    /// Per-customer purchase summaries of the customers first bought on the listed days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ltv_customers: Option<Vec<crate::cohorts::LtvSummary>>,
    /// The sending origin's region (issue 13, finding 3): an upsert replaces the listed days'
    /// rows *of its region* only, and reads sum every region, so several regional origins add
    /// up instead of overwriting each other. `""` (absent) is the unnamed region of a
    /// single-region deployment and of rows written before regions existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    /// Grows with the facts the rollup was computed from (the origin's applied spool
    /// position). The read store keeps the highest per (app, day, region) and refuses an
    /// upsert below it (409 `stale_rollup`), so neither a late retry nor a replayed signed
    /// body rolls a day back. Absent: not checked (writers older than this field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

/// Longest region name in a rollup upsert.
pub const MAX_REGION_CHARS: usize = 32;

/// Paths keep at most this many steps (the most recent ones).
pub const MAX_PATH_STEPS: usize = 20;

/// Rows of each section (`rows`, `paths`, `fraud`, `cohorts`, `ltv_customers`) the query
/// Worker takes in one upsert. The origin groups days into upserts that fit; one day must fit
/// on its own, since an upsert replaces whole days (a cohort day whose cohort or customer rows
/// do not fit is pushed without those sections: its daily stats still go).
pub const MAX_UPSERT_SECTION_ROWS: usize = 5_000;

/// Body size of one upsert the query Worker takes; the origin groups days to stay under it
/// (a cohort day too large alone goes without its cohort sections, as above).
pub const MAX_UPSERT_BYTES: usize = 8 * crate::limits::MAX_BATCH_BYTES;

/// Journeys of one (app, day) whose touches' sources, oldest first, were `path`, in
/// ChannelAttribution's terms: `conversions` that followed the path, `nulls` that ended without
/// one, and the `value` (revenue, in `currency`) of the conversions. Null paths carry no
/// currency (`""`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathStat {
    pub app_id: String,
    pub day: String,
    /// 1 to [`MAX_PATH_STEPS`] sources; `["(organic)"]` for unattributed conversions.
    pub path: Vec<String>,
    pub currency: String,
    pub conversions: f64,
    #[serde(default)]
    pub nulls: f64,
    pub value: f64,
}

/// Rejections of one (app, day) for one fraud reason (see `fraud::counts`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FraudCount {
    pub app_id: String,
    pub day: String,
    pub reason: String,
    pub count: u64,
}

/// The steps of a path: `sources` (oldest first) with consecutive repeats merged, the last
/// [`MAX_PATH_STEPS`] kept. Empty sources are steps like any other (they never occur: a touch
/// always has a source).
pub fn path_steps<'s>(sources: impl IntoIterator<Item = &'s str>) -> Vec<String> {
    let mut steps: Vec<String> = Vec::new();
    for source in sources {
        if steps.last().map(String::as_str) != Some(source) {
            steps.push(source.to_owned());
        }
    }
    if steps.len() > MAX_PATH_STEPS {
        steps.drain(..steps.len() - MAX_PATH_STEPS);
    }
    steps
}

/// The path of a conversion: the sources of its touches under the linear model (every
/// eligible touch, oldest first), consecutive repeats merged, the last [`MAX_PATH_STEPS`]
/// kept; `["(organic)"]` when unattributed.
pub fn path_of(result: &AttributionResult) -> Vec<String> {
    let mut steps = path_steps(
        result
            .credits_of(Model::Linear)
            .iter()
            .map(|c| c.source.as_str()),
    );
    if steps.is_empty() {
        steps.push(ORGANIC_SOURCE.to_owned());
    }
    steps
}

/// The path a null-path record counts for: its steps as [`path_steps`] makes them (a record
/// written by a journey already has that form; this keeps a hand-made one within the
/// limits), or `None` when it has no step.
pub fn null_path_of(record: &NullPathRecord) -> Option<Vec<String>> {
    let steps = path_steps(record.path.iter().map(String::as_str));
    (!steps.is_empty()).then_some(steps)
}

/// Converting paths per (app, day of the conversion, path, currency), from each conversion's
/// latest attribution revision. Give it every attribution record of the days wanted.
pub fn conversion_paths<'a>(records: impl IntoIterator<Item = &'a OutboxRecord>) -> Vec<PathStat> {
    let mut latest: BTreeMap<(String, String), &AttributionResult> = BTreeMap::new();
    for record in records {
        if let OutboxRecord::Attribution(r) = record {
            let key = (r.app_id.clone(), r.result.conversion.conversion_id.clone());
            if latest
                .get(&key)
                .is_none_or(|old| old.revision < r.result.revision)
            {
                latest.insert(key, &r.result);
            }
        }
    }
    // (app, day, path, currency) → (conversions, value)
    type PathKey = (String, String, Vec<String>, String);
    let mut paths: BTreeMap<PathKey, (f64, f64)> = BTreeMap::new();
    // The latest revision decides; a rejected one has no path.
    for ((app_id, _), result) in latest.into_iter().filter(|(_, r)| r.rejected.is_none()) {
        let key = (
            app_id,
            day_of_millis(result.conversion.ts_ms),
            path_of(result),
            result.conversion.currency.clone(),
        );
        let entry = paths.entry(key).or_default();
        entry.0 += 1.0;
        entry.1 += result.conversion.revenue;
    }
    paths
        .into_iter()
        .map(
            |((app_id, day, path, currency), (conversions, value))| PathStat {
                app_id,
                day,
                path,
                currency,
                conversions,
                nulls: 0.0,
                value,
            },
        )
        .collect()
}

/// Null paths per (app, UTC day of the last touch, path): one null per distinct record id,
/// `currency = ""`, no conversions, no value. Give it every null-path record of the days
/// wanted (other kinds are ignored).
pub fn null_paths<'a>(records: impl IntoIterator<Item = &'a OutboxRecord>) -> Vec<PathStat> {
    let mut seen = std::collections::BTreeSet::new();
    let mut counts: BTreeMap<(String, String, Vec<String>), u64> = BTreeMap::new();
    for record in records {
        let OutboxRecord::NullPath(r) = record else {
            continue;
        };
        if !seen.insert(record.id()) {
            continue;
        }
        let Some(path) = null_path_of(r) else {
            continue;
        };
        *counts
            .entry((r.app_id.clone(), day_of_millis(r.last_touch_ms), path))
            .or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((app_id, day, path), nulls)| null_row(app_id, day, path, nulls))
        .collect()
}

/// The row of `nulls` null paths (a count, exact as an integer) for one (app, day, path).
pub fn null_row(app_id: String, day: String, path: Vec<String>, nulls: u64) -> PathStat {
    PathStat {
        app_id,
        day,
        path,
        currency: String::new(),
        conversions: 0.0,
        nulls: nulls as f64,
        value: 0.0,
    }
}

/// Path rows with the same (app, day, path, currency) summed into one, ordered by that key:
/// the query Worker refuses an upsert that repeats a key. Converting rows of a currency and
/// null rows (`currency = ""`) stay apart, as the read side keeps them.
pub fn combine_paths(rows: impl IntoIterator<Item = PathStat>) -> Vec<PathStat> {
    type PathKey = (String, String, Vec<String>, String);
    let mut combined: BTreeMap<PathKey, PathStat> = BTreeMap::new();
    for row in rows {
        let key = (
            row.app_id.clone(),
            row.day.clone(),
            row.path.clone(),
            row.currency.clone(),
        );
        match combined.entry(key) {
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert(row);
            }
            std::collections::btree_map::Entry::Occupied(mut slot) => {
                let kept = slot.get_mut();
                kept.conversions += row.conversions;
                kept.nulls += row.nulls;
                kept.value += row.value;
            }
        }
    }
    combined.into_values().collect()
}

/// Every path row of some days: [`conversion_paths`] and [`null_paths`] of the same records,
/// combined. Give it every attribution and null-path record of those days.
pub fn all_paths<'a>(records: impl IntoIterator<Item = &'a OutboxRecord> + Clone) -> Vec<PathStat> {
    combine_paths(
        conversion_paths(records.clone())
            .into_iter()
            .chain(null_paths(records)),
    )
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AppDay {
    pub app_id: String,
    pub day: String,
}

/// Aggregates the records of some (app, day) pairs into their complete daily stats. Give it
/// every record of those days; it takes each record id once and each conversion's latest
/// attribution revision.
pub fn daily_stats<'a>(records: impl IntoIterator<Item = &'a OutboxRecord>) -> Vec<DailyStat> {
    let mut seen_events = std::collections::BTreeSet::new();
    let mut touches: BTreeMap<(String, String, String, String), u64> = BTreeMap::new();
    let mut latest: BTreeMap<(String, String), &AttributionResult> = BTreeMap::new();
    for record in records {
        match record {
            OutboxRecord::Event(r) => {
                if !seen_events.insert((r.app_id.clone(), r.event.message_id.clone())) {
                    continue;
                }
                if let Some(t) = r.touch.as_ref().filter(|t| t.rejected.is_none()) {
                    *touches
                        .entry((
                            r.app_id.clone(),
                            day_of_millis(t.ts_ms),
                            t.source.clone(),
                            t.campaign.clone(),
                        ))
                        .or_default() += 1;
                }
            }
            OutboxRecord::Attribution(r) => {
                let key = (r.app_id.clone(), r.result.conversion.conversion_id.clone());
                let newer = latest
                    .get(&key)
                    .is_none_or(|old| old.revision < r.result.revision);
                if newer {
                    latest.insert(key, &r.result);
                }
            }
            OutboxRecord::Merge(_)
            | OutboxRecord::NullPath(_)
            | OutboxRecord::SkanPostback(_)
            | OutboxRecord::Spend(_) => {}
        }
    }

    let mut stats: BTreeMap<StatKey, StatValues> = BTreeMap::new();
    for ((app_id, day, source, campaign), count) in touches {
        for model in Model::ALL {
            let key = StatKey {
                app_id: app_id.clone(),
                day: day.clone(),
                source: source.clone(),
                campaign: campaign.clone(),
                model,
                currency: String::new(),
            };
            stats.entry(key).or_default().touches += count;
        }
    }
    for ((app_id, _), result) in latest.iter().filter(|(_, r)| r.rejected.is_none()) {
        let day = day_of_millis(result.conversion.ts_ms);
        for model in Model::ALL {
            let mut shares: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
            if result.basis == Basis::Unattributed {
                shares.insert(
                    (ORGANIC_SOURCE.into(), ORGANIC_CAMPAIGN.into()),
                    (1.0, result.conversion.revenue),
                );
            }
            for credit in result.credits_of(model) {
                let entry = shares
                    .entry((credit.source.clone(), credit.campaign.clone()))
                    .or_default();
                entry.0 += credit.credit;
                entry.1 += credit.value;
            }
            for ((source, campaign), (share, value)) in shares {
                let values = stats
                    .entry(StatKey {
                        app_id: app_id.clone(),
                        day: day.clone(),
                        source,
                        campaign,
                        model,
                        currency: result.conversion.currency.clone(),
                    })
                    .or_default();
                values.conversions += share;
                values.revenue += result.conversion.revenue;
                values.credited_value += value;
            }
        }
    }
    stats
        .into_iter()
        .map(|(key, values)| DailyStat { key, values })
        .collect()
}

/// The (app, day) pairs a set of records touches: the days whose stats must be recomputed.
pub fn affected_days<'a>(records: impl IntoIterator<Item = &'a OutboxRecord>) -> Vec<AppDay> {
    let mut days = std::collections::BTreeSet::new();
    for record in records {
        let ts = match record {
            OutboxRecord::Event(r) => r.touch.as_ref().map(|t| t.ts_ms),
            OutboxRecord::Attribution(r) => Some(r.result.conversion.ts_ms),
            // Edge facts are not in the daily stats (spend joins them at read time).
            OutboxRecord::Merge(_) | OutboxRecord::SkanPostback(_) | OutboxRecord::Spend(_) => None,
            OutboxRecord::NullPath(r) => Some(r.last_touch_ms),
        };
        if let Some(ts) = ts {
            days.insert(AppDay {
                app_id: record.app_id().to_owned(),
                day: day_of_millis(ts),
            });
        }
    }
    days.into_iter().collect()
}

#[cfg(test)]
mod tests;
