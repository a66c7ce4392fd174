//! The debounced push loop: wake on new dirty days, wait the debounce so a burst of records
//! becomes one recomputation, then recompute and push every dirty day.
//!
//! With the default 1 s debounce a conversion's stats reach the edge a second or two after
//! the origin accepted it, and a day that receives a thousand records in that second is
//! recomputed once, not a thousand times. Very large days are pushed less often (see
//! [`PUSH_COST_FACTOR`]). The days of one round go in as many upserts as the query Worker's
//! row limits need ([`group_days`]), each cleared once every target has it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use attrib_core::rollup::{AppDay, RollupUpsert, MAX_UPSERT_BYTES, MAX_UPSERT_SECTION_ROWS};
use attrib_core::time::day_of_millis;
use tokio::sync::{watch, Notify};

use super::facts::{DayRollup, DirtyDay, FactStore};
use super::targets::Target;
use super::RollupError;
use crate::metrics::Metrics;

const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Recomputing a day costs time proportional to its records, so a huge day must not be
/// recomputed every debounce: the pause before the next push is at least this many times
/// the last push's duration, which keeps the pusher under about a quarter of a core.
const PUSH_COST_FACTOR: u32 = 3;

pub struct Pusher {
    pub facts: Arc<FactStore>,
    pub targets: Vec<Target>,
    pub debounce: Duration,
    pub max_days_per_push: usize,
    pub wake: Arc<Notify>,
    pub metrics: Arc<Metrics>,
    /// Written into every upsert: the read store replaces this region's rows only.
    pub region: String,
}

impl Pusher {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        // Days left dirty by a previous run are pushed right away.
        self.wake.notify_one();
        let mut backoff = Duration::from_millis(100);
        let mut last_push = Duration::ZERO;
        loop {
            tokio::select! {
                () = self.wake.notified() => {}
                // Young cohort days wait for the day to end (see `FactStore::clear`).
                () = tokio::time::sleep(until_next_utc_day()) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep(self.debounce.max(last_push * PUSH_COST_FACTOR)) => {}
                _ = stop.changed() => return,
            }
            let started = std::time::Instant::now();
            loop {
                match self.push_some().await {
                    Ok(0) => {
                        backoff = Duration::from_millis(100);
                        last_push = started.elapsed();
                        break;
                    }
                    Ok(_) => backoff = Duration::from_millis(100),
                    Err(err) => {
                        tracing::warn!(error = %err, retry_in = ?backoff, "rollup push failed");
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => {}
                            _ = stop.changed() => return,
                        }
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
        }
    }

    /// Pushes up to `max_days_per_push` dirty days to every target; returns how many.
    pub async fn push_some(&self) -> Result<usize, RollupError> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        self.facts
            .promote_young_cohorts(&day_of_millis(now_ms))
            .await?;
        let dirty = self.facts.dirty(self.max_days_per_push).await?;
        if dirty.is_empty() {
            return Ok(0);
        }
        let days: Vec<_> = dirty.iter().map(|d| d.day.clone()).collect();
        // Read before the facts: they reflect at least this position, so a later push of a
        // day never carries a smaller seq than an earlier one (the read store refuses those).
        let seq = self.facts.applied_seq();
        let rollup = self.facts.rollup_of(&days, now_ms).await?;
        let young = rollup.young_cohorts.clone();
        let mut pushed = 0;
        for mut upsert in group_days(days, rollup) {
            upsert.region.clone_from(&self.region);
            upsert.seq = Some(seq);
            for target in &self.targets {
                let result = target.push(&upsert).await;
                self.metrics.rollup_push(target.name(), result.is_ok());
                result?;
            }
            let done: Vec<DirtyDay> = dirty
                .iter()
                .filter(|d| upsert.days.contains(&d.day))
                .cloned()
                .collect();
            let young_done: Vec<AppDay> = young
                .iter()
                .filter(|d| upsert.days.contains(d))
                .cloned()
                .collect();
            self.facts.clear(&done, &young_done).await?;
            self.metrics.rollup_days_pushed.add(done.len() as u64);
            pushed += done.len();
            tracing::debug!(
                days = done.len(),
                rows = upsert.rows.len(),
                paths = upsert.paths.as_ref().map_or(0, Vec::len),
                cohorts = upsert.cohorts.as_ref().map_or(0, Vec::len),
                ltv_customers = upsert.ltv_customers.as_ref().map_or(0, Vec::len),
                "rollups pushed"
            );
        }
        Ok(pushed)
    }
}

/// What one upsert's rows may take serialised: nine tenths of the query Worker's body limit
/// ([`MAX_UPSERT_BYTES`]), the rest for the day list and the envelope.
const UPSERT_BYTE_BUDGET: usize = MAX_UPSERT_BYTES / 10 * 9;
/// A listed day in the body (`{"app_id": ..., "day": ...}`, app ids up to 64 chars).
const DAY_BYTES: usize = 120;

fn json_len<T: serde::Serialize>(rows: &[T]) -> usize {
    serde_json::to_vec(rows).map_or(0, |v| v.len())
}

/// How long until the next UTC day starts (and a second more).
fn until_next_utc_day() -> Duration {
    let ms = chrono::Utc::now().timestamp_millis().rem_euclid(86_400_000);
    Duration::from_millis((86_400_000 - ms) as u64 + 1_000)
}

/// The rollup of `days` as upserts that each stay within the query Worker's row limits per
/// section ([`MAX_UPSERT_SECTION_ROWS`]) and in bytes ([`MAX_UPSERT_BYTES`]), days in order, every day whole in one upsert. A day
/// larger than the limits on its own gets an upsert of its own (which the Worker refuses:
/// the error names it, and the other days still go). A cohort day whose cohort or customer
/// rows alone exceed the limit gets an upsert of its own without those two sections, so its
/// daily stats still go (its cohort rows stay as last pushed; logged).
pub fn group_days(days: Vec<AppDay>, rollup: DayRollup) -> Vec<RollupUpsert> {
    let mut by_day: BTreeMap<AppDay, DayRollup> = BTreeMap::new();
    let key = |app_id: &str, day: &str| AppDay {
        app_id: app_id.to_owned(),
        day: day.to_owned(),
    };
    for row in rollup.rows {
        let day = key(&row.key.app_id, &row.key.day);
        by_day.entry(day).or_default().rows.push(row);
    }
    for path in rollup.paths {
        let day = key(&path.app_id, &path.day);
        by_day.entry(day).or_default().paths.push(path);
    }
    for count in rollup.fraud {
        let day = key(&count.app_id, &count.day);
        by_day.entry(day).or_default().fraud.push(count);
    }
    for row in rollup.cohorts {
        let day = key(&row.app_id, &row.day);
        by_day.entry(day).or_default().cohorts.push(row);
    }
    for customer in rollup.ltv_customers {
        let day = key(&customer.app_id, &customer.day);
        by_day.entry(day).or_default().ltv_customers.push(customer);
    }
    let empty = |days: Vec<AppDay>| RollupUpsert {
        days,
        rows: Vec::new(),
        paths: Some(Vec::new()),
        fraud: Some(Vec::new()),
        cohorts: Some(Vec::new()),
        ltv_customers: Some(Vec::new()),
        region: String::new(),
        seq: None,
    };
    let mut upserts: Vec<RollupUpsert> = Vec::new();
    let mut current = empty(Vec::new());
    // Serialised size of `current`'s rows, kept under the Worker's body limit.
    let mut current_bytes = 0;
    for day in days {
        let of_day = by_day.remove(&day).unwrap_or_default();
        let stats_bytes =
            json_len(&of_day.rows) + json_len(&of_day.paths) + json_len(&of_day.fraud);
        let day_bytes =
            stats_bytes + json_len(&of_day.cohorts) + json_len(&of_day.ltv_customers) + DAY_BYTES;
        if of_day.cohorts.len() > MAX_UPSERT_SECTION_ROWS
            || of_day.ltv_customers.len() > MAX_UPSERT_SECTION_ROWS
            || day_bytes > UPSERT_BYTE_BUDGET
        {
            tracing::warn!(
                app_id = %day.app_id,
                day = %day.day,
                cohort_rows = of_day.cohorts.len(),
                ltv_customers = of_day.ltv_customers.len(),
                bytes = day_bytes,
                limit = MAX_UPSERT_SECTION_ROWS,
                "cohort day too large for one upsert: its cohort and lifetime-value rows are not pushed"
            );
            if !current.days.is_empty() {
                upserts.push(std::mem::replace(&mut current, empty(Vec::new())));
                current_bytes = 0;
            }
            upserts.push(RollupUpsert {
                rows: of_day.rows,
                paths: Some(of_day.paths),
                fraud: Some(of_day.fraud),
                cohorts: None,
                ltv_customers: None,
                ..empty(vec![day])
            });
            continue;
        }
        let fits = |u: &RollupUpsert| {
            current_bytes + day_bytes <= UPSERT_BYTE_BUDGET
                && u.rows.len() + of_day.rows.len() <= MAX_UPSERT_SECTION_ROWS
                && u.paths.as_ref().map_or(0, Vec::len) + of_day.paths.len()
                    <= MAX_UPSERT_SECTION_ROWS
                && u.fraud.as_ref().map_or(0, Vec::len) + of_day.fraud.len()
                    <= MAX_UPSERT_SECTION_ROWS
                && u.cohorts.as_ref().map_or(0, Vec::len) + of_day.cohorts.len()
                    <= MAX_UPSERT_SECTION_ROWS
                && u.ltv_customers.as_ref().map_or(0, Vec::len) + of_day.ltv_customers.len()
                    <= MAX_UPSERT_SECTION_ROWS
        };
        if !current.days.is_empty() && !fits(&current) {
            upserts.push(std::mem::replace(&mut current, empty(Vec::new())));
            current_bytes = 0;
        }
        current_bytes += day_bytes;
        current.days.push(day);
        current.rows.extend(of_day.rows);
        current
            .paths
            .get_or_insert_with(Vec::new)
            .extend(of_day.paths);
        current
            .fraud
            .get_or_insert_with(Vec::new)
            .extend(of_day.fraud);
        current
            .cohorts
            .get_or_insert_with(Vec::new)
            .extend(of_day.cohorts);
        current
            .ltv_customers
            .get_or_insert_with(Vec::new)
            .extend(of_day.ltv_customers);
    }
    if !current.days.is_empty() {
        upserts.push(current);
    }
    upserts
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrib_core::rollup::{null_row, FraudCount};

    fn day(n: u32) -> AppDay {
        AppDay {
            app_id: "app".into(),
            day: format!("2026-01-{n:02}"),
        }
    }

    /// The rollups are recomputed from records stored as JSON; without serde_json's exact float
    /// parsing a credit value came back one unit in the last place off, so a day's sums differed
    /// from the edge's (seen when libsql's remote client, which had enabled it, was dropped).
    #[test]
    fn stored_credit_values_parse_back_exactly() {
        let inexact = (1..20_000)
            .map(|n| f64::from(n) / 3.0 * 1.1)
            .filter(|v| {
                let text = serde_json::to_string(v).unwrap_or_default();
                serde_json::from_str::<f64>(&text).ok() != Some(*v)
            })
            .count();
        assert_eq!(inexact, 0, "values that do not survive a JSON round trip");
    }

    #[test]
    fn days_are_grouped_within_the_row_limits_and_kept_whole() {
        let per_day = MAX_UPSERT_SECTION_ROWS / 3 + 1; // three days do not fit in one upsert
        let days: Vec<AppDay> = (1..=4).map(day).collect();
        let mut rollup = DayRollup::default();
        for d in &days {
            for p in 0..per_day {
                rollup.paths.push(null_row(
                    d.app_id.clone(),
                    d.day.clone(),
                    vec![format!("s{p}")],
                    1,
                ));
            }
            rollup.fraud.push(FraudCount {
                app_id: d.app_id.clone(),
                day: d.day.clone(),
                reason: "bot_user_agent".into(),
                count: 1,
            });
        }
        let upserts = group_days(days.clone(), rollup);
        let grouped: Vec<Vec<AppDay>> = upserts.iter().map(|u| u.days.clone()).collect();
        assert_eq!(grouped, [days[..2].to_vec(), days[2..].to_vec()]);
        for upsert in &upserts {
            let paths = upsert.paths.as_ref().expect("paths");
            assert_eq!(paths.len(), 2 * per_day);
            assert!(paths
                .iter()
                .all(|p| upsert.days.iter().any(|d| d.day == p.day)));
            assert_eq!(upsert.fraud.as_ref().map(Vec::len), Some(2));
        }
        // A cohort day with more customers than one upsert takes goes alone, without its
        // cohort and customer sections, so its daily stats still reach the read store.
        let mut rollup = DayRollup::default();
        for d in [day(1), day(2)] {
            rollup.fraud.push(FraudCount {
                app_id: d.app_id.clone(),
                day: d.day.clone(),
                reason: "bot_user_agent".into(),
                count: 1,
            });
        }
        let customer = attrib_core::cohorts::LtvSummary {
            app_id: "app".into(),
            day: day(2).day,
            source: "google".into(),
            currency: "USD".into(),
            frequency: 0,
            recency: 0.0,
            t: 1.0,
            observed_on: "2026-01-03".into(),
            monetary_value: 0.0,
        };
        rollup.ltv_customers = vec![customer; MAX_UPSERT_SECTION_ROWS + 1];
        let upserts = group_days(vec![day(1), day(2), day(3)], rollup);
        let shape: Vec<_> = upserts
            .iter()
            .map(|u| {
                (
                    u.days.clone(),
                    u.ltv_customers.is_some(),
                    u.fraud.as_ref().map(Vec::len),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                (vec![day(1)], true, Some(1)),
                (vec![day(2)], false, Some(1)),
                (vec![day(3)], true, Some(0)),
            ]
        );
        assert!(upserts[1].cohorts.is_none());
        // Rows within the row limits can still make a body too large: days are split by
        // their serialised size too (here about 2.5 MB a day, under 4,000 KiB alone).
        let long = "x".repeat(256);
        let mut rollup = DayRollup::default();
        for d in [day(1), day(2)] {
            for offset in 0..2_400 {
                rollup.cohorts.push(attrib_core::cohorts::CohortRow {
                    app_id: d.app_id.clone(),
                    day: d.day.clone(),
                    source: long.clone(),
                    campaign: format!("{long}{offset}"),
                    day_offset: 0,
                    currency: String::new(),
                    users: 1,
                    active_users: 1,
                    revenue: 0.0,
                });
                rollup.ltv_customers.push(attrib_core::cohorts::LtvSummary {
                    app_id: d.app_id.clone(),
                    day: d.day.clone(),
                    source: long.clone(),
                    currency: "USD".into(),
                    frequency: 0,
                    recency: 0.0,
                    t: 1.0,
                    observed_on: "2026-01-03".into(),
                    monetary_value: 0.0,
                });
            }
        }
        let upserts = group_days(vec![day(1), day(2)], rollup);
        let sizes: Vec<(usize, usize)> = upserts
            .iter()
            .map(|u| (u.days.len(), serde_json::to_vec(u).map_or(0, |v| v.len())))
            .collect();
        assert_eq!(sizes.len(), 2, "{sizes:?}");
        assert!(sizes
            .iter()
            .all(|(days, bytes)| *days == 1 && *bytes < MAX_UPSERT_BYTES));
        assert!(upserts
            .iter()
            .all(|u| u.cohorts.as_ref().map(Vec::len) == Some(2_400)));
        // A day without any row is still replaced (emptied) where it belongs.
        let upserts = group_days(vec![day(9)], DayRollup::default());
        assert_eq!(upserts.len(), 1);
        assert_eq!(upserts[0].days, [day(9)]);
        assert_eq!(upserts[0].paths, Some(Vec::new()));
    }
}
