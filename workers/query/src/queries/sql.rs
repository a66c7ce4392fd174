//! Building the WHERE clause of a read: the app and day range always, then whichever filters
//! were given, every value a bound `?N` parameter (column names come only from code).

use crate::params::DayRange;
use crate::store::{Param, Statement};

#[derive(Clone)]
pub struct Where {
    clauses: Vec<String>,
    params: Vec<Param>,
}

impl Where {
    /// `app_id = ?1 AND day BETWEEN ?2 AND ?3`: every read is scoped to one app.
    pub fn new(app_id: &str, range: &DayRange) -> Where {
        Where {
            clauses: vec!["app_id = ?1".into(), "day BETWEEN ?2 AND ?3".into()],
            params: vec![
                app_id.into(),
                range.first_day().into(),
                range.last_day().into(),
            ],
        }
    }

    /// A scope other than the daily rollups' (`clause` uses `?1..?N` for `params`).
    pub fn scoped(clause: &str, params: Vec<Param>) -> Where {
        Where {
            clauses: vec![clause.to_owned()],
            params,
        }
    }

    /// Binds `param` and returns its placeholder.
    pub fn bind(&mut self, param: Param) -> String {
        self.params.push(param);
        format!("?{}", self.params.len())
    }

    pub fn push(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    /// `column IN (...)`; nothing when `values` is empty (no filter).
    pub fn any_of(&mut self, column: &str, values: &[String]) {
        if let Some(list) = self.placeholders(values) {
            self.push(format!("{column} IN ({list})"));
        }
    }

    /// Placeholders for `values`, comma-separated; `None` when empty.
    pub fn placeholders(&mut self, values: &[String]) -> Option<String> {
        if values.is_empty() {
            return None;
        }
        let list: Vec<String> = values
            .iter()
            .map(|v| self.bind(v.as_str().into()))
            .collect();
        Some(list.join(", "))
    }

    pub fn into_params(self) -> Vec<Param> {
        self.params
    }

    pub fn sql(&self) -> String {
        self.clauses.join(" AND ")
    }

    /// `before WHERE <clauses> after`.
    pub fn statement(&self, before: &str, after: &str) -> Statement {
        Statement::new(
            format!("{before} WHERE {} {after}", self.sql()),
            self.params.clone(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn filters_are_bound_in_order_after_the_scope() {
        let range = DayRange {
            from: NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
            to: NaiveDate::from_ymd_opt(2026, 1, 31).expect("date"),
        };
        let mut w = Where::new("app", &range);
        w.any_of("source", &["a".into(), "b".into()]);
        w.any_of("campaign", &[]);
        let limit = w.bind(Param::Int(10));
        let stmt = w.statement("SELECT 1 FROM t", &format!("LIMIT {limit}"));
        assert_eq!(
            stmt.sql,
            "SELECT 1 FROM t WHERE app_id = ?1 AND day BETWEEN ?2 AND ?3 AND source IN (?4, ?5) LIMIT ?6"
        );
        assert_eq!(stmt.params.len(), 6);
        assert_eq!(stmt.params[3], Param::Text("a".into()));
    }
}
