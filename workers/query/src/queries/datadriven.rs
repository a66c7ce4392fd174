//! `GET /v1/attribution`: data-driven attribution (Markov chain, Shapley) of one app's stored
//! paths over a day range, computed at the edge with the same code as the `attrib` CLI
//! (`attrib_models::datadriven`), plus the heuristic models on the same paths for comparison.
//!
//! The input is the app's `conversion_paths` rows in the range, summed per path: conversions
//! (all currencies), nulls (journeys that ended without converting), and the value of the
//! conversions in `currency` when one is given (value is never summed across currencies).
//! At most [`MAX_MODEL_PATHS`] distinct paths are modelled: a wider range is refused, never
//! silently cut.

use attrib_core::FieldError;
use attrib_models::datadriven::{
    self, heuristics, markov, shapley_ordered, shapley_simplified, ChannelCredits, PathSet,
    PathSetBuilder, ShapleyMethod, MAX_MARKOV_ORDER,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::sql::Where;
use super::{canonical, currencies, QueryContext, ReadQuery};
use crate::error::QueryError;
use crate::params::{DayRange, Params};
use crate::store::{Param, SqlStore};

/// Distinct paths one request may model (Worker CPU time is bounded).
pub const MAX_MODEL_PATHS: usize = 50_000;
/// Separates steps when handing paths to the model; cannot occur in a source (it is a control
/// character, refused nowhere but never produced by any SDK or URL).
const STEP_JOIN: &str = "\u{1f}";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataDrivenModel {
    Markov,
    Shapley,
    ShapleyOrdered,
}

const MODELS: [(&str, DataDrivenModel); 3] = [
    ("markov", DataDrivenModel::Markov),
    ("shapley", DataDrivenModel::Shapley),
    ("shapley_ordered", DataDrivenModel::ShapleyOrdered),
];

#[derive(Debug, Clone)]
pub struct DataDrivenQuery {
    range: DayRange,
    model: DataDrivenModel,
    order: usize,
    currency: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PathTotals {
    pub path: String,
    pub conversions: f64,
    pub nulls: f64,
    pub value: f64,
}

impl ReadQuery for DataDrivenQuery {
    const PATH: &'static str = "/v1/attribution";
    const PARAMS: &'static [&'static str] = &["from", "to", "model", "order", "currency"];

    fn parse(params: &Params, ctx: &QueryContext) -> Result<Self, FieldError> {
        let model = params.choice("model", &MODELS, DataDrivenModel::Markov)?;
        let order = params.number("order", 1, MAX_MARKOV_ORDER, 1)?;
        if model != DataDrivenModel::Markov && params.get("order").is_some() {
            return Err(FieldError::new("order", "applies to model=markov only"));
        }
        let mut currency = currencies(params)?;
        if currency.len() > 1 {
            return Err(FieldError::new(
                "currency",
                "takes one currency: value is never summed across currencies",
            ));
        }
        Ok(DataDrivenQuery {
            range: params.range(ctx.today)?,
            model,
            order,
            currency: currency.pop(),
        })
    }

    fn canonical(&self) -> String {
        let model = MODELS
            .iter()
            .find(|(_, m)| *m == self.model)
            .map_or("", |(label, _)| *label);
        canonical(&[
            ("from", self.range.first_day()),
            ("to", self.range.last_day()),
            ("model", model.to_owned()),
            ("order", self.order.to_string()),
            ("currency", self.currency.clone().unwrap_or_default()),
        ])
    }

    async fn run<S: SqlStore>(&self, store: &S, app_id: &str) -> Result<Value, QueryError> {
        let rows = load_paths(store, app_id, &self.range, self.currency.as_deref()).await?;
        let paths = path_set(&rows, self.currency.is_some())?;
        let label = MODELS
            .iter()
            .find(|(_, m)| *m == self.model)
            .map_or("markov", |(label, _)| *label);
        let mut body = json!({
            "app_id": app_id,
            "from": self.range.first_day(),
            "to": self.range.last_day(),
            "model": label,
            "currency": self.currency,
            "paths": rows.len(),
            // `+ 0.0` turns the -0.0 of an empty sum into 0.
            "total_conversions": paths.total_conversions() + 0.0,
            "total_nulls": rows.iter().map(|r| r.nulls).sum::<f64>() + 0.0,
        });
        if paths.total_conversions() <= 0.0 {
            body["channels"] = json!([]);
            body["note"] = json!("no conversions in the range");
            return Ok(body);
        }
        let credits = self.model_credits(&paths, &mut body)?;
        let heuristic = heuristics(&paths);
        body["channels"] = channels_json(&credits);
        body["heuristics"] = json!({
            "first_touch": channels_json(&heuristic.first_touch),
            "last_touch": channels_json(&heuristic.last_touch),
            "linear": channels_json(&heuristic.linear),
        });
        Ok(body)
    }
}

impl DataDrivenQuery {
    fn model_credits(
        &self,
        paths: &PathSet,
        body: &mut Value,
    ) -> Result<ChannelCredits, QueryError> {
        let refused = |e: datadriven::Error| {
            QueryError::Unanswerable(FieldError::new(
                match self.model {
                    DataDrivenModel::Markov => "order",
                    _ => "model",
                },
                e.to_string(),
            ))
        };
        match self.model {
            DataDrivenModel::Markov => {
                let result = markov(paths, self.order).map_err(refused)?;
                body["order"] = json!(self.order);
                body["conversion_probability"] = json!(result.conversion_probability);
                body["removal_effects"] = paths
                    .channel_names()
                    .iter()
                    .zip(&result.removal_effects)
                    .map(|(channel, effect)| (channel.clone(), json!(effect)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
                Ok(result.credits)
            }
            DataDrivenModel::Shapley | DataDrivenModel::ShapleyOrdered => {
                // Exact at any number of channels (see attrib_models::datadriven::shapley).
                let method = ShapleyMethod::ClosedForm;
                body["method"] = json!("closed_form");
                if self.model == DataDrivenModel::Shapley {
                    shapley_simplified(paths, method).map_err(refused)
                } else {
                    shapley_ordered(paths, method)
                        .map(|ordered| ordered.credits)
                        .map_err(refused)
                }
            }
        }
    }
}

/// The app's paths in `range`, summed per path; value only in `currency`.
pub(crate) async fn load_paths<S: SqlStore>(
    store: &S,
    app_id: &str,
    range: &DayRange,
    currency: Option<&str>,
) -> Result<Vec<PathTotals>, QueryError> {
    let mut filter = Where::new(app_id, range);
    let value_currency = filter.bind(Param::Text(currency.unwrap_or_default().to_owned()));
    let limit = filter.bind(Param::Int(MAX_MODEL_PATHS as i64 + 1));
    let statement = filter.statement(
        &format!(
            "SELECT path, COALESCE(SUM(conversions), 0) AS conversions, \
             COALESCE(SUM(nulls), 0) AS nulls, \
             COALESCE(SUM(CASE WHEN currency = {value_currency} THEN value ELSE 0 END), 0) AS value \
             FROM conversion_paths"
        ),
        &format!("GROUP BY path ORDER BY path LIMIT {limit}"),
    );
    let rows: Vec<PathTotals> = store.rows(&statement).await?;
    if rows.len() > MAX_MODEL_PATHS {
        return Err(QueryError::TooLarge(FieldError::new(
            "from",
            format!("the range holds more than {MAX_MODEL_PATHS} distinct paths; narrow it"),
        )));
    }
    Ok(rows)
}

/// Stored paths are canonical JSON arrays of sources (see migrations/0003).
pub(crate) fn steps_of(stored: &str) -> Vec<String> {
    serde_json::from_str(stored).unwrap_or_else(|_| vec![stored.to_owned()])
}

fn path_set(rows: &[PathTotals], with_value: bool) -> Result<PathSet, QueryError> {
    let bad = |e: datadriven::PathError| {
        QueryError::Unanswerable(FieldError::new("paths", e.to_string()))
    };
    let mut builder = PathSetBuilder::new(STEP_JOIN, with_value).map_err(bad)?;
    builder.reserve(rows.len());
    for row in rows {
        let joined = steps_of(&row.path).join(STEP_JOIN);
        builder
            .push(
                &joined,
                row.conversions,
                row.nulls,
                with_value.then_some(row.value),
            )
            .map_err(bad)?;
    }
    Ok(builder.finish())
}

fn channels_json(credits: &ChannelCredits) -> Value {
    let mut channels: Vec<_> = credits.channels.iter().collect();
    channels.sort_by(|a, b| {
        b.conversions
            .total_cmp(&a.conversions)
            .then_with(|| a.channel.cmp(&b.channel))
    });
    channels
        .into_iter()
        .map(|c| json!({"channel": c.channel, "conversions": c.conversions, "value": c.value}))
        .collect()
}
