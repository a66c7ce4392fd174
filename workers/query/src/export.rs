//! `GET /v1/paths/export`: an app's paths over a day range in ChannelAttribution's input
//! format, as CSV, ready for `ChannelAttribution.markov_model(df, "path",
//! "total_conversions", var_value="total_conversion_value", var_null="total_null")` or for
//! `attrib run` (the CLI).
//!
//! Columns: `path` (steps joined by ` > `), `total_conversions`, `total_null`,
//! `total_conversion_value` (revenue in `currency`; 0 when no currency is given). Not cached:
//! exports are rare and must reflect the store as it is.

use attrib_core::FieldError;
use worker::{Env, Headers, Request, Response};

use crate::auth;
use crate::error::QueryError;
use crate::params::{today_utc, Params};
use crate::queries::currencies;
use crate::queries::datadriven::{load_paths, steps_of};
use crate::store::ReadStore;

pub const PATH: &str = "/v1/paths/export";
const PARAMS: &[&str] = &["from", "to", "currency"];
/// ChannelAttribution's path separator as its examples write it.
pub const SEPARATOR: &str = " > ";

pub async fn csv(req: Request, env: &Env) -> Result<Response, QueryError> {
    let app = auth::app_of(&req, env).await?;
    let url = req.url()?;
    let params = Params::parse(url.query(), PARAMS).map_err(QueryError::BadField)?;
    let today = today_utc();
    let range = params.range(today).map_err(QueryError::BadField)?;
    let mut currency = currencies(&params).map_err(QueryError::BadField)?;
    if currency.len() > 1 {
        return Err(QueryError::BadField(FieldError::new(
            "currency",
            "takes one currency: value is never summed across currencies",
        )));
    }
    let currency = currency.pop();
    let store = ReadStore::from_env(env)?;
    let rows = load_paths(&store, &app.app_id, &range, currency.as_deref()).await?;

    let mut body = String::from("path,total_conversions,total_null,total_conversion_value\n");
    for row in rows {
        let path = steps_of(&row.path).join(SEPARATOR);
        body.push_str(&csv_field(&path));
        body.push_str(&format!(
            ",{},{},{}\n",
            row.conversions, row.nulls, row.value
        ));
    }
    let headers = Headers::new();
    headers.set("content-type", "text/csv; charset=utf-8")?;
    headers.set("cache-control", "private, no-store")?;
    headers.set(
        "content-disposition",
        &format!(
            "attachment; filename=\"paths-{}-{}-{}.csv\"",
            app.app_id,
            range.first_day(),
            range.last_day()
        ),
    )?;
    Ok(Response::ok(body)?.with_headers(headers))
}

/// RFC 4180 quoting when the field needs it.
/// A text field: quoted when it holds a separator, a quote or a line break; and a field that a
/// spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR: OWASP's
/// list) gets a leading `'` so it stays text (issue 13, finding 10). Sources come from end
/// users' UTM parameters, so a path can start with anything.
fn csv_field(text: &str) -> String {
    let neutral = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if neutral.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    /// Issue 13, finding 10: CSV export did not neutralise formula prefixes.
    #[test]
    fn finding_10_csv_export_neutralises_formula_prefixes() {
        assert_eq!(
            csv_field("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(csv_field("+1 > google"), "'+1 > google");
        assert_eq!(csv_field("-2+3 > email"), "'-2+3 > email");
        assert_eq!(csv_field("@SUM(A1) > x"), "'@SUM(A1) > x");
        assert_eq!(csv_field("\tcmd"), "'\tcmd");
        assert_eq!(csv_field("\rcmd"), "\"'\rcmd\"");
        assert_eq!(
            csv_field("google > =x"),
            "google > =x",
            "only the start of a cell counts"
        );
    }

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("google > email"), "google > email");
        assert_eq!(csv_field("a,b > \"c\""), "\"a,b > \"\"c\"\"\"");
    }
}
