//! Realistic outbox batches and signed requests, for the integration tests and the bench.
//!
//! Not used by the service itself. A generated user journey has touches from a few sources,
//! plain events, and (optionally) a conversion with its attribution under every model, or
//! (with [`with_null_path`]) the null path its touches closed into, so every sink table and
//! every rollup column gets data.

use attrib_core::attribution::attribute;
use attrib_core::conversion::Conversion;
use attrib_core::event::{Event, EventType};
use attrib_core::geo::OriginRegion;
use attrib_core::limits::DEFAULT_CLICK_WINDOW_SECS;
use attrib_core::outbox::{
    AttributionRecord, EventRecord, NullPathRecord, OutboxBatch, OutboxRecord, SkanPostbackRecord,
    SpendRecord,
};
use attrib_core::rollup::path_steps;
use attrib_core::settings::AppSettings;
use attrib_core::touch::{Channel, Touch, TouchKind};

const SOURCES: [(&str, &str, Channel); 3] = [
    ("google", "cpc", Channel::PaidSearch),
    ("facebook", "paid_social", Channel::PaidSocial),
    ("newsletter", "email", Channel::Email),
];

pub fn event(message_id: &str, user: &str, ts_ms: i64, name: Option<&str>) -> Event {
    let mut properties = serde_json::Map::new();
    if name.is_some() {
        properties.insert("revenue".into(), 42.5.into());
        properties.insert("currency".into(), "USD".into());
    }
    Event {
        message_id: message_id.into(),
        event_type: if name.is_some() {
            EventType::Track
        } else {
            EventType::Page
        },
        user_id: Some(user.into()),
        anonymous_id: Some(format!("anon-{user}")),
        previous_id: None,
        group_id: None,
        name: name.map(str::to_owned),
        timestamp_ms: ts_ms,
        original_timestamp_ms: None,
        sent_at_ms: None,
        received_at_ms: ts_ms,
        context: serde_json::json!({
            "page": {"url": format!("https://shop.example/p?utm_source=google&m={message_id}")},
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
            "ip": "203.0.113.7"
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
        properties,
        traits: serde_json::Map::new(),
    }
}

pub fn touch(message_id: &str, ts_ms: i64, source_index: usize) -> Touch {
    let (source, medium, channel) = SOURCES[source_index % SOURCES.len()];
    Touch {
        touch_id: message_id.into(),
        message_id: message_id.into(),
        ts_ms,
        kind: TouchKind::Click,
        channel,
        source: source.into(),
        medium: medium.into(),
        campaign: format!("spring-{}", source_index % 2),
        term: None,
        content: None,
        link_id: None,
        click_id: None,
        ad_click_id: None,
        rejected: None,
    }
}

/// One user's batch: `touches` touch events, then a conversion and its attribution when
/// `convert` is set. Ids derive from (`app`, `user`, `tag`), so the same arguments give the
/// same records (a retry) and a different `tag` gives new ones.
pub fn journey_batch(
    app: &str,
    user: &str,
    tag: &str,
    touches: usize,
    convert: bool,
    start_ms: i64,
) -> OutboxBatch {
    let journey = format!("u:{app}:{user}");
    let mut records = Vec::new();
    let mut made = Vec::new();
    for i in 0..touches {
        let id = format!("{app}-{user}-{tag}-t{i}");
        let ts = start_ms + i as i64 * 60_000;
        let t = touch(&id, ts, i);
        made.push(t.clone());
        records.push(OutboxRecord::Event(Box::new(EventRecord {
            app_id: app.into(),
            journey: journey.clone(),
            event: event(&id, user, ts, None),
            touch: Some(t),
            is_conversion: false,
        })));
    }
    if convert {
        let id = format!("{app}-{user}-{tag}-c");
        let ts = start_ms + touches as i64 * 60_000;
        records.push(OutboxRecord::Event(Box::new(EventRecord {
            app_id: app.into(),
            journey: journey.clone(),
            event: event(&id, user, ts, Some("Order Completed")),
            touch: None,
            is_conversion: true,
        })));
        let conversion = Conversion {
            conversion_id: id,
            name: "Order Completed".into(),
            ts_ms: ts,
            revenue: 42.5,
            currency: "USD".into(),
            order_id: None,
        };
        let result = attribute(&conversion, &made, &AppSettings::with_defaults(app), ts);
        records.push(OutboxRecord::Attribution(Box::new(AttributionRecord {
            app_id: app.into(),
            journey: journey.clone(),
            result,
        })));
    }
    OutboxBatch {
        journey,
        region: OriginRegion::Us,
        records,
    }
}

/// `batch` with the null path its touches close into when it has no conversion, as the
/// journey writes it once the (default) click window has passed; unchanged otherwise.
pub fn with_null_path(mut batch: OutboxBatch) -> OutboxBatch {
    let converted = batch
        .records
        .iter()
        .any(|r| matches!(r, OutboxRecord::Attribution(_)));
    let touches: Vec<(String, Touch)> = batch
        .records
        .iter()
        .filter_map(|r| match r {
            OutboxRecord::Event(e) => e.touch.clone().map(|t| (e.app_id.clone(), t)),
            _ => None,
        })
        .collect();
    let (Some((app_id, first)), Some((_, last))) = (touches.first(), touches.last()) else {
        return batch;
    };
    if converted {
        return batch;
    }
    let record = NullPathRecord {
        app_id: app_id.clone(),
        journey: batch.journey.clone(),
        path: path_steps(touches.iter().map(|(_, t)| t.source.as_str())),
        touches: touches.len() as u32,
        first_touch_ms: first.ts_ms,
        last_touch_ms: last.ts_ms,
        last_touch_id: last.touch_id.clone(),
        closed_at_ms: last.ts_ms + i64::from(DEFAULT_CLICK_WINDOW_SECS) * 1000 + 1,
    };
    batch.records.push(OutboxRecord::NullPath(record));
    batch
}

/// The name of `app`'s edge journey for `what` (`skan`, `spend`), as the Workers name it.
pub fn edge_journey(app: &str, what: &str) -> String {
    attrib_core::identity::JourneyKey::new(app, attrib_core::identity::JourneyKind::Edge, what)
        .object_name()
}

/// A verified SKAN 4.0 postback as the ingest Worker sends it: `postback` is Apple's
/// transaction-id, `source` the source-identifier (campaign), `won` did-win.
pub fn skan_record(app: &str, postback: &str, source: &str, won: bool, ts_ms: i64) -> OutboxRecord {
    OutboxRecord::SkanPostback(SkanPostbackRecord {
        app_id: app.into(),
        dedup_key: format!("skadnetwork:525463029:example123.skadnetwork:{postback}"),
        protocol: "skan".into(),
        version: "V4_0".into(),
        ad_network_id: "example123.skadnetwork".into(),
        source_identifier: Some(source.into()),
        did_win: won,
        postback_sequence_index: 0,
        fine_value: won.then_some(42),
        coarse_value: (!won).then(|| "high".into()),
        decoded: None,
        received_at_ms: ts_ms,
    })
}

/// One spend row of an upload made at `uploaded_at_ms`.
pub fn spend_record(
    app: &str,
    day: &str,
    source: &str,
    campaign: &str,
    spend: f64,
    uploaded_at_ms: i64,
) -> OutboxRecord {
    OutboxRecord::Spend(SpendRecord {
        app_id: app.into(),
        day: day.into(),
        source: source.into(),
        campaign: campaign.into(),
        ad_group: String::new(),
        spend,
        currency: "USD".into(),
        impressions: Some(1_000),
        clicks: None,
        uploaded_at_ms,
    })
}

/// A batch of edge facts from `app`'s edge journey for `what`.
pub fn edge_batch(app: &str, what: &str, records: Vec<OutboxRecord>) -> OutboxBatch {
    OutboxBatch {
        journey: edge_journey(app, what),
        region: OriginRegion::Us,
        records,
    }
}

/// The `x-attrib-signature` value for an outbox `body`, signed now as a Journey object signs
/// it with keys derived from the shared secret (`attrib_core::signing`).
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    attrib_core::signing::Keyring::derived(attrib_core::signing::Direction::Outbox, secret).sign(
        chrono::Utc::now().timestamp(),
        "POST",
        attrib_core::outbox::OUTBOX_PATH,
        body,
    )
}
