//! The contract between the Journey Durable Objects and the origin service.
//!
//! A journey writes outbox records in the same transaction as the facts they describe, then
//! sends them in signed batches until the origin acknowledges. Every record has a stable id,
//! so a batch sent twice is stored once: the origin deduplicates on `OutboxRecord::id`.
//!
//! Wire format: `POST {origin}/v1/outbox`, JSON body [`OutboxBatch`], header
//! [`SIGNATURE_HEADER`] signed with the outbox keyring (`crate::signing`: key id, method and
//! path signed). [`sign`]/[`verify`] here are the first version (`t=..,v1=..`, one shared
//! secret, body only), kept for the tests that show it is refused now.
//!
//! Fraud rejections travel in the existing records: an event's touch with `rejected` = a
//! reason code, and an attribution whose result has `rejected` (and no credits). The origin
//! counts them per (app, day, reason) with `crate::fraud::counts::fraud_counts`. A re-run of
//! attribution sends the conversion's next revision as a new attribution record.
//!
//! Null paths (`kind` = `null_path`, [`NullPathRecord`]): a run of touches that ended without a
//! conversion, written by the journey's alarm once none of them can be credited any more
//! (`crate::journey::nulls` has the rules). Added after the first release: older consumers
//! that match on `kind` must skip kinds they do not know.
//!
//! Edge facts (`kind` = `skan_postback`, [`SkanPostbackRecord`]; `kind` = `spend`,
//! [`SpendRecord`]): data the Workers take outside any journey (Apple's verified postbacks,
//! ad-spend uploads) and also keep in the edge read store. They travel in this same contract
//! through a Journey Durable Object's outbox (an "edge" journey per app and kind,
//! `crate::identity::JourneyKind::Edge`), not in a direct POST from the Worker: the object
//! writes them in its storage before the Worker answers, and its alarm retries them with
//! back-off until the origin acknowledges, so an origin outage delays them but loses none
//! (a direct POST would lose what the origin did not take while it was down, since neither
//! Apple's device nor a spend upload retries after our 200). Batches carry the edge journey's
//! name; the records carry no journey of their own.

pub mod stored;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::attribution::AttributionResult;
use crate::event::Event;
use crate::geo::OriginRegion;
use crate::limits::SIGNATURE_TOLERANCE_SECS;
use crate::touch::Touch;

pub const SIGNATURE_HEADER: &str = "x-attrib-signature";
pub const OUTBOX_PATH: &str = "/v1/outbox";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxBatch {
    /// The journey's Durable Object name; the origin's Kafka key.
    pub journey: String,
    pub region: OriginRegion,
    pub records: Vec<OutboxRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutboxRecord {
    /// An accepted event, with the touch it made (if any).
    Event(Box<EventRecord>),
    /// A conversion's attribution under every model.
    Attribution(Box<AttributionRecord>),
    /// A journey merged into this one.
    Merge(MergeRecord),
    /// Touches that ended without a conversion (a "null" in ChannelAttribution's terms).
    NullPath(NullPathRecord),
    /// A verified SKAdNetwork / AdAttributionKit postback (an edge fact).
    SkanPostback(SkanPostbackRecord),
    /// One accepted ad-spend row (an edge fact).
    Spend(SpendRecord),
}

impl OutboxRecord {
    /// Stable across retries: the origin stores each id once. Shaped `{kind}:{app}:{key}`:
    /// the app is part of every id, so two apps that send the same messageId (or conversion
    /// id) keep both records in every sink (issue 13, finding 1). Ids written before this
    /// shape (`{kind}:{key}`) stay readable where they were stored; see origin/README.md,
    /// "Upgrading".
    pub fn id(&self) -> String {
        match self {
            OutboxRecord::Event(r) => format!("event:{}:{}", r.app_id, r.event.message_id),
            OutboxRecord::Attribution(r) => format!(
                "attribution:{}:{}:{}",
                r.app_id, r.result.conversion.conversion_id, r.result.revision
            ),
            OutboxRecord::Merge(r) => format!("merge:{}:{}:{}", r.app_id, r.from, r.into),
            OutboxRecord::NullPath(r) => {
                format!("null_path:{}:{}:{}", r.app_id, r.journey, r.last_touch_id)
            }
            OutboxRecord::SkanPostback(r) => format!("skan:{}:{}", r.app_id, r.dedup_key),
            OutboxRecord::Spend(r) => spend_record_id(
                &r.app_id,
                r.uploaded_at_ms,
                &r.day,
                [&r.source, &r.campaign, &r.ad_group],
            ),
        }
    }

    pub fn app_id(&self) -> &str {
        match self {
            OutboxRecord::Event(r) => &r.app_id,
            OutboxRecord::Attribution(r) => &r.app_id,
            OutboxRecord::Merge(r) => &r.app_id,
            OutboxRecord::NullPath(r) => &r.app_id,
            OutboxRecord::SkanPostback(r) => &r.app_id,
            OutboxRecord::Spend(r) => &r.app_id,
        }
    }
}

/// A spend record's id: `spend:{app}:{uploaded_at_ms}:{day}:{[source,campaign,ad_group] as
/// JSON}`. The upload time is part of it, so a re-upload of a key is a new record (the spool
/// would drop it as a repeat otherwise) that replaces the older one in every store; the
/// JSON array keeps names holding `:` unambiguous.
pub fn spend_record_id(app_id: &str, uploaded_at_ms: i64, day: &str, names: [&str; 3]) -> String {
    let names = serde_json::to_string(&names).unwrap_or_default();
    format!("spend:{app_id}:{uploaded_at_ms}:{day}:{names}")
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub app_id: String,
    pub journey: String,
    pub event: Event,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub touch: Option<Touch>,
    /// True when the event is a conversion (its attribution follows as its own record).
    #[serde(default)]
    pub is_conversion: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributionRecord {
    pub app_id: String,
    pub journey: String,
    pub result: AttributionResult,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeRecord {
    pub app_id: String,
    pub from: String,
    pub into: String,
    pub merged_at_ms: i64,
}

/// One closed null path: the journey's touches after its last conversion (or its previous
/// null path) that no conversion can credit any more. Counted downstream as one null for
/// `path` on the UTC day of `last_touch_ms` (`crate::rollup::null_paths`).
///
/// Its id, `null_path:{journey}:{last_touch_id}`, is fixed when the journey writes it, so
/// retries and redeliveries count once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NullPathRecord {
    pub app_id: String,
    pub journey: String,
    /// The touches' sources, oldest first, consecutive repeats merged, the last
    /// `crate::rollup::MAX_PATH_STEPS` kept: what `crate::rollup::path_of` makes of a
    /// conversion's touches.
    pub path: Vec<String>,
    /// How many touches the sequence had (before repeats were merged).
    pub touches: u32,
    pub first_touch_ms: i64,
    pub last_touch_ms: i64,
    pub last_touch_id: String,
    /// When the journey closed it (the Durable Object's clock).
    pub closed_at_ms: i64,
}

/// A verified SKAdNetwork / AdAttributionKit postback, as the ingest Worker stored it in the
/// edge read store (`skan_postbacks`). Only verified postbacks have a dedup key, so only they
/// travel; the origin stores each `dedup_key` once per app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkanPostbackRecord {
    pub app_id: String,
    /// `{protocol}:{apple app id}:{ad network id}:{transaction-id | postback-identifier}`
    /// (`attrib_skan::DedupKey`).
    pub dedup_key: String,
    /// `skan` or `aak`.
    pub protocol: String,
    /// SKAdNetwork's version (`V4_0`, ...), `aak` for AdAttributionKit.
    pub version: String,
    pub ad_network_id: String,
    /// The campaign: `source-identifier` (SKAN 4.0, AdAttributionKit) or `campaign-id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_identifier: Option<String>,
    pub did_win: bool,
    pub postback_sequence_index: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_value: Option<u8>,
    /// `low`, `medium` or `high`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coarse_value: Option<String>,
    /// The value decoded through the app's conversion-value schema, as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoded: Option<String>,
    /// When the Worker received it (its clock).
    pub received_at_ms: i64,
}

/// One accepted ad-spend row (`crate::spend::SpendRow`) of an upload. The stores keep one row
/// per (app, day, source, campaign, ad group): the latest `uploaded_at_ms` wins, as a
/// re-upload replaces in the edge read store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendRecord {
    pub app_id: String,
    /// `YYYY-MM-DD`.
    pub day: String,
    pub source: String,
    pub campaign: String,
    /// '' when the row has none.
    #[serde(default)]
    pub ad_group: String,
    pub spend: f64,
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impressions: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clicks: Option<u64>,
    /// When the upload was accepted (the Worker's clock): the version a re-upload replaces by.
    pub uploaded_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature header is missing or malformed")]
    Malformed,
    #[error(
        "signature timestamp is more than {SIGNATURE_TOLERANCE_SECS} s from the origin's clock"
    )]
    Expired,
    #[error("signature does not match the body")]
    Mismatch,
    #[error("the shared secret cannot key an HMAC")]
    InvalidKey,
    #[error("the signature names a key id this side does not hold")]
    UnknownKey,
}

type HmacSha256 = Hmac<Sha256>;

fn mac_of(secret: &[u8], timestamp_secs: i64, body: &[u8]) -> Result<HmacSha256, SignatureError> {
    let mut mac = HmacSha256::new_from_slice(secret).map_err(|_| SignatureError::InvalidKey)?;
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(mac)
}

/// The signature header value for `body` sent at `timestamp_secs`.
pub fn sign(secret: &[u8], timestamp_secs: i64, body: &[u8]) -> Result<String, SignatureError> {
    let digest = mac_of(secret, timestamp_secs, body)?
        .finalize()
        .into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("t={timestamp_secs},v1={hex}"))
}

fn parse_header(header: &str) -> Result<(i64, Vec<u8>), SignatureError> {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
            Some(("v1", v)) => signature = decode_hex(v),
            _ => {}
        }
    }
    match (timestamp, signature) {
        (Some(t), Some(s)) => Ok((t, s)),
        _ => Err(SignatureError::Malformed),
    }
}

pub(crate) fn fresh(timestamp: i64, now_secs: i64) -> Result<(), SignatureError> {
    // `now - t` overflows i64 for a hostile `t` near i64::MIN/MAX (a panic in debug builds,
    // a wrapped "fresh" age in release): compare without overflowing (issue 13, finding 10).
    let fresh = now_secs
        .checked_sub(timestamp)
        .and_then(i64::checked_abs)
        .is_some_and(|age| age <= SIGNATURE_TOLERANCE_SECS);
    if fresh {
        Ok(())
    } else {
        Err(SignatureError::Expired)
    }
}

/// Checks a signature header against `body`, in constant time.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now_secs: i64,
) -> Result<(), SignatureError> {
    let (timestamp, signature) = parse_header(header)?;
    fresh(timestamp, now_secs)?;
    mac_of(secret, timestamp, body)?
        .verify_slice(&signature)
        .map_err(|_| SignatureError::Mismatch)
}

pub(crate) fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13, finding 10: a timestamp at the ends of i64 overflowed `now - t`.
    #[test]
    fn signature_freshness_check_i64_overflow_is_refused_not_panicking() {
        let body = b"{}";
        let now = 1_700_000_000;
        for t in [i64::MIN, i64::MIN + 1, i64::MAX, -now] {
            let header = sign(b"k", t, body).expect("sign");
            assert_eq!(
                verify(b"k", &header, body, now),
                Err(SignatureError::Expired),
                "t={t}"
            );
        }
        let header = sign(b"k", now, body).expect("sign");
        assert_eq!(verify(b"k", &header, body, now), Ok(()));
    }

    #[test]
    fn null_path_records_have_a_stable_shape_and_id() {
        let record = OutboxRecord::NullPath(NullPathRecord {
            app_id: "shop".into(),
            journey: "u:shop:alice".into(),
            path: vec!["google".into(), "email".into()],
            touches: 3,
            first_touch_ms: 1_000,
            last_touch_ms: 2_000,
            last_touch_id: "m-3".into(),
            closed_at_ms: 9_000,
        });
        let json = serde_json::to_string(&record).expect("json");
        assert_eq!(
            json,
            "{\"kind\":\"null_path\",\"app_id\":\"shop\",\"journey\":\"u:shop:alice\",\
             \"path\":[\"google\",\"email\"],\"touches\":3,\"first_touch_ms\":1000,\
             \"last_touch_ms\":2000,\"last_touch_id\":\"m-3\",\"closed_at_ms\":9000}"
        );
        assert_eq!(record.id(), "null_path:shop:u:shop:alice:m-3");
        assert_eq!(record.app_id(), "shop");
        assert_eq!(
            serde_json::from_str::<OutboxRecord>(&json).expect("reads"),
            record
        );
        // The existing kinds keep their shape: a merge written before null paths still reads.
        let merge =
            r#"{"kind":"merge","app_id":"a","from":"a:a:x","into":"u:a:y","merged_at_ms":1}"#;
        let parsed: OutboxRecord = serde_json::from_str(merge).expect("reads");
        assert_eq!(serde_json::to_string(&parsed).expect("json"), merge);
    }

    #[test]
    fn signature_round_trip_and_failures() {
        let header = sign(b"secret", 1_000, b"{\"a\":1}").expect("signs");
        assert_eq!(verify(b"secret", &header, b"{\"a\":1}", 1_100), Ok(()));
        assert_eq!(
            verify(b"secret", &header, b"{\"a\":2}", 1_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", &header, b"{\"a\":1}", 1_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                b"secret",
                &header,
                b"{\"a\":1}",
                1_000 + SIGNATURE_TOLERANCE_SECS + 1
            ),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify(b"secret", "v1=zz", b"", 0),
            Err(SignatureError::Malformed)
        );
    }
}
