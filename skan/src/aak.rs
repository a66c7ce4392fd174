//! AdAttributionKit postbacks: a JSON body around a compact JWS that Apple signs with ES256.
//!
//! - Body and claims: <https://developer.apple.com/documentation/adattributionkit/identifying-the-parameters-in-a-postback>
//! - Keys and verification: <https://developer.apple.com/documentation/adattributionkit/verifying-a-postback>
//!
//! Only the JWS is signed. The body's `conversion-value`, `coarse-conversion-value`,
//! `ad-interaction-type` and `country-code` sit outside it, like SKAdNetwork's conversion values.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::Signature;
use serde::{Deserialize, Serialize};

use crate::error::{PostbackError, Reason, SignatureError};
use crate::fields::{self, Charset, Slot};
use crate::keys::AppleKey;
use crate::limits::*;
use crate::ConversionValue;

const JWS_STRING: &str = "jws-string";

/// Whether development-signed postbacks count. Production endpoints refuse them: anyone can
/// make a development postback for any app from a device's developer settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyPolicy {
    ProductionOnly,
    AllowDevelopment,
}

/// `ad-interaction-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdInteraction {
    Click,
    View,
}

/// An AdAttributionKit postback whose body and claims have been checked; not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AakPostback {
    /// The JWS header's `kid`, as received.
    pub key_id: Option<String>,
    /// The JWS header's `alg`, as received.
    pub algorithm: Option<String>,
    pub postback_identifier: String,
    pub ad_network_identifier: String,
    pub source_identifier: String,
    pub advertised_item_identifier: u64,
    pub publisher_item_identifier: Option<u64>,
    pub marketplace_identifier: Option<String>,
    /// `app-impression` in Apple's documentation; kept as received.
    pub impression_type: String,
    /// `download`, `redownload` or `re-engagement`; kept as received.
    pub conversion_type: String,
    pub did_win: bool,
    pub postback_sequence_index: u8,
    pub conversion: Option<ConversionValue>,
    pub ad_interaction: Option<AdInteraction>,
    pub country_code: Option<String>,
    critical_header: bool,
    signing_input: String,
    signature: String,
}

#[derive(Deserialize)]
struct RawBody {
    #[serde(default, rename = "jws-string")]
    jws_string: Slot,
    #[serde(default, rename = "conversion-value")]
    conversion_value: Slot,
    #[serde(default, rename = "coarse-conversion-value")]
    coarse_conversion_value: Slot,
    #[serde(default, rename = "ad-interaction-type")]
    ad_interaction_type: Slot,
    #[serde(default, rename = "country-code")]
    country_code: Slot,
}

#[derive(Deserialize)]
struct RawHeader {
    #[serde(default)]
    kid: Slot,
    #[serde(default)]
    alg: Slot,
    #[serde(default)]
    crit: Slot,
}

#[derive(Deserialize)]
struct RawClaims {
    #[serde(default, rename = "postback-identifier")]
    postback_identifier: Slot,
    #[serde(default, rename = "ad-network-identifier")]
    ad_network_identifier: Slot,
    #[serde(default, rename = "source-identifier")]
    source_identifier: Slot,
    #[serde(default, rename = "advertised-item-identifier")]
    advertised_item_identifier: Slot,
    #[serde(default, rename = "publisher-item-identifier")]
    publisher_item_identifier: Slot,
    #[serde(default, rename = "marketplace-identifier")]
    marketplace_identifier: Slot,
    #[serde(default, rename = "impression-type")]
    impression_type: Slot,
    #[serde(default, rename = "conversion-type")]
    conversion_type: Slot,
    #[serde(default, rename = "did-win")]
    did_win: Slot,
    #[serde(default, rename = "postback-sequence-index")]
    postback_sequence_index: Slot,
}

/// Reads and checks an AdAttributionKit postback body and the claims inside its JWS.
/// Verification is [`verify`]'s job.
pub fn parse(body: &[u8]) -> Result<AakPostback, PostbackError> {
    let raw: RawBody = fields::read_body(body)?;
    let jws = fields::text(
        raw.jws_string.required(JWS_STRING)?,
        JWS_STRING,
        MAX_JWS_CHARS,
        Charset::Token,
    )?;
    let mut parts = jws.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(jws_error("three base64url parts separated by '.'"));
    };
    let header: RawHeader = decode_part(header_b64, "a base64url JSON header")?;
    let claims: RawClaims = decode_part(claims_b64, "a base64url JSON payload")?;

    let key_id = match header.kid.optional() {
        Some(value) => Some(fields::token(value, "kid")?),
        None => None,
    };
    let algorithm = match header.alg.optional() {
        Some(value) => Some(fields::token(value, "alg")?),
        None => None,
    };

    let postback_identifier = fields::text(
        claims.postback_identifier.required("postback-identifier")?,
        "postback-identifier",
        MAX_TRANSACTION_ID_CHARS,
        Charset::Uuid,
    )?;
    let ad_network_identifier = fields::text(
        claims
            .ad_network_identifier
            .required("ad-network-identifier")?,
        "ad-network-identifier",
        MAX_AD_NETWORK_ID_CHARS,
        Charset::Identifier,
    )?;
    let source_identifier = fields::source_identifier(
        claims.source_identifier.required("source-identifier")?,
        "source-identifier",
    )?;
    let advertised_item_identifier = fields::unsigned(
        claims
            .advertised_item_identifier
            .required("advertised-item-identifier")?,
        "advertised-item-identifier",
        0,
        u64::MAX,
    )?;
    let publisher_item_identifier = match claims.publisher_item_identifier.optional() {
        Some(v) => Some(fields::unsigned(
            v,
            "publisher-item-identifier",
            0,
            u64::MAX,
        )?),
        None => None,
    };
    let marketplace_identifier = match claims.marketplace_identifier.optional() {
        Some(v) => Some(fields::text(
            v,
            "marketplace-identifier",
            MAX_MARKETPLACE_ID_CHARS,
            Charset::Identifier,
        )?),
        None => None,
    };
    let impression_type = fields::token(
        claims.impression_type.required("impression-type")?,
        "impression-type",
    )?;
    let conversion_type = fields::token(
        claims.conversion_type.required("conversion-type")?,
        "conversion-type",
    )?;
    let did_win = fields::boolean(claims.did_win.required("did-win")?, "did-win")?;
    let field = "postback-sequence-index";
    let max = u64::from(MAX_POSTBACK_SEQUENCE_INDEX);
    let index = fields::unsigned(
        claims.postback_sequence_index.required(field)?,
        field,
        0,
        max,
    )?;
    let postback_sequence_index = u8::try_from(index).unwrap_or(MAX_POSTBACK_SEQUENCE_INDEX);

    let conversion = fields::conversion(&raw.conversion_value, &raw.coarse_conversion_value)?;
    fields::check_conversion_rules(conversion, did_win, postback_sequence_index)?;
    let ad_interaction = match raw.ad_interaction_type.optional() {
        Some(value) => Some(match value.as_str() {
            Some("click") => AdInteraction::Click,
            Some("view") => AdInteraction::View,
            _ => {
                return Err(PostbackError::field(
                    "ad-interaction-type",
                    Reason::NotOneOf("\"click\", \"view\""),
                ))
            }
        }),
        None => None,
    };
    let country_code = match raw.country_code.optional() {
        Some(value) => Some(fields::country_code(value, "country-code")?),
        None => None,
    };

    Ok(AakPostback {
        key_id,
        algorithm,
        postback_identifier,
        ad_network_identifier,
        source_identifier,
        advertised_item_identifier,
        publisher_item_identifier,
        marketplace_identifier,
        impression_type,
        conversion_type,
        did_win,
        postback_sequence_index,
        conversion,
        ad_interaction,
        country_code,
        critical_header: header.crit.is_present(),
        signing_input: format!("{header_b64}.{claims_b64}"),
        signature: signature.to_owned(),
    })
}

fn jws_error(expected: &'static str) -> PostbackError {
    PostbackError::field(JWS_STRING, Reason::Format(expected))
}

fn decode_part<T: for<'de> Deserialize<'de>>(
    part: &str,
    expected: &'static str,
) -> Result<T, PostbackError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| jws_error(expected))?;
    serde_json::from_slice(&bytes).map_err(|_| jws_error(expected))
}

impl AakPostback {
    /// The JWS signing input, `BASE64URL(header) '.' BASE64URL(payload)` as received.
    pub fn signing_input(&self) -> &str {
        &self.signing_input
    }

    /// Whether this postback's `conversion-type` is `redownload`.
    pub fn is_redownload(&self) -> bool {
        self.conversion_type == "redownload"
    }
}

/// Verifies the JWS (RFC 7515 section 5.2) with the Apple key its `kid` names.
pub fn verify(postback: &AakPostback, policy: KeyPolicy) -> Result<AppleKey, SignatureError> {
    if postback.critical_header {
        return Err(SignatureError::CriticalHeader);
    }
    if postback.algorithm.as_deref() != Some("ES256") {
        return Err(SignatureError::UnsupportedAlgorithm);
    }
    let kid = postback
        .key_id
        .as_deref()
        .ok_or(SignatureError::MissingKeyId)?;
    let key = AppleKey::from_key_id(kid).ok_or(SignatureError::UnknownKeyId)?;
    if !key.is_production() && policy == KeyPolicy::ProductionOnly {
        return Err(SignatureError::DevelopmentKeyRefused);
    }
    key.verify(
        postback.signing_input.as_bytes(),
        &decode_signature(postback)?,
    )?;
    Ok(key)
}

fn decode_signature(postback: &AakPostback) -> Result<Signature, SignatureError> {
    let raw = URL_SAFE_NO_PAD
        .decode(&postback.signature)
        .map_err(|_| SignatureError::JwsSignatureMalformed)?;
    Signature::from_slice(&raw).map_err(|_| SignatureError::JwsSignatureMalformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecdsa::FixedBase;
    use crate::keys::verify_with_table;
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::SigningKey;
    use serde_json::json;

    fn b64(value: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    /// SELF-GENERATED key (a fixed test scalar, not Apple's), to check the JWS signing input
    /// and the raw r||s signature handling end to end with the production `kid`.
    #[test]
    fn a_self_generated_jws_verifies_with_its_key_and_never_with_apples() {
        let key = SigningKey::from_slice(&[9u8; 32]).expect("a valid scalar");
        let header = b64(&json!({"kid": "apple-cas-identifier/0", "alg": "ES256"}));
        let claims = b64(&json!({
            "postback-identifier": "3f50fe57-29ae-4861-8c0b-ac6adddff72c",
            "ad-network-identifier": "n.adattributionkit", "source-identifier": "8344",
            "advertised-item-identifier": 684939, "impression-type": "app-impression",
            "conversion-type": "download", "did-win": true, "postback-sequence-index": 1
        }));
        let input = format!("{header}.{claims}");
        let signature: Signature = key.sign(input.as_bytes());
        let raw = URL_SAFE_NO_PAD.encode(signature.to_bytes());
        let der = URL_SAFE_NO_PAD.encode(signature.to_der());
        let body = |sig: &str| {
            json!({"jws-string": format!("{input}.{sig}"), "coarse-conversion-value": "medium",
                   "ad-interaction-type": "view"})
            .to_string()
        };

        let table = FixedBase::new((*key.verifying_key().as_affine()).into());
        let postback = parse(body(&raw).as_bytes()).expect("parses");
        assert_eq!(postback.signing_input(), input);
        let parsed = decode_signature(&postback).expect("r||s");
        assert_eq!(verify_with_table(&table, input.as_bytes(), &parsed), Ok(()));
        assert_eq!(
            verify(&postback, KeyPolicy::ProductionOnly),
            Err(SignatureError::Mismatch)
        );
        // JWS carries r||s, never DER.
        let postback = parse(body(&der).as_bytes()).expect("parses");
        assert_eq!(
            decode_signature(&postback),
            Err(SignatureError::JwsSignatureMalformed)
        );
    }
}
