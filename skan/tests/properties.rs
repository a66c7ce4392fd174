//! Properties over arbitrary input: nothing panics (a panic resets a Worker's wasm instance),
//! and no change to Apple's sample yields a verified record that differs in a signed field.
#![cfg(not(target_arch = "wasm32"))]

use attrib_skan::{receive_aak, receive_skan, ConversionSchema, KeyPolicy, PostbackRecord};
use proptest::prelude::*;
use serde_json::{json, Value};

const SKAN_4_0_FINE: &str = include_str!("samples/skan-4.0-fine.json");
const AAK_DEVELOPMENT_1: &str = include_str!("samples/aak-development-1.json");

fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0u64..2_000_000_000).prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-zA-Z0-9.:/_-]{0,16}".prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::from),
        prop::collection::vec(any::<u8>(), 0..4).prop_map(|v| json!(v)),
    ]
}

/// What Apple signs, as the record carries it.
fn signed_part(r: &PostbackRecord) -> impl PartialEq + std::fmt::Debug + '_ {
    (
        (
            r.version,
            &r.ad_network_id,
            r.campaign_id,
            &r.source_identifier,
            r.app_id,
        ),
        (
            &r.postback_id,
            r.redownload,
            r.source_app_id,
            &r.source_domain,
        ),
        (r.fidelity, r.did_win, r.postback_sequence_index),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = receive_skan(&body, None);
        let _ = receive_aak(&body, None, KeyPolicy::AllowDevelopment);
        let _ = ConversionSchema::from_json(&body);
    }

    #[test]
    fn a_verified_record_never_differs_from_apples_in_a_signed_field(
        field in prop::sample::select(vec![
            "version", "ad-network-id", "source-identifier", "app-id", "transaction-id",
            "redownload", "source-domain", "source-app-id", "fidelity-type", "did-win",
            "conversion-value", "coarse-conversion-value", "postback-sequence-index",
            "country-code", "attribution-signature", "campaign-id", "unknown-field",
        ]),
        value in json_value(),
    ) {
        let original = receive_skan(SKAN_4_0_FINE.as_bytes(), None).expect("Apple's sample");
        let mut body: Value = serde_json::from_str(SKAN_4_0_FINE).expect("JSON");
        body[field] = value;
        if let Ok(record) = receive_skan(body.to_string().as_bytes(), None) {
            if record.verified {
                prop_assert_eq!(signed_part(&record), signed_part(&original));
            } else {
                prop_assert_eq!(record.dedup_key(), None);
            }
        }
    }

    #[test]
    fn adattributionkit_body_changes_never_panic_or_unsign_the_jws(
        field in prop::sample::select(vec![
            "jws-string", "conversion-value", "coarse-conversion-value", "ad-interaction-type",
            "country-code", "unknown-field",
        ]),
        value in json_value(),
    ) {
        let original = receive_aak(AAK_DEVELOPMENT_1.as_bytes(), None, KeyPolicy::AllowDevelopment)
            .expect("Apple's sample");
        let mut body: Value = serde_json::from_str(AAK_DEVELOPMENT_1).expect("JSON");
        body[field] = value;
        if let Ok(record) = receive_aak(body.to_string().as_bytes(), None, KeyPolicy::AllowDevelopment) {
            if record.verified {
                prop_assert_eq!(record.dedup_key(), original.dedup_key());
                prop_assert_eq!(
                    (&record.source_identifier, record.did_win, &record.conversion_type),
                    (&original.source_identifier, original.did_win, &original.conversion_type)
                );
            }
        }
    }
}
