//! The ingest Worker: the edge's front door for SDK events.
//!
//! It speaks the Segment HTTP Tracking API (`/v1/track`, `/v1/identify`, `/v1/page`,
//! `/v1/screen`, `/v1/group`, `/v1/alias`, `/v1/batch`, `/v1/b`, `/v1/import`, analytics.js's
//! one-letter paths, RudderStack's beacon path; bodies plain, gzip or deflate), serves the SDK
//! settings document (`/v1/projects/{writeKey}/settings`), and records tracking-link
//! clicks (`GET /c/{link_id}`) and impressions (`GET /i/{link_id}`). It authenticates the
//! write key, validates and normalises each event, decides placement from `request.cf` and
//! the app's residency, judges each event by the ingest fraud rules, and hands each person's
//! events (with the verdicts) to their Journey Durable Object.
//! It also exports the Durable Object classes (this is the script that owns them).

mod consent;
mod deliver;
mod error;
mod fraud;
mod ip;
mod links;
mod mobile;
mod ratelimit;
mod routing;
mod segment;
mod settings;
mod skan_copies;
mod suppression;

pub use attrib_durable_objects::{ClickCounter, DeviceTouches, JourneyObject};

use attrib_core::ingest_route::{strip_prefix, IngestRoute};
use attrib_core::segment::Endpoint;
use attrib_worker_common::response;
use worker::{event, Context, Env, Method, Request, Response, Result};

use crate::error::IngestError;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let outcome = route(req, &env).await;
    let response = outcome.or_else(|err| err.into_response())?;
    with_cors(response)
}

async fn route(req: Request, env: &Env) -> std::result::Result<Response, IngestError> {
    let prefixes = routing::path_prefixes(env)?;
    let full_path = req.path();
    let (path, prefix) = strip_prefix(&full_path, &prefixes);
    match (req.method(), path) {
        (Method::Get, "/" | "/healthz") => {
            response::json(200, &serde_json::json!({"ok": true, "service": "ingest"}))
                .map_err(IngestError::from)
        }
        (Method::Get, "/openapi.json") => openapi(),
        (Method::Options, _) => preflight(&req),
        (Method::Post, skan_copies::SKAN_PATH | skan_copies::AAK_PATH) => {
            skan_copies::report(req, env).await
        }
        (Method::Post, "/v1/deferred-link") => mobile::deferred_link(req, env).await,
        (
            Method::Get,
            "/.well-known/apple-app-site-association" | "/.well-known/assetlinks.json",
        ) => mobile::association(req, env).await,
        (method, p) => match IngestRoute::from_path(p) {
            Some(IngestRoute::Settings { write_key }) => {
                settings::serve(&req, env, method, write_key, prefix).await
            }
            Some(IngestRoute::Segment(endpoint)) => {
                segment::handle(req, env, endpoint, segment::KeyPlace::Request).await
            }
            Some(IngestRoute::Beacon) => {
                segment::handle(req, env, Endpoint::Batch, segment::KeyPlace::Query).await
            }
            None => other(req, env, p).await,
        },
    }
}

async fn other(req: Request, env: &Env, path: &str) -> std::result::Result<Response, IngestError> {
    match (req.method(), path) {
        (_, p) if p.starts_with("/v1/") => Err(IngestError::NotFound),
        (Method::Get | Method::Head, p) if p.starts_with("/c/") => links::click(req, env).await,
        (Method::Get | Method::Head, p) if p.starts_with("/i/") => {
            links::impression(req, env).await
        }
        _ => Err(IngestError::NotFound),
    }
}

/// Browsers send events from any site (analytics.js), so ingest allows any origin. Credentials
/// are the write key in the request, never cookies. `Retry-After` is exposed so a page's SDK
/// can read how long to wait after a 429 (it is not a CORS-safelisted response header).
fn with_cors(mut response: Response) -> Result<Response> {
    let headers = response.headers_mut();
    headers.set("access-control-allow-origin", "*")?;
    headers.set("access-control-expose-headers", "Retry-After")?;
    Ok(response)
}

/// This Worker's API description, compiled in so a deploy serves the document of its code.
const OPENAPI_DOCUMENT: &str = include_str!("../../../openapi/ingest.json");

fn openapi() -> std::result::Result<Response, IngestError> {
    let headers = worker::Headers::new();
    headers.set("content-type", "application/json")?;
    headers.set("cache-control", "public, max-age=300")?;
    Ok(Response::ok(OPENAPI_DOCUMENT)?.with_headers(headers))
}

/// Request headers the SDKs send cross-origin: Basic auth, `Content-Encoding`, analytics-next's
/// `X-Retry-Count`, RudderStack JS v3's `AnonymousId`, `SentAt` and `Rsa-*` retry headers.
const ALLOWED_HEADERS: &str = "authorization, content-type, content-encoding, x-retry-count, \
anonymousid, sentat, rsa-retry-attempt, rsa-since-last-attempt, rsa-since-first-attempt, \
rsa-retry-reason";
/// Longest `Access-Control-Request-Headers` echoed back.
const MAX_REQUESTED_HEADERS_CHARS: usize = 1024;

/// A preflight allows what the page asked for when it is a plain list of header names (SDK
/// versions add headers; auth is the write key, never cookies, so allowing them is harmless),
/// else the known list.
fn preflight(req: &Request) -> std::result::Result<Response, IngestError> {
    let requested = req
        .headers()
        .get("access-control-request-headers")?
        .filter(|h| {
            h.len() <= MAX_REQUESTED_HEADERS_CHARS
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_, ".contains(c))
        });
    let headers = worker::Headers::new();
    headers.set("access-control-allow-origin", "*")?;
    headers.set("access-control-allow-methods", "GET, POST, OPTIONS")?;
    let allowed = match requested {
        Some(asked) if !asked.trim().is_empty() => format!("{ALLOWED_HEADERS}, {asked}"),
        _ => ALLOWED_HEADERS.to_owned(),
    };
    headers.set("access-control-allow-headers", &allowed)?;
    headers.set("access-control-max-age", "86400")?;
    headers.set("vary", "Access-Control-Request-Headers")?;
    Ok(response::empty_with_headers(204, headers))
}
