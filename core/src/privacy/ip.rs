//! IP handling per app (issue 12, scope 7): what is kept of a client IP address once the
//! request's own checks are done.
//!
//! The ingest Worker applies [`apply_to_event`] to every event just before it is handed to its
//! journey (`workers/ingest/src/deliver.rs`), so nothing stored or forwarded (the journey's
//! events, the outbox to the origin, Kafka, ClickHouse) holds more than the app allows. The
//! rate limits, the fraud rules and the click counters run earlier, on the full address of the
//! request (`CF-Connecting-IP`) and the event as sent.
//!
//! - [`IpHandling::Truncate`] (the default): IPv4 to its /24, IPv6 to its /48 (the host bits
//!   zeroed), still an address (`203.0.113.0`, `2001:db8:1::`), still good for a coarse place.
//! - [`IpHandling::Drop`]: `context.ip` is removed.
//! - [`IpHandling::Hash`]: `hmac:` + the keyed hash of the full address under the deployment's
//!   `IP_HASH_SECRET` and the app ([`crate::mobile::device::keyed_hash`]): equal for the same
//!   address within one app, unrelated across apps, not reversible without the secret (a plain
//!   hash of an IPv4 address is: there are only 2^32 of them). Without the secret the address is
//!   removed, as with `drop`: a raw address is never kept for want of a key.
//!
//! An IPv4-mapped IPv6 address (`::ffff:192.0.2.7`) is its IPv4 address. A `context.ip` that is
//! not an IP address (a string that does not parse, a number, an object) is removed whatever the
//! mode: what it holds cannot be truncated, and may be anything.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::Event;
use crate::mobile::device::keyed_hash;

/// Leading bits of an IPv4 address kept by [`IpHandling::Truncate`].
pub const IPV4_PREFIX_BITS: u32 = 24;
/// Leading bits of an IPv6 address kept by [`IpHandling::Truncate`].
pub const IPV6_PREFIX_BITS: u32 = 48;
/// What a hashed address starts with (like a hashed advertising id).
pub const HASHED_IP_PREFIX: &str = "hmac:";
/// The label the keyed hash separates IP addresses by (see `keyed_hash`).
const HASH_LABEL: &str = "ip";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IpHandling {
    #[default]
    Truncate,
    Drop,
    Hash,
}

impl IpHandling {
    pub const NAMES: &'static str = "truncate, drop or hash";

    pub fn parse(s: &str) -> Option<IpHandling> {
        match s {
            "truncate" => Some(IpHandling::Truncate),
            "drop" => Some(IpHandling::Drop),
            "hash" => Some(IpHandling::Hash),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IpHandling::Truncate => "truncate",
            IpHandling::Drop => "drop",
            IpHandling::Hash => "hash",
        }
    }
}

/// `raw` as an address, if it is one: surrounding blanks ignored, an IPv4-mapped IPv6 address
/// taken as its IPv4 address.
pub fn parse_ip(raw: &str) -> Option<IpAddr> {
    let ip: IpAddr = raw.trim().parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    })
}

/// `ip` with everything after its network prefix zeroed (/24 for IPv4, /48 for IPv6).
pub fn truncate(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let mask = u32::MAX << (32 - IPV4_PREFIX_BITS);
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX << (128 - IPV6_PREFIX_BITS);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// The keyed hash of `ip` for `app_id` (`hmac:` + 64 hex characters).
pub fn hash(secret: &[u8], app_id: &str, ip: IpAddr) -> String {
    format!(
        "{HASHED_IP_PREFIX}{}",
        keyed_hash(secret, app_id, HASH_LABEL, &ip.to_string())
    )
}

/// What may be kept of the address `raw` under `handling`; `None`: nothing.
pub fn handled(
    raw: &str,
    handling: IpHandling,
    secret: Option<&[u8]>,
    app_id: &str,
) -> Option<String> {
    let ip = parse_ip(raw)?;
    match handling {
        IpHandling::Truncate => Some(truncate(ip).to_string()),
        IpHandling::Drop => None,
        IpHandling::Hash => secret.map(|s| hash(s, app_id, ip)),
    }
}

/// Replaces the event's `context.ip` by what `handling` keeps of it (or removes it).
pub fn apply_to_event(
    event: &mut Event,
    handling: IpHandling,
    secret: Option<&[u8]>,
    app_id: &str,
) {
    let Some(value) = event.context.remove("ip") else {
        return;
    };
    let kept = value
        .as_str()
        .and_then(|raw| handled(raw, handling, secret, app_id));
    if let Some(kept) = kept {
        event.context.insert("ip".into(), Value::String(kept));
    }
}

#[cfg(test)]
#[path = "ip_tests.rs"]
mod tests;
