//! `GET /v1/app`: what a dashboard needs before its first real query — the app's default
//! model, the models, the days that have stats, and the read limits.

use attrib_core::attribution::Model;
use attrib_core::FieldError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{canonical, QueryContext, ReadQuery};
use crate::error::QueryError;
use crate::limits::{
    DEFAULT_RANGE_DAYS, MAX_FILTER_VALUES, MAX_PATH_ROWS, MAX_RANGE_DAYS, MAX_STATS_ROWS,
};
use crate::params::Params;
use crate::store::{SqlStore, Statement};

#[derive(Debug, Clone)]
pub struct Overview {
    default_model: Model,
}

#[derive(Debug, Deserialize)]
struct DaySpan {
    first_day: Option<String>,
    last_day: Option<String>,
}

impl ReadQuery for Overview {
    const PATH: &'static str = "/v1/app";
    const PARAMS: &'static [&'static str] = &[];

    fn parse(_params: &Params, ctx: &QueryContext) -> Result<Self, FieldError> {
        Ok(Overview {
            default_model: ctx.default_model,
        })
    }

    fn canonical(&self) -> String {
        canonical(&[("default_model", self.default_model.as_str().to_owned())])
    }

    async fn run<S: SqlStore>(&self, store: &S, app_id: &str) -> Result<Value, QueryError> {
        let span = Statement::new(
            "SELECT MIN(day) AS first_day, MAX(day) AS last_day FROM daily_stats WHERE app_id = ?1",
            vec![app_id.into()],
        );
        let span: Option<DaySpan> = store.rows(&span).await?.into_iter().next();
        let (first, last) = span.map_or((None, None), |s| (s.first_day, s.last_day));
        let models: Vec<&str> = Model::ALL.iter().map(|m| m.as_str()).collect();
        Ok(json!({
            "app_id": app_id,
            "default_model": self.default_model.as_str(),
            "models": models,
            "stats_days": {"first": first, "last": last},
            "limits": {
                "max_range_days": MAX_RANGE_DAYS,
                "default_range_days": DEFAULT_RANGE_DAYS,
                "max_stats_rows": MAX_STATS_ROWS,
                "max_path_rows": MAX_PATH_ROWS,
                "max_filter_values": MAX_FILTER_VALUES,
            },
        }))
    }
}
