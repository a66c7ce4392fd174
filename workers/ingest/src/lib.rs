//! The ingest Worker: the edge's front door for SDK events.
//!
//! It speaks the Segment HTTP Tracking API (`/v1/track`, `/v1/identify`, `/v1/page`,
//! `/v1/screen`, `/v1/group`, `/v1/alias`, `/v1/batch`, `/v1/b`) and records tracking-link
//! clicks (`GET /c/{link_id}`) and impressions (`GET /i/{link_id}`). It authenticates the
//! write key, validates and normalises each event, decides placement from `request.cf` and
//! the app's residency, judges each event by the ingest fraud rules, and hands each person's
//! events (with the verdicts) to their Journey Durable Object.
//! It also exports the Durable Object classes (this is the script that owns them).

mod deliver;
mod error;
mod fraud;
mod links;
mod mobile;
mod segment;
mod skan_copies;

pub use attrib_durable_objects::{ClickCounter, DeviceTouches, JourneyObject};

use attrib_worker_common::response;
use worker::{event, Context, Env, Method, Request, Response, Result};

use crate::error::IngestError;

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let path = req.path();
    let outcome = match (req.method(), path.as_str()) {
        (Method::Get, "/" | "/healthz") => {
            response::json(200, &serde_json::json!({"ok": true, "service": "ingest"}))
                .map_err(IngestError::from)
        }
        (Method::Get, "/openapi.json") => openapi(),
        (Method::Options, _) => preflight(),
        (Method::Post, skan_copies::SKAN_PATH | skan_copies::AAK_PATH) => {
            skan_copies::report(req, &env).await
        }
        (Method::Post, "/v1/deferred-link") => mobile::deferred_link(req, &env).await,
        (
            Method::Get,
            "/.well-known/apple-app-site-association" | "/.well-known/assetlinks.json",
        ) => mobile::association(req, &env).await,
        (_, p) if p.starts_with("/v1/") => segment::handle(req, &env).await,
        (Method::Get | Method::Head, p) if p.starts_with("/c/") => links::click(req, &env).await,
        (Method::Get | Method::Head, p) if p.starts_with("/i/") => {
            links::impression(req, &env).await
        }
        _ => Err(IngestError::NotFound),
    };
    let response = outcome.or_else(|err| err.into_response())?;
    with_cors(response)
}

/// Browsers send events from any site (analytics.js), so ingest allows any origin. Credentials
/// are the write key in the request, never cookies.
fn with_cors(mut response: Response) -> Result<Response> {
    let headers = response.headers_mut();
    headers.set("access-control-allow-origin", "*")?;
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

fn preflight() -> std::result::Result<Response, IngestError> {
    let headers = worker::Headers::new();
    headers.set("access-control-allow-origin", "*")?;
    headers.set("access-control-allow-methods", "GET, POST, OPTIONS")?;
    headers.set(
        "access-control-allow-headers",
        "authorization, content-type",
    )?;
    headers.set("access-control-max-age", "86400")?;
    Ok(response::empty_with_headers(204, headers))
}
