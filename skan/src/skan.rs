//! SKAdNetwork install-validation postbacks, versions 2.1, 2.2, 3.0 and 4.0.
//!
//! Field lists and signing orders follow Apple's pages:
//! - <https://developer.apple.com/documentation/storekit/identifying-the-parameters-in-install-validation-postbacks>
//! - <https://developer.apple.com/documentation/storekit/verifying-an-install-validation-postback> (4.0)
//! - <https://developer.apple.com/documentation/storekit/combining-parameters-for-skadnetwork-3-postbacks>
//! - <https://developer.apple.com/documentation/storekit/combining-parameters-for-previous-skadnetwork-postback-versions> (2.2, 2.1)

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use p256::ecdsa::Signature;
use serde::{Deserialize, Serialize};

use crate::error::{PostbackError, Reason, SignatureError};
use crate::fields::{self, Charset, Slot};
use crate::keys::AppleKey;
use crate::limits::*;
use crate::{Campaign, ConversionValue, Fidelity, Publisher};

/// U+2063 INVISIBLE SEPARATOR, between the signed values.
pub const SIGNATURE_SEPARATOR: char = '\u{2063}';

/// The SKAdNetwork versions this crate verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SkanVersion {
    #[serde(rename = "2.1")]
    V2_1,
    #[serde(rename = "2.2")]
    V2_2,
    #[serde(rename = "3.0")]
    V3_0,
    #[serde(rename = "4.0")]
    V4_0,
}

impl SkanVersion {
    /// The version exactly as it appears in the postback and in the signed string.
    pub fn as_str(self) -> &'static str {
        match self {
            SkanVersion::V2_1 => "2.1",
            SkanVersion::V2_2 => "2.2",
            SkanVersion::V3_0 => "3.0",
            SkanVersion::V4_0 => "4.0",
        }
    }

    fn parse(s: &str) -> Option<SkanVersion> {
        [
            SkanVersion::V2_1,
            SkanVersion::V2_2,
            SkanVersion::V3_0,
            SkanVersion::V4_0,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// A SKAdNetwork postback whose every field has been checked; not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkanPostback {
    pub version: SkanVersion,
    pub ad_network_id: String,
    /// `campaign-id` before 4.0, `source-identifier` from 4.0.
    pub campaign: Campaign,
    pub app_id: u64,
    pub transaction_id: String,
    pub redownload: bool,
    pub publisher: Option<Publisher>,
    /// From 2.2.
    pub fidelity: Option<Fidelity>,
    /// From 3.0; earlier versions only ever sent winning postbacks.
    pub did_win: Option<bool>,
    /// From 4.0.
    pub postback_sequence_index: Option<u8>,
    pub conversion: Option<ConversionValue>,
    pub country_code: Option<String>,
    /// `attribution-signature` as received (base64 DER).
    pub attribution_signature: String,
}

#[derive(Deserialize)]
struct RawSkan {
    #[serde(default, rename = "version")]
    version: Slot,
    #[serde(default, rename = "ad-network-id")]
    ad_network_id: Slot,
    #[serde(default, rename = "campaign-id")]
    campaign_id: Slot,
    #[serde(default, rename = "source-identifier")]
    source_identifier: Slot,
    #[serde(default, rename = "app-id")]
    app_id: Slot,
    #[serde(default, rename = "transaction-id")]
    transaction_id: Slot,
    #[serde(default, rename = "redownload")]
    redownload: Slot,
    #[serde(default, rename = "source-app-id")]
    source_app_id: Slot,
    #[serde(default, rename = "source-domain")]
    source_domain: Slot,
    #[serde(default, rename = "fidelity-type")]
    fidelity_type: Slot,
    #[serde(default, rename = "did-win")]
    did_win: Slot,
    #[serde(default, rename = "postback-sequence-index")]
    postback_sequence_index: Slot,
    #[serde(default, rename = "conversion-value")]
    conversion_value: Slot,
    #[serde(default, rename = "coarse-conversion-value")]
    coarse_conversion_value: Slot,
    #[serde(default, rename = "country-code")]
    country_code: Slot,
    #[serde(default, rename = "attribution-signature")]
    attribution_signature: Slot,
}

/// Reads and checks a SKAdNetwork postback body. Verification is [`verify`]'s job.
pub fn parse(body: &[u8]) -> Result<SkanPostback, PostbackError> {
    let raw: RawSkan = fields::read_body(body)?;
    from_raw(&raw)
}

fn from_raw(raw: &RawSkan) -> Result<SkanPostback, PostbackError> {
    let version_value = raw.version.required("version")?;
    let version_text = version_value
        .as_str()
        .ok_or_else(|| PostbackError::field("version", Reason::WrongType("a string")))?;
    let version = SkanVersion::parse(version_text)
        .ok_or_else(|| PostbackError::field("version", Reason::UnsupportedVersion))?;
    let v = version.as_str();

    let ad_network_id = fields::text(
        raw.ad_network_id.required("ad-network-id")?,
        "ad-network-id",
        MAX_AD_NETWORK_ID_CHARS,
        Charset::Identifier,
    )?;
    let campaign = if version >= SkanVersion::V4_0 {
        raw.campaign_id.absent_in("campaign-id", v)?;
        let field = "source-identifier";
        Campaign::SourceIdentifier(fields::source_identifier(
            raw.source_identifier.required(field)?,
            field,
        )?)
    } else {
        raw.source_identifier.absent_in("source-identifier", v)?;
        let field = "campaign-id";
        let id = fields::unsigned(
            raw.campaign_id.required(field)?,
            field,
            MIN_CAMPAIGN_ID,
            MAX_CAMPAIGN_ID,
        )?;
        // Within 1..=100 by the check above.
        Campaign::CampaignId(u32::try_from(id).unwrap_or(u32::MAX))
    };
    let app_id = fields::unsigned(raw.app_id.required("app-id")?, "app-id", 0, u64::MAX)?;
    let transaction_id = fields::text(
        raw.transaction_id.required("transaction-id")?,
        "transaction-id",
        MAX_TRANSACTION_ID_CHARS,
        Charset::Uuid,
    )?;
    let redownload = fields::boolean(raw.redownload.required("redownload")?, "redownload")?;

    let publisher = match (raw.source_app_id.optional(), raw.source_domain.optional()) {
        (Some(_), Some(_)) => {
            return Err(PostbackError::field(
                "source-domain",
                Reason::Conflicts("source-app-id"),
            ))
        }
        (Some(id), None) => Some(Publisher::App(fields::unsigned(
            id,
            "source-app-id",
            0,
            u64::MAX,
        )?)),
        (None, Some(domain)) => {
            if version < SkanVersion::V4_0 {
                raw.source_domain.absent_in("source-domain", v)?;
            }
            Some(Publisher::Domain(fields::text(
                domain,
                "source-domain",
                MAX_SOURCE_DOMAIN_CHARS,
                Charset::Domain,
            )?))
        }
        (None, None) => None,
    };

    let fidelity = if version >= SkanVersion::V2_2 {
        let field = "fidelity-type";
        let value = fields::unsigned(raw.fidelity_type.required(field)?, field, 0, 1)?;
        Some(Fidelity::from_type(value == 1))
    } else {
        raw.fidelity_type.absent_in("fidelity-type", v)?;
        None
    };
    let did_win = if version >= SkanVersion::V3_0 {
        Some(fields::boolean(
            raw.did_win.required("did-win")?,
            "did-win",
        )?)
    } else {
        raw.did_win.absent_in("did-win", v)?;
        None
    };
    let postback_sequence_index = if version >= SkanVersion::V4_0 {
        let field = "postback-sequence-index";
        let max = u64::from(MAX_POSTBACK_SEQUENCE_INDEX);
        let index = fields::unsigned(raw.postback_sequence_index.required(field)?, field, 0, max)?;
        u8::try_from(index).ok()
    } else {
        raw.postback_sequence_index
            .absent_in("postback-sequence-index", v)?;
        None
    };

    if version < SkanVersion::V4_0 {
        raw.coarse_conversion_value
            .absent_in(fields::COARSE_CONVERSION_VALUE, v)?;
    }
    let conversion = fields::conversion(&raw.conversion_value, &raw.coarse_conversion_value)?;
    fields::check_conversion_rules(
        conversion,
        did_win.unwrap_or(true),
        postback_sequence_index.unwrap_or(0),
    )?;
    let country_code = match raw.country_code.optional() {
        Some(value) => Some(fields::country_code(value, "country-code")?),
        None => None,
    };
    let attribution_signature = fields::text(
        raw.attribution_signature
            .required("attribution-signature")?,
        "attribution-signature",
        MAX_SIGNATURE_CHARS,
        Charset::Token,
    )?;

    Ok(SkanPostback {
        version,
        ad_network_id,
        campaign,
        app_id,
        transaction_id,
        redownload,
        publisher,
        fidelity,
        did_win,
        postback_sequence_index,
        conversion,
        country_code,
        attribution_signature,
    })
}

impl SkanPostback {
    /// The UTF-8 string Apple signed: the version's fields in Apple's order, joined with
    /// U+2063; optional fields skipped when absent; booleans as `true`/`false`; conversion
    /// values and `country-code` never included.
    pub fn signed_message(&self) -> String {
        let mut parts: Vec<String> = Vec::with_capacity(10);
        parts.push(self.version.as_str().to_owned());
        parts.push(self.ad_network_id.clone());
        parts.push(self.campaign.to_string());
        parts.push(self.app_id.to_string());
        parts.push(self.transaction_id.clone());
        parts.push(self.redownload.to_string());
        match &self.publisher {
            Some(Publisher::App(id)) => parts.push(id.to_string()),
            Some(Publisher::Domain(domain)) => parts.push(domain.clone()),
            None => {}
        }
        if let Some(fidelity) = self.fidelity {
            parts.push(fidelity.type_number().to_string());
        }
        if let Some(did_win) = self.did_win {
            parts.push(did_win.to_string());
        }
        if let Some(index) = self.postback_sequence_index {
            parts.push(index.to_string());
        }
        let mut separator = [0u8; 4];
        parts.join(&*SIGNATURE_SEPARATOR.encode_utf8(&mut separator))
    }

    /// Whether this is a winning postback: `did-win` from 3.0; before 3.0 only winners were sent.
    pub fn did_win(&self) -> bool {
        self.did_win.unwrap_or(true)
    }
}

/// Verifies Apple's `attribution-signature` (ECDSA P-256 / SHA-256, base64 DER) over
/// [`SkanPostback::signed_message`] with Apple's 2.1+ key.
pub fn verify(postback: &SkanPostback) -> Result<AppleKey, SignatureError> {
    let key = AppleKey::Production;
    key.verify(
        postback.signed_message().as_bytes(),
        &decode_signature(postback)?,
    )?;
    Ok(key)
}

fn decode_signature(postback: &SkanPostback) -> Result<Signature, SignatureError> {
    let der = STANDARD
        .decode(&postback.attribution_signature)
        .map_err(|_| SignatureError::SignatureNotBase64)?;
    Signature::from_der(&der).map_err(|_| SignatureError::SignatureNotDer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecdsa::FixedBase;
    use crate::keys::verify_with_table;
    use serde_json::json;

    fn v4_fine() -> serde_json::Value {
        json!({
            "version": "4.0", "ad-network-id": "com.example", "source-identifier": "5239",
            "app-id": 525463029, "transaction-id": "6aafb7a5-0170-41b5-bbe4-fe71dedf1e30",
            "redownload": false, "source-domain": "example.com", "fidelity-type": 1,
            "did-win": true, "conversion-value": 63, "postback-sequence-index": 0,
            "attribution-signature": "MEUCIGRmSMrqedNu6uaHyhVcifs118R5z/AB6cvRaKrRRHWRAiEAv96ne3dKQ5kJpbsfk4eYiePmrZUU6sQmo+7zfP/1Bxo="
        })
    }

    fn parse_value(value: &serde_json::Value) -> Result<SkanPostback, PostbackError> {
        parse(value.to_string().as_bytes())
    }

    fn field_error(value: &serde_json::Value) -> (&'static str, Reason) {
        match parse_value(value) {
            Err(PostbackError::Field { field, reason }) => (field, reason),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn the_4_0_signed_string_follows_apples_order() {
        let p = parse_value(&v4_fine()).expect("parses");
        let expected = [
            "4.0",
            "com.example",
            "5239",
            "525463029",
            "6aafb7a5-0170-41b5-bbe4-fe71dedf1e30",
            "false",
            "example.com",
            "1",
            "true",
            "0",
        ]
        .join("\u{2063}");
        assert_eq!(p.signed_message(), expected);
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let body = br#"{"version":"4.0","version":"3.0"}"#;
        assert!(matches!(parse(body), Err(PostbackError::NotJson(_))));
    }

    #[test]
    fn an_explicit_null_is_not_an_absent_field() {
        let mut v = v4_fine();
        v["source-domain"] = serde_json::Value::Null;
        assert_eq!(
            field_error(&v),
            ("source-domain", Reason::WrongType("a string"))
        );
    }

    #[test]
    fn a_separator_inside_a_value_is_refused() {
        let mut v = v4_fine();
        v["ad-network-id"] = json!("com.example\u{2063}5239");
        assert_eq!(field_error(&v).0, "ad-network-id");
    }

    #[test]
    fn old_and_unknown_versions_are_unsupported() {
        for version in ["1.0", "2.0", "5.0", "4", ""] {
            let mut v = v4_fine();
            v["version"] = json!(version);
            assert_eq!(
                field_error(&v),
                ("version", Reason::UnsupportedVersion),
                "{version}"
            );
        }
    }

    #[test]
    fn fields_of_other_versions_are_refused() {
        let mut v = v4_fine();
        v["campaign-id"] = json!(42);
        assert_eq!(
            field_error(&v),
            ("campaign-id", Reason::NotInVersion("4.0"))
        );

        let mut v = v4_fine();
        v["version"] = json!("3.0");
        assert_eq!(
            field_error(&v),
            ("source-identifier", Reason::NotInVersion("3.0"))
        );
    }

    #[test]
    fn conversion_values_follow_apples_rules() {
        let mut v = v4_fine();
        v["coarse-conversion-value"] = json!("high");
        assert_eq!(
            field_error(&v),
            (
                "coarse-conversion-value",
                Reason::Conflicts("conversion-value")
            )
        );

        let mut v = v4_fine();
        v["postback-sequence-index"] = json!(1);
        assert_eq!(
            field_error(&v),
            ("conversion-value", Reason::OnlyInFirstPostback)
        );

        let mut v = v4_fine();
        v["did-win"] = json!(false);
        assert_eq!(
            field_error(&v),
            ("conversion-value", Reason::OnlyWhenWinning)
        );

        let mut v = v4_fine();
        v["conversion-value"] = json!(64);
        assert_eq!(
            field_error(&v),
            ("conversion-value", Reason::OutOfRange { min: 0, max: 63 })
        );

        let mut v = v4_fine();
        v.as_object_mut().map(|o| o.remove("conversion-value"));
        v["coarse-conversion-value"] = json!("huge");
        assert_eq!(field_error(&v).0, "coarse-conversion-value");
    }

    #[test]
    fn integers_must_be_integers() {
        for bad in [json!("525463029"), json!(525463029.5), json!(-1)] {
            let mut v = v4_fine();
            v["app-id"] = bad;
            assert_eq!(field_error(&v).0, "app-id");
        }
    }

    #[test]
    fn bodies_over_the_limit_are_refused_before_parsing() {
        let body = vec![b' '; MAX_POSTBACK_BODY_BYTES + 1];
        assert!(matches!(
            parse(&body),
            Err(PostbackError::BodyTooLarge { .. })
        ));
    }

    /// SELF-GENERATED key (a fixed test scalar, not Apple's): signs strings built by hand in
    /// Apple's documented order, for layouts Apple's samples do not cover, to check
    /// `signed_message` end to end.
    fn self_generated_key() -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("a valid scalar")
    }

    #[test]
    fn self_generated_signatures_over_apples_documented_orders_verify() {
        use p256::ecdsa::signature::Signer as _;
        let sep = "\u{2063}";
        let cases: [(serde_json::Value, Vec<&str>); 5] = [
            (
                json!({"version": "2.1", "ad-network-id": "n.skadnetwork", "campaign-id": 7,
                       "app-id": 1, "transaction-id": "t-1", "redownload": false}),
                vec!["2.1", "n.skadnetwork", "7", "1", "t-1", "false"],
            ),
            (
                json!({"version": "3.0", "ad-network-id": "n.skadnetwork", "campaign-id": 100,
                       "app-id": 2, "transaction-id": "t-2", "redownload": true,
                       "fidelity-type": 0, "did-win": true, "conversion-value": 0}),
                vec![
                    "3.0",
                    "n.skadnetwork",
                    "100",
                    "2",
                    "t-2",
                    "true",
                    "0",
                    "true",
                ],
            ),
            (
                json!({"version": "4.0", "ad-network-id": "n.skadnetwork", "source-identifier": "0042",
                       "app-id": 3, "transaction-id": "t-3", "redownload": false,
                       "source-app-id": 99, "fidelity-type": 1, "did-win": true,
                       "conversion-value": 5, "postback-sequence-index": 0}),
                vec![
                    "4.0",
                    "n.skadnetwork",
                    "0042",
                    "3",
                    "t-3",
                    "false",
                    "99",
                    "1",
                    "true",
                    "0",
                ],
            ),
            (
                json!({"version": "4.0", "ad-network-id": "n.skadnetwork", "source-identifier": "12",
                       "app-id": 4, "transaction-id": "t-4", "redownload": true,
                       "fidelity-type": 1, "did-win": true,
                       "coarse-conversion-value": "low", "postback-sequence-index": 2}),
                vec![
                    "4.0",
                    "n.skadnetwork",
                    "12",
                    "4",
                    "t-4",
                    "true",
                    "1",
                    "true",
                    "2",
                ],
            ),
            (
                json!({"version": "4.0", "ad-network-id": "n.skadnetwork", "source-identifier": "12",
                       "app-id": 5, "transaction-id": "t-5", "redownload": false,
                       "fidelity-type": 0, "did-win": false, "postback-sequence-index": 0}),
                vec![
                    "4.0",
                    "n.skadnetwork",
                    "12",
                    "5",
                    "t-5",
                    "false",
                    "0",
                    "false",
                    "0",
                ],
            ),
        ];
        let key = self_generated_key();
        for (mut body, order) in cases {
            let expected = order.join(sep);
            let signature: Signature = key.sign(expected.as_bytes());
            body["attribution-signature"] = json!(STANDARD.encode(signature.to_der()));
            let postback = parse_value(&body).expect("parses");
            assert_eq!(postback.signed_message(), expected);
            let table = FixedBase::new((*key.verifying_key().as_affine()).into());
            let signature = decode_signature(&postback).expect("DER");
            assert_eq!(
                verify_with_table(&table, postback.signed_message().as_bytes(), &signature),
                Ok(())
            );
            // Not Apple's key, so never valid for the endpoint.
            assert_eq!(verify(&postback), Err(SignatureError::Mismatch));
        }
    }
}
