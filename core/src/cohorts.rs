//! Acquisition cohorts: users grouped by the UTC day of their first attributed conversion and
//! the source and campaign credited with it, with what they did on each day after it
//! (day 0 to [`MAX_COHORT_DAY`]): how many were active that day, by converting again or by
//! any track, page or screen event (retention as returning activity, [`UserActivity`]), and
//! the revenue of that day per currency. Cumulative revenue and retention rates
//! are sums and ratios of these rows, computed by the reader over any group of cohorts.
//!
//! Pure: the caller hands every conversion and active day of the users concerned (a cohort's
//! row for day N changes when one of its users converts or is active N days later, so a
//! user's facts are needed together); rows are keyed for replacement per (app, cohort day), like the daily rollups.
//!
//! [`user_conversions`] reads these inputs from attribution records (what the origin keeps per
//! conversion), and [`ltv_summaries`] turns them into the per-customer purchase summaries the
//! lifetime-value fit takes (`lifetimes`' format, daily periods).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::attribution::AttributionResult;
use crate::outbox::OutboxRecord;
use crate::rollup::{ORGANIC_CAMPAIGN, ORGANIC_SOURCE};
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
/// users (`users`: the cohort's size, `active_users`: those active that day); rows with
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

/// The conversions of attribution records as cohort inputs: the latest revision of each
/// conversion, rejected ones left out. The user is the record's journey (the origin keys
/// journeys per person; merged journeys carry the surviving id in later revisions), the
/// source and campaign those of the touch with the largest credit under the conversion's
/// default model (the earliest of equal ones), `(organic)` / `(none)` when unattributed.
pub fn user_conversions(records: &[OutboxRecord]) -> Vec<UserConversion<'_>> {
    let mut latest: BTreeMap<(&str, &str), (&str, &AttributionResult)> = BTreeMap::new();
    for record in records {
        if let OutboxRecord::Attribution(r) = record {
            let key = (
                r.app_id.as_str(),
                r.result.conversion.conversion_id.as_str(),
            );
            if latest
                .get(&key)
                .is_none_or(|(_, old)| old.revision < r.result.revision)
            {
                latest.insert(key, (r.journey.as_str(), &r.result));
            }
        }
    }
    latest
        .into_iter()
        .filter(|(_, (_, result))| result.rejected.is_none())
        .map(|((app_id, _), (journey, result))| {
            let mut top: Option<&crate::attribution::CreditedTouch> = None;
            for credit in result.credits_of(result.default_model) {
                if top.is_none_or(|t| credit.credit > t.credit) {
                    top = Some(credit);
                }
            }
            UserConversion {
                app_id,
                user: journey,
                ts_ms: result.conversion.ts_ms,
                source: top.map_or(ORGANIC_SOURCE, |t| t.source.as_str()),
                campaign: top.map_or(ORGANIC_CAMPAIGN, |t| t.campaign.as_str()),
                currency: result.conversion.currency.as_str(),
                revenue: result.conversion.revenue,
            }
        })
        .collect()
}

/// One customer's purchase summary for lifetime value, in days (the `ltv_customers` rows of
/// the rollup upsert: `GET /v1/ltv` ages `t` from `observed_on` to the day it answers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LtvSummary {
    pub app_id: String,
    /// The customer's first purchase day (its cohort).
    pub day: String,
    pub source: String,
    pub currency: String,
    /// Days with a purchase after the first one.
    pub frequency: u32,
    /// Days from the first purchase day to the last one.
    pub recency: f64,
    /// Days from the first purchase day to `observed_on`.
    pub t: f64,
    pub observed_on: String,
    /// Mean revenue of the repeat purchase days in `currency`; 0 without one.
    pub monetary_value: f64,
}

/// Per-customer summaries as `lifetimes`' `summary_data_from_transaction_data` with daily
/// periods: purchases on one UTC day are one period, `frequency` counts the days after the
/// first, `recency` and `t` are whole days from the first purchase day, `monetary_value` is the
/// mean of the repeat days' revenue. A customer's currency is that of its first purchase
/// (revenue in another currency counts as a purchase but not in the value). Customers first
/// seen on `observed_on` (t = 0) are left out until the next day; purchases after it too.
pub fn ltv_summaries(conversions: &[UserConversion], observed_on_ms: i64) -> Vec<LtvSummary> {
    let observed = observed_on_ms.div_euclid(DAY_MS);
    let mut by_user: BTreeMap<(&str, &str), Vec<&UserConversion>> = BTreeMap::new();
    for c in conversions {
        if c.ts_ms.div_euclid(DAY_MS) <= observed {
            by_user.entry((c.app_id, c.user)).or_default().push(c);
        }
    }
    let mut out = Vec::new();
    for list in by_user.values_mut() {
        list.sort_by_key(|c| c.ts_ms);
        let first = list[0];
        let first_day = first.ts_ms.div_euclid(DAY_MS);
        if first_day >= observed {
            continue;
        }
        // Revenue per purchase day, in the first purchase's currency.
        let mut days: BTreeMap<i64, f64> = BTreeMap::new();
        for c in list.iter() {
            let value = days.entry(c.ts_ms.div_euclid(DAY_MS)).or_default();
            if c.currency == first.currency {
                *value += c.revenue;
            }
        }
        let repeat: Vec<(i64, f64)> = days
            .iter()
            .filter(|(d, _)| **d != first_day)
            .map(|(d, v)| (*d, *v))
            .collect();
        let last = repeat.last().map_or(first_day, |(d, _)| *d);
        let monetary = if repeat.is_empty() {
            0.0
        } else {
            repeat.iter().map(|(_, v)| v).sum::<f64>() / repeat.len() as f64
        };
        out.push(LtvSummary {
            app_id: first.app_id.to_owned(),
            day: day_of_millis(first_day * DAY_MS),
            source: first.source.to_owned(),
            currency: first.currency.to_owned(),
            frequency: u32::try_from(repeat.len()).unwrap_or(u32::MAX),
            recency: (last - first_day) as f64,
            t: (observed - first_day) as f64,
            observed_on: day_of_millis(observed * DAY_MS),
            // Repeat days with only refunds or other currencies give no positive value: 0, which
            // `GET /v1/ltv` takes as no value known (its spend model leaves the customer out).
            monetary_value: monetary.max(0.0),
        });
    }
    out
}

/// A UTC day on which a user did something (a track, page or screen event): returning
/// activity for retention, whether or not the user bought that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserActivity<'a> {
    pub app_id: &'a str,
    pub user: &'a str,
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
}

/// Whether an event of this type is returning activity: something the user did (a track,
/// page or screen), not an identity call or an ad touch.
pub fn is_activity(event_type: crate::event::EventType) -> bool {
    use crate::event::EventType;
    matches!(
        event_type,
        EventType::Track | EventType::Page | EventType::Screen
    )
}

/// The cohort rows of `conversions` (any order; ties at the first timestamp go to the
/// earlier one in the slice). Conversions more than [`MAX_COHORT_DAY`] days after a user's
/// first are left out; every user is active on day 0.
pub fn cohort_rows(conversions: &[UserConversion]) -> Vec<CohortRow> {
    cohort_rows_with_activity(conversions, &[])
}

/// [`cohort_rows`] where a user also counts as active on every day of `activity` (0 to
/// [`MAX_COHORT_DAY`] days after its first conversion): retention as returning activity, not
/// only repeat purchases. Activity of users without a conversion, or before their first,
/// belongs to no cohort and is left out.
pub fn cohort_rows_with_activity(
    conversions: &[UserConversion],
    activity: &[UserActivity],
) -> Vec<CohortRow> {
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
    for a in activity {
        let Some(f) = first.get(&(a.app_id, a.user)) else {
            continue;
        };
        let cohort_day = f.ts_ms.div_euclid(DAY_MS);
        let Ok(offset) = u32::try_from(a.day - cohort_day) else {
            continue;
        };
        if offset > MAX_COHORT_DAY {
            continue;
        }
        let key = (f.app_id, cohort_day, f.source, f.campaign);
        active.entry((key, offset)).or_default().insert(a.user);
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
    fn ltv_summaries_count_purchase_days_as_lifetimes_does() {
        // Observed on 2026-03-11 (day 10 after ann's and bob's first purchase).
        let summaries = ltv_summaries(&journeys(), T0 + 10 * DAY);
        let ann = summaries
            .iter()
            .find(|s| s.source == "google" && s.frequency == 2)
            .expect("ann: purchases on days 1 and 3");
        assert_eq!(
            (
                ann.recency,
                ann.t,
                ann.currency.as_str(),
                ann.monetary_value
            ),
            (3.0, 10.0, "USD", 10.0),
            "(20 USD + the EUR day counted as 0 USD) / 2 repeat days"
        );
        assert_eq!(ann.day, "2026-03-01");
        assert_eq!(ann.observed_on, "2026-03-11");
        let bob = summaries
            .iter()
            .find(|s| s.source == "google" && s.frequency == 1)
            .expect("bob");
        assert_eq!((bob.recency, bob.monetary_value), (3.0, 7.0));
        let cy = summaries.iter().find(|s| s.source == "email").expect("cy");
        assert_eq!(
            (cy.frequency, cy.recency, cy.t, cy.monetary_value),
            (0, 0.0, 9.0, 0.0),
            "the day-96 purchase is after the observation day"
        );
        assert!(
            ltv_summaries(&journeys(), T0).is_empty(),
            "first seen on the observation day: not yet"
        );
    }

    #[test]
    fn attribution_records_give_the_latest_unrejected_conversions() {
        use crate::attribution::{attribute, AttributionResult};
        use crate::conversion::Conversion;
        use crate::outbox::AttributionRecord;
        use crate::settings::AppSettings;
        use crate::testkit::click;

        let settings = AppSettings::with_defaults("app");
        let record = |id: &str, journey: &str, revision: u32, rejected: bool| {
            let conversion = Conversion {
                conversion_id: id.into(),
                name: "Order Completed".into(),
                ts_ms: T0,
                revenue: 9.0,
                currency: "USD".into(),
                order_id: None,
            };
            let mut result: AttributionResult =
                attribute(&conversion, &[click("a", T0 - 1000)], &settings, T0);
            result.revision = revision;
            if rejected {
                result.rejected = Some("click_flood".into());
            }
            OutboxRecord::Attribution(Box::new(AttributionRecord {
                app_id: "app".into(),
                journey: journey.into(),
                result,
            }))
        };
        let records = vec![
            record("c1", "old-journey", 1, false),
            record("c1", "merged-journey", 2, false),
            record("c2", "u2", 1, true),
        ];
        let got = user_conversions(&records);
        assert_eq!(got.len(), 1, "c2 is rejected");
        assert_eq!(got[0].user, "merged-journey", "the latest revision decides");
        assert_eq!((got[0].source, got[0].revenue), ("src-a", 9.0));
    }

    #[test]
    fn any_activity_after_acquisition_counts_as_returning() {
        let day = |n: i64| T0.div_euclid(DAY) + n;
        let activity = [
            // bob opens the app on day 2 (no purchase): returning on day 2.
            UserActivity {
                app_id: "shop",
                user: "bob",
                day: day(2),
            },
            // ann is active on day 3, when she also bought: counted once.
            UserActivity {
                app_id: "shop",
                user: "ann",
                day: day(3),
            },
            // Before acquisition, after day 90, and a user without a conversion: no cohort.
            UserActivity {
                app_id: "shop",
                user: "ann",
                day: day(-1),
            },
            UserActivity {
                app_id: "shop",
                user: "bob",
                day: day(91),
            },
            UserActivity {
                app_id: "shop",
                user: "dan",
                day: day(1),
            },
            // Another app's user of the same name is someone else.
            UserActivity {
                app_id: "other",
                user: "bob",
                day: day(5),
            },
        ];
        let rows = cohort_rows_with_activity(&journeys(), &activity);
        let active = |offset| {
            find(&rows, "2026-03-01", "google", offset, "").map(|r| (r.users, r.active_users))
        };
        assert_eq!(active(2), Some((2, 1)), "bob came back without buying");
        assert_eq!(active(3), Some((2, 2)));
        assert_eq!(active(5), None);
        assert!(rows
            .iter()
            .all(|r| r.day_offset <= MAX_COHORT_DAY && r.app_id == "shop"));
        assert!(
            find(&rows, "2026-03-01", "google", 2, "USD").is_none(),
            "activity brings no revenue"
        );
        // Without activity the rows are those of purchases alone.
        assert_eq!(
            cohort_rows_with_activity(&journeys(), &[]),
            cohort_rows(&journeys())
        );
    }

    #[test]
    fn order_of_input_does_not_matter() {
        let mut reversed = journeys();
        reversed.reverse();
        assert_eq!(cohort_rows(&reversed), cohort_rows(&journeys()));
    }
}
