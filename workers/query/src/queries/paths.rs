//! `GET /v1/paths`: the top conversion paths of one app over a day range, by conversions.
//!
//! A path is the sources of a conversion's touches, oldest first, stored as a canonical JSON
//! array (see migrations/0003_query_paths_fraud_versions.sql). Paths are model-independent.
//! Rows are per (path, currency): value is revenue and is never summed across currencies.
//! `source` keeps paths that contain any of the given sources as a whole step.

use attrib_core::FieldError;
use futures_util::future::try_join;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::sql::Where;
use super::{canonical, currencies, QueryContext, ReadQuery};
use crate::error::QueryError;
use crate::limits::{DEFAULT_PATH_ROWS, MAX_PATH_ROWS, MAX_PATH_STEPS};
use crate::params::{DayRange, Params};
use crate::store::{Param, SqlStore};

/// How steps are shown joined in `label`.
pub const STEP_SEPARATOR: &str = " > ";

#[derive(Debug, Clone)]
pub struct PathsQuery {
    range: DayRange,
    currencies: Vec<String>,
    sources: Vec<String>,
    min_steps: usize,
    max_steps: usize,
    limit: usize,
}

#[derive(Debug, Deserialize)]
struct PathRow {
    path: String,
    steps: u64,
    currency: String,
    conversions: f64,
    value: f64,
}

#[derive(Debug, Serialize)]
struct PathOut {
    path: Vec<String>,
    label: String,
    steps: u64,
    currency: String,
    conversions: f64,
    value: f64,
}

#[derive(Debug, Serialize, Deserialize)]
struct PathTotal {
    currency: String,
    conversions: f64,
    value: f64,
}

impl ReadQuery for PathsQuery {
    const PATH: &'static str = "/v1/paths";
    const PARAMS: &'static [&'static str] = &[
        "from",
        "to",
        "currency",
        "source",
        "min_steps",
        "max_steps",
        "limit",
    ];

    fn parse(params: &Params, ctx: &QueryContext) -> Result<Self, FieldError> {
        let min_steps = params.number("min_steps", 1, MAX_PATH_STEPS, 1)?;
        let max_steps = params.number("max_steps", 1, MAX_PATH_STEPS, MAX_PATH_STEPS)?;
        if min_steps > max_steps {
            return Err(FieldError::new(
                "min_steps",
                format!("{min_steps} is more than max_steps ({max_steps})"),
            ));
        }
        Ok(PathsQuery {
            range: params.range(ctx.today)?,
            currencies: currencies(params)?,
            sources: params.list("source")?,
            min_steps,
            max_steps,
            limit: params.number("limit", 1, MAX_PATH_ROWS, DEFAULT_PATH_ROWS)?,
        })
    }

    fn canonical(&self) -> String {
        canonical(&[
            ("from", self.range.first_day()),
            ("to", self.range.last_day()),
            ("currency", self.currencies.join(",")),
            ("source", self.sources.join(",")),
            ("min_steps", self.min_steps.to_string()),
            ("max_steps", self.max_steps.to_string()),
            ("limit", self.limit.to_string()),
        ])
    }

    async fn run<S: SqlStore>(&self, store: &S, app_id: &str) -> Result<Value, QueryError> {
        let filters = self.filters(app_id);
        let mut rows_filter = filters.clone();
        let limit = rows_filter.bind(Param::Int(self.limit as i64 + 1));
        let rows_stmt = rows_filter.statement(
            "SELECT path, MAX(steps) AS steps, currency, COALESCE(SUM(conversions), 0) AS conversions, \
             COALESCE(SUM(value), 0) AS value FROM conversion_paths",
            &format!(
                "GROUP BY path, currency ORDER BY conversions DESC, value DESC, path, currency LIMIT {limit}"
            ),
        );
        let totals_stmt = filters.statement(
            "SELECT currency, COALESCE(SUM(conversions), 0) AS conversions, \
             COALESCE(SUM(value), 0) AS value FROM conversion_paths",
            "GROUP BY currency ORDER BY currency",
        );
        let (mut rows, totals): (Vec<PathRow>, Vec<PathTotal>) =
            try_join(store.rows(&rows_stmt), store.rows(&totals_stmt)).await?;
        let truncated = rows.len() > self.limit;
        rows.truncate(self.limit);
        let rows: Vec<PathOut> = rows.into_iter().map(path_out).collect();
        Ok(json!({
            "app_id": app_id,
            "from": self.range.first_day(),
            "to": self.range.last_day(),
            "filters": {"currency": self.currencies, "source": self.sources,
                        "min_steps": self.min_steps, "max_steps": self.max_steps},
            "limit": self.limit,
            "truncated": truncated,
            "rows": rows,
            "totals": totals,
        }))
    }
}

impl PathsQuery {
    fn filters(&self, app_id: &str) -> Where {
        let mut w = Where::new(app_id, &self.range);
        w.any_of("currency", &self.currencies);
        if self.min_steps > 1 || self.max_steps < MAX_PATH_STEPS {
            let min = w.bind(Param::Int(self.min_steps as i64));
            let max = w.bind(Param::Int(self.max_steps as i64));
            w.push(format!("steps BETWEEN {min} AND {max}"));
        }
        if !self.sources.is_empty() {
            let mut any = Vec::new();
            for needle in self.sources.iter().flat_map(|s| step_needles(s)) {
                let p = w.bind(Param::Text(needle));
                any.push(format!("instr(path, {p}) > 0"));
            }
            w.push(format!("({})", any.join(" OR ")));
        }
        w
    }
}

/// Substrings that occur in a canonical JSON path exactly when `source` is one of its steps:
/// a step is a JSON string preceded by `[` or `,` (quotes inside steps are escaped, so a
/// step's text cannot fake that boundary).
fn step_needles(source: &str) -> [String; 2] {
    let quoted = serde_json::to_string(source).unwrap_or_default();
    [format!("[{quoted}"), format!(",{quoted}")]
}

fn path_out(row: PathRow) -> PathOut {
    // Rows are written only through the validated upsert; an unreadable one is shown raw.
    let path: Vec<String> = serde_json::from_str(&row.path).unwrap_or_else(|_| vec![row.path]);
    PathOut {
        label: path.join(STEP_SEPARATOR),
        path,
        steps: row.steps,
        currency: row.currency,
        conversions: row.conversions,
        value: row.value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needles_match_whole_steps_only() {
        let path = serde_json::to_string(&["google", "a\",\"email", "email"]).expect("json");
        let has = |s: &str| step_needles(s).iter().any(|n| path.contains(n.as_str()));
        assert!(has("google") && has("email"));
        assert!(
            !has("goog") && !has("a"),
            "prefixes and pieces of steps do not match"
        );
        let tricky = serde_json::to_string(&["x\",\"google"]).expect("json");
        assert!(!step_needles("google")
            .iter()
            .any(|n| tricky.contains(n.as_str())));
    }

    #[test]
    fn rows_show_steps_and_a_label() {
        let out = path_out(PathRow {
            path: r#"["google","email"]"#.into(),
            steps: 2,
            currency: "USD".into(),
            conversions: 3.0,
            value: 30.0,
        });
        assert_eq!(out.label, "google > email");
        assert_eq!(out.path, vec!["google", "email"]);
    }
}
