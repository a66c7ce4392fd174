//! Reading a read endpoint's query string strictly: unknown or repeated parameters, bad dates,
//! over-long lists and out-of-range numbers are `FieldError`s naming the parameter.
//!
//! Strictness is deliberate: a typo such as `grup_by=source` silently ignored would return
//! plausible but wrong numbers.

use std::collections::BTreeMap;

use attrib_core::FieldError;
use chrono::{Duration, NaiveDate};

use crate::limits::{
    DEFAULT_RANGE_DAYS, EARLIEST_DAY, LATEST_DAY, MAX_FILTER_VALUES, MAX_FILTER_VALUE_CHARS,
    MAX_QUERY_STRING_BYTES, MAX_RANGE_DAYS,
};

/// The parameters of one request, each present at most once.
#[derive(Debug, Default)]
pub struct Params {
    values: BTreeMap<String, String>,
}

/// Today's UTC day: what `from`/`to` ranges default to.
pub fn today_utc() -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(worker::Date::now().as_millis() as i64)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

impl Params {
    /// Parses `query` (without `?`), allowing only the names in `allowed`.
    pub fn parse(query: Option<&str>, allowed: &[&str]) -> Result<Params, FieldError> {
        let query = query.unwrap_or_default();
        if query.len() > MAX_QUERY_STRING_BYTES {
            return Err(FieldError::new(
                "query",
                format!("is longer than {MAX_QUERY_STRING_BYTES} bytes"),
            ));
        }
        let mut values = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if !allowed.contains(&name.as_ref()) {
                return Err(FieldError::new(
                    name.as_ref(),
                    format!(
                        "is not a parameter of this endpoint (allowed: {})",
                        allowed.join(", ")
                    ),
                ));
            }
            if values.insert(name.to_string(), value.to_string()).is_some() {
                return Err(FieldError::new(
                    name.as_ref(),
                    "is given more than once; use a comma-separated list",
                ));
            }
        }
        Ok(Params { values })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A comma-separated list: trimmed, empty items dropped, sorted and deduplicated so that
    /// `a,b` and `b,a` are the same query (and the same cache entry).
    pub fn list(&self, name: &str) -> Result<Vec<String>, FieldError> {
        let Some(raw) = self.get(name) else {
            return Ok(Vec::new());
        };
        let mut items: Vec<String> = raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        items.sort();
        items.dedup();
        if items.len() > MAX_FILTER_VALUES {
            return Err(FieldError::new(
                name,
                format!(
                    "has {} values; the limit is {MAX_FILTER_VALUES}",
                    items.len()
                ),
            ));
        }
        if let Some(long) = items
            .iter()
            .find(|v| v.chars().count() > MAX_FILTER_VALUE_CHARS)
        {
            return Err(FieldError::new(
                name,
                format!(
                    "value {:?}... is longer than {MAX_FILTER_VALUE_CHARS} characters",
                    long.chars().take(16).collect::<String>()
                ),
            ));
        }
        Ok(items)
    }

    /// A whole number in `min..=max`, `default` when absent.
    pub fn number(
        &self,
        name: &str,
        min: usize,
        max: usize,
        default: usize,
    ) -> Result<usize, FieldError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        raw.trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                FieldError::new(
                    name,
                    format!("must be a whole number from {min} to {max}, got {raw:?}"),
                )
            })
    }

    /// One of `choices`, `default` when absent.
    pub fn choice<T: Copy>(
        &self,
        name: &str,
        choices: &[(&str, T)],
        default: T,
    ) -> Result<T, FieldError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        choices
            .iter()
            .find(|(label, _)| *label == raw)
            .map(|(_, value)| *value)
            .ok_or_else(|| FieldError::new(name, format!("must be one of {}", labels(choices))))
    }

    /// `from` and `to` (UTC days, both included). `to` defaults to `today`, `from` to
    /// [`DEFAULT_RANGE_DAYS`] days ending at `to`.
    pub fn range(&self, today: NaiveDate) -> Result<DayRange, FieldError> {
        let to = match self.get("to") {
            Some(raw) => day("to", raw)?,
            None => today,
        };
        let from = match self.get("from") {
            Some(raw) => day("from", raw)?,
            None => to - Duration::days(DEFAULT_RANGE_DAYS - 1),
        };
        if from > to {
            return Err(FieldError::new(
                "from",
                format!("{from} is after to ({to})"),
            ));
        }
        let days = (to - from).num_days() + 1;
        if days > MAX_RANGE_DAYS {
            return Err(FieldError::new(
                "to",
                format!("the range {from}..{to} has {days} days; the limit is {MAX_RANGE_DAYS}"),
            ));
        }
        Ok(DayRange { from, to })
    }
}

pub fn labels<T>(choices: &[(&str, T)]) -> String {
    choices
        .iter()
        .map(|(l, _)| *l)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A UTC calendar day, `YYYY-MM-DD`, within [`EARLIEST_DAY`]..=[`LATEST_DAY`].
pub fn day(field: &str, raw: &str) -> Result<NaiveDate, FieldError> {
    let well_formed = matches!(raw.as_bytes(), [_, _, _, _, b'-', _, _, b'-', _, _]);
    let parsed = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .filter(|_| well_formed)
        .ok_or_else(|| {
            FieldError::new(field, format!("must be a date as YYYY-MM-DD, got {raw:?}"))
        })?;
    if !(EARLIEST_DAY..=LATEST_DAY).contains(&raw) {
        return Err(FieldError::new(
            field,
            format!("must be between {EARLIEST_DAY} and {LATEST_DAY}"),
        ));
    }
    Ok(parsed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DayRange {
    pub fn first_day(&self) -> String {
        self.from.format("%Y-%m-%d").to_string()
    }

    pub fn last_day(&self) -> String {
        self.to.format("%Y-%m-%d").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, 31).expect("date")
    }

    #[test]
    fn unknown_and_repeated_parameters_are_named() {
        let err = Params::parse(Some("grup_by=day"), &["group_by"]).expect_err("unknown");
        assert_eq!(err.field, "grup_by");
        let err = Params::parse(Some("source=a&source=b"), &["source"]).expect_err("repeated");
        assert_eq!(err.field, "source");
    }

    #[test]
    fn lists_are_canonical_and_bounded() {
        let p = Params::parse(Some("source=b,%20a,,b"), &["source"]).expect("parse");
        assert_eq!(p.list("source").expect("list"), vec!["a", "b"]);
        let many = (0..=MAX_FILTER_VALUES)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let p = Params::parse(Some(&format!("source={many}")), &["source"]).expect("parse");
        assert_eq!(p.list("source").expect_err("too many").field, "source");
    }

    #[test]
    fn ranges_default_and_are_bounded() {
        let p = Params::parse(None, &[]).expect("parse");
        let r = p.range(today()).expect("default range");
        assert_eq!(
            (r.first_day(), r.last_day()),
            ("2026-03-02".into(), "2026-03-31".into())
        );
        for (query, field) in [
            ("from=2026-02-30", "from"),
            ("from=2026-1-01", "from"),
            ("to=1999-12-31", "to"),
            ("from=2026-04-02&to=2026-04-01", "from"),
            ("from=2024-01-01&to=2026-01-01", "to"),
        ] {
            let p = Params::parse(Some(query), &["from", "to"]).expect("parse");
            assert_eq!(p.range(today()).expect_err(query).field, field, "{query}");
        }
        let p =
            Params::parse(Some("from=2025-01-01&to=2026-01-01"), &["from", "to"]).expect("parse");
        assert!(p.range(today()).is_ok(), "366 days is allowed");
    }

    #[test]
    fn numbers_and_choices_name_their_field() {
        let p = Params::parse(Some("limit=0&order_by=x"), &["limit", "order_by"]).expect("parse");
        assert_eq!(
            p.number("limit", 1, 10, 5).expect_err("zero").field,
            "limit"
        );
        assert_eq!(
            p.choice("order_by", &[("a", 1)], 1).expect_err("x").field,
            "order_by"
        );
        let p = Params::parse(None, &["limit"]).expect("parse");
        assert_eq!(p.number("limit", 1, 10, 5).expect("default"), 5);
    }
}
