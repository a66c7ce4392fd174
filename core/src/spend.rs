//! Ad spend: daily rows of what a source and campaign cost, uploaded as JSON or CSV through
//! the management API, checked here with no IO, and the cost metrics made from them.
//!
//! A row is (day, source, campaign, optional ad group, spend, currency, optional impressions
//! and clicks). Its key is (day, source, campaign, ad group): a re-upload of a key replaces the
//! row. Sources are trimmed and lowercased and campaigns trimmed, exactly as touches are
//! (`crate::touch`), so spend lands on the same `/v1/stats` groups as the touches it bought.
//! An upload is judged whole: every bad row is reported (row number, field, reason) and
//! nothing is taken unless all rows are good.

pub mod csv;

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use serde_json::{Map, Number, Value};

use crate::currency::{valid_code, MissingRate, RateTable};
use crate::error::FieldError;
use crate::limits::{
    MAX_SPEND_AMOUNT, MAX_SPEND_COUNT, MAX_SPEND_ERRORS, MAX_SPEND_FIELD_CHARS, MAX_SPEND_ROWS,
    SPEND_YEARS,
};

/// The event whose conversions are installs: CPI is reported when it is an app's only
/// conversion event (otherwise a conversion need not be an install, and only CPA is).
pub const INSTALL_EVENT: &str = "Application Installed";

/// One day's spend of a source and campaign (and ad group), checked and normalised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpendRow {
    pub day: NaiveDate,
    pub source: String,
    pub campaign: String,
    /// `""` when the row names no ad group.
    pub ad_group: String,
    pub spend: f64,
    pub currency: String,
    pub impressions: Option<u64>,
    pub clicks: Option<u64>,
}

impl SpendRow {
    /// The row's idempotency key (the app is the caller's).
    pub fn key(&self) -> (NaiveDate, &str, &str, &str) {
        (self.day, &self.source, &self.campaign, &self.ad_group)
    }
}

/// A bad row: its 1-based number among the data rows (a CSV's header is not counted; `line`
/// is the CSV line it starts on), the field and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub row: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub field: String,
    pub reason: String,
}

impl RowError {
    /// As one field error, for the error body's `error.field`: `row 3, spend`.
    pub fn to_field_error(&self) -> FieldError {
        FieldError::new(format!("row {}, {}", self.row, self.field), &self.reason)
    }
}

/// Why an upload was refused as a whole.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpendUploadError {
    /// The body itself: not JSON or CSV, a bad header, too many rows.
    #[error("{}: {}", .0.field, .0.reason)]
    Body(FieldError),
    /// Some rows (at most [`MAX_SPEND_ERRORS`] listed, in row order).
    #[error("{} rows are bad", .0.len())]
    Rows(Vec<RowError>),
}

/// The fields of a row, as JSON or CSV gave them.
pub(crate) const FIELDS: [&str; 8] = [
    "day",
    "source",
    "campaign",
    "ad_group",
    "spend",
    "currency",
    "impressions",
    "clicks",
];
/// The fields every row must have.
pub(crate) const REQUIRED: [&str; 5] = ["day", "source", "campaign", "spend", "currency"];

/// Parses a JSON upload: an array of row objects.
pub fn parse_json(bytes: &[u8]) -> Result<Vec<SpendRow>, SpendUploadError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        SpendUploadError::Body(FieldError::new("body", format!("is not JSON ({e})")))
    })?;
    let Value::Array(items) = value else {
        return Err(SpendUploadError::Body(FieldError::new(
            "body",
            "must be a JSON array of spend rows",
        )));
    };
    check_row_count(items.len())?;
    let raw = items.into_iter().enumerate().map(|(i, item)| RawRow {
        row: i + 1,
        line: None,
        cells: match item {
            Value::Object(map) => Ok(map),
            _ => Err("must be an object".to_owned()),
        },
    });
    validate_all(raw)
}

/// Parses a CSV upload (RFC 4180: a header row naming the columns, quoted fields may hold
/// commas, quotes doubled and line breaks).
pub fn parse_csv(text: &str) -> Result<Vec<SpendRow>, SpendUploadError> {
    let records = csv::records(text, MAX_SPEND_ROWS + 1).map_err(SpendUploadError::Body)?;
    let mut records = records.into_iter();
    let Some(header) = records.next() else {
        return Err(SpendUploadError::Body(FieldError::new(
            "body",
            "the CSV is empty",
        )));
    };
    let columns = csv::header(&header.cells).map_err(SpendUploadError::Body)?;
    let rows: Vec<csv::Record> = records.collect();
    check_row_count(rows.len())?;
    let raw = rows.into_iter().enumerate().map(|(i, record)| RawRow {
        row: i + 1,
        line: Some(record.line),
        cells: if record.cells.len() == columns.len() {
            Ok(columns
                .iter()
                .zip(record.cells)
                .filter(|(_, cell)| !cell.trim().is_empty()) // an empty cell is no value
                .map(|(name, cell)| ((*name).to_owned(), Value::String(cell)))
                .collect())
        } else {
            Err(format!(
                "has {} cells, the header {}",
                record.cells.len(),
                columns.len()
            ))
        },
    });
    validate_all(raw)
}

fn check_row_count(rows: usize) -> Result<(), SpendUploadError> {
    if rows == 0 {
        return Err(SpendUploadError::Body(FieldError::new(
            "body",
            "holds no spend rows",
        )));
    }
    if rows > MAX_SPEND_ROWS {
        return Err(SpendUploadError::Body(FieldError::new(
            "body",
            format!("holds more than {MAX_SPEND_ROWS} rows; split it into several uploads"),
        )));
    }
    Ok(())
}

struct RawRow {
    row: usize,
    line: Option<usize>,
    /// The row's fields, or why the row has none (not an object, wrong cell count).
    cells: Result<Map<String, Value>, String>,
}

/// Every row checked; errors of all rows (up to [`MAX_SPEND_ERRORS`]) or all rows.
fn validate_all(raw: impl Iterator<Item = RawRow>) -> Result<Vec<SpendRow>, SpendUploadError> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<(NaiveDate, String, String, String), usize> = HashMap::new();
    for raw in raw {
        let err = |field: &str, reason: String| RowError {
            row: raw.row,
            line: raw.line,
            field: field.to_owned(),
            reason,
        };
        let row = match &raw.cells {
            Err(reason) => Err(vec![err("row", reason.clone())]),
            Ok(cells) => validate_row(cells).map_err(|fields| {
                fields
                    .into_iter()
                    .map(|e| err(&e.field, e.reason))
                    .collect::<Vec<_>>()
            }),
        };
        match row {
            Err(mut row_errors) => errors.append(&mut row_errors),
            Ok(row) => {
                let key = (
                    row.day,
                    row.source.clone(),
                    row.campaign.clone(),
                    row.ad_group.clone(),
                );
                if let Some(first) = seen.insert(key, raw.row) {
                    errors.push(err(
                        "row",
                        format!(
                            "repeats row {first}'s day, source, campaign and ad_group; \
                             send one row per key"
                        ),
                    ));
                } else {
                    rows.push(row);
                }
            }
        }
        if errors.len() >= MAX_SPEND_ERRORS {
            break;
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        errors.truncate(MAX_SPEND_ERRORS);
        Err(SpendUploadError::Rows(errors))
    }
}

/// One row's fields checked; every bad field reported.
fn validate_row(cells: &Map<String, Value>) -> Result<SpendRow, Vec<FieldError>> {
    let mut errors = Vec::new();
    for name in cells.keys() {
        if !FIELDS.contains(&name.as_str()) {
            errors.push(FieldError::new(
                name.as_str(),
                format!("is not a spend field (one of {})", FIELDS.join(", ")),
            ));
        }
    }
    let present = |name: &str| cells.get(name).filter(|v| !v.is_null());
    for name in REQUIRED {
        if present(name).is_none() {
            errors.push(FieldError::new(name, "is required"));
        }
    }
    let e = &mut errors;
    let day = present("day").and_then(|v| keep(e, day_of(v)));
    let source = present("source")
        .and_then(|v| keep(e, label_of("source", v, true)))
        .map(|s| s.to_lowercase());
    let campaign = present("campaign").and_then(|v| keep(e, label_of("campaign", v, true)));
    let ad_group = match present("ad_group") {
        None => Some(String::new()),
        Some(v) => keep(e, label_of("ad_group", v, false)),
    };
    let spend = present("spend").and_then(|v| keep(e, amount_of(v)));
    let currency = present("currency").and_then(|v| keep(e, currency_of(v)));
    let impressions = present("impressions").and_then(|v| keep(e, count_of("impressions", v)));
    let clicks = present("clicks").and_then(|v| keep(e, count_of("clicks", v)));
    match (day, source, campaign, ad_group, spend, currency) {
        (Some(day), Some(source), Some(campaign), Some(ad_group), Some(spend), Some(currency))
            if errors.is_empty() =>
        {
            Ok(SpendRow {
                day,
                source,
                campaign,
                ad_group,
                spend,
                currency,
                impressions,
                clicks,
            })
        }
        _ => Err(errors),
    }
}

/// The value, or `None` with its error kept.
fn keep<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

fn text<'a>(field: &str, value: &'a Value) -> Result<&'a str, FieldError> {
    value
        .as_str()
        .ok_or_else(|| FieldError::new(field, "must be a string"))
}

fn day_of(value: &Value) -> Result<NaiveDate, FieldError> {
    let s = text("day", value)?.trim();
    let day = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|_| s.len() == 10)
        .ok_or_else(|| FieldError::new("day", format!("{s:?} is not a date (YYYY-MM-DD)")))?;
    if !SPEND_YEARS.contains(&day.year()) {
        return Err(FieldError::new(
            "day",
            format!(
                "{day} is outside the years {} to {}",
                SPEND_YEARS.start(),
                SPEND_YEARS.end()
            ),
        ));
    }
    Ok(day)
}

/// A source, campaign or ad group: trimmed, at most [`MAX_SPEND_FIELD_CHARS`], no control
/// characters (they could not come from a touch either).
fn label_of(field: &str, value: &Value, required: bool) -> Result<String, FieldError> {
    let s = text(field, value)?.trim();
    if required && s.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if s.chars().count() > MAX_SPEND_FIELD_CHARS {
        return Err(FieldError::new(
            field,
            format!("is longer than {MAX_SPEND_FIELD_CHARS} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(FieldError::new(field, "holds a control character"));
    }
    Ok(s.to_owned())
}

/// A decimal amount: a JSON number, or a string of digits with an optional fraction
/// (`1234.50`); no sign, exponent, thousands separator, NaN or infinity.
fn amount_of(value: &Value) -> Result<f64, FieldError> {
    let amount = match value {
        Value::Number(n) => number_f64(n),
        Value::String(s) => decimal(s.trim()),
        _ => None,
    };
    let amount = amount.ok_or_else(|| {
        FieldError::new(
            "spend",
            format!("{} is not a decimal amount (such as 1234.50)", shown(value)),
        )
    })?;
    if amount < 0.0 {
        return Err(FieldError::new("spend", "must not be negative"));
    }
    if amount > MAX_SPEND_AMOUNT {
        return Err(FieldError::new(
            "spend",
            format!("must be at most {MAX_SPEND_AMOUNT}"),
        ));
    }
    Ok(amount)
}

fn number_f64(n: &Number) -> Option<f64> {
    n.as_f64().filter(|f| f.is_finite())
}

fn decimal(s: &str) -> Option<f64> {
    let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let ok = !whole.is_empty()
        && digits(whole)
        && digits(fraction)
        && (fraction.is_empty() != s.contains('.'));
    if ok {
        s.parse::<f64>().ok().filter(|f| f.is_finite())
    } else {
        None
    }
}

fn currency_of(value: &Value) -> Result<String, FieldError> {
    let s = text("currency", value)?.trim();
    if valid_code(s) {
        Ok(s.to_owned())
    } else {
        Err(FieldError::new(
            "currency",
            format!("{s:?} is not a currency code of 3 capital letters (ISO 4217)"),
        ))
    }
}

fn count_of(field: &str, value: &Value) -> Result<u64, FieldError> {
    let count = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let s = s.trim();
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse::<u64>().ok()
            } else {
                None
            }
        }
        _ => None,
    };
    count.filter(|c| *c <= MAX_SPEND_COUNT).ok_or_else(|| {
        FieldError::new(
            field,
            format!(
                "{} is not a whole number from 0 to {MAX_SPEND_COUNT}",
                shown(value)
            ),
        )
    })
}

/// A value as an error message shows it, cut short.
fn shown(value: &Value) -> String {
    let s = value.to_string();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

/// Spend amounts (by original currency, on their own days) summed in `to`; every (day,
/// currency) without a rate is returned instead, so a missing rate is never a zero.
pub fn total_in(
    amounts: &[(NaiveDate, &str, f64)],
    rates: &RateTable,
    to: &str,
) -> Result<f64, Vec<MissingRate>> {
    let mut total = 0.0;
    let mut missing = Vec::new();
    for (day, currency, amount) in amounts {
        match rates.convert(*amount, currency, to, *day) {
            Ok(v) => total += v,
            Err(m) if !missing.contains(&m) => missing.push(m),
            Err(_) => {}
        }
    }
    if missing.is_empty() {
        Ok(total)
    } else {
        Err(missing)
    }
}

/// `numerator / denominator`, `None` when either is unknown or the denominator is 0 (no
/// conversions: no CPA; no spend: no ROAS), never an infinity.
pub fn ratio(numerator: Option<f64>, denominator: Option<f64>) -> Option<f64> {
    match (numerator, denominator) {
        (Some(n), Some(d)) if d != 0.0 => Some(n / d).filter(|r| r.is_finite()),
        _ => None,
    }
}

/// The cost metrics of one stats group. `spend` and `value` are in the reporting currency
/// (`None` without one, or when a rate is missing); `conversions` are the model's credited
/// conversions and `value` the model's credited revenue.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CostMetrics {
    /// Spend per credited conversion.
    pub cpa: Option<f64>,
    /// Spend per credited install, when the app's conversions are installs.
    pub cpi: Option<f64>,
    /// Credited revenue per unit of spend.
    pub roas: Option<f64>,
}

impl CostMetrics {
    pub fn new(
        spend: Option<f64>,
        conversions: f64,
        value: Option<f64>,
        conversions_are_installs: bool,
    ) -> CostMetrics {
        let cpa = ratio(spend, Some(conversions));
        CostMetrics {
            cpa,
            cpi: cpa.filter(|_| conversions_are_installs),
            roas: ratio(value, spend),
        }
    }
}

/// Whether every conversion of an app with these conversion events is an install.
pub fn conversions_are_installs(conversion_events: &[String]) -> bool {
    !conversion_events.is_empty() && conversion_events.iter().all(|e| e == INSTALL_EVENT)
}

#[cfg(test)]
mod tests;
