//! The query Worker: what dashboards and API clients read at the edge.
//!
//! Read API (read token as `Authorization: Bearer rt_...`, every read scoped to its app):
//! `GET /v1/stats`, `/v1/paths`, `/v1/fraud`, `/v1/app` from the read store (D1 or Turso,
//! see [`store`]) through the edge cache ([`reads`]), and `GET /v1/journeys/{user_id}` from
//! the person's Journey Durable Object. `POST /internal/rollups` takes the origin's signed
//! daily stats, paths and fraud counts; `GET /internal/retention` answers it the apps'
//! `retention_days` (signed likewise, [`app_retention`]). `GET /openapi.json` describes it all; the dashboard
//! is static assets under `/dashboard/` (workers/query/public), served before this code runs.
//! An hourly cron trigger prunes the D1 postback attempt log ([`retention`]). The management
//! API (apps, keys, links, postbacks, settings, audit) is under `/admin/v1/` ([`admin`]).

mod admin;
mod app_retention;
mod auth;
mod cache;
mod config;
mod contract;
mod error;
mod export;
mod journeys;
mod limits;
mod openapi;
mod params;
mod postbacks;
mod queries;
mod reads;
mod reattribute;
mod reporting;
mod retention;
mod rollups;
mod skan;
mod store;
mod versions;

use attrib_worker_common::response;
use worker::{
    event, Context, Env, Headers, Method, Request, Response, Result, ScheduleContext,
    ScheduledEvent,
};

use crate::error::QueryError;
use crate::queries::{
    cohorts::CohortsQuery, datadriven::DataDrivenQuery, fraud::FraudQuery, ltv::LtvQuery,
    overview::Overview, paths::PathsQuery, stats::StatsQuery, ReadQuery,
};

/// Cron triggers (`[triggers] crons` in wrangler.toml): retention of the D1 postback log.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    retention::run_scheduled(&env, event.schedule()).await;
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let path = req.path();
    let method = req.method();
    let outcome = match (method.clone(), path.as_str()) {
        (Method::Get, "/" | "/healthz") => response::json(
            200,
            &serde_json::json!({"ok": true, "service": "query", "dashboard": "/dashboard/"}),
        )
        .map_err(QueryError::from),
        (Method::Get, "/openapi.json") => openapi::query_document(),
        (Method::Get, "/openapi/ingest.json") => openapi::ingest_document(),
        (Method::Options, p) if p.starts_with("/v1/") => preflight(),
        (Method::Get, StatsQuery::PATH) => reads::serve::<StatsQuery>(req, &env, &ctx).await,
        (Method::Get, PathsQuery::PATH) => reads::serve::<PathsQuery>(req, &env, &ctx).await,
        (Method::Get, FraudQuery::PATH) => reads::serve::<FraudQuery>(req, &env, &ctx).await,
        (Method::Get, Overview::PATH) => reads::serve::<Overview>(req, &env, &ctx).await,
        (Method::Get, LtvQuery::PATH) => reads::serve::<LtvQuery>(req, &env, &ctx).await,
        (Method::Get, CohortsQuery::PATH) => reads::serve::<CohortsQuery>(req, &env, &ctx).await,
        (Method::Get, DataDrivenQuery::PATH) => {
            reads::serve::<DataDrivenQuery>(req, &env, &ctx).await
        }
        (Method::Get, export::PATH) => export::csv(req, &env).await,
        (Method::Get, p) if p.starts_with("/v1/journeys/") => journeys::show(req, &env).await,
        (Method::Post, p)
            if p.starts_with("/v1/journeys/") && p.ends_with(reattribute::REATTRIBUTE_SUFFIX) =>
        {
            reattribute::run(req, &env).await
        }
        (Method::Get, "/v1/postbacks") => postbacks::list(req, &env).await,
        (Method::Get, skan::PATH) => skan::show(req, &env).await,
        (_, p) if p.starts_with("/v1/") => Err(QueryError::MethodNotAllowed),
        (_, p) if p.starts_with(admin::PREFIX) => admin::handle(req, &env).await,
        (Method::Post, attrib_core::rollup::ROLLUP_PATH) => rollups::upsert(req, &env).await,
        (Method::Get, attrib_core::app_retention::RETENTION_PATH) => {
            app_retention::list(req, &env).await
        }
        _ => Err(QueryError::NotFound),
    };
    let response = outcome.or_else(QueryError::into_response)?;
    if path.starts_with(admin::PREFIX) {
        // Management answers hold secrets (a key is shown once): never cached, same origin only.
        response::no_store(response)
    } else if path.starts_with("/v1/") {
        with_cors(response)
    } else {
        Ok(response)
    }
}

/// API clients on other sites may read with a token (never cookies), so any origin is fine.
fn with_cors(mut response: Response) -> Result<Response> {
    let headers = response.headers_mut();
    headers.set("access-control-allow-origin", "*")?;
    headers.set(
        "access-control-expose-headers",
        "x-cache, x-stats-version, x-read-store, age",
    )?;
    Ok(response)
}

fn preflight() -> std::result::Result<Response, QueryError> {
    let headers = Headers::new();
    headers.set("access-control-allow-methods", "GET, OPTIONS")?;
    headers.set("access-control-allow-headers", "authorization")?;
    headers.set("access-control-max-age", "86400")?;
    Ok(response::empty_with_headers(204, headers))
}
