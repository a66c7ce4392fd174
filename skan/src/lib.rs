//! Apple's privacy-preserving install attribution, with no IO: SKAdNetwork 2.1–4.0
//! install-validation postbacks and AdAttributionKit postbacks, as their developer copies
//! arrive at `/.well-known/skadnetwork/report-attribution/` and
//! `/.well-known/appattribution/report-attribution/`.
//!
//! This crate owns:
//! - reading a postback body with every field checked, each failure naming its field
//!   ([`skan::parse`], [`aak::parse`], [`PostbackError`]);
//! - verifying Apple's signature against Apple's published keys, embedded in [`keys`]
//!   ([`skan::verify`]: ECDSA P-256/SHA-256 over the U+2063-joined fields;
//!   [`aak::verify`]: the ES256 JWS by its `kid`);
//! - the dedup key ([`PostbackRecord::dedup_key`]: `transaction-id` / `postback-identifier`,
//!   with protocol, ad network and app);
//! - the per-app conversion-value schema and its validation ([`ConversionSchema`]);
//! - the typed record the endpoints store ([`PostbackRecord`], built by [`receive_skan`] and
//!   [`receive_aak`]).
//!
//! The endpoints, storage and counting live in the Workers. Builds for `wasm32-unknown-unknown`
//! and natively; the crypto is RustCrypto's `p256` with no randomness source.

pub mod aak;
mod ecdsa;
pub mod error;
mod fields;
pub mod keys;
pub mod limits;
pub mod record;
pub mod schema;
pub mod skan;

use serde::{Deserialize, Serialize};

pub use aak::{AakPostback, AdInteraction, KeyPolicy};
pub use error::{PostbackError, Reason, SchemaError, SignatureError};
pub use keys::AppleKey;
pub use record::{receive_aak, receive_skan, DedupKey, PostbackRecord, Protocol};
pub use schema::{CoarseMapping, ConversionSchema, Decoded, FineMapping, Mapping, RevenueRange};
pub use skan::{SkanPostback, SkanVersion};

/// `coarse-conversion-value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoarseValue {
    Low,
    Medium,
    High,
}

/// A postback's conversion value: fine (0–63) or coarse, never both. Apple never signs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversionValue {
    Fine(u8),
    Coarse(CoarseValue),
}

/// SKAdNetwork's campaign: `campaign-id` (1–100) before 4.0, `source-identifier` from 4.0.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Campaign {
    CampaignId(u32),
    SourceIdentifier(String),
}

impl std::fmt::Display for Campaign {
    /// As it appears in the signed string.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Campaign::CampaignId(id) => write!(f, "{id}"),
            Campaign::SourceIdentifier(s) => f.write_str(s),
        }
    }
}

/// Where the ad was shown: `source-app-id`, or `source-domain` for web ads (4.0).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Publisher {
    App(u64),
    Domain(String),
}

/// `fidelity-type` 0 (view-through) or 1 (StoreKit-rendered ad or attributed web ad).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fidelity {
    ViewThrough,
    ClickThrough,
}

impl Fidelity {
    fn from_type(click_through: bool) -> Fidelity {
        if click_through {
            Fidelity::ClickThrough
        } else {
            Fidelity::ViewThrough
        }
    }

    /// The `fidelity-type` number.
    pub fn type_number(self) -> u8 {
        match self {
            Fidelity::ViewThrough => 0,
            Fidelity::ClickThrough => 1,
        }
    }
}
