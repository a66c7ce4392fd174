//! The management API: `/admin/v1/...` (apps, keys, links, link hosts, postbacks, settings,
//! audit, a journey's dead letters, privacy regulations and the events dropped for them).
//!
//! Callers: the deployment's admin token (`Authorization: Bearer at_...`, whose SHA-256 is
//! listed in the `ADMIN_TOKEN_HASHES` secret; every app) or an app's manage key (`mk_...`;
//! that app only). Write keys and read tokens are refused (403). Credentials are read from D1
//! on every request here (no cache): a revoked manage key stops at once.
//!
//! Every change runs as one D1 batch: the app's version goes from the expected value to the
//! next (a trigger aborts the batch when another writer got there first: 409), the change
//! itself, and its audit entry (who, what, before, after, when). The expected version is the
//! client's `If-Match` (or a body's `version`), else the one read at the start of the request.
//! What a body may hold is checked by `attrib_core::manage` (the rules the edge also applies
//! when it loads settings); a refusal is a 4xx naming the field.

mod apps;
mod audit;
mod auth;
mod dead_letters;
mod dropped;
mod erasure;
mod exports;
mod keys;
mod link_hosts;
mod links;
mod postbacks;
mod rates;
mod regulations;
mod settings;
mod spend;
mod upload;
mod write;

use attrib_core::manage::{parse_version, MAX_ADMIN_BODY_BYTES};
use attrib_core::FieldError;
use attrib_worker_common::body::{read_capped, BodyError};
use serde_json::Value;
use worker::{Env, Method, Request, Response};

pub use auth::Principal;

use crate::error::QueryError;

pub const PREFIX: &str = "/admin/v1/";

pub async fn handle(mut req: Request, env: &Env) -> Result<Response, QueryError> {
    let who = auth::principal(&req, env).await?;
    let path = req.path();
    let segments: Vec<String> = path[PREFIX.len()..]
        .split('/')
        .map(|s| {
            url::form_urlencoded::parse(format!("s={}", s.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .collect();
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method();
    let cx = Cx { env, who: &who };
    use Method::*;
    match (method, parts.as_slice()) {
        (Get, ["whoami"]) => auth::whoami(&who),
        (Get, ["apps"]) => apps::list(&cx, &req).await,
        (Post, ["apps"]) => apps::create(&cx, body(&mut req).await?).await,
        (Get, ["apps", app]) => apps::show(&cx, app).await,
        (Patch, ["apps", app]) => {
            let (body, expected) = body_and_version(&mut req).await?;
            apps::update(&cx, app, body, expected).await
        }
        (Post, ["apps", app, action @ ("archive" | "restore")]) => {
            let expected = if_match(&req)?;
            apps::archive(&cx, app, *action == "archive", expected).await
        }
        (Get, ["apps", app, "keys"]) => keys::list(&cx, app).await,
        (Post, ["apps", app, "keys"]) => keys::issue(&cx, app, body(&mut req).await?).await,
        (Get, ["apps", app, "keys", id]) => keys::show(&cx, app, id).await,
        (Delete, ["apps", app, "keys", id]) => keys::revoke(&cx, app, id).await,
        (Post, ["apps", app, "keys", id, "rotate"]) => {
            keys::rotate(&cx, app, id, optional_body(&mut req).await?).await
        }
        (Get, ["apps", app, "links"]) => links::list(&cx, app, &req).await,
        (Post, ["apps", app, "links"]) => links::create(&cx, app, body(&mut req).await?).await,
        (Get, ["apps", app, "links", id]) => links::show(&cx, app, id).await,
        (Patch, ["apps", app, "links", id]) => {
            let (body, expected) = body_and_version(&mut req).await?;
            links::update(&cx, app, id, body, expected).await
        }
        (Delete, ["apps", app, "links", id]) => links::delete(&cx, app, id, if_match(&req)?).await,
        (Post, ["apps", app, "links", id, "user-url"]) => {
            links::user_url(&cx, app, id, body(&mut req).await?).await
        }
        (Get, ["apps", app, "link-hosts"]) => link_hosts::list(&cx, app).await,
        (Put, ["apps", app, "link-hosts", host]) => {
            link_hosts::claim(&cx, app, host, if_match(&req)?).await
        }
        (Delete, ["apps", app, "link-hosts", host]) => {
            link_hosts::release(&cx, app, host, if_match(&req)?).await
        }
        (Get, ["apps", app, "postbacks"]) => postbacks::list(&cx, app).await,
        (Post, ["apps", app, "postbacks"]) => {
            postbacks::create(&cx, app, body(&mut req).await?).await
        }
        (Get, ["apps", app, "postback-attempts"]) => postbacks::attempts(&cx, app, &req).await,
        (Get, ["apps", app, "postbacks", network]) => postbacks::show(&cx, app, network).await,
        (Patch, ["apps", app, "postbacks", network]) => {
            let (body, expected) = body_and_version(&mut req).await?;
            postbacks::update(&cx, app, network, body, expected).await
        }
        (Delete, ["apps", app, "postbacks", network]) => {
            postbacks::delete(&cx, app, network, if_match(&req)?).await
        }
        (Post, ["apps", app, "postbacks", network, "test"]) => {
            postbacks::test_fire(&cx, app, network).await
        }
        (Get, ["apps", app, "settings"]) => settings::show(&cx, app).await,
        (Patch, ["apps", app, "settings"]) => {
            let (body, expected) = body_and_version(&mut req).await?;
            settings::update(&cx, app, body, expected).await
        }
        (Post, ["apps", app, "regulations"]) => {
            regulations::create(&cx, app, body(&mut req).await?).await
        }
        (Get, ["apps", app, "regulations"]) => regulations::list(&cx, app, &req).await,
        (Get, ["apps", app, "dropped-events"]) => dropped::list(&cx, app, &req).await,
        (Get, ["apps", app, "regulations", id]) => regulations::show(&cx, app, id).await,
        (Get, ["apps", app, "subjects", subject_type, id, "export"]) => {
            exports::export(&cx, app, subject_type, id).await
        }
        (Put, ["apps", app, "rates"]) => rates::put(&cx, app, &mut req).await,
        (Put | Post, ["apps", app, "spend"]) => spend::put(&cx, app, &mut req).await,
        (Get, ["apps", app, "spend"]) => spend::list(&cx, app, &req).await,
        (Get, ["apps", app, "audit"]) => audit::list(&cx, app, &req).await,
        (Get, ["apps", app, "journeys", id, "dead-letters"]) => {
            dead_letters::list(&cx, app, id, &req).await
        }
        (Post, ["apps", app, "journeys", id, "dead-letters", "replay"]) => {
            let body = optional_body(&mut req).await?;
            dead_letters::replay(&cx, app, id, &req, body).await
        }
        (_, ["whoami"] | ["apps"] | ["apps", _] | ["apps", _, _] | ["apps", _, _, _]) => {
            Err(QueryError::MethodNotAllowed)
        }
        _ => Err(QueryError::NotFound),
    }
}

/// What every handler needs: the environment and who is asking.
pub struct Cx<'a> {
    pub env: &'a Env,
    pub who: &'a Principal,
}

/// The JSON body (an object), at most [`MAX_ADMIN_BODY_BYTES`].
async fn body(req: &mut Request) -> Result<Value, QueryError> {
    let bytes = read_capped(req, MAX_ADMIN_BODY_BYTES)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { limit } => QueryError::TooLarge(FieldError::new(
                "body",
                format!("is larger than {limit} bytes"),
            )),
            BodyError::Unreadable(reason) => QueryError::BadField(FieldError::new("body", reason)),
        })?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| QueryError::BadField(FieldError::new("body", format!("is not JSON ({e})"))))?;
    if !value.is_object() {
        return Err(QueryError::BadField(FieldError::new(
            "body",
            "must be a JSON object",
        )));
    }
    Ok(value)
}

async fn optional_body(req: &mut Request) -> Result<Value, QueryError> {
    let empty = req
        .headers()
        .get("content-length")?
        .is_some_and(|l| l.trim() == "0");
    if empty {
        return Ok(Value::Object(Default::default()));
    }
    let bytes = read_capped(req, MAX_ADMIN_BODY_BYTES)
        .await
        .map_err(|e| QueryError::BadField(FieldError::new("body", e.to_string())))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| QueryError::BadField(FieldError::new("body", format!("is not JSON ({e})"))))?;
    Ok(value)
}

/// `If-Match`, as a version.
fn if_match(req: &Request) -> Result<Option<i64>, QueryError> {
    match req.headers().get("if-match")? {
        None => Ok(None),
        Some(v) => parse_version("If-Match", &v)
            .map(Some)
            .map_err(QueryError::BadField),
    }
}

/// The body without its `version` field, and the expected version (`If-Match` first).
async fn body_and_version(req: &mut Request) -> Result<(Value, Option<i64>), QueryError> {
    let header = if_match(req)?;
    let mut value = body(req).await?;
    let field = value.as_object_mut().and_then(|m| m.remove("version"));
    let from_body = match field {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_i64()
                .filter(|v| *v >= 1)
                .ok_or_else(|| bad("version", "must be a version number"))?,
        ),
        Some(_) => return Err(bad("version", "must be a version number")),
    };
    Ok((value, header.or(from_body)))
}

pub fn bad(field: &str, reason: impl Into<String>) -> QueryError {
    QueryError::BadField(FieldError::new(field, reason))
}

/// A list's `limit` query parameter.
fn limit_of(req: &Request) -> Result<usize, QueryError> {
    use attrib_core::manage::{DEFAULT_LIST_ROWS, MAX_LIST_ROWS};
    let url = req.url()?;
    match url.query_pairs().find(|(k, _)| k == "limit") {
        None => Ok(DEFAULT_LIST_ROWS),
        Some((_, v)) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIST_ROWS).contains(n))
            .ok_or_else(|| bad("limit", format!("must be 1 to {MAX_LIST_ROWS}"))),
    }
}
