//! Retention in ClickHouse (issue 12): raw events older than their app's retention are
//! removed by mutations, `ALTER TABLE ... DELETE WHERE` (ClickHouse 18.16 has mutations but
//! no TTL; current releases run the same statement): one per distinct number of days
//! (`app_id IN (...)`), and the deployment-wide rule for the other apps (`app_id NOT IN`).
//! Attribution tables are kept, as in the journeys.

use attrib_core::app_retention::RetentionPlan;

use super::sink::ClickHouseSink;
use super::ClickHouseError;

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

/// The mutations removing `database.events` rows the plan expires (integer literals: no
/// query parameters on 18.16).
pub fn delete_statements(database: &str, plan: &RetentionPlan) -> Vec<String> {
    let mut out: Vec<String> = plan
        .per_app
        .iter()
        .map(|rule| {
            format!(
                "ALTER TABLE {database}.events DELETE WHERE app_id IN ({}) AND timestamp_ms < {}",
                list(&rule.apps),
                rule.cutoff_ms
            )
        })
        .collect();
    if let Some(default) = &plan.default {
        out.push(if default.except.is_empty() {
            format!(
                "ALTER TABLE {database}.events DELETE WHERE timestamp_ms < {}",
                default.cutoff_ms
            )
        } else {
            format!(
                "ALTER TABLE {database}.events DELETE WHERE app_id NOT IN ({}) \
                 AND timestamp_ms < {}",
                list(&default.except),
                default.cutoff_ms
            )
        });
    }
    out
}

impl ClickHouseSink {
    /// Starts the plan's mutations; ClickHouse applies each in the background, part by part.
    /// Every statement is tried; the first failure is returned.
    pub async fn remove_expired(&self, plan: &RetentionPlan) -> Result<(), ClickHouseError> {
        let mut first_error = None;
        for statement in delete_statements(self.database(), plan) {
            if let Err(err) = self.execute(None, None, statement.into_bytes()).await {
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
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
            delete_statements("attrib", &plan),
            vec!["ALTER TABLE attrib.events DELETE WHERE timestamp_ms < 1700000000000"]
        );
    }

    #[test]
    fn one_mutation_per_rule_names_its_apps_quoted() {
        let plan = RetentionPlan {
            per_app: vec![AppsCutoff {
                days: 7,
                cutoff_ms: 5,
                apps: vec!["a".into(), "o'b".into()],
            }],
            default: Some(DefaultCutoff {
                cutoff_ms: 3,
                except: vec!["a".into(), "o'b".into()],
            }),
        };
        assert_eq!(
            delete_statements("db", &plan),
            vec![
                "ALTER TABLE db.events DELETE WHERE app_id IN ('a', 'o\\'b') AND timestamp_ms < 5",
                "ALTER TABLE db.events DELETE WHERE app_id NOT IN ('a', 'o\\'b') AND timestamp_ms < 3",
            ]
        );
    }
}
