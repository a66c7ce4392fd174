//! `GET /v1/projects/{writeKey}/settings` (and `/projects/{writeKey}/settings`): the settings
//! document Segment's SDKs load first, pointing them back at this host. The document itself is
//! built in `attrib_core::sdk_settings`.

use attrib_core::keys::KeyKind;
use attrib_core::sdk_settings::{sdk_settings, ApiHost};
use attrib_worker_common::{apps, config, response};
use worker::{Env, Method, Request, Response};

use crate::error::IngestError;
use crate::routing::PUBLIC_INGEST_URL;

/// The document changes only when the deployment does; SDKs and CDNs may keep it this long.
const SETTINGS_MAX_AGE_SECS: u32 = 300;

pub async fn serve(
    req: &Request,
    env: &Env,
    method: Method,
    write_key: &str,
    prefix: &str,
) -> Result<Response, IngestError> {
    if !matches!(method, Method::Get | Method::Head) {
        return Err(IngestError::MethodNotAllowed);
    }
    apps::app_for_key(env, write_key, KeyKind::Write)
        .await?
        .ok_or(IngestError::UnknownWriteKey)?;
    let host = public_host(req, env, prefix)?;
    let mut reply = response::json(200, &sdk_settings(write_key, &host))?;
    reply.headers_mut().set(
        "cache-control",
        &format!("public, max-age={SETTINGS_MAX_AGE_SECS}"),
    )?;
    Ok(reply)
}

/// `PUBLIC_INGEST_URL` if set, else the scheme and host this request came to plus the path
/// prefix it came through (so first-party collection points SDKs at the customer's domain).
fn public_host(req: &Request, env: &Env, prefix: &str) -> Result<ApiHost, IngestError> {
    let configured = config::var(env, PUBLIC_INGEST_URL).filter(|v| !v.is_empty());
    let url = match configured {
        Some(url) => url,
        None => {
            let own = req.url()?;
            let port = own.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!(
                "{}://{}{port}{prefix}",
                own.scheme(),
                own.host_str().unwrap_or_default()
            )
        }
    };
    ApiHost::from_public_url(&url).ok_or_else(|| {
        IngestError::Edge(attrib_worker_common::EdgeError::Config {
            name: PUBLIC_INGEST_URL,
            reason: format!("{url:?} is not an http(s) URL"),
        })
    })
}
