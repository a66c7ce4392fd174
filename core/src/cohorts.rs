//! Acquisition cohorts: users grouped by the UTC day of their first attributed conversion and
//! the source and campaign credited with it, with what they did on each day after it
//! (day 0 to [`MAX_COHORT_DAY`]): how many converted again that day (retention as returning
//! activity) and the revenue of that day per currency. Cumulative revenue and retention rates
//! are sums and ratios of these rows, computed by the reader over any group of cohorts.
//!
//! Pure: the caller hands every conversion of the users concerned (a cohort's row for day N
//! changes when one of its users converts N days later, so a user's conversions are needed
//! together); rows are keyed for replacement per (app, cohort day), like the daily rollups.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::time::day_of_millis;

/// Last day after acquisition a cohort row is kept for (day 0 is the acquisition day).
pub const MAX_COHORT_DAY: u32 = 90;

const DAY_MS: i64 = 86_400_000;

/// One conversion of a user, with the source and campaign attribution credited it with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserConversion<'a> {
    pub app_id: &'a str,
    pub user: &'a str,
    pub ts_ms: i64,
    pub source: &'a str,
    pub campaign: &'a str,
    pub currency: &'a str,
    pub revenue: f64,
}

/// One (cohort, day after acquisition, currency) cell. Rows with `currency` "" carry the
/// users (`users`: the cohort's size, `active_users`: those who converted that day); rows with
/// a currency carry that day's revenue in it (their user counts are 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CohortRow {
    pub app_id: String,
    /// The cohort: UTC day of the users' first attributed conversion.
    pub day: String,
    pub source: String,
    pub campaign: String,
    /// Days after `day` (0 ..= [`MAX_COHORT_DAY`]).
    pub day_offset: u32,
    pub currency: String,
    pub users: u64,
    pub active_users: u64,
    pub revenue: f64,
}

type CohortKey<'a> = (&'a str, i64, &'a str, &'a str);

/// The cohort rows of `conversions` (any order; ties at the first timestamp go to the
/// earlier one in the slice). Conversions more than [`MAX_COHORT_DAY`] days after a user's
/// first are left out; every user is active on day 0.
pub fn cohort_rows(conversions: &[UserConversion]) -> Vec<CohortRow> {
    let mut first: HashMap<(&str, &str), &UserConversion> = HashMap::new();
    for c in conversions {
        let slot = first.entry((c.app_id, c.user)).or_insert(c);
        if c.ts_ms < slot.ts_ms {
            *slot = c;
        }
    }
    let mut sizes: BTreeMap<CohortKey, u64> = BTreeMap::new();
    for f in first.values() {
        *sizes
            .entry((f.app_id, f.ts_ms.div_euclid(DAY_MS), f.source, f.campaign))
            .or_default() += 1;
    }
    // (cohort, day offset) -> active users; (cohort, day offset, currency) -> revenue.
    let mut active: BTreeMap<(CohortKey, u32), BTreeSet<&str>> = BTreeMap::new();
    let mut revenue: BTreeMap<(CohortKey, u32, &str), f64> = BTreeMap::new();
    for c in conversions {
        let Some(f) = first.get(&(c.app_id, c.user)) else {
            continue;
        };
        let cohort_day = f.ts_ms.div_euclid(DAY_MS);
        let Ok(offset) = u32::try_from(c.ts_ms.div_euclid(DAY_MS) - cohort_day) else {
            continue;
        };
        if offset > MAX_COHORT_DAY {
            continue;
        }
        let key = (f.app_id, cohort_day, f.source, f.campaign);
        active.entry((key, offset)).or_default().insert(c.user);
        if !c.currency.is_empty() {
            *revenue.entry((key, offset, c.currency)).or_default() += c.revenue;
        }
    }
    let row = |key: &CohortKey, offset: u32, currency: &str| CohortRow {
        app_id: key.0.to_owned(),
        day: day_of_millis(key.1 * DAY_MS),
        source: key.2.to_owned(),
        campaign: key.3.to_owned(),
        day_offset: offset,
        currency: currency.to_owned(),
        users: 0,
        active_users: 0,
        revenue: 0.0,
    };
    let mut out = Vec::new();
    for ((key, offset), users) in &active {
        out.push(CohortRow {
            users: sizes.get(key).copied().unwrap_or(0),
            active_users: users.len() as u64,
            ..row(key, *offset, "")
        });
    }
    for ((key, offset, currency), amount) in &revenue {
        out.push(CohortRow {
            revenue: *amount,
            ..row(key, *offset, currency)
        });
    }
    out.sort_by(|a, b| {
        (
            &a.app_id,
            &a.day,
            &a.source,
            &a.campaign,
            a.day_offset,
            &a.currency,
        )
            .cmp(&(
                &b.app_id,
                &b.day,
                &b.source,
                &b.campaign,
                b.day_offset,
                &b.currency,
            ))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = DAY_MS;
    /// 2026-03-01T10:00:00Z.
    const T0: i64 = 1_772_359_200_000;

    fn conv<'a>(
        user: &'a str,
        ts_ms: i64,
        source: &'a str,
        currency: &'a str,
        revenue: f64,
    ) -> UserConversion<'a> {
        UserConversion {
            app_id: "shop",
            user,
            ts_ms,
            source,
            campaign: "spring",
            currency,
            revenue,
        }
    }

    /// A hand-built journey set: ann and bob acquired by google on 03-01, cy by email on
    /// 03-02; ann buys again on day 1 and day 3 (once in EUR), bob on day 3, cy on day 95.
    fn journeys() -> Vec<UserConversion<'static>> {
        vec![
            conv("bob", T0 + 3 * DAY, "email", "USD", 7.0),
            conv("ann", T0, "google", "USD", 10.0),
            conv("bob", T0 + 1000, "google", "USD", 5.0),
            conv("ann", T0 + DAY, "email", "USD", 20.0),
            conv("ann", T0 + 3 * DAY + 5, "google", "EUR", 4.0),
            conv("cy", T0 + DAY, "email", "USD", 1.0),
            conv("cy", T0 + 96 * DAY, "email", "USD", 100.0),
        ]
    }

    fn find<'a>(
        rows: &'a [CohortRow],
        day: &str,
        source: &str,
        offset: u32,
        currency: &str,
    ) -> Option<&'a CohortRow> {
        rows.iter().find(|r| {
            r.day == day && r.source == source && r.day_offset == offset && r.currency == currency
        })
    }

    #[test]
    fn users_join_the_cohort_of_their_first_conversion_and_its_source() {
        let rows = cohort_rows(&journeys());
        let day0 = find(&rows, "2026-03-01", "google", 0, "").expect("google day 0");
        assert_eq!((day0.users, day0.active_users), (2, 2));
        let usd0 = find(&rows, "2026-03-01", "google", 0, "USD").expect("usd day 0");
        assert_eq!(usd0.revenue, 15.0);
        // ann's day-1 purchase credited to email still counts in her google cohort.
        let day1 = find(&rows, "2026-03-01", "google", 1, "").expect("day 1");
        assert_eq!((day1.users, day1.active_users), (2, 1));
        assert_eq!(
            find(&rows, "2026-03-01", "google", 1, "USD").map(|r| r.revenue),
            Some(20.0)
        );
        let day3 = find(&rows, "2026-03-01", "google", 3, "").expect("day 3");
        assert_eq!(day3.active_users, 2, "ann and bob both came back on day 3");
        assert_eq!(
            find(&rows, "2026-03-01", "google", 3, "EUR").map(|r| r.revenue),
            Some(4.0)
        );
        assert_eq!(
            find(&rows, "2026-03-01", "google", 3, "USD").map(|r| r.revenue),
            Some(7.0)
        );
        assert!(find(&rows, "2026-03-01", "google", 2, "").is_none());
    }

    #[test]
    fn days_after_the_last_cohort_day_are_left_out() {
        let rows = cohort_rows(&journeys());
        let cy: Vec<_> = rows.iter().filter(|r| r.day == "2026-03-02").collect();
        assert_eq!(cy.len(), 2, "{cy:?}");
        assert!(cy.iter().all(|r| r.day_offset == 0 && r.source == "email"));
    }

    #[test]
    fn order_of_input_does_not_matter() {
        let mut reversed = journeys();
        reversed.reverse();
        assert_eq!(cohort_rows(&reversed), cohort_rows(&journeys()));
    }
}
