//! Retention in ClickHouse (issue 12): raw events older than their app's retention are
//! removed by one mutation per run, `ALTER TABLE ... DELETE WHERE` (ClickHouse 18.16 has
//! mutations but no TTL; current releases run the same statement) whose condition ORs one term
//! per distinct number of days (`app_id IN (...) AND timestamp_ms < cutoff`) and the
//! deployment-wide rule for the other apps (`app_id NOT IN (...)`): a mutation rewrites every
//! part it touches, so one a day rather than one per rule. Attribution tables are kept, as in
//! the journeys.

use attrib_core::app_retention::RetentionPlan;

use super::sink::ClickHouseSink;
use super::ClickHouseError;
use crate::limits::RETENTION_MUTATION_MAX_QUERY_BYTES;

/// A ClickHouse string literal: backslash and quote escaped (both releases read it).
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn list(apps: &[String]) -> String {
    apps.iter()
        .map(|a| literal(a))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The mutation removing `database.events` rows the plan expires (integer literals: no
/// query parameters on 18.16); none when the plan expires nothing.
pub fn delete_statement(database: &str, plan: &RetentionPlan) -> Option<String> {
    let mut terms: Vec<String> = plan
        .per_app
        .iter()
        .map(|rule| {
            format!(
                "(app_id IN ({}) AND timestamp_ms < {})",
                list(&rule.apps),
                rule.cutoff_ms
            )
        })
        .collect();
    if let Some(default) = &plan.default {
        terms.push(if default.except.is_empty() {
            format!("timestamp_ms < {}", default.cutoff_ms)
        } else {
            format!(
                "(app_id NOT IN ({}) AND timestamp_ms < {})",
                list(&default.except),
                default.cutoff_ms
            )
        });
    }
    (!terms.is_empty()).then(|| {
        format!(
            "ALTER TABLE {database}.events DELETE WHERE {}",
            terms.join(" OR ")
        )
    })
}

impl ClickHouseSink {
    /// Starts the plan's mutation; ClickHouse applies it in the background, part by part.
    pub async fn remove_expired(&self, plan: &RetentionPlan) -> Result<(), ClickHouseError> {
        let Some(statement) = delete_statement(self.database(), plan) else {
            return Ok(());
        };
        // Every app named twice at most (its rule, the default's exception list) is far over
        // the 256 KiB a query may have by default.
        let max = RETENTION_MUTATION_MAX_QUERY_BYTES.to_string();
        self.execute_with(
            None,
            None,
            &[("max_query_size", &max)],
            statement.into_bytes(),
        )
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrib_core::app_retention::{AppsCutoff, DefaultCutoff};

    #[test]
    fn without_named_apps_the_mutation_is_the_deployment_wide_one() {
        let plan = RetentionPlan {
            per_app: vec![],
            default: Some(DefaultCutoff {
                cutoff_ms: 1_700_000_000_000,
                except: vec![],
            }),
        };
        assert_eq!(
            delete_statement("attrib", &plan).as_deref(),
            Some("ALTER TABLE attrib.events DELETE WHERE timestamp_ms < 1700000000000")
        );
        assert_eq!(delete_statement("attrib", &RetentionPlan::default()), None);
    }

    #[test]
    fn one_mutation_ors_a_term_per_rule_naming_its_apps_quoted() {
        let plan = RetentionPlan {
            per_app: vec![
                AppsCutoff {
                    days: 7,
                    cutoff_ms: 5,
                    apps: vec!["a".into(), "o'b".into()],
                },
                AppsCutoff {
                    days: 30,
                    cutoff_ms: 4,
                    apps: vec!["c".into()],
                },
            ],
            default: Some(DefaultCutoff {
                cutoff_ms: 3,
                except: vec!["a".into(), "c".into(), "o'b".into()],
            }),
        };
        assert_eq!(
            delete_statement("db", &plan).as_deref(),
            Some(
                "ALTER TABLE db.events DELETE WHERE (app_id IN ('a', 'o\\'b') AND timestamp_ms < 5) \
                 OR (app_id IN ('c') AND timestamp_ms < 4) \
                 OR (app_id NOT IN ('a', 'c', 'o\\'b') AND timestamp_ms < 3)"
            )
        );
    }

    #[test]
    fn the_largest_mutation_fits_the_query_size_it_asks_for() {
        use attrib_core::app_retention::{plan, AppRetention};
        use attrib_core::limits::{MAX_RETENTION_APPS, MAX_RETENTION_DAYS};
        // Every app at the longest id, spread over every possible number of days.
        let known = AppRetention {
            apps: (0..MAX_RETENTION_APPS)
                .map(|i| (format!("{i:0>64}"), (i as u32 % MAX_RETENTION_DAYS) + 1))
                .collect(),
            complete: true,
        };
        let statement = delete_statement("attrib", &plan(i64::MAX / 2, 30, &known)).unwrap();
        assert!(
            statement.len() < RETENTION_MUTATION_MAX_QUERY_BYTES,
            "{} bytes",
            statement.len()
        );
    }
}
