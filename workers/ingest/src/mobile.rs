//! Mobile app attribution at the edge: device touches recorded by tracking links, the install
//! waterfall run on install events, deferred deep links, and the app association files. The
//! rules are in `attrib_core::mobile`; this module does the IO (the `DEVICE` Durable Objects,
//! D1).
//!
//! Device ids are hashed with the `DEVICE_ID_SECRET` secret (per deployment); without it,
//! device matching is off and advertising ids are dropped from stored events.

use attrib_core::event::Event;
use attrib_core::geo::{place, Jurisdiction};
use attrib_core::journey::EventOutcome;
use attrib_core::keys::{basic_auth_user, KeyKind};
use attrib_core::limits::MAX_BATCH_BYTES;
use attrib_core::mobile::association::{apple_app_site_association, asset_links};
use attrib_core::mobile::device::{
    hashed, ids_from_event, object_name, redact_advertising_id, DeviceId, DeviceTouch,
    DEVICE_ANSWER_PATH, DEVICE_TOUCHES_PATH, DEVICE_TOUCH_PATH,
};
use attrib_core::mobile::referrer::{install_click_id, link_id_from_referrer, raw_referrers};
use attrib_core::mobile::settings::{
    parse_deep_link_params, parse_mobile_settings, MobileSettings,
};
use attrib_core::mobile::waterfall::{match_install, InstallMatch};
use attrib_core::postback::device::postback_device_ids;
use attrib_core::segment::{decode_request, Decoded, Endpoint};
use attrib_core::settings::{AppSettings, Residency};
use attrib_core::time::from_millis;
use attrib_core::FieldError;
use attrib_worker_common::body::read_capped;
use attrib_worker_common::{apps, config, geo, response};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use wasm_bindgen::JsValue;
use worker::{Date, Env, Method, Request, RequestInit, Response};

use crate::deliver::{deliver, Positioned};
use crate::error::IngestError;

pub use attrib_worker_common::config::{DEVICE_BINDING, DEVICE_ID_SECRET};

fn secret(env: &Env) -> Option<Vec<u8>> {
    config::secret(env, DEVICE_ID_SECRET).map(String::into_bytes)
}

async fn device_call(
    env: &Env,
    (app_id, residency): (&str, Residency),
    hash: &str,
    path: &str,
    body: String,
) -> Result<Value, IngestError> {
    // An EU app's device objects live in the EU jurisdiction, as its journeys do (issue 12
    // item 8): they hold keyed device hashes with the touches.
    let jurisdiction = (residency == Residency::Eu).then_some(Jurisdiction::Eu);
    let mode = config::jurisdiction_mode(env)?;
    let stub =
        attrib_worker_common::journeys::namespace_of(env, DEVICE_BINDING, jurisdiction, mode)?
            .id_from_name(&object_name(app_id, hash))?
            .get_stub()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(JsValue::from_str(&body)));
    let req = Request::new_with_init(&format!("https://device{path}"), &init)?;
    let mut reply = stub.fetch_with_request(req).await?;
    if reply.status_code() != 200 {
        return Err(IngestError::JourneyUnavailable(format!(
            "device object answered {}",
            reply.status_code()
        )));
    }
    Ok(reply.json().await?)
}

/// Remembers a click or impression under each device id it carried (hashed).
pub async fn record_touch(
    env: &Env,
    (app_id, residency): (&str, Residency),
    ids: &[DeviceId],
    touch: &DeviceTouch,
) -> Result<(), IngestError> {
    let Some(secret) = secret(env) else {
        return Ok(());
    };
    let body = serde_json::to_string(touch).map_err(|e| {
        IngestError::JourneyUnavailable(format!("device touch not serialisable: {e}"))
    })?;
    for id in ids {
        let hash = hashed(&secret, app_id, id);
        device_call(
            env,
            (app_id, residency),
            &hash,
            DEVICE_TOUCH_PATH,
            body.clone(),
        )
        .await?;
    }
    Ok(())
}

/// The device hashes of an event, in waterfall order (advertising id before vendor id).
fn hashes_of(env: &Env, app_id: &str, event: &Event) -> Vec<String> {
    match secret(env) {
        Some(secret) => ids_from_event(event)
            .iter()
            .map(|id| hashed(&secret, app_id, id))
            .collect(),
        None => Vec::new(),
    }
}

async fn touches_of(env: &Env, app: (&str, Residency), hashes: &[String]) -> Vec<DeviceTouch> {
    let mut touches = Vec::new();
    for hash in hashes {
        // A device object that cannot answer makes the install organic, not lost.
        match device_call(env, app, hash, DEVICE_TOUCHES_PATH, "{}".into()).await {
            Ok(value) => touches
                .extend(serde_json::from_value::<Vec<DeviceTouch>>(value).unwrap_or_default()),
            Err(err) => worker::console_error!("device lookup failed: {err}"),
        }
    }
    touches
}

/// Runs the waterfall for an install event and writes its verdict into the event: the matched
/// touch id as `context.click_id` (so the journey merge attributes it) and
/// `context.attribution_match`. Then hashes the advertising id. Other events only get the
/// advertising id hashed.
pub async fn enrich(env: &Env, settings: &AppSettings, event: &mut Event) -> InstallMatch {
    let mut verdict = InstallMatch::Organic;
    if attrib_core::mobile::device::is_install(event) {
        let click_id = install_click_id(event);
        let touches = match click_id {
            Some(_) => Vec::new(),
            None => {
                touches_of(
                    env,
                    (&settings.app_id, settings.residency),
                    &hashes_of(env, &settings.app_id, event),
                )
                .await
            }
        };
        verdict = match_install(
            click_id.as_deref(),
            &touches,
            event.timestamp_ms,
            settings.click_window_secs,
            settings.view_window_secs,
        );
        if let Some(id) = verdict.touch_id() {
            event
                .context
                .insert("click_id".into(), Value::String(id.to_owned()));
        }
        event.context.insert(
            "attribution_match".into(),
            Value::String(verdict.method().into()),
        );
    }
    let secret = secret(env);
    redact_advertising_id(event, secret.as_deref(), &settings.app_id);
    verdict
}

#[derive(Deserialize)]
struct MobileRow {
    mobile: String,
}

async fn mobile_settings_where(
    env: &Env,
    query: &str,
    bind: &str,
) -> Result<Option<MobileSettings>, IngestError> {
    let row: Option<MobileRow> = env
        .d1(apps::DB_BINDING)?
        .prepare(query)
        .bind(&[JsValue::from_str(bind)])?
        .first(None)
        .await?;
    row.map(|r| parse_mobile_settings(Some(&r.mobile)))
        .transpose()
        .map_err(IngestError::BadField)
}

/// `/.well-known/apple-app-site-association` and `/.well-known/assetlinks.json` for the app
/// whose link host (table `link_hosts`) is the request's host; 404 when none is configured.
pub async fn association(req: Request, env: &Env) -> Result<Response, IngestError> {
    let url = req.url()?;
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let settings = mobile_settings_where(
        env,
        "SELECT a.mobile FROM link_hosts h JOIN apps a ON a.id = h.app_id WHERE h.host = ?1",
        &host,
    )
    .await?;
    let file = settings.and_then(|s| match url.path() {
        "/.well-known/assetlinks.json" => asset_links(&s),
        _ => apple_app_site_association(&s),
    });
    match file {
        Some(body) => {
            let mut reply = response::json(200, &body)?;
            reply
                .headers_mut()
                .set("cache-control", "public, max-age=3600")?;
            Ok(reply)
        }
        None => Err(IngestError::NotFound),
    }
}

/// `POST /v1/deferred-link`: the app's first open asks which link brought it. The body is a
/// Segment track call without `event` (write key, `anonymousId` or `userId`, `context.device`,
/// `context.referrer`). The answer comes from the install waterfall (without view-through)
/// within the app's lookback; the first answer a device gets is kept and repeated. The ask is
/// recorded as the app's `Application Installed` with a message id derived from the visitor,
/// so asking again never counts a second install.
pub async fn deferred_link(mut req: Request, env: &Env) -> Result<Response, IngestError> {
    let header_key = req
        .headers()
        .get("authorization")?
        .and_then(|h| basic_auth_user(&h));
    let body = read_capped(&mut req, MAX_BATCH_BYTES).await?;
    let mut object: Map<String, Value> = serde_json::from_slice(&body).map_err(|e| {
        IngestError::BadField(FieldError::new("body", format!("not a JSON object: {e}")))
    })?;
    let visitor = ["userId", "anonymousId"]
        .iter()
        .find_map(|k| object.get(*k).and_then(Value::as_str).map(str::to_owned))
        .ok_or_else(|| {
            IngestError::BadField(FieldError::new(
                "anonymousId",
                "a deferred deep-link request needs anonymousId or userId",
            ))
        })?;
    object.insert("event".into(), json!("Application Installed"));
    object.insert("messageId".into(), json!(format!("ddl_{visitor}")));
    let bytes = serde_json::to_vec(&object).unwrap_or_default();
    let received_at = from_millis(Date::now().as_millis() as i64);
    let decoded = decode_request(
        Endpoint::Single(attrib_core::event::EventType::Track),
        &bytes,
        received_at,
    )?;
    let key = header_key
        .or(decoded.write_key)
        .ok_or(IngestError::MissingWriteKey)?;
    let settings = apps::app_for_key(env, &key, KeyKind::Write)
        .await?
        .ok_or(IngestError::UnknownWriteKey)?;
    let mut event = match decoded.events.into_iter().next().map(|d| d.outcome) {
        Some(Ok(event)) => event,
        Some(Err(rejection)) => {
            let err = rejection
                .errors
                .into_iter()
                .next()
                .unwrap_or_else(|| FieldError::new("body", "not a valid event"));
            return Err(IngestError::BadField(err));
        }
        None => return Err(IngestError::BadField(FieldError::new("body", "no event"))),
    };
    let mobile = mobile_settings_where(
        env,
        "SELECT mobile FROM apps WHERE id = ?1",
        &settings.app_id,
    )
    .await?
    .unwrap_or_default();

    let hashes = hashes_of(env, &settings.app_id, &event);
    let click_id = install_click_id(&event);
    let touches = match click_id {
        Some(_) => Vec::new(),
        None => touches_of(env, (&settings.app_id, settings.residency), &hashes).await,
    };
    let lookback = mobile
        .deferred_lookback_secs
        .min(settings.click_window_secs);
    let found = match_install(
        click_id.as_deref(),
        &touches,
        event.timestamp_ms,
        lookback,
        0,
    );
    let link_id = match &found {
        InstallMatch::DeviceClick { touch } => Some(touch.link_id.clone()),
        InstallMatch::ClickId { .. } => raw_referrers(&event).find_map(link_id_from_referrer),
        _ => None,
    };
    let mut answer = json!({ "found": false, "match": found.method() });
    if let Some(link_id) = link_id {
        if let Some((link, link_app)) = apps::link_with_app(env, &link_id).await? {
            if link_app.app_id == settings.app_id {
                let params =
                    parse_deep_link_params(link.deep_link_params.as_deref()).unwrap_or_default();
                answer = json!({
                    "found": true,
                    "match": found.method(),
                    "click_id": found.touch_id(),
                    "link_id": link.link_id,
                    "deep_link": link.deep_link,
                    "deep_link_params": params,
                    "media_source": link.source,
                    "campaign": link.campaign,
                });
            }
        }
    }
    // The first answer a device got is the answer (a later click must not change it).
    if let Some(hash) = hashes.first() {
        answer = device_call(
            env,
            (&settings.app_id, settings.residency),
            hash,
            DEVICE_ANSWER_PATH,
            answer.to_string(),
        )
        .await?;
    }

    // Recorded with the enriched click id; the message id makes a repeat a duplicate. The
    // raw ids for the install's postbacks are read before `enrich` hashes them.
    let device_ids = postback_device_ids(&event, &settings.consent);
    enrich(env, &settings, &mut event).await;
    let placement = place(
        &geo::request_geo(&req),
        settings.residency,
        config::default_region(env)?,
    );
    // Consent as for any Segment call: without analytics consent the ask is answered (the
    // deep link is the app's function) but not recorded.
    let flag = crate::consent::advertising_flag(&event, &settings);
    let (kept, _) = crate::consent::drop_refused(
        env,
        &settings,
        vec![Decoded {
            index: None,
            outcome: Ok(event),
        }],
    )
    .await;
    let events: Vec<Positioned> = kept
        .into_iter()
        .filter_map(|d| d.outcome.ok())
        .map(|event| Positioned {
            index: None,
            event,
            flag: flag.clone(),
            device_ids: device_ids.clone(),
        })
        .collect();
    for delivered in deliver(env, &settings, placement, events).await? {
        if let EventOutcome::Rejected { error } = delivered.outcome {
            return Err(IngestError::BadField(error));
        }
    }
    Ok(response::json(200, &answer)?)
}
