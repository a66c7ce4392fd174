//! Read tokens: `Authorization: Bearer rt_...` names exactly one app.

use attrib_core::keys::{bearer_token, KeyKind};
use attrib_core::settings::AppSettings;
use attrib_worker_common::apps;
use worker::{Env, Request};

use crate::error::QueryError;

pub async fn app_of(req: &Request, env: &Env) -> Result<AppSettings, QueryError> {
    let header = req
        .headers()
        .get("authorization")?
        .ok_or(QueryError::MissingToken)?;
    let token = bearer_token(&header).ok_or(QueryError::MissingToken)?;
    apps::app_for_key(env, token, KeyKind::Read)
        .await?
        .ok_or(QueryError::UnknownToken)
}
