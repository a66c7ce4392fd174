//! `GET /v1/journeys/{id}`: one person's journey, read from their Durable Object.
//!
//! `{id}` is a `userId`; `?type=anonymous` reads an `anonymousId`'s journey instead. A
//! journey merged into another is followed to where its history went (the reply names both).

use attrib_core::geo::{Jurisdiction, Placement};
use attrib_core::identity::{JourneyKey, JourneyKind};
use attrib_core::limits::{MAX_ID_CHARS, MAX_MERGE_HOPS};
use attrib_core::protocol::{JourneyView, VIEW_PATH};
use attrib_core::settings::AppSettings;
use attrib_core::settings::Residency;
use attrib_core::FieldError;
use attrib_worker_common::{config, journeys, response};
use serde::Serialize;
use worker::{Env, Request, Response, Url};

use crate::auth;
use crate::error::QueryError;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JourneyReply {
    app_id: String,
    requested: String,
    #[serde(flatten)]
    view: JourneyView,
}

pub async fn show(req: Request, env: &Env) -> Result<Response, QueryError> {
    let app = auth::app_of(&req, env).await?;
    let Addressed {
        id,
        key: requested,
        placement,
    } = address(&req.url()?, "", &app, env)?;
    let mode = config::jurisdiction_mode(env)?;
    let unavailable =
        |e: attrib_worker_common::EdgeError| QueryError::JourneyUnavailable(e.to_string());

    let mut key = requested.clone();
    let mut view: JourneyView;
    let mut hops = 0;
    loop {
        let stub = journeys::stub(env, &key, &placement, mode).map_err(unavailable)?;
        view = journeys::get(&stub, VIEW_PATH).await.map_err(unavailable)?;
        let next = view
            .merged_into
            .as_deref()
            .and_then(|name| parse_name(&app.app_id, name));
        match next {
            Some(next) if hops < MAX_MERGE_HOPS => {
                key = next;
                hops += 1;
            }
            _ => break,
        }
    }
    if !view.exists {
        return Err(QueryError::NoJourney(id));
    }
    Ok(response::json(
        200,
        &JourneyReply {
            app_id: app.app_id,
            requested: requested.object_name(),
            view,
        },
    )?)
}

/// The journey a `/v1/journeys/{id}{suffix}?type=user|anonymous` URL names in `app`, and how
/// the query Worker reaches it (its jurisdiction follows the app's residency; a location hint
/// only matters when creating a journey, which reads never do).
pub struct Addressed {
    pub id: String,
    pub key: JourneyKey,
    pub placement: Placement,
}

pub fn address(
    url: &Url,
    suffix: &str,
    app: &AppSettings,
    env: &Env,
) -> Result<Addressed, QueryError> {
    let raw_id = url
        .path()
        .strip_prefix("/v1/journeys/")
        .and_then(|p| p.strip_suffix(suffix))
        .unwrap_or_default();
    let id = percent_decode(raw_id)?;
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS || id.contains('/') {
        return Err(QueryError::BadField(FieldError::new(
            "user_id",
            format!("must be 1 to {MAX_ID_CHARS} characters"),
        )));
    }
    let kind = kind_of(url)?;
    Ok(Addressed {
        key: JourneyKey::new(&app.app_id, kind, id.clone()),
        id,
        placement: placement_of(app, env)?,
    })
}

/// The journey kind a `?type=user|anonymous` query names (user when absent).
pub fn kind_of(url: &Url) -> Result<JourneyKind, QueryError> {
    Ok(match url.query_pairs().find(|(k, _)| k == "type") {
        None => JourneyKind::User,
        Some((_, t)) if t == "user" => JourneyKind::User,
        Some((_, t)) if t == "anonymous" => JourneyKind::Anonymous,
        Some(_) => {
            return Err(QueryError::BadField(FieldError::new(
                "type",
                "must be user or anonymous",
            )))
        }
    })
}

/// Where the query Worker reaches an app's journeys: the jurisdiction follows the app's
/// residency; a location hint only matters when creating a journey, which reads never do.
pub fn placement_of(app: &AppSettings, env: &Env) -> Result<Placement, QueryError> {
    Ok(Placement {
        jurisdiction: (app.residency == Residency::Eu).then_some(Jurisdiction::Eu),
        location_hint: None,
        origin_region: config::default_region(env)?,
    })
}

/// `u:app:id` → key, only within the reader's own app.
pub fn parse_name(app_id: &str, name: &str) -> Option<JourneyKey> {
    let (kind, rest) = name.split_once(':')?;
    let (app, id) = rest.split_once(':')?;
    let kind = match kind {
        "u" => JourneyKind::User,
        "a" => JourneyKind::Anonymous,
        "c" => JourneyKind::Click,
        _ => return None,
    };
    (app == app_id).then(|| JourneyKey::new(app, kind, id))
}

fn percent_decode(raw: &str) -> Result<String, QueryError> {
    url::form_urlencoded::parse(format!("x={}", raw.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| {
            QueryError::BadField(FieldError::new("user_id", "is not valid percent-encoding"))
        })
}
