//! Exchange rates in the ECB reference-rate format, and converting amounts with them.
//!
//! The ECB publishes daily rates as a CSV: a `Date` column (YYYY-MM-DD) and one column per
//! currency holding units of that currency per 1 EUR (`N/A` or empty where no rate was
//! fixed, e.g. a holiday). Any pair converts through EUR: amount × (to per EUR) /
//! (from per EUR). A rate is looked up on the conversion's own day only: a missing one is an
//! error for the caller to report, never a zero and never a neighbouring day.

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::error::FieldError;
use crate::limits::{MAX_RATE_CELLS, MAX_RATE_CURRENCIES, MAX_RATE_ERRORS};

/// Units of `currency` per 1 EUR on `day`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rate {
    pub day: NaiveDate,
    pub currency: String,
    pub per_eur: f64,
}

/// Why a conversion could not be made: the (day, currency) rate that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no {currency} rate on {day}")]
pub struct MissingRate {
    pub day: NaiveDate,
    pub currency: String,
}

/// The field name of a cell in a per-row error: `line 3, column USD`.
fn cell(line: usize, column: &str) -> String {
    format!("line {line}, column {column}")
}

/// A currency code: 3 ASCII capital letters (ISO 4217).
pub fn valid_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

/// Parses an ECB reference-rate CSV. Every bad cell is reported (up to [`MAX_RATE_ERRORS`]),
/// each naming its 1-based line and its column; nothing is returned unless all are good.
pub fn parse_ecb_csv(text: &str) -> Result<Vec<Rate>, Vec<FieldError>> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((header_line, header)) = lines.next() else {
        return Err(vec![FieldError::new("line 1", "the CSV is empty")]);
    };
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    let mut errors = Vec::new();
    if columns.first() != Some(&"Date") {
        errors.push(FieldError::new(
            cell(header_line, "1"),
            "the first column must be Date",
        ));
    }
    // The ECB file ends every line with a comma: a trailing empty column is allowed.
    let currencies: Vec<&str> = columns.iter().skip(1).copied().collect();
    let named = currencies.iter().filter(|c| !c.is_empty()).count();
    if named == 0 {
        errors.push(FieldError::new(
            cell(header_line, "2"),
            "no currency column",
        ));
    }
    if named > MAX_RATE_CURRENCIES {
        errors.push(FieldError::new(
            format!("line {header_line}"),
            format!("more than {MAX_RATE_CURRENCIES} currency columns"),
        ));
    }
    for (i, code) in currencies.iter().enumerate() {
        let last = i + 1 == currencies.len();
        if !(valid_code(code) || (code.is_empty() && last)) {
            errors.push(FieldError::new(
                cell(header_line, &(i + 2).to_string()),
                format!("{code:?} is not a currency code of 3 capital letters"),
            ));
        } else if currencies[..i].contains(code) && !code.is_empty() {
            errors.push(FieldError::new(
                cell(header_line, code),
                "the currency appears twice",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut rates = Vec::new();
    let mut days: HashMap<NaiveDate, usize> = HashMap::new();
    for (line, row) in lines {
        if errors.len() >= MAX_RATE_ERRORS {
            break;
        }
        let cells: Vec<&str> = row.split(',').map(str::trim).collect();
        if cells.len() != columns.len() {
            errors.push(FieldError::new(
                format!("line {line}"),
                format!("has {} cells, the header {}", cells.len(), columns.len()),
            ));
            continue;
        }
        let Ok(day) = NaiveDate::parse_from_str(cells[0], "%Y-%m-%d") else {
            errors.push(FieldError::new(
                cell(line, "Date"),
                format!("{:?} is not a date (YYYY-MM-DD)", cells[0]),
            ));
            continue;
        };
        if let Some(first) = days.insert(day, line) {
            errors.push(FieldError::new(
                cell(line, "Date"),
                format!("{day} is already on line {first}"),
            ));
            continue;
        }
        for (code, value) in currencies.iter().zip(&cells[1..]) {
            if code.is_empty() || value.is_empty() || *value == "N/A" {
                continue; // no rate fixed that day
            }
            match value.parse::<f64>() {
                Ok(per_eur) if per_eur.is_finite() && per_eur > 0.0 => rates.push(Rate {
                    day,
                    currency: (*code).to_owned(),
                    per_eur,
                }),
                _ => errors.push(FieldError::new(
                    cell(line, code),
                    format!("{value:?} is not a positive number"),
                )),
            }
        }
        if rates.len() > MAX_RATE_CELLS {
            errors.push(FieldError::new(
                format!("line {line}"),
                format!("more than {MAX_RATE_CELLS} rates in one upload"),
            ));
            break;
        }
    }
    errors.truncate(MAX_RATE_ERRORS);
    if errors.is_empty() {
        Ok(rates)
    } else {
        Err(errors)
    }
}

/// Rates by (day, currency), for converting.
#[derive(Debug, Default, Clone)]
pub struct RateTable {
    rates: HashMap<(NaiveDate, String), f64>,
}

impl RateTable {
    pub fn new(rates: &[Rate]) -> RateTable {
        RateTable {
            rates: rates
                .iter()
                .map(|r| ((r.day, r.currency.clone()), r.per_eur))
                .collect(),
        }
    }

    /// Units of `currency` per EUR on `day` (EUR is 1 by definition).
    pub fn per_eur(&self, day: NaiveDate, currency: &str) -> Result<f64, MissingRate> {
        if currency == "EUR" {
            return Ok(1.0);
        }
        self.rates
            .get(&(day, currency.to_owned()))
            .copied()
            .ok_or_else(|| MissingRate {
                day,
                currency: currency.to_owned(),
            })
    }

    /// `amount` in `from` on `day`, expressed in `to`, through EUR on that same day.
    pub fn convert(
        &self,
        amount: f64,
        from: &str,
        to: &str,
        day: NaiveDate,
    ) -> Result<f64, MissingRate> {
        if from == to {
            return Ok(amount);
        }
        let from_rate = self.per_eur(day, from)?;
        let to_rate = self.per_eur(day, to)?;
        Ok(amount * to_rate / from_rate)
    }
}

/// Checks a reporting currency setting: 3 capital letters.
pub fn validate_reporting_currency(code: &str) -> Result<(), FieldError> {
    if valid_code(code) {
        Ok(())
    } else {
        Err(FieldError::new(
            "reporting_currency",
            format!("{code:?} is not a currency code of 3 capital letters"),
        ))
    }
}

#[cfg(test)]
mod tests;
