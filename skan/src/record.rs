//! The one shape both protocols end in: a typed row ready to be stored and counted.

use serde::{Deserialize, Serialize};

use crate::aak::{self, AakPostback, AdInteraction, KeyPolicy};
use crate::error::{PostbackError, SignatureError};
use crate::keys::AppleKey;
use crate::schema::{ConversionSchema, Decoded};
use crate::skan::{self, SkanPostback, SkanVersion};
use crate::{Campaign, CoarseValue, ConversionValue, Fidelity, Publisher};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    Skadnetwork,
    Adattributionkit,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Skadnetwork => "skadnetwork",
            Protocol::Adattributionkit => "adattributionkit",
        }
    }
}

/// One postback, verified or not, with its conversion value decoded through the app's schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostbackRecord {
    pub protocol: Protocol,
    /// SKAdNetwork's version; `None` for AdAttributionKit.
    pub version: Option<SkanVersion>,
    pub ad_network_id: String,
    /// SKAdNetwork before 4.0.
    pub campaign_id: Option<u32>,
    /// SKAdNetwork 4.0 and AdAttributionKit (two to four digits, verbatim).
    pub source_identifier: Option<String>,
    /// `app-id` / `advertised-item-identifier`.
    pub app_id: u64,
    /// `transaction-id` / `postback-identifier`: unique per postback.
    pub postback_id: String,
    /// Before SKAdNetwork 3.0 every postback was a winning one.
    pub did_win: bool,
    /// SKAdNetwork `fidelity-type` (signed); AdAttributionKit `ad-interaction-type` (unsigned).
    pub fidelity: Option<Fidelity>,
    /// 0 for SKAdNetwork before 4.0.
    pub postback_sequence_index: u8,
    pub fine_value: Option<u8>,
    pub coarse_value: Option<CoarseValue>,
    /// The schema's meaning of the conversion value, when a schema maps it.
    pub decoded: Option<Decoded>,
    /// SKAdNetwork `redownload`; AdAttributionKit `conversion-type` = `redownload`.
    pub redownload: bool,
    /// AdAttributionKit `conversion-type` (`download`, `redownload`, `re-engagement`).
    pub conversion_type: Option<String>,
    /// `source-app-id` / `publisher-item-identifier`.
    pub source_app_id: Option<u64>,
    pub source_domain: Option<String>,
    pub marketplace_id: Option<String>,
    pub country_code: Option<String>,
    /// AdAttributionKit's JWS `kid` as received.
    pub key_id: Option<String>,
    /// The Apple key whose signature verified; `None` when not verified.
    pub verified_by: Option<AppleKey>,
    pub verified: bool,
    /// [`SignatureError::code`] when not verified.
    pub invalid_reason: Option<String>,
}

/// The identity a postback is deduplicated on. Only verified postbacks have one, so an
/// unsigned forgery can never take the place of the genuine postback that comes later.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DedupKey {
    pub protocol: Protocol,
    pub ad_network_id: String,
    pub app_id: u64,
    pub postback_id: String,
}

impl std::fmt::Display for DedupKey {
    /// `{protocol}:{app_id}:{ad_network_id}:{postback_id}`. Unambiguous: network and
    /// postback ids are validated to hold no ':'.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            self.protocol.as_str(),
            self.app_id,
            self.ad_network_id,
            self.postback_id
        )
    }
}

impl PostbackRecord {
    /// `Some` only for verified postbacks; see [`DedupKey`].
    pub fn dedup_key(&self) -> Option<DedupKey> {
        self.verified.then(|| DedupKey {
            protocol: self.protocol,
            ad_network_id: self.ad_network_id.clone(),
            app_id: self.app_id,
            postback_id: self.postback_id.clone(),
        })
    }

    pub fn from_skan(
        postback: &SkanPostback,
        verification: Result<AppleKey, SignatureError>,
        schema: Option<&ConversionSchema>,
    ) -> PostbackRecord {
        let (campaign_id, source_identifier) = match &postback.campaign {
            Campaign::CampaignId(id) => (Some(*id), None),
            Campaign::SourceIdentifier(s) => (None, Some(s.clone())),
        };
        let (source_app_id, source_domain) = match &postback.publisher {
            Some(Publisher::App(id)) => (Some(*id), None),
            Some(Publisher::Domain(domain)) => (None, Some(domain.clone())),
            None => (None, None),
        };
        let sequence = postback.postback_sequence_index.unwrap_or(0);
        let record = PostbackRecord {
            protocol: Protocol::Skadnetwork,
            version: Some(postback.version),
            ad_network_id: postback.ad_network_id.clone(),
            campaign_id,
            source_identifier,
            app_id: postback.app_id,
            postback_id: postback.transaction_id.clone(),
            did_win: postback.did_win(),
            fidelity: postback.fidelity,
            postback_sequence_index: sequence,
            fine_value: None,
            coarse_value: None,
            decoded: None,
            redownload: postback.redownload,
            conversion_type: None,
            source_app_id,
            source_domain,
            marketplace_id: None,
            country_code: postback.country_code.clone(),
            key_id: None,
            verified_by: None,
            verified: false,
            invalid_reason: None,
        };
        record.finish(postback.conversion, schema, verification)
    }

    pub fn from_aak(
        postback: &AakPostback,
        verification: Result<AppleKey, SignatureError>,
        schema: Option<&ConversionSchema>,
    ) -> PostbackRecord {
        let record = PostbackRecord {
            protocol: Protocol::Adattributionkit,
            version: None,
            ad_network_id: postback.ad_network_identifier.clone(),
            campaign_id: None,
            source_identifier: Some(postback.source_identifier.clone()),
            app_id: postback.advertised_item_identifier,
            postback_id: postback.postback_identifier.clone(),
            did_win: postback.did_win,
            fidelity: postback.ad_interaction.map(|i| match i {
                AdInteraction::Click => Fidelity::ClickThrough,
                AdInteraction::View => Fidelity::ViewThrough,
            }),
            postback_sequence_index: postback.postback_sequence_index,
            fine_value: None,
            coarse_value: None,
            decoded: None,
            redownload: postback.is_redownload(),
            conversion_type: Some(postback.conversion_type.clone()),
            source_app_id: postback.publisher_item_identifier,
            source_domain: None,
            marketplace_id: postback.marketplace_identifier.clone(),
            country_code: postback.country_code.clone(),
            key_id: postback.key_id.clone(),
            verified_by: None,
            verified: false,
            invalid_reason: None,
        };
        record.finish(postback.conversion, schema, verification)
    }

    fn finish(
        mut self,
        value: Option<ConversionValue>,
        schema: Option<&ConversionSchema>,
        verification: Result<AppleKey, SignatureError>,
    ) -> PostbackRecord {
        self.set_conversion(value, schema);
        self.set_verification(verification);
        self
    }

    fn set_conversion(
        &mut self,
        value: Option<ConversionValue>,
        schema: Option<&ConversionSchema>,
    ) {
        match value {
            Some(ConversionValue::Fine(v)) => self.fine_value = Some(v),
            Some(ConversionValue::Coarse(v)) => self.coarse_value = Some(v),
            None => {}
        }
        self.decoded = match (schema, value) {
            (Some(schema), Some(value)) => schema.decode(self.postback_sequence_index, value),
            _ => None,
        };
    }

    fn set_verification(&mut self, verification: Result<AppleKey, SignatureError>) {
        match verification {
            Ok(key) => {
                self.verified = true;
                self.verified_by = Some(key);
            }
            Err(e) => self.invalid_reason = Some(e.code().to_owned()),
        }
    }
}

/// A SKAdNetwork developer copy: parsed, verified, decoded. `Err` only when the body is not a
/// readable postback; a bad signature gives a record with `verified: false`.
pub fn receive_skan(
    body: &[u8],
    schema: Option<&ConversionSchema>,
) -> Result<PostbackRecord, PostbackError> {
    let postback = skan::parse(body)?;
    let verification = skan::verify(&postback);
    Ok(PostbackRecord::from_skan(&postback, verification, schema))
}

/// An AdAttributionKit developer copy: parsed, verified with the key its `kid` names under
/// `policy`, decoded. `Err` only when the body is not a readable postback.
pub fn receive_aak(
    body: &[u8],
    schema: Option<&ConversionSchema>,
    policy: KeyPolicy,
) -> Result<PostbackRecord, PostbackError> {
    let postback = aak::parse(body)?;
    let verification = aak::verify(&postback, policy);
    Ok(PostbackRecord::from_aak(&postback, verification, schema))
}
