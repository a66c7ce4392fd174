//! `POST /v1/journeys/{user_id}/reattribute` (`?type=anonymous` for an anonymous id): re-runs
//! attribution over the journey's stored conversions with the app's settings as they are in
//! D1 now (read fresh, not from the isolate cache), so that a settings change can be applied
//! to history. Answers which conversions got a new revision (see
//! `attrib_core::journey::Journey::reattribute` for what a re-run changes and what it keeps).
//!
//! Authorised by the app's manage key (`mk_...`): a re-run writes (new revisions, postbacks
//! withheld), so a read token is refused with 403.

use attrib_core::keys::{bearer_token, KeyKind};
use attrib_core::protocol::{ReattributeReply, ReattributeRequest, REATTRIBUTE_PATH};
use attrib_worker_common::{apps, config, journeys, response};
use worker::{Env, Request, Response};

use crate::error::QueryError;
use crate::journeys::{address, Addressed};

pub const REATTRIBUTE_SUFFIX: &str = "/reattribute";

pub async fn run(req: Request, env: &Env) -> Result<Response, QueryError> {
    let header = req
        .headers()
        .get("authorization")?
        .ok_or(QueryError::MissingToken)?;
    let token = bearer_token(&header).ok_or(QueryError::MissingToken)?;
    let app = match apps::app_for_key_fresh(env, token, KeyKind::Manage).await? {
        Some(app) => app,
        None => {
            // A live read token gets 403 (it is known, but may not write); others 401.
            return Err(
                match apps::app_for_key_fresh(env, token, KeyKind::Read).await? {
                    Some(_) => QueryError::Forbidden(attrib_core::FieldError::new(
                        "authorization",
                        "re-attribution needs the app's manage key; a read token only reads",
                    )),
                    None => QueryError::UnknownToken,
                },
            );
        }
    };
    let Addressed { id, key, placement } = address(&req.url()?, REATTRIBUTE_SUFFIX, &app, env)?;
    let unavailable =
        |e: attrib_worker_common::EdgeError| QueryError::JourneyUnavailable(e.to_string());
    let stub = journeys::stub(env, &key, &placement, config::jurisdiction_mode(env)?)
        .map_err(unavailable)?;
    let reply: ReattributeReply = journeys::post(
        &stub,
        REATTRIBUTE_PATH,
        &ReattributeRequest {
            key,
            settings: app,
            hops: 0,
        },
    )
    .await
    .map_err(unavailable)?;
    if !reply.exists {
        return Err(QueryError::NoJourney(id));
    }
    Ok(response::json(200, &reply)?)
}
