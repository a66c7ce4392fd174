//! `POST /v1/journeys/{user_id}/reattribute` (`?type=anonymous` for an anonymous id): re-runs
//! attribution over the journey's stored conversions with the app's settings as they are in
//! D1 now (read fresh, not from the isolate cache), so that a settings change can be applied
//! to history. Answers which conversions got a new revision (see
//! `attrib_core::journey::Journey::reattribute` for what a re-run changes and what it keeps).
//!
//! Authorised by the app's read token: a re-run can only apply settings the app's owner set.

use attrib_core::geo::{Jurisdiction, Placement};
use attrib_core::identity::{JourneyKey, JourneyKind};
use attrib_core::keys::{bearer_token, KeyKind};
use attrib_core::limits::MAX_ID_CHARS;
use attrib_core::protocol::{ReattributeReply, ReattributeRequest, REATTRIBUTE_PATH};
use attrib_core::settings::Residency;
use attrib_core::FieldError;
use attrib_worker_common::{apps, config, journeys, response};
use worker::{Env, Request, Response};

use crate::error::QueryError;

pub const REATTRIBUTE_SUFFIX: &str = "/reattribute";

pub async fn run(req: Request, env: &Env) -> Result<Response, QueryError> {
    let header = req
        .headers()
        .get("authorization")?
        .ok_or(QueryError::MissingToken)?;
    let token = bearer_token(&header).ok_or(QueryError::MissingToken)?;
    let app = apps::app_for_key_fresh(env, token, KeyKind::Read)
        .await?
        .ok_or(QueryError::UnknownToken)?;
    let url = req.url()?;
    let raw = url
        .path()
        .strip_prefix("/v1/journeys/")
        .and_then(|p| p.strip_suffix(REATTRIBUTE_SUFFIX))
        .unwrap_or_default();
    let id = url::form_urlencoded::parse(format!("x={}", raw.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS || id.contains('/') {
        return Err(QueryError::BadField(FieldError::new(
            "user_id",
            format!("must be 1 to {MAX_ID_CHARS} characters"),
        )));
    }
    let kind = match url.query_pairs().find(|(k, _)| k == "type") {
        None => JourneyKind::User,
        Some((_, t)) if t == "user" => JourneyKind::User,
        Some((_, t)) if t == "anonymous" => JourneyKind::Anonymous,
        Some(_) => {
            return Err(QueryError::BadField(FieldError::new(
                "type",
                "must be user or anonymous",
            )))
        }
    };
    let key = JourneyKey::new(&app.app_id, kind, id.clone());
    let placement = Placement {
        jurisdiction: (app.residency == Residency::Eu).then_some(Jurisdiction::Eu),
        location_hint: None,
        origin_region: config::default_region(env)?,
    };
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
