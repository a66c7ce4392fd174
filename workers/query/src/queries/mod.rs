//! The read queries behind the API, each written once against [`SqlStore`] so that D1 and
//! Turso answer the same SQL: parsing and validating its parameters, its canonical form (the
//! cache key), and running it.

pub mod cohorts;
pub mod datadriven;
pub mod fraud;
pub mod ltv;
pub mod overview;
pub mod paths;
pub mod sql;
pub mod stats;

use attrib_core::attribution::Model;
use attrib_core::FieldError;
use chrono::NaiveDate;
use serde_json::Value;

use crate::error::QueryError;
use crate::limits::MAX_CURRENCY_CHARS;
use crate::params::Params;
use crate::store::SqlStore;

/// What a query's defaults depend on besides its parameters.
#[derive(Debug, Clone)]
pub struct QueryContext {
    /// The current UTC day: the default end of a range.
    pub today: NaiveDate,
    /// The app's default model: the model of a read that names none.
    pub default_model: Model,
    /// The app's reporting currency (`apps.reporting_currency`), if it has one.
    pub reporting_currency: Option<String>,
    /// The app's only conversion event is the install: CPA is then also CPI.
    pub conversions_are_installs: bool,
}

/// A read endpoint's query.
#[allow(async_fn_in_trait)] // Workers are single-threaded: no Send bound is wanted.
pub trait ReadQuery: Sized + 'static {
    /// The endpoint's path; also the cache namespace.
    const PATH: &'static str;
    /// The parameters it takes; any other is refused.
    const PARAMS: &'static [&'static str];
    /// Whether it reads the app's reporting currency (one more D1 read per request).
    const CONVERTS: bool = false;

    fn parse(params: &Params, ctx: &QueryContext) -> Result<Self, FieldError>;
    /// Equal for requests that must get the same answer (defaults filled in, lists sorted).
    fn canonical(&self) -> String;
    /// The response body.
    async fn run<S: SqlStore>(&self, store: &S, app_id: &str) -> Result<Value, QueryError>;
}

/// `name=value&...` in the given order, empty values left out.
pub fn canonical(pairs: &[(&str, String)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        out.append_pair(name, value);
    }
    out.finish()
}

/// The `currency` filter: codes such as `USD`, checked for length.
pub fn currencies(params: &Params) -> Result<Vec<String>, FieldError> {
    let list = params.list("currency")?;
    if let Some(bad) = list.iter().find(|c| c.chars().count() > MAX_CURRENCY_CHARS) {
        return Err(FieldError::new(
            "currency",
            format!("{bad:?} is longer than {MAX_CURRENCY_CHARS} characters"),
        ));
    }
    Ok(list)
}
