//! The query Worker: what dashboards and API clients read at the edge.
//!
//! `GET /v1/journeys/{user_id}` shows one person's journey (touches, conversions, credits
//! under every model) from their Journey Durable Object; `POST /internal/rollups` takes the
//! origin's daily stats into D1. Every read is scoped to the app of the read token: a token
//! of app A never reads app B.

mod auth;
mod error;
mod journeys;
mod postbacks;
mod reattribute;
mod rollups;

use attrib_worker_common::response;
use worker::{event, Context, Env, Method, Request, Response, Result};

use crate::error::QueryError;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    let outcome = match (req.method(), path.as_str()) {
        (Method::Get, "/" | "/healthz") => {
            response::json(200, &serde_json::json!({"ok": true, "service": "query"}))
                .map_err(QueryError::from)
        }
        (Method::Post, p)
            if p.starts_with("/v1/journeys/") && p.ends_with(reattribute::REATTRIBUTE_SUFFIX) =>
        {
            reattribute::run(req, &env).await
        }
        (Method::Get, p) if p.starts_with("/v1/journeys/") => journeys::show(req, &env).await,
        (Method::Get, "/v1/postbacks") => postbacks::list(req, &env).await,
        (Method::Post, attrib_core::rollup::ROLLUP_PATH) => rollups::upsert(req, &env).await,
        _ => Err(QueryError::NotFound),
    };
    outcome.or_else(QueryError::into_response)
}
