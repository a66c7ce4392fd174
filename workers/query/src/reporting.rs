//! An app's reporting currency, kept in `apps.reporting_currency` (D1, beside the app's other
//! settings). Read for every stats request and made part of its cache key, so a changed
//! setting is seen at once without bumping the stats version.

use attrib_worker_common::apps::DB_BINDING;
use serde::Deserialize;
use worker::Env;

use crate::error::QueryError;

#[derive(Deserialize)]
struct Row {
    reporting_currency: Option<String>,
}

pub async fn currency_of(env: &Env, app_id: &str) -> Result<Option<String>, QueryError> {
    let row: Option<Row> = env
        .d1(DB_BINDING)?
        .prepare("SELECT reporting_currency FROM apps WHERE id = ?1")
        .bind(&[app_id.into()])?
        .first(None)
        .await?;
    Ok(row
        .and_then(|r| r.reporting_currency)
        .filter(|c| !c.is_empty()))
}
