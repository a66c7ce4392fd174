//! The fraud rules judged at ingest: each event's user agent, timestamps and network
//! (`request.cf.asn`), and, for tracking-link clicks, the click counters of its IP and device.
//!
//! A verdict travels to the journey with the event (`RecordRequest::flags`); the client's
//! answer does not change (fraudsters are not told). The counters fail open: when one cannot
//! be reached the click is judged without it, and the failure is logged.

use attrib_core::event::Event;
use attrib_core::fraud::flood::COUNTER_HIT_PATH;
use attrib_core::fraud::flood::{
    device_of, keyed_counter_name, CounterHit, CounterKind, CounterReply,
};
use attrib_core::fraud::screen::{flood_flag, screen_event, RequestSignals};
use attrib_core::fraud::Flag;
use attrib_core::geo::Placement;
use attrib_core::settings::AppSettings;
use attrib_worker_common::config::{self, JurisdictionMode};
use attrib_worker_common::{geo, journeys, EdgeError};
use worker::{Env, Request};

/// The Durable Object binding of the click counters.
pub const COUNTER_BINDING: &str = "CLICK_COUNTER";

/// What the request says about where it came from.
pub struct Signals {
    pub asn: Option<u32>,
    pub ip: Option<String>,
}

impl Signals {
    pub fn of(req: &Request) -> Self {
        let cf = geo::cf_object(req);
        let asn = geo::cf_number(&cf, "asn")
            .filter(|n| n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(n))
            .map(|n| n as u32);
        let ip = req
            .headers()
            .get("cf-connecting-ip")
            .ok()
            .flatten()
            .filter(|ip| !ip.is_empty());
        Signals { asn, ip }
    }

    fn request(&self) -> RequestSignals<'_> {
        RequestSignals {
            asn: self.asn,
            ip: self.ip.as_deref(),
        }
    }
}

/// The stateless rules (timestamps, bot user agent, datacenter network).
pub fn screen(event: &Event, signals: &Signals, settings: &AppSettings) -> Option<Flag> {
    screen_event(event, &signals.request(), &settings.fraud)
}

/// A tracking-link click: counted on its IP's and device's counters (whatever else is wrong
/// with it, so the counts stay true), then judged by every ingest rule.
pub async fn screen_click(
    env: &Env,
    event: &Event,
    signals: &Signals,
    settings: &AppSettings,
    placement: &Placement,
) -> Option<Flag> {
    let rules = &settings.fraud;
    let app = &settings.app_id;
    // Counter names carry a hash of the IP (or device): keyed, so that they cannot be reversed.
    let secret = config::secret(env, crate::ip::IP_HASH_SECRET).map(String::into_bytes);
    let secret = secret.as_deref();
    let ip_hit = async {
        match (&signals.ip, rules.ip_click_flood.enabled) {
            (Some(ip), true) => {
                let name = keyed_counter_name(secret, app, CounterKind::Ip, ip);
                count(
                    env,
                    &name,
                    placement,
                    event.timestamp_ms,
                    rules.ip_click_flood.window_secs,
                )
                .await
            }
            _ => None,
        }
    };
    let device = device_of(
        event.user_id.as_deref(),
        event.anonymous_id.as_deref(),
        signals.ip.as_deref(),
        event.context_str(&["userAgent"]),
    );
    let device_hit = async {
        match (&device, rules.device_click_flood.enabled) {
            (Some(device), true) => {
                let name = keyed_counter_name(secret, app, CounterKind::Device, device);
                count(
                    env,
                    &name,
                    placement,
                    event.timestamp_ms,
                    rules.device_click_flood.window_secs,
                )
                .await
            }
            _ => None,
        }
    };
    let (ip_clicks, device_clicks) = futures_util::future::join(ip_hit, device_hit).await;
    screen(event, signals, settings).or_else(|| flood_flag(ip_clicks, device_clicks, rules))
}

/// Adds a click to a counter and reads its count, or `None` if the counter is unreachable.
async fn count(
    env: &Env,
    name: &str,
    placement: &Placement,
    ts_ms: i64,
    window_secs: u32,
) -> Option<u32> {
    let hit = CounterHit { ts_ms, window_secs };
    match hit_counter(env, name, placement, &hit).await {
        Ok(reply) => Some(reply.count),
        Err(err) => {
            worker::console_warn!("click counter {name} unavailable (judged without it): {err}");
            None
        }
    }
}

async fn hit_counter(
    env: &Env,
    name: &str,
    placement: &Placement,
    hit: &CounterHit,
) -> Result<CounterReply, EdgeError> {
    let mode: JurisdictionMode = config::jurisdiction_mode(env)?;
    let ns = journeys::namespace_of(env, COUNTER_BINDING, placement.jurisdiction, mode)?;
    let stub = ns.get_by_name(name)?;
    journeys::post(&stub, COUNTER_HIT_PATH, hit).await
}
