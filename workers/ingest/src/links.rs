//! Tracking links: `GET /c/{link_id}` records a click and redirects (302) to the link's
//! destination with the click id appended; `GET /i/{link_id}` records an impression and
//! answers with a 1x1 GIF.
//!
//! Query parameters: `utm_source`, `utm_medium`, `utm_campaign`, `utm_content`, `utm_term`
//! override the link's own campaign fields; `anonymous_id` / `user_id` put the touch straight
//! into a known visitor's journey (impressions need one of them, since a view cannot be
//! linked to anyone later); a `user_id` counts only with its `user_sig`
//! (`attrib_core::link_user`: unsigned, a click is an unknown visitor's and an impression is
//! refused); `impression_id` makes a retried impression pixel count once;
//! `network_click_id` carries the ad network's own click id, which postbacks send back.
//! HEAD requests (link previews, prefetchers) redirect without recording.
//!
//! Mobile (core/src/mobile): a link with `ios_url` / `android_url` sends iPhones and iPads to
//! the App Store and Android phones to Google Play (with our click id in the Play `referrer`),
//! everyone else to `destination_url`. Device ids in the query (`idfa`, `gaid`, `gps_adid`,
//! `advertising_id`, `idfv`, `android_id`) are remembered, hashed, for the install waterfall;
//! an impression may then name no visitor at all.
//!
//! Both are judged by the ingest fraud rules ([`crate::fraud`]); a flagged click still
//! redirects (the visitor is not told), its touch is stored rejected. A suppressed visitor or
//! device id (issue 12) is recorded nowhere, counted, and still redirected or answered.

use attrib_core::event::{Event, EventType};
use attrib_core::geo::{place, Placement};
use attrib_core::identity::new_click_id;
use attrib_core::journey::EventOutcome;
use attrib_core::limits::MAX_ID_CHARS;
use attrib_core::link_user::{self, LINK_SIGNING_SECRET, USER_SIG_PARAM};
use attrib_core::mobile::device::{ids_from_query, DeviceId, DeviceTouch, TouchKind};
use attrib_core::mobile::routing::{self, Platform};
use attrib_core::mobile::settings::LinkMobile;
use attrib_core::touch::{CLICK_ID_PARAM, NETWORK_CLICK_ID_PARAM};
use attrib_core::FieldError;
use attrib_worker_common::apps::{self, Link};
use attrib_worker_common::random::random_bytes;
use attrib_worker_common::{config, geo};
use serde_json::{Map, Value};
use url::Url;
use worker::{Date, Env, Headers, Method, Request, Response};

use crate::deliver::{deliver, Positioned};
use crate::error::IngestError;
use crate::fraud::{self, Signals};
use crate::mobile;
use crate::suppression;

/// Link ids are chosen by the app: 1 to this many of `[A-Za-z0-9_-]`.
pub const MAX_LINK_ID_CHARS: usize = 64;

/// The smallest transparent GIF.
const PIXEL_GIF: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

struct Visitor {
    user_id: Option<String>,
    anonymous_id: Option<String>,
}

pub async fn click(req: Request, env: &Env) -> Result<Response, IngestError> {
    let (link, settings) = find_link(&req, env, "/c/").await?;
    let url = req.url()?;
    let visitor = signed_visitor(visitor_of(&url)?, &url, env, &settings.app_id);
    // The same rule the management API applies when the link is written (https; http only
    // to loopback in local runs), so a row written by hand cannot redirect elsewhere.
    attrib_core::postback::target::check_link_destination(
        &link.destination_url,
        attrib_worker_common::apps::targets(env),
    )
    .map_err(|reason| IngestError::BadField(FieldError::new("destination_url", reason)))?;
    let web = Url::parse(&link.destination_url).map_err(|_| {
        IngestError::BadField(FieldError::new(
            "destination_url",
            "the link's destination is not a URL",
        ))
    })?;
    if req.method() == Method::Head {
        return redirect(&web);
    }
    let click_id = new_click_id(random_bytes::<16>()?);
    let user_agent = req.headers().get("user-agent").ok().flatten();
    let platform = Platform::of_user_agent(user_agent.as_deref());
    let destination = routing::destination(
        platform,
        &web,
        &mobile_of(&link),
        CLICK_ID_PARAM,
        &click_id,
        &link.link_id,
    );
    let mut properties = campaign_properties(&link, &url);
    properties.insert("click_id".into(), Value::String(click_id.clone()));
    properties.insert(
        "destination".into(),
        Value::String(link.destination_url.clone()),
    );
    let event = link_event(
        &req,
        EventType::Click,
        click_id.clone(),
        visitor,
        properties,
    )?;
    let placement = placement_of(&req, env, &settings)?;
    let flag = fraud::screen_click(env, &event, &Signals::of(&req), &settings, &placement).await;
    let device_ids = device_ids_of(&url);
    let touch = (TouchKind::Click, &link, device_ids.as_slice());
    record(env, &settings, placement, event, flag, touch).await?;
    redirect(&destination)
}

pub async fn impression(req: Request, env: &Env) -> Result<Response, IngestError> {
    let (link, settings) = find_link(&req, env, "/i/").await?;
    let url = req.url()?;
    let visitor = visitor_of(&url)?;
    if visitor.user_id.is_some()
        && signed_visitor_id(&visitor, &url, env, &settings.app_id).is_none()
    {
        return Err(IngestError::BadField(FieldError::new(
            USER_SIG_PARAM,
            "a link names a user only with the user_sig the management API gives for that user",
        )));
    }
    let device_ids = device_ids_of(&url);
    let anonymous = visitor.user_id.is_none() && visitor.anonymous_id.is_none();
    if anonymous && device_ids.is_empty() {
        return Err(IngestError::BadField(FieldError::new(
            "anonymous_id",
            "an impression needs anonymous_id, user_id or a device id: a view cannot be linked to anyone later",
        )));
    }
    let impression_id = query(&url, "impression_id")
        .map(|id| checked_id("impression_id", id))
        .transpose()?;
    let message_id = match (anonymous, impression_id) {
        // Seen only by a device: the impression is its own journey, named like a click so the
        // install that the waterfall matches to it merges it (view-through).
        (true, Some(id)) => new_click_id(first_16(&sha256(&format!("{}:{id}", settings.app_id)))),
        (true, None) => new_click_id(random_bytes::<16>()?),
        (false, Some(id)) => format!("imp_{id}"),
        (false, None) => format!("imp_{}", hex(&random_bytes::<16>()?)),
    };
    let properties = campaign_properties(&link, &url);
    let event = link_event(&req, EventType::Impression, message_id, visitor, properties)?;
    if req.method() != Method::Head {
        let flag = fraud::screen(&event, &Signals::of(&req), &settings);
        let placement = placement_of(&req, env, &settings)?;
        let touch = (TouchKind::Impression, &link, device_ids.as_slice());
        record(env, &settings, placement, event, flag, touch).await?;
    }
    let headers = Headers::new();
    headers.set("content-type", "image/gif")?;
    headers.set("cache-control", "no-store")?;
    Ok(Response::from_bytes(PIXEL_GIF.to_vec())?.with_headers(headers))
}

async fn find_link(
    req: &Request,
    env: &Env,
    prefix: &str,
) -> Result<(Link, attrib_core::settings::AppSettings), IngestError> {
    let path = req.path();
    let link_id = path.strip_prefix(prefix).unwrap_or_default();
    let well_formed = !link_id.is_empty()
        && link_id.len() <= MAX_LINK_ID_CHARS
        && link_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !well_formed {
        return Err(IngestError::UnknownLink);
    }
    apps::link_with_app(env, link_id)
        .await?
        .ok_or(IngestError::UnknownLink)
}

fn query(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn checked_id(field: &str, value: String) -> Result<String, IngestError> {
    if value.trim().is_empty() || value.chars().count() > MAX_ID_CHARS {
        return Err(IngestError::BadField(FieldError::new(
            field,
            format!("must be 1 to {MAX_ID_CHARS} characters"),
        )));
    }
    Ok(value)
}

/// The signed `user_id` of `visitor`, if it is signed (`attrib_core::link_user`).
fn signed_visitor_id(visitor: &Visitor, url: &Url, env: &Env, app_id: &str) -> Option<String> {
    let user_id = visitor.user_id.as_deref()?;
    let secret = config::secret(env, LINK_SIGNING_SECRET);
    let sig = query(url, USER_SIG_PARAM);
    link_user::verify(
        secret.as_deref().map(str::as_bytes),
        app_id,
        user_id,
        sig.as_deref(),
    )
    .then(|| user_id.to_owned())
}

/// `visitor` with an unsigned `user_id` left out: the click still redirects, as an unknown
/// visitor (issue 13, finding 5).
fn signed_visitor(visitor: Visitor, url: &Url, env: &Env, app_id: &str) -> Visitor {
    if visitor.user_id.is_none() {
        return visitor;
    }
    let user_id = signed_visitor_id(&visitor, url, env, app_id);
    if user_id.is_none() {
        worker::console_warn!("link click: an unsigned user_id was ignored");
    }
    Visitor {
        user_id,
        anonymous_id: visitor.anonymous_id,
    }
}

fn visitor_of(url: &Url) -> Result<Visitor, IngestError> {
    Ok(Visitor {
        user_id: query(url, "user_id")
            .map(|v| checked_id("user_id", v))
            .transpose()?,
        anonymous_id: query(url, "anonymous_id")
            .map(|v| checked_id("anonymous_id", v))
            .transpose()?,
    })
}

/// The link's campaign, with the request's UTM parameters taking precedence.
fn campaign_properties(link: &Link, url: &Url) -> Map<String, Value> {
    let mut properties = Map::new();
    properties.insert("link_id".into(), Value::String(link.link_id.clone()));
    let none = None;
    let fields = [
        ("source", "utm_source", &link.source),
        ("medium", "utm_medium", &link.medium),
        ("campaign", "utm_campaign", &link.campaign),
        ("content", "utm_content", &link.content),
        ("term", "utm_term", &link.term),
        (NETWORK_CLICK_ID_PARAM, NETWORK_CLICK_ID_PARAM, &none),
    ];
    for (name, utm, from_link) in fields {
        if let Some(value) = query(url, utm)
            .or_else(|| from_link.clone())
            .filter(|v| !v.is_empty())
        {
            properties.insert(name.into(), Value::String(value));
        }
    }
    properties
}

fn link_event(
    req: &Request,
    event_type: EventType,
    message_id: String,
    visitor: Visitor,
    properties: Map<String, Value>,
) -> Result<Event, IngestError> {
    let now = Date::now().as_millis() as i64;
    let header = |name: &str| req.headers().get(name).ok().flatten();
    let mut context = Map::new();
    if let Some(ip) = header("cf-connecting-ip") {
        context.insert("ip".into(), Value::String(ip));
    }
    if let Some(agent) = header("user-agent") {
        context.insert("userAgent".into(), Value::String(agent));
    }
    if let Some(referrer) = header("referer") {
        context.insert("page".into(), serde_json::json!({ "referrer": referrer }));
    }
    Ok(Event {
        message_id,
        event_type,
        user_id: visitor.user_id,
        anonymous_id: visitor.anonymous_id,
        previous_id: None,
        group_id: None,
        name: None,
        timestamp_ms: now,
        original_timestamp_ms: None,
        sent_at_ms: None,
        received_at_ms: now,
        context,
        properties,
        traits: Map::new(),
    })
}

fn placement_of(
    req: &Request,
    env: &Env,
    settings: &attrib_core::settings::AppSettings,
) -> Result<Placement, IngestError> {
    Ok(place(
        &geo::request_geo(req),
        settings.residency,
        config::default_region(env)?,
    ))
}

/// Records a link event in its journey, then its touch in the device objects of the device ids
/// the network filled in, so an install can match it. A touch judged fraudulent is stored
/// rejected: it must not match installs either. A suppressed visitor or device records nothing.
async fn record(
    env: &Env,
    settings: &attrib_core::settings::AppSettings,
    placement: Placement,
    event: Event,
    flag: Option<attrib_core::fraud::Flag>,
    (kind, link, device_ids): (TouchKind, &Link, &[DeviceId]),
) -> Result<(), IngestError> {
    if suppression::link_event_suppressed(env, settings, &event, device_ids).await? {
        return Ok(());
    }
    let touch = DeviceTouch {
        touch_id: event.message_id.clone(),
        kind,
        at_ms: event.timestamp_ms,
        link_id: link.link_id.clone(),
        source: link.source.clone(),
    };
    let flagged = flag.is_some();
    let delivered = deliver(
        env,
        settings,
        placement,
        vec![Positioned {
            index: None,
            event,
            flag,
            // A click's own device ids are hashed for matching, never kept raw.
            device_ids: None,
        }],
    )
    .await?;
    match delivered.into_iter().next().map(|d| d.outcome) {
        Some(EventOutcome::Stored { .. } | EventOutcome::Duplicate | EventOutcome::Erased) => {}
        Some(EventOutcome::Rejected { error }) => return Err(IngestError::BadField(error)),
        None => {
            return Err(IngestError::JourneyUnavailable(
                "no outcome for a link event".into(),
            ))
        }
    }
    if !flagged && !device_ids.is_empty() {
        mobile::record_touch(
            env,
            (&settings.app_id, settings.residency),
            device_ids,
            &touch,
        )
        .await?;
    }
    Ok(())
}

fn redirect(destination: &Url) -> Result<Response, IngestError> {
    let headers = Headers::new();
    headers.set("location", destination.as_str())?;
    headers.set("cache-control", "no-store")?;
    Ok(Response::empty()?.with_status(302).with_headers(headers))
}

fn mobile_of(link: &Link) -> LinkMobile {
    LinkMobile {
        ios_url: link.ios_url.clone(),
        android_url: link.android_url.clone(),
        deep_link: link.deep_link.clone(),
        deep_link_params: Default::default(),
    }
}

fn device_ids_of(url: &Url) -> Vec<DeviceId> {
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    ids_from_query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

fn sha256(text: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).into()
}

fn first_16(bytes: &[u8; 32]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&bytes[..16]);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
