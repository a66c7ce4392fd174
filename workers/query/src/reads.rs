//! Serving a read endpoint: authenticate the read token, parse the query, then answer from the
//! edge cache or the read store.
//!
//! Order matters: the token is checked before the cache is consulted (a cached answer is never
//! served to a stranger), and the key is built from the token's app, never from a parameter,
//! so app A's token cannot reach app B's entries.

use chrono::DateTime;
use serde_json::Value;
use worker::{Context, Date, Env, Headers, Request, Response};

use crate::cache::{self, Freshness};
use crate::config::{self, CachePolicy};
use crate::error::QueryError;
use crate::params::Params;
use crate::queries::{QueryContext, ReadQuery};
use crate::store::ReadStore;
use crate::{auth, reporting, versions};

/// `x-cache` values.
const HIT: &str = "hit";
const MISS: &str = "miss";
const STALE: &str = "stale";

pub async fn serve<Q: ReadQuery>(
    req: Request,
    env: &Env,
    ctx: &Context,
) -> Result<Response, QueryError> {
    let app = auth::app_of(&req, env).await?;
    let url = req.url()?;
    let now_ms = Date::now().as_millis();
    let today = DateTime::from_timestamp_millis(now_ms as i64)
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let params = Params::parse(url.query(), Q::PARAMS).map_err(QueryError::BadField)?;
    let query = Q::parse(
        &params,
        &QueryContext {
            today,
            default_model: app.default_model,
            reporting_currency: if Q::CONVERTS {
                reporting::currency_of(env, &app.app_id).await?
            } else {
                None
            },
            conversions_are_installs: attrib_core::spend::conversions_are_installs(
                &app.conversion_events,
            ),
        },
    )
    .map_err(QueryError::BadField)?;

    let store = ReadStore::from_env(env)?;
    let store_kind = store.kind().as_str();
    let policy = config::cache_policy(env)?;
    let version = versions::current(&store, &app.app_id, now_ms).await?;
    let key = cache::key(
        &url.origin().ascii_serialization(),
        Q::PATH,
        &app.app_id,
        version,
        &query.canonical(),
    );

    if let Some(cached) = cache::lookup(&key).await {
        let age_ms = now_ms.saturating_sub(cached.cached_at_ms);
        match policy.freshness(age_ms) {
            Freshness::Fresh => {
                return respond(cached.body, HIT, version, store_kind, Some(age_ms));
            }
            Freshness::Stale => {
                ctx.wait_until(refresh(
                    env.clone(),
                    query,
                    app.app_id,
                    version,
                    key,
                    policy,
                ));
                return respond(cached.body, STALE, version, store_kind, Some(age_ms));
            }
            Freshness::Expired => {}
        }
    }
    let body = render(&query, &store, &app.app_id, version).await?;
    // Stored before answering so that the next identical read is a hit.
    cache::store(&key, &body, now_ms, policy).await;
    respond(body, MISS, version, store_kind, None)
}

async fn render<Q: ReadQuery>(
    query: &Q,
    store: &ReadStore,
    app_id: &str,
    version: i64,
) -> Result<String, QueryError> {
    let mut body = query.run(store, app_id).await?;
    if let Value::Object(map) = &mut body {
        map.insert("stats_version".into(), Value::from(version));
    }
    Ok(body.to_string())
}

/// Recomputes a stale entry in the background (after the stale answer went out).
async fn refresh<Q: ReadQuery>(
    env: Env,
    query: Q,
    app_id: String,
    version: i64,
    key: String,
    policy: CachePolicy,
) {
    let now_ms = Date::now().as_millis();
    let body = match ReadStore::from_env(&env) {
        Ok(store) => render(&query, &store, &app_id, version).await,
        Err(err) => Err(QueryError::from(err)),
    };
    match body {
        Ok(body) => cache::store(&key, &body, now_ms, policy).await,
        Err(err) => worker::console_error!("refreshing {key} failed: {err}"),
    }
}

fn respond(
    body: String,
    cache_status: &str,
    version: i64,
    store_kind: &str,
    age_ms: Option<u64>,
) -> Result<Response, QueryError> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    // Answers depend on the token: browsers and proxies must not keep them.
    headers.set("cache-control", "private, no-store")?;
    headers.set("x-cache", cache_status)?;
    headers.set("x-stats-version", &version.to_string())?;
    headers.set("x-read-store", store_kind)?;
    if let Some(age_ms) = age_ms {
        headers.set("age", &(age_ms / 1000).to_string())?;
    }
    Ok(Response::ok(body)?.with_headers(headers))
}
