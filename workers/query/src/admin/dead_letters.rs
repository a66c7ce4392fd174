//! `/admin/v1/apps/{app}/journeys/{id}/dead-letters` (`?type=anonymous` for an anonymous id):
//! the records the origin refused for good from one journey's outbox (issue 13, finding 7),
//! listed oldest first, and `POST .../dead-letters/replay` (`{"seqs": [...]}`, or `{}` for
//! the oldest) moves them back into the outbox once the cause is fixed. The journey is named
//! in the object's log line when it sets a record aside. The origin's own dead letters (sinks
//! refusing records) are on the origin: `attrib-origin dead-letters`, `/admin/dead-letters`.

use attrib_core::identity::JourneyKey;
use attrib_core::limits::MAX_ID_CHARS;
use attrib_core::protocol::{
    DeadLettersView, ReplayReply, ReplayRequest, DEAD_LETTERS_PATH, DEAD_LETTERS_REPLAY_PATH,
};
use attrib_core::FieldError;
use attrib_worker_common::{apps, config, journeys, response, EdgeError};
use serde_json::{json, Value};
use worker::{Request, Response};

use super::Cx;
use crate::error::QueryError;
use crate::journeys::{kind_of, placement_of};

async fn stub_of(
    cx: &Cx<'_>,
    app_id: &str,
    id: &str,
    req: &Request,
) -> Result<(JourneyKey, worker::Stub), QueryError> {
    cx.who.may_manage(app_id)?;
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
        return Err(QueryError::BadField(FieldError::new(
            "id",
            format!("must be 1 to {MAX_ID_CHARS} characters"),
        )));
    }
    let app = apps::app_settings(cx.env, app_id)
        .await?
        .ok_or_else(|| QueryError::Missing(format!("no app {app_id}")))?;
    let key = JourneyKey::new(app_id, kind_of(&req.url()?)?, id);
    let placement = placement_of(&app, cx.env)?;
    let stub = journeys::stub(cx.env, &key, &placement, config::jurisdiction_mode(cx.env)?)
        .map_err(unavailable)?;
    Ok((key, stub))
}

fn unavailable(e: EdgeError) -> QueryError {
    QueryError::JourneyUnavailable(e.to_string())
}

pub async fn list(
    cx: &Cx<'_>,
    app_id: &str,
    id: &str,
    req: &Request,
) -> Result<Response, QueryError> {
    let (_, stub) = stub_of(cx, app_id, id, req).await?;
    let view: DeadLettersView = journeys::get(&stub, DEAD_LETTERS_PATH)
        .await
        .map_err(unavailable)?;
    Ok(response::json(
        200,
        &json!({ "app_id": app_id, "id": id, "view": view }),
    )?)
}

pub async fn replay(
    cx: &Cx<'_>,
    app_id: &str,
    id: &str,
    req: &Request,
    body: Value,
) -> Result<Response, QueryError> {
    let request: ReplayRequest = serde_json::from_value(body).map_err(|e| {
        QueryError::BadField(FieldError::new(
            "seqs",
            format!("must be an array of dead-letter seqs ({e})"),
        ))
    })?;
    let (_, stub) = stub_of(cx, app_id, id, req).await?;
    let reply: ReplayReply = journeys::post(&stub, DEAD_LETTERS_REPLAY_PATH, &request)
        .await
        .map_err(unavailable)?;
    Ok(response::json(
        200,
        &json!({ "app_id": app_id, "id": id, "replay": reply }),
    )?)
}
