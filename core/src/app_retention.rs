//! Per-app retention at the origin (issue 12): the query Worker answers the apps'
//! `retention_days` on a signed `GET` ([`RETENTION_PATH`]), and the origin turns them into
//! cutoffs with [`plan`]: one rule per distinct number of days (`app_id IN (...)`, chunked),
//! and the origin's deployment-wide rule for every app the Worker did not name.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::journey::timing::DAY_MS;
use crate::limits::{MAX_RETENTION_APPS, RETENTION_APPS_PER_STATEMENT};

/// `GET` path on the query Worker, signed with the rollup keys (origin → edge) over the path
/// and its query string (`?after=<app id>` for the next page) and an empty body.
pub const RETENTION_PATH: &str = "/internal/retention";
/// Query parameter naming the last app id of the previous page.
pub const AFTER_PARAM: &str = "after";

/// One page of apps, ordered by id: `{ "apps": { id: days }, "default_days": N, "next": id }`.
/// `next` is set when more apps may follow (ask again with `after=next`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RetentionPage {
    pub apps: BTreeMap<String, u32>,
    /// Days an app without its own setting keeps (`crate::limits::DEFAULT_RETENTION_DAYS`).
    pub default_days: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Every app the Worker named, and whether that is all of them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppRetention {
    pub apps: BTreeMap<String, u32>,
    /// False when the list stopped at [`MAX_RETENTION_APPS`]: some apps were not named.
    pub complete: bool,
}

impl AppRetention {
    /// Adds a page; returns the cursor of the next page to ask for, if any (none once
    /// [`MAX_RETENTION_APPS`] are known, which marks the list incomplete).
    pub fn add(&mut self, page: RetentionPage) -> Option<String> {
        for (app, days) in page.apps {
            if self.apps.len() >= MAX_RETENTION_APPS {
                self.complete = false;
                return None;
            }
            self.apps.insert(app, days);
        }
        match page.next {
            Some(_) if self.apps.len() >= MAX_RETENTION_APPS => {
                self.complete = false;
                None
            }
            Some(next) => Some(next),
            None => {
                self.complete = true;
                None
            }
        }
    }
}

/// Delete raw rows of `apps` older than `cutoff_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppsCutoff {
    pub days: u32,
    pub cutoff_ms: i64,
    /// At most [`RETENTION_APPS_PER_STATEMENT`], sorted.
    pub apps: Vec<String>,
}

/// Delete raw rows of every app except `except` older than `cutoff_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultCutoff {
    pub cutoff_ms: i64,
    /// Every app named with its own rule, sorted (at most [`MAX_RETENTION_APPS`]).
    pub except: Vec<String>,
}

/// What one retention run deletes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RetentionPlan {
    /// Ordered by days, then apps.
    pub per_app: Vec<AppsCutoff>,
    /// The deployment-wide rule; none when it is off (0 days) or the app list is incomplete
    /// (it would reach named apps beyond the list by the wrong rule).
    pub default: Option<DefaultCutoff>,
}

/// Raw events before this time have expired (`days` whole days before `now_ms`).
pub fn cutoff_ms(now_ms: i64, days: u64) -> i64 {
    now_ms.saturating_sub(
        i64::try_from(days)
            .unwrap_or(i64::MAX)
            .saturating_mul(DAY_MS),
    )
}

/// The run's cutoffs: named apps grouped by their days (0 days is never deleted: such an app
/// keeps its rows), the rest under `default_days` (0: off).
pub fn plan(now_ms: i64, default_days: u64, known: &AppRetention) -> RetentionPlan {
    let mut by_days: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for (app, &days) in &known.apps {
        by_days.entry(days).or_default().push(app.clone());
    }
    let mut per_app = Vec::new();
    for (days, apps) in by_days {
        if days == 0 {
            continue;
        }
        for chunk in apps.chunks(RETENTION_APPS_PER_STATEMENT) {
            per_app.push(AppsCutoff {
                days,
                cutoff_ms: cutoff_ms(now_ms, u64::from(days)),
                apps: chunk.to_vec(),
            });
        }
    }
    let default = (default_days > 0 && known.complete).then(|| DefaultCutoff {
        cutoff_ms: cutoff_ms(now_ms, default_days),
        except: known.apps.keys().cloned().collect(),
    });
    RetentionPlan { per_app, default }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(apps: &[(&str, u32)], complete: bool) -> AppRetention {
        AppRetention {
            apps: apps.iter().map(|(a, d)| ((*a).to_owned(), *d)).collect(),
            complete,
        }
    }

    #[test]
    fn the_cutoff_is_whole_days_back() {
        assert_eq!(cutoff_ms(10 * DAY_MS, 3), 7 * DAY_MS);
        assert!(cutoff_ms(0, u64::MAX) < -DAY_MS, "no overflow");
    }

    #[test]
    fn apps_with_the_same_days_share_one_rule_and_the_rest_get_the_default() {
        let now = 1_000 * DAY_MS;
        let plan = plan(now, 30, &known(&[("b", 7), ("a", 7), ("c", 395)], true));
        assert_eq!(
            plan.per_app,
            vec![
                AppsCutoff {
                    days: 7,
                    cutoff_ms: 993 * DAY_MS,
                    apps: vec!["a".into(), "b".into()]
                },
                AppsCutoff {
                    days: 395,
                    cutoff_ms: 605 * DAY_MS,
                    apps: vec!["c".into()]
                },
            ]
        );
        assert_eq!(
            plan.default,
            Some(DefaultCutoff {
                cutoff_ms: 970 * DAY_MS,
                except: vec!["a".into(), "b".into(), "c".into()]
            })
        );
    }

    #[test]
    fn no_default_rule_when_it_is_off_or_the_list_is_incomplete() {
        let apps = known(&[("a", 7)], true);
        assert_eq!(plan(DAY_MS * 100, 0, &apps).default, None);
        assert_eq!(
            plan(DAY_MS * 100, 30, &known(&[("a", 7)], false)).default,
            None
        );
        assert_eq!(plan(DAY_MS * 100, 0, &apps).per_app.len(), 1);
    }

    #[test]
    fn with_no_app_named_the_default_reaches_every_app() {
        let plan = plan(DAY_MS * 100, 30, &known(&[], true));
        assert!(plan.per_app.is_empty());
        assert_eq!(plan.default.map(|d| d.except), Some(vec![]));
    }

    #[test]
    fn a_large_group_is_split_into_bounded_statements() {
        let apps: Vec<(String, u32)> = (0..RETENTION_APPS_PER_STATEMENT + 1)
            .map(|i| (format!("app{i:05}"), 30))
            .collect();
        let known = AppRetention {
            apps: apps.into_iter().collect(),
            complete: true,
        };
        let plan = plan(DAY_MS * 100, 30, &known);
        let sizes: Vec<usize> = plan.per_app.iter().map(|c| c.apps.len()).collect();
        assert_eq!(sizes, vec![RETENTION_APPS_PER_STATEMENT, 1]);
    }

    #[test]
    fn pages_are_followed_until_the_cap_then_the_list_is_incomplete() {
        let page = |from: usize, n: usize, next: bool| RetentionPage {
            apps: (from..from + n).map(|i| (format!("a{i:05}"), 7)).collect(),
            default_days: 395,
            next: next.then(|| format!("a{:05}", from + n - 1)),
        };
        let mut all = AppRetention::default();
        assert_eq!(all.add(page(0, 2, false)), None);
        assert!(all.complete);

        let mut all = AppRetention::default();
        let per = crate::limits::RETENTION_APPS_PER_PAGE;
        let pages = MAX_RETENTION_APPS / per;
        for i in 0..pages - 1 {
            let next = all.add(page(i * per, per, true));
            assert_eq!(next, Some(format!("a{:05}", (i + 1) * per - 1)));
            assert!(!all.complete);
        }
        let last = all.add(page((pages - 1) * per, per, true));
        assert_eq!(last, None, "the cap stops paging");
        assert_eq!(all.apps.len(), MAX_RETENTION_APPS);
        assert!(!all.complete);
    }
}
