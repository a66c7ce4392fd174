//! Apple's published public keys, embedded as constants.
//!
//! Sources (checked 2026-08):
//! - SKAdNetwork 2.1 and later (4.0 included; its samples verify with it):
//!   <https://developer.apple.com/documentation/storekit/verifying-an-install-validation-postback>
//!   ("Apple's NIST P-256 public key that you use to verify signatures for versions 2.1 and
//!   later"). Versions 1.0 and 2.0 use a P-192 key
//!   (<https://developer.apple.com/documentation/storekit/skadnetwork-2-release-notes>), which
//!   this crate does not carry: those versions are refused as unsupported.
//! - AdAttributionKit, by JWS `kid`:
//!   <https://developer.apple.com/documentation/adattributionkit/verifying-a-postback>.
//!   Production `apple-cas-identifier/0` is the same key as SKAdNetwork 2.1+.

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use p256::ProjectivePoint;

use crate::ecdsa::{self, FixedBase};
use crate::error::SignatureError;

/// Apple's P-256 key for SKAdNetwork 2.1+ and AdAttributionKit production postbacks (SPKI DER,
/// base64), exactly as Apple publishes it.
pub const APPLE_PRODUCTION_P256_SPKI: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWdp8GPcGqmhgzEFj9Z2nSpQVddayaPe4FMzqM9wib1+aHaaIzoHoLN9zW4K8y4SPykE3YVK3sVqW6Af0lfx3gg==";

/// AdAttributionKit `apple-development-identifier/0`: development postbacks from end-to-end
/// flows.
pub const APPLE_DEVELOPMENT_0_P256_SPKI: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAELeEDzpJEP+/qRSE5hJVC1p1J0ssUnQGMzBBbvnACBok8OVGGLgxL0myrKiy6lvRtSlLRsWit87i+vftD8AEqeQ==";

/// AdAttributionKit `apple-development-identifier/1`: development postbacks generated from a
/// device's developer settings.
pub const APPLE_DEVELOPMENT_1_P256_SPKI: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8YzdO7eM97s/IJ25kdW5CZ3A14USE5IJ5Ha/vhWaxI6UBI1ZxCEvjrKxVluVGe6qWwF1BDFq+QHqKfH5u+wxHQ==";

/// One of Apple's postback-signing keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppleKey {
    /// SKAdNetwork 2.1+ and AdAttributionKit `apple-cas-identifier/0`.
    Production,
    /// AdAttributionKit `apple-development-identifier/0`.
    Development0,
    /// AdAttributionKit `apple-development-identifier/1`.
    Development1,
}

impl AppleKey {
    pub const ALL: [AppleKey; 3] = [
        AppleKey::Production,
        AppleKey::Development0,
        AppleKey::Development1,
    ];

    /// The JWS `kid` Apple uses for this key.
    pub fn key_id(self) -> &'static str {
        match self {
            AppleKey::Production => "apple-cas-identifier/0",
            AppleKey::Development0 => "apple-development-identifier/0",
            AppleKey::Development1 => "apple-development-identifier/1",
        }
    }

    /// The key named by a JWS `kid`, if Apple publishes one by that id.
    pub fn from_key_id(kid: &str) -> Option<AppleKey> {
        AppleKey::ALL.into_iter().find(|key| key.key_id() == kid)
    }

    pub fn is_production(self) -> bool {
        self == AppleKey::Production
    }

    /// The published SPKI, base64.
    pub fn spki_base64(self) -> &'static str {
        match self {
            AppleKey::Production => APPLE_PRODUCTION_P256_SPKI,
            AppleKey::Development0 => APPLE_DEVELOPMENT_0_P256_SPKI,
            AppleKey::Development1 => APPLE_DEVELOPMENT_1_P256_SPKI,
        }
    }

    /// Verifies an ECDSA P-256 / SHA-256 signature over `message` with this key.
    pub(crate) fn verify(
        self,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        verify_with_table(self.table()?, message, signature)
    }

    /// The key's multiplication table, built once per process (per Worker isolate).
    fn table(self) -> Result<&'static FixedBase, SignatureError> {
        static TABLES: [OnceLock<Option<FixedBase>>; 3] =
            [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        let slot = match self {
            AppleKey::Production => &TABLES[0],
            AppleKey::Development0 => &TABLES[1],
            AppleKey::Development1 => &TABLES[2],
        };
        slot.get_or_init(|| {
            parse_spki(self.spki_base64())
                .map(|key| FixedBase::new(ProjectivePoint::from(*key.as_affine())))
        })
        .as_ref()
        .ok_or(SignatureError::EmbeddedKey)
    }
}

/// Verification against any key's table (Apple's, or a test's own).
pub(crate) fn verify_with_table(
    key: &FixedBase,
    message: &[u8],
    signature: &Signature,
) -> Result<(), SignatureError> {
    static GENERATOR: OnceLock<FixedBase> = OnceLock::new();
    let generator = GENERATOR.get_or_init(|| FixedBase::new(ProjectivePoint::GENERATOR));
    if ecdsa::verify(generator, key, message, signature) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn parse_spki(spki_base64: &str) -> Option<VerifyingKey> {
    let der = STANDARD.decode(spki_base64).ok()?;
    VerifyingKey::from_public_key_der(&der).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_key_is_a_valid_p256_point() {
        for key in AppleKey::ALL {
            assert!(key.table().is_ok(), "{key:?}");
        }
    }

    #[test]
    fn key_ids_round_trip_and_unknown_ids_are_refused() {
        for key in AppleKey::ALL {
            assert_eq!(AppleKey::from_key_id(key.key_id()), Some(key));
        }
        assert_eq!(AppleKey::from_key_id("apple-cas-identifier/1"), None);
        assert_eq!(AppleKey::from_key_id("apple-cas-identifier/0 "), None);
    }
}
