//! Click counters for the flooding rules: one counter object per (app, IP) and per
//! (app, device), shared by every journey, counting tracking-link clicks in per-minute buckets.
//!
//! The ingest Worker sends each click to both counters (`POST /hit`) and judges the counts it
//! gets back with [`super::screen::flood_flag`]. A window of `w` seconds counts the buckets of
//! the last `ceil(w / 60)` minutes, the current one included.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::limits::MAX_CLICK_FLOOD_WINDOW_SECS;

pub const COUNTER_HIT_PATH: &str = "/hit";
/// Width of one counter bucket.
pub const COUNTER_BUCKET_MS: i64 = 60_000;
/// Counters keep buckets this long, then forget them (the longest window allowed).
pub const COUNTER_RETENTION_MS: i64 = MAX_CLICK_FLOOD_WINDOW_SECS as i64 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterHit {
    pub ts_ms: i64,
    pub window_secs: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterReply {
    /// Clicks in the window, this one included.
    pub count: u32,
}

/// What a counter counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterKind {
    Ip,
    Device,
}

impl CounterKind {
    fn tag(self) -> &'static str {
        match self {
            CounterKind::Ip => "ip",
            CounterKind::Device => "device",
        }
    }
}

/// [`counter_name`] under a keyed hash (`crate::mobile::device::keyed_hash`, the app in the
/// key) when `secret` is set, else the plain one (counting must not stop for want of a key).
pub fn keyed_counter_name(
    secret: Option<&[u8]>,
    app_id: &str,
    kind: CounterKind,
    value: &str,
) -> String {
    match secret {
        Some(secret) => {
            let tag = kind.tag();
            let hash = crate::mobile::device::keyed_hash(secret, app_id, tag, value);
            format!("{app_id}:{tag}:{}", &hash[..32])
        }
        None => counter_name(app_id, kind, value),
    }
}

/// The counter object's name. The IP or device id is hashed: object names are not a place
/// for personal data. With the deployment's `IP_HASH_SECRET` the hash is keyed
/// ([`keyed_counter_name`]): a plain hash of an IPv4 address is reversed by trying all 2^32.
pub fn counter_name(app_id: &str, kind: CounterKind, value: &str) -> String {
    let tag = kind.tag();
    let digest = Sha256::new()
        .chain_update(app_id.as_bytes())
        .chain_update([0])
        .chain_update(tag.as_bytes())
        .chain_update([0])
        .chain_update(value.as_bytes())
        .finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("{app_id}:{tag}:{hex}")
}

pub fn bucket_of(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(COUNTER_BUCKET_MS)
}

/// The oldest bucket inside a window of `window_secs` ending at `ts_ms`.
pub fn first_bucket(ts_ms: i64, window_secs: u32) -> i64 {
    let buckets = (i64::from(window_secs) * 1000 + COUNTER_BUCKET_MS - 1) / COUNTER_BUCKET_MS;
    bucket_of(ts_ms) - buckets.max(1) + 1
}

/// Buckets older than this are deleted on each hit.
pub fn expired_before(ts_ms: i64) -> i64 {
    bucket_of(ts_ms - COUNTER_RETENTION_MS)
}

/// Who a click comes from, for the device counter: the visitor id the link names, else the
/// IP address and user agent together.
pub fn device_of(
    user_id: Option<&str>,
    anonymous_id: Option<&str>,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> Option<String> {
    if let Some(id) = user_id {
        return Some(format!("u:{id}"));
    }
    if let Some(id) = anonymous_id {
        return Some(format!("a:{id}"));
    }
    ip.map(|ip| format!("n:{ip}|{}", user_agent.unwrap_or("")))
}
