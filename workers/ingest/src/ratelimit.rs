//! Rate limits at the edge, counted by the Workers rate-limiting bindings; the numbers and
//! tiers are in `attrib_core::ratelimit`.

use attrib_core::ratelimit::{app_key, ip_key, RateLimitTier, IP_BINDING};
use worker::{Env, Request};

use crate::error::IngestError;

/// 429 when the client IP is over its limit. Checked before the key or the body is read.
pub async fn check_ip(req: &Request, env: &Env) -> Result<(), IngestError> {
    let Some(ip) = req.headers().get("cf-connecting-ip")? else {
        return Ok(());
    };
    check(env, IP_BINDING, ip_key(&ip)).await
}

/// 429 when the app is over its tier's limit. Checked before any event is decoded.
pub async fn check_app(env: &Env, app_id: &str, tier: RateLimitTier) -> Result<(), IngestError> {
    match tier.binding() {
        Some(binding) => check(env, binding, app_key(app_id)).await,
        None => Ok(()),
    }
}

async fn check(env: &Env, binding: &'static str, key: String) -> Result<(), IngestError> {
    // A deployment without the binding is not limited (the binding is declared in wrangler.toml;
    // its absence is logged, not fatal, so events are never refused for a config slip).
    let limiter = match env.rate_limiter(binding) {
        Ok(limiter) => limiter,
        Err(err) => {
            worker::console_error!("rate limit binding {binding} unavailable: {err}");
            return Ok(());
        }
    };
    if limiter.limit(key).await?.success {
        Ok(())
    } else {
        Err(IngestError::RateLimited)
    }
}
