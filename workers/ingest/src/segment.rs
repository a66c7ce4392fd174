//! The Segment HTTP Tracking API endpoints.

use attrib_core::conversion::conversion_of;
use attrib_core::decompress::{decompress, ContentEncoding};
use attrib_core::geo::{place, Placement};
use attrib_core::journey::EventOutcome;
use attrib_core::keys::{basic_auth_user, WriteKeyClass};
use attrib_core::limits::MAX_BATCH_BYTES;
use attrib_core::postback::device::postback_device_ids;
use attrib_core::segment::{decode_request, peek_write_key, Endpoint, Rejection};
use attrib_core::settings::AppSettings;
use attrib_core::time::from_millis;
use attrib_worker_common::body::read_capped;
use attrib_worker_common::response::{self, ErrorDetail};
use attrib_worker_common::{apps, config, geo};
use serde::Serialize;
use worker::{Date, Env, Method, Request, Response};

use crate::deliver::{deliver_as, Positioned};
use crate::error::IngestError;
use crate::fraud::{self, Signals};
use crate::ratelimit;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IngestReply<'a> {
    success: bool,
    accepted: usize,
    duplicates: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    rejected: Vec<Rejection>,
    /// Where new journeys of this request are placed.
    placement: Placement,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorDetail<'a>>,
}

/// Where a request carries its write key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPlace {
    /// HTTP Basic user, else `writeKey` in the body (Segment's convention).
    Request,
    /// `?writeKey=` (RudderStack's beacon: `navigator.sendBeacon` cannot set headers).
    Query,
}

pub async fn handle(
    mut req: Request,
    env: &Env,
    endpoint: Endpoint,
    key_place: KeyPlace,
) -> Result<Response, IngestError> {
    if req.method() != Method::Post {
        return Err(IngestError::MethodNotAllowed);
    }
    ratelimit::check_ip(&req, env).await?;
    // A key in the header or query is checked before the body is read: strangers get 401, not
    // decompression or parsing.
    let outer_key = match key_place {
        KeyPlace::Request => req
            .headers()
            .get("authorization")?
            .and_then(|h| basic_auth_user(&h)),
        KeyPlace::Query => Some(query_write_key(&req)?.ok_or(IngestError::MissingWriteKey)?),
    };
    let outer_app = match &outer_key {
        Some(key) => Some(authenticate(env, key).await?),
        None => None,
    };
    let encoding = ContentEncoding::parse(req.headers().get("content-encoding")?.as_deref())?;
    let raw = read_capped(&mut req, MAX_BATCH_BYTES).await?;
    // Every size limit applies to the decompressed bytes, checked while inflating.
    let body = decompress(encoding, &raw, MAX_BATCH_BYTES)?;
    let (settings, key_class) = match outer_app {
        Some(app) => app,
        None => {
            // Issue 13, finding 2: the key is read from the body without decoding its events,
            // and checked before they are.
            let key = peek_write_key(&body)?.ok_or(IngestError::MissingWriteKey)?;
            authenticate(env, &key).await?
        }
    };
    let received_at = from_millis(Date::now().as_millis() as i64);
    let decoded = decode_request(endpoint, &body, received_at)?;
    // The request's bytes (compressed and inflated) are not needed while events are delivered.
    drop(body);
    drop(raw);

    let signals = Signals::of(&req);
    let mut rejected = Vec::new();
    let mut accepted = Vec::new();
    let (events, suppressed) =
        crate::suppression::drop_suppressed(env, &settings, decoded.events).await?;
    let (events, refused) = crate::consent::drop_refused(env, &settings, events).await;
    let dropped = suppressed + refused;
    for item in events {
        match item.outcome {
            Err(rejection) => rejected.push(rejection),
            Ok(mut event) => {
                // Read before `enrich` hashes the advertising id; kept only for conversions.
                let device_ids = postback_device_ids(&event, &settings.consent);
                // Installs: the mobile waterfall (crate::mobile); advertising ids hashed.
                crate::mobile::enrich(env, &settings, &mut event).await;
                match conversion_of(&event, &settings) {
                    Ok(conversion) => accepted.push(Positioned {
                        index: item.index,
                        device_ids: device_ids.filter(|_| conversion.is_some()),
                        // A fraud verdict says more than the consent one; either keeps the
                        // event out of attribution and postbacks.
                        flag: fraud::screen(&event, &signals, &settings)
                            .or_else(|| crate::consent::advertising_flag(&event, &settings)),
                        event,
                    }),
                    Err(err) => rejected.push(Rejection {
                        index: item.index,
                        message_id: Some(event.message_id),
                        errors: vec![err.within(&prefix(item.index))],
                    }),
                }
            }
        }
    }

    let placement = place(
        &geo::request_geo(&req),
        settings.residency,
        config::default_region(env)?,
    );
    let mut duplicates = 0;
    let mut stored = 0;
    let mut erased = 0;
    for delivered in deliver_as(env, &settings, placement, key_class, accepted).await? {
        match delivered.outcome {
            EventOutcome::Stored { .. } => stored += 1,
            EventOutcome::Duplicate => duplicates += 1,
            // An erased person's event in flight: dropped at the journey, taken like a
            // suppressed one (issue 12, erasure).
            EventOutcome::Erased => erased += 1,
            EventOutcome::Rejected { error } => rejected.push(Rejection {
                index: delivered.index,
                message_id: Some(delivered.message_id),
                errors: vec![error.within(&prefix(delivered.index))],
            }),
        }
    }
    rejected.sort_by_key(|r| r.index);
    // A suppressed subject's events, and events without analytics consent, count as taken:
    // the SDK must not retry them (Segment's semantics: they are discarded silently).
    reply(
        stored + duplicates + dropped + erased,
        duplicates,
        rejected,
        placement,
    )
}

fn query_write_key(req: &Request) -> Result<Option<String>, IngestError> {
    Ok(req
        .url()?
        .query_pairs()
        .find(|(name, _)| name == "writeKey")
        .map(|(_, value)| value.into_owned())
        .filter(|key| !key.is_empty()))
}

fn prefix(index: Option<usize>) -> String {
    index.map(|i| format!("batch[{i}]")).unwrap_or_default()
}

/// The app of a live write key and the key's class, within the app's rate limit (429 before
/// any event is decoded).
async fn authenticate(env: &Env, key: &str) -> Result<(AppSettings, WriteKeyClass), IngestError> {
    let (app, class) = apps::write_key_app(env, key)
        .await?
        .ok_or(IngestError::UnknownWriteKey)?;
    ratelimit::check_app(env, &app.app_id, app.rate_limit).await?;
    Ok((app, class))
}

/// 200 when every event was taken, 207 when some were, 400 when none were.
fn reply(
    accepted: usize,
    duplicates: usize,
    rejected: Vec<Rejection>,
    placement: Placement,
) -> Result<Response, IngestError> {
    let status = match (accepted, rejected.is_empty()) {
        (_, true) => 200,
        (0, false) => 400,
        (_, false) => 207,
    };
    let first = rejected.first().and_then(|r| r.errors.first()).cloned();
    let error = first.as_ref().map(|err| ErrorDetail {
        code: "invalid_event",
        message: err.to_string(),
        field: Some(err.field.clone()),
        reason: Some(err.reason.clone()),
    });
    let body = IngestReply {
        success: rejected.is_empty(),
        accepted,
        duplicates,
        rejected,
        placement,
        error,
    };
    Ok(response::json(status, &body)?)
}
