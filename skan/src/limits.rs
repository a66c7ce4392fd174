//! Every bound this crate enforces, in one place (and in the README's limits table).
//!
//! Postbacks come from devices, but anyone can post to the endpoints: each bound holds before
//! any work is spent on the input.

/// A postback body (SKAdNetwork JSON, or AdAttributionKit's JSON around the JWS). Apple's
/// largest samples are under 1 KiB.
pub const MAX_POSTBACK_BODY_BYTES: usize = 16 * 1024;

/// `ad-network-id` / `ad-network-identifier` (Apple's look like `example123.skadnetwork`).
pub const MAX_AD_NETWORK_ID_CHARS: usize = 128;

/// `transaction-id` / `postback-identifier` (UUIDs, 36 characters).
pub const MAX_TRANSACTION_ID_CHARS: usize = 64;

/// `attribution-signature`: a DER ECDSA P-256 signature is at most 72 bytes, 96 in base64.
pub const MAX_SIGNATURE_CHARS: usize = 128;

/// `source-domain` (a DNS name).
pub const MAX_SOURCE_DOMAIN_CHARS: usize = 253;

/// `marketplace-identifier` (a bundle id).
pub const MAX_MARKETPLACE_ID_CHARS: usize = 256;

/// Short enumerated strings kept as received (`conversion-type`, `impression-type`, the JWS
/// `kid` and `alg`).
pub const MAX_TOKEN_CHARS: usize = 64;

/// AdAttributionKit's compact JWS (Apple's samples are about 700 characters).
pub const MAX_JWS_CHARS: usize = 4096;

/// `campaign-id` (versions 2.x and 3.0): Apple allows 1 to 100.
pub const MIN_CAMPAIGN_ID: u64 = 1;
/// See [`MIN_CAMPAIGN_ID`].
pub const MAX_CAMPAIGN_ID: u64 = 100;

/// `source-identifier` (4.0 and AdAttributionKit): two, three or four digits.
pub const MIN_SOURCE_IDENTIFIER_DIGITS: usize = 2;
/// See [`MIN_SOURCE_IDENTIFIER_DIGITS`].
pub const MAX_SOURCE_IDENTIFIER_DIGITS: usize = 4;

/// The fine `conversion-value`: an unsigned 6-bit value.
pub const MAX_FINE_CONVERSION_VALUE: u8 = 63;

/// `postback-sequence-index`: three conversion windows, 0 to 2.
pub const MAX_POSTBACK_SEQUENCE_INDEX: u8 = 2;

/// A conversion-value schema as the management API receives it (serialized JSON).
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;

/// Event names mapped to one conversion value.
pub const MAX_SCHEMA_EVENTS_PER_VALUE: usize = 16;

/// One event name in a schema (the same bound as event names at ingest).
pub const MAX_SCHEMA_EVENT_NAME_CHARS: usize = 256;

/// The largest revenue bound in a schema (the same bound as revenue at ingest).
pub const MAX_SCHEMA_REVENUE: f64 = 1e12;

/// Error messages quoted from the JSON parser are cut to this many characters.
pub const MAX_ERROR_DETAIL_CHARS: usize = 200;
