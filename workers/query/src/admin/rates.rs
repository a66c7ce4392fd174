//! `PUT /admin/v1/apps/{app}/rates`: daily exchange rates as a CSV in the ECB reference-rate
//! format (`Date` and one column per currency, units per 1 EUR), parsed and checked by
//! `attrib_core::currency`. Every bad cell is named (line, column) and nothing is written
//! unless all are good. Cells upsert by (app, day, currency): a re-upload replaces those rates
//! and leaves other days alone. Written to the read store beside daily_stats, in one batch
//! with a stats-version bump (cached stats reads of the app turn into misses at once) and an
//! audit entry (`rates.import`), by [`upload::commit`].

use std::collections::BTreeSet;

use attrib_core::currency::parse_ecb_csv;
use attrib_core::limits::MAX_RATE_CSV_BYTES;
use attrib_core::FieldError;
use attrib_worker_common::body::{read_capped, BodyError};
use attrib_worker_common::response::{self, ErrorBody};
use serde_json::{json, Value};
use worker::{Request, Response};

use super::write::load_app;
use super::{upload, Cx};
use crate::error::QueryError;
use crate::store::{Param, Statement};

/// Rates per INSERT: 4 parameters each, under D1's 100 bound parameters per statement.
const ROWS_PER_STATEMENT: usize = 25;

pub async fn put(cx: &Cx<'_>, app_id: &str, req: &mut Request) -> Result<Response, QueryError> {
    load_app(cx, app_id).await?;
    let bytes = read_capped(req, MAX_RATE_CSV_BYTES)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { limit } => QueryError::TooLarge(FieldError::new(
                "body",
                format!("is larger than {limit} bytes"),
            )),
            BodyError::Unreadable(reason) => QueryError::BadField(FieldError::new("body", reason)),
        })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| QueryError::BadField(FieldError::new("body", "is not UTF-8 text")))?;
    let rates = match parse_ecb_csv(text) {
        Ok(rates) => rates,
        Err(errors) => return Ok(bad_rows(&errors)?),
    };
    let stmts: Vec<Statement> = rates
        .chunks(ROWS_PER_STATEMENT)
        .map(|chunk| {
            let mut params = Vec::with_capacity(chunk.len() * 4);
            let mut values = Vec::with_capacity(chunk.len());
            for rate in chunk {
                let n = params.len();
                values.push(format!("(?{}, ?{}, ?{}, ?{})", n + 1, n + 2, n + 3, n + 4));
                params.push(Param::from(app_id));
                params.push(Param::Text(rate.day.to_string()));
                params.push(Param::Text(rate.currency.clone()));
                params.push(Param::Real(rate.per_eur));
            }
            Statement::new(
                format!(
                    "INSERT INTO exchange_rates (app_id, day, currency, per_eur) VALUES {} \
                     ON CONFLICT (app_id, day, currency) DO UPDATE SET per_eur = excluded.per_eur",
                    values.join(", ")
                ),
                params,
            )
        })
        .collect();
    let days: BTreeSet<String> = rates.iter().map(|r| r.day.to_string()).collect();
    let currencies: BTreeSet<&str> = rates.iter().map(|r| r.currency.as_str()).collect();
    let summary = json!({
        "app_id": app_id,
        "rates": rates.len(),
        "days": days.len(),
        "first_day": days.first(),
        "last_day": days.last(),
        "currencies": currencies,
    });
    let resource = format!("apps/{app_id}/rates");
    upload::commit(cx, app_id, stmts, "rates.import", resource, &summary).await?;
    Ok(response::json(200, &summary)?)
}
/// 400 in the one error shape (the first bad cell as `field`), every bad cell in `errors`.
fn bad_rows(errors: &[FieldError]) -> worker::Result<Response> {
    let Some(first) = errors.first() else {
        return response::error(400, "invalid_request", "the CSV was refused");
    };
    let mut body = serde_json::to_value(ErrorBody::for_field("invalid_request", first))
        .unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut body {
        map.insert("errors".into(), json!(errors));
    }
    response::json(400, &body)
}
