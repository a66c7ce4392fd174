//! Apple's own signed sample postbacks verify against Apple's published keys, and each one with
//! a single field changed fails for a specific reason.
//!
//! Every sample is copied byte for byte from the page named in its doc comment (the pages as
//! stored in the team's reference library, 2026-08). Only Apple holds the private keys, so a
//! sample that verifies here carries a signature Apple made.

use attrib_skan::{
    aak, receive_aak, receive_skan, skan, AppleKey, KeyPolicy, PostbackError, PostbackRecord,
    Reason, SignatureError,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

/// SKAdNetwork 2.1. Not on Apple's current pages (they show 2.2, 3.0 and 4.0 samples only): it
/// was the sample of the earlier revision of "Verifying an install-validation postback"
/// (<https://developer.apple.com/documentation/storekit/skadnetwork/verifying_an_install-validation_postback>),
/// and is vendored verbatim as such by github.com/whisk/skadnetwork
/// (`testdata/com.example-2.1.json`), github.com/d-ganchar/vap (README) and
/// gist.github.com/jen6/8fa65a25622d2272a862100ab9157bec (2021-01-04). It verifies under
/// Apple's 2.1+ key below, which only Apple can make happen.
const SKAN_2_1: &str = include_str!("samples/skan-2.1.json");

/// SKAdNetwork 2.2, from "Combining parameters for previous SKAdNetwork postback versions":
/// <https://developer.apple.com/documentation/storekit/combining-parameters-for-previous-skadnetwork-postback-versions>
const SKAN_2_2: &str = include_str!("samples/skan-2.2.json");

/// SKAdNetwork 3.0, winning, from "Combining parameters for SKAdNetwork 3 postbacks":
/// <https://developer.apple.com/documentation/storekit/combining-parameters-for-skadnetwork-3-postbacks>
const SKAN_3_0_WINNING: &str = include_str!("samples/skan-3.0-winning.json");

/// SKAdNetwork 3.0, non-winning (no `source-app-id`, no conversion value), same page:
/// <https://developer.apple.com/documentation/storekit/combining-parameters-for-skadnetwork-3-postbacks>
const SKAN_3_0_NONWINNING: &str = include_str!("samples/skan-3.0-nonwinning.json");

/// SKAdNetwork 4.0, first postback of a web ad in a high data tier (fine value, four-digit
/// source identifier), from "Verifying an install-validation postback":
/// <https://developer.apple.com/documentation/storekit/verifying-an-install-validation-postback>
const SKAN_4_0_FINE: &str = include_str!("samples/skan-4.0-fine.json");

/// SKAdNetwork 4.0, first postback of a web ad in a low data tier (coarse value, two-digit
/// source identifier), same page:
/// <https://developer.apple.com/documentation/storekit/verifying-an-install-validation-postback>
const SKAN_4_0_COARSE: &str = include_str!("samples/skan-4.0-coarse.json");

/// AdAttributionKit, signed with `apple-development-identifier/1` (developer settings), from
/// "Identifying the parameters in a postback":
/// <https://developer.apple.com/documentation/adattributionkit/identifying-the-parameters-in-a-postback>
const AAK_DEVELOPMENT_1: &str = include_str!("samples/aak-development-1.json");

/// AdAttributionKit, headed `apple-cas-identifier/0`, from the earlier revision of the same
/// page (<https://developer.apple.com/documentation/adattributionkit/identifying-the-parameters-in-a-postback>),
/// as stored in the reference library. It does NOT verify under Apple's production key: an
/// illustrative token, not a production postback (see the test below).
const AAK_EARLIER_DOC_SAMPLE: &str = include_str!("samples/aak-earlier-doc-sample.json");

const SKAN_SAMPLES: [(&str, &str); 6] = [
    ("2.1", SKAN_2_1),
    ("2.2", SKAN_2_2),
    ("3.0 winning", SKAN_3_0_WINNING),
    ("3.0 non-winning", SKAN_3_0_NONWINNING),
    ("4.0 fine", SKAN_4_0_FINE),
    ("4.0 coarse", SKAN_4_0_COARSE),
];

#[derive(Debug, PartialEq)]
enum Outcome {
    Verified,
    Unverified(SignatureError),
    Refused(&'static str, Reason),
}

fn skan_outcome(body: &[u8]) -> Outcome {
    match skan::parse(body) {
        Ok(p) => match skan::verify(&p) {
            Ok(AppleKey::Production) => Outcome::Verified,
            Ok(other) => panic!("SKAdNetwork verified by {other:?}"),
            Err(e) => Outcome::Unverified(e),
        },
        Err(PostbackError::Field { field, reason }) => Outcome::Refused(field, reason),
        Err(e) => panic!("unexpected {e}"),
    }
}

fn with(sample: &str, field: &str, value: Value) -> Vec<u8> {
    let mut v: Value = serde_json::from_str(sample).expect("sample is JSON");
    v[field] = value;
    v.to_string().into_bytes()
}

fn without(sample: &str, field: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_str(sample).expect("sample is JSON");
    v.as_object_mut().map(|o| o.remove(field));
    v.to_string().into_bytes()
}

#[test]
fn apples_skadnetwork_samples_verify_with_apples_key() {
    for (name, sample) in SKAN_SAMPLES {
        assert_eq!(skan_outcome(sample.as_bytes()), Outcome::Verified, "{name}");
        let record = receive_skan(sample.as_bytes(), None).expect("readable");
        assert!(record.verified, "{name}");
        assert_eq!(record.verified_by, Some(AppleKey::Production), "{name}");
        assert_eq!(record.invalid_reason, None, "{name}");
    }
}

/// Every signed field, changed to another well-formed value, breaks the signature.
#[test]
fn each_signed_field_changed_fails_with_a_signature_mismatch() {
    let mismatch = Outcome::Unverified(SignatureError::Mismatch);
    let changes: &[(&str, &str, Value)] = &[
        ("2.1", "ad-network-id", json!("com.exampla")),
        ("2.1", "campaign-id", json!(43)),
        ("2.1", "app-id", json!(525463030)),
        (
            "2.1",
            "transaction-id",
            json!("6aafb7a5-0170-41b5-bbe4-fe71dedf1e29"),
        ),
        ("2.1", "redownload", json!(false)),
        ("2.1", "source-app-id", json!(1234567892)),
        ("2.2", "ad-network-id", json!("com.examplf")),
        ("2.2", "campaign-id", json!(41)),
        ("2.2", "app-id", json!(1)),
        (
            "2.2",
            "transaction-id",
            json!("6aafb7a5-0170-41b5-bbe4-fe71dedf1e27"),
        ),
        ("2.2", "redownload", json!(false)),
        ("2.2", "source-app-id", json!(0)),
        ("2.2", "fidelity-type", json!(0)),
        (
            "3.0 winning",
            "ad-network-id",
            json!("example124.skadnetwork"),
        ),
        ("3.0 winning", "campaign-id", json!(100)),
        ("3.0 winning", "app-id", json!(525463028)),
        ("3.0 winning", "redownload", json!(false)),
        ("3.0 winning", "source-app-id", json!(1234567890)),
        ("3.0 winning", "fidelity-type", json!(0)),
        ("3.0 non-winning", "did-win", json!(true)),
        (
            "3.0 non-winning",
            "transaction-id",
            json!("f9ac267a-a889-44ce-b5f7-0166d11461f1"),
        ),
        ("3.0 non-winning", "source-app-id", json!(1234567891)),
        ("4.0 fine", "ad-network-id", json!("com.example2")),
        ("4.0 fine", "source-identifier", json!("5238")),
        ("4.0 fine", "source-identifier", json!("523")),
        ("4.0 fine", "app-id", json!(525463020)),
        (
            "4.0 fine",
            "transaction-id",
            json!("6aafb7a5-0170-41b5-bbe4-fe71dedf1e31"),
        ),
        ("4.0 fine", "redownload", json!(true)),
        ("4.0 fine", "source-domain", json!("example.org")),
        ("4.0 fine", "fidelity-type", json!(0)),
        ("4.0 coarse", "source-identifier", json!("38")),
        ("4.0 coarse", "postback-sequence-index", json!(1)),
        ("4.0 coarse", "postback-sequence-index", json!(2)),
        (
            "4.0 coarse",
            "transaction-id",
            json!("6aafb7a5-0170-41b5-bbe4-fe71dedf1e30"),
        ),
    ];
    for (name, field, value) in changes {
        let sample = sample(name);
        let body = with(sample, field, value.clone());
        assert_eq!(skan_outcome(&body), mismatch, "{name}: {field} = {value}");
        let record = receive_skan(&body, None).expect("readable");
        assert!(!record.verified);
        assert_eq!(record.invalid_reason.as_deref(), Some("signature_mismatch"));
        assert_eq!(
            record.dedup_key(),
            None,
            "an unverified postback takes no dedup key"
        );
    }
}

/// Dropping an optional signed field changes the signed string too.
#[test]
fn dropping_a_signed_optional_field_fails_with_a_signature_mismatch() {
    let mismatch = Outcome::Unverified(SignatureError::Mismatch);
    assert_eq!(skan_outcome(&without(SKAN_2_1, "source-app-id")), mismatch);
    assert_eq!(
        skan_outcome(&without(SKAN_3_0_WINNING, "source-app-id")),
        mismatch
    );
    assert_eq!(
        skan_outcome(&without(SKAN_4_0_FINE, "source-domain")),
        mismatch
    );
}

/// Changes that make the postback unreadable are refused before any signature check, each
/// naming the field and the reason.
#[test]
fn each_malformed_field_is_refused_with_its_field_and_reason() {
    let cases: &[(&str, &str, Value, &str, Reason)] = &[
        (
            "2.2",
            "version",
            json!("2.1"),
            "fidelity-type",
            Reason::NotInVersion("2.1"),
        ),
        (
            "2.1",
            "version",
            json!("2.0"),
            "version",
            Reason::UnsupportedVersion,
        ),
        (
            "3.0 non-winning",
            "version",
            json!("2.2"),
            "did-win",
            Reason::NotInVersion("2.2"),
        ),
        (
            "4.0 fine",
            "version",
            json!("3.0"),
            "source-identifier",
            Reason::NotInVersion("3.0"),
        ),
        (
            "2.1",
            "campaign-id",
            json!(101),
            "campaign-id",
            Reason::OutOfRange { min: 1, max: 100 },
        ),
        (
            "2.2",
            "fidelity-type",
            json!(2),
            "fidelity-type",
            Reason::OutOfRange { min: 0, max: 1 },
        ),
        (
            "2.2",
            "redownload",
            json!("true"),
            "redownload",
            Reason::WrongType("a boolean"),
        ),
        (
            "3.0 winning",
            "did-win",
            json!(false),
            "conversion-value",
            Reason::OnlyWhenWinning,
        ),
        (
            "4.0 fine",
            "postback-sequence-index",
            json!(1),
            "conversion-value",
            Reason::OnlyInFirstPostback,
        ),
        (
            "4.0 fine",
            "postback-sequence-index",
            json!(3),
            "postback-sequence-index",
            Reason::OutOfRange { min: 0, max: 2 },
        ),
        (
            "4.0 fine",
            "source-identifier",
            json!("5"),
            "source-identifier",
            Reason::Format("a string of two to four digits"),
        ),
        (
            "4.0 fine",
            "source-identifier",
            json!(5239),
            "source-identifier",
            Reason::WrongType("a string"),
        ),
        (
            "4.0 fine",
            "source-app-id",
            json!(1),
            "source-domain",
            Reason::Conflicts("source-app-id"),
        ),
        (
            "4.0 fine",
            "conversion-value",
            json!(64),
            "conversion-value",
            Reason::OutOfRange { min: 0, max: 63 },
        ),
        (
            "4.0 coarse",
            "coarse-conversion-value",
            json!("HIGH"),
            "coarse-conversion-value",
            Reason::NotOneOf("\"low\", \"medium\", \"high\""),
        ),
        (
            "4.0 coarse",
            "country-code",
            json!("usa"),
            "country-code",
            Reason::Format("two upper-case letters (ISO 3166-1 alpha-2)"),
        ),
        (
            "3.0 winning",
            "transaction-id",
            json!("6aafb7a5:0170"),
            "transaction-id",
            Reason::Format("letters, digits or '-'"),
        ),
        (
            "3.0 winning",
            "attribution-signature",
            json!(""),
            "attribution-signature",
            Reason::Empty,
        ),
    ];
    for (name, field, value, at, reason) in cases {
        let body = with(sample(name), field, value.clone());
        assert_eq!(
            skan_outcome(&body),
            Outcome::Refused(at, reason.clone()),
            "{name}: {field} = {value}"
        );
        let error = receive_skan(&body, None).expect_err("refused");
        assert_eq!(error.field_name(), Some(*at));
        assert_eq!(error.reason_code(), reason.code());
    }
    let error = receive_skan(&without(SKAN_2_2, "transaction-id"), None).expect_err("refused");
    assert_eq!(
        (error.field_name(), error.reason_code()),
        (Some("transaction-id"), "missing")
    );
}

#[test]
fn a_tampered_signature_fails_with_its_reason() {
    // One base64 character changed inside the DER integers: a different, well-formed signature.
    let sig = "MEUCIGRmSMrqedNu6uaHyhVcifs118R5z/AB6cvRaKrRRHWRAiEAv96ne3dKQ5kJpbsfk4eYiePmrZUU6sQmo+7zfP/1Bxo=";
    let flipped = sig.replacen("GRmSM", "GRmSN", 1);
    let body = with(SKAN_4_0_FINE, "attribution-signature", json!(flipped));
    assert_eq!(
        skan_outcome(&body),
        Outcome::Unverified(SignatureError::Mismatch)
    );

    let body = with(SKAN_4_0_FINE, "attribution-signature", json!("not*base64"));
    assert_eq!(
        skan_outcome(&body),
        Outcome::Unverified(SignatureError::SignatureNotBase64)
    );

    let body = with(SKAN_4_0_FINE, "attribution-signature", json!("MEUCIGRm"));
    assert_eq!(
        skan_outcome(&body),
        Outcome::Unverified(SignatureError::SignatureNotDer)
    );
}

/// Apple never signs conversion values or `country-code`: a relay can change them and the
/// signature still verifies. What holds them is the dedup key: the first verified copy of a
/// transaction wins, and a replay with another value maps to the same key.
#[test]
fn unsigned_conversion_values_do_not_break_the_signature_and_dedup_holds_them() {
    let original = receive_skan(SKAN_2_2.as_bytes(), None).expect("readable");
    let replay =
        receive_skan(&with(SKAN_2_2, "conversion-value", json!(21)), None).expect("readable");
    assert!(replay.verified);
    assert_eq!(replay.fine_value, Some(21));
    assert_eq!(replay.dedup_key(), original.dedup_key());
    let key = original.dedup_key().expect("verified");
    assert_eq!(
        key.to_string(),
        "skadnetwork:525463029:com.example:6aafb7a5-0170-41b5-bbe4-fe71dedf1e28"
    );

    let with_country = with(SKAN_4_0_COARSE, "country-code", json!("US"));
    assert_eq!(skan_outcome(&with_country), Outcome::Verified);
}

#[test]
fn skadnetwork_records_carry_every_documented_field() {
    let fine = receive_skan(SKAN_4_0_FINE.as_bytes(), None).expect("readable");
    assert_eq!(fine.version.map(|v| v.as_str()), Some("4.0"));
    assert_eq!(fine.source_identifier.as_deref(), Some("5239"));
    assert_eq!(fine.campaign_id, None);
    assert_eq!(fine.source_domain.as_deref(), Some("example.com"));
    assert_eq!((fine.fine_value, fine.coarse_value), (Some(63), None));
    assert!(fine.did_win && !fine.redownload);

    let old = receive_skan(SKAN_2_1.as_bytes(), None).expect("readable");
    assert_eq!(old.campaign_id, Some(42));
    assert_eq!(old.source_app_id, Some(1234567891));
    assert!(old.did_win, "before 3.0 only winning postbacks were sent");
    assert_eq!(old.fidelity, None);

    let loser = receive_skan(SKAN_3_0_NONWINNING.as_bytes(), None).expect("readable");
    assert!(!loser.did_win);
    assert_eq!((loser.fine_value, loser.source_app_id), (None, None));
}

// ---- AdAttributionKit -------------------------------------------------------------------

fn aak_outcome(
    body: &[u8],
    policy: KeyPolicy,
) -> Result<Result<AppleKey, SignatureError>, PostbackError> {
    aak::parse(body).map(|p| aak::verify(&p, policy))
}

fn jws_parts(sample: &str) -> (Value, String, String, String) {
    let v: Value = serde_json::from_str(sample).expect("JSON");
    let jws = v["jws-string"].as_str().expect("jws").to_owned();
    let mut parts = jws.split('.').map(str::to_owned);
    let (h, p, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    (v, h, p, s)
}

fn with_jws(body: &Value, header: &str, payload: &str, signature: &str) -> Vec<u8> {
    let mut v = body.clone();
    v["jws-string"] = json!(format!("{header}.{payload}.{signature}"));
    v.to_string().into_bytes()
}

fn encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64url")).expect("JSON")
}

#[test]
fn apples_adattributionkit_sample_verifies_with_its_development_key() {
    let body = AAK_DEVELOPMENT_1.as_bytes();
    assert_eq!(
        aak_outcome(body, KeyPolicy::AllowDevelopment),
        Ok(Ok(AppleKey::Development1))
    );
    let record = receive_aak(body, None, KeyPolicy::AllowDevelopment).expect("readable");
    assert!(record.verified);
    assert_eq!(
        record.key_id.as_deref(),
        Some("apple-development-identifier/1")
    );
    assert_eq!(record.ad_network_id, "development.adattributionkit");
    assert_eq!(record.app_id, 10738027756);
    assert_eq!(record.postback_id, "85546EB7-FD39-44BC-8990-C98A4AC36A49");
    assert_eq!(record.source_identifier.as_deref(), Some("1234"));
    assert_eq!(record.source_app_id, Some(0));
    assert_eq!(record.marketplace_id.as_deref(), Some("com.apple.AppStore"));
    assert_eq!(record.conversion_type.as_deref(), Some("re-engagement"));
    assert_eq!(record.fine_value, Some(24));
    assert_eq!(record.country_code.as_deref(), Some("US"));
    assert!(record.did_win && !record.redownload);
    assert_eq!(
        record.dedup_key().expect("verified").to_string(),
        "adattributionkit:10738027756:development.adattributionkit:85546EB7-FD39-44BC-8990-C98A4AC36A49"
    );
}

#[test]
fn a_production_endpoint_refuses_the_development_key() {
    let record = receive_aak(
        AAK_DEVELOPMENT_1.as_bytes(),
        None,
        KeyPolicy::ProductionOnly,
    )
    .expect("readable");
    assert!(!record.verified);
    assert_eq!(
        record.invalid_reason.as_deref(),
        Some("development_key_refused")
    );
    assert_eq!(record.dedup_key(), None);
}

/// The earlier documentation sample names the production key but is not signed by it. This
/// test pins that fact (were it ever to verify, the key or the verifier changed).
#[test]
fn the_earlier_documentation_sample_does_not_verify_under_the_production_key() {
    assert_eq!(
        aak_outcome(AAK_EARLIER_DOC_SAMPLE.as_bytes(), KeyPolicy::ProductionOnly),
        Ok(Err(SignatureError::Mismatch))
    );
    for key in AppleKey::ALL {
        let (body, _, payload, signature) = jws_parts(AAK_EARLIER_DOC_SAMPLE);
        let header = encode(&json!({"kid": key.key_id(), "alg": "ES256"}));
        let bytes = with_jws(&body, &header, &payload, &signature);
        assert_eq!(
            aak_outcome(&bytes, KeyPolicy::AllowDevelopment),
            Ok(Err(SignatureError::Mismatch)),
            "{key:?}"
        );
    }
}

/// Every signed claim, changed, breaks the JWS signature.
#[test]
fn each_signed_claim_changed_fails_with_a_signature_mismatch() {
    let (body, header, payload, signature) = jws_parts(AAK_DEVELOPMENT_1);
    let claims = decode(&payload);
    let changes: &[(&str, Value)] = &[
        (
            "postback-identifier",
            json!("85546EB7-FD39-44BC-8990-C98A4AC36A48"),
        ),
        ("publisher-item-identifier", json!(1)),
        ("marketplace-identifier", json!("com.example.market")),
        ("impression-type", json!("web-impression")),
        ("ad-network-identifier", json!("other.adattributionkit")),
        ("did-win", json!(false)),
        ("postback-sequence-index", json!(1)),
        ("conversion-type", json!("download")),
        ("source-identifier", json!("1235")),
        ("advertised-item-identifier", json!(10738027757u64)),
    ];
    for (claim, value) in changes {
        let mut changed = claims.clone();
        changed[*claim] = value.clone();
        let mut outer = body.clone();
        if *claim == "did-win" || *claim == "postback-sequence-index" {
            // Keep the unsigned body consistent, so only the signature can fail.
            outer.as_object_mut().map(|o| o.remove("conversion-value"));
        }
        let bytes = with_jws(&outer, &header, &encode(&changed), &signature);
        assert_eq!(
            aak_outcome(&bytes, KeyPolicy::AllowDevelopment),
            Ok(Err(SignatureError::Mismatch)),
            "{claim} = {value}"
        );
    }
    // Re-encoding the very same claims differently (key order, spacing) also fails: the
    // signature covers the bytes as sent, which is why they are never re-serialized.
    let reencoded = with_jws(&body, &header, &encode(&claims), &signature);
    assert_eq!(
        aak_outcome(&reencoded, KeyPolicy::AllowDevelopment),
        Ok(Err(SignatureError::Mismatch))
    );
}

#[test]
fn header_tampering_fails_with_its_reason() {
    let (body, _, payload, signature) = jws_parts(AAK_DEVELOPMENT_1);
    let cases: &[(Value, SignatureError)] = &[
        (
            json!({"kid": "apple-cas-identifier/0", "alg": "ES256"}),
            SignatureError::Mismatch,
        ),
        (
            json!({"kid": "apple-development-identifier/0", "alg": "ES256"}),
            SignatureError::Mismatch,
        ),
        (
            json!({"kid": "apple-cas-identifier/9", "alg": "ES256"}),
            SignatureError::UnknownKeyId,
        ),
        (
            json!({"kid": "https://attacker.example/key", "alg": "ES256"}),
            SignatureError::UnknownKeyId,
        ),
        (json!({"alg": "ES256"}), SignatureError::MissingKeyId),
        (
            json!({"kid": "apple-development-identifier/1", "alg": "none"}),
            SignatureError::UnsupportedAlgorithm,
        ),
        (
            json!({"kid": "apple-development-identifier/1", "alg": "HS256"}),
            SignatureError::UnsupportedAlgorithm,
        ),
        (
            json!({"kid": "apple-development-identifier/1", "alg": "ES256", "crit": ["exp"]}),
            SignatureError::CriticalHeader,
        ),
    ];
    for (header, expected) in cases {
        let bytes = with_jws(&body, &encode(header), &payload, &signature);
        assert_eq!(
            aak_outcome(&bytes, KeyPolicy::AllowDevelopment),
            Ok(Err(expected.clone())),
            "{header}"
        );
        let record = receive_aak(&bytes, None, KeyPolicy::AllowDevelopment).expect("readable");
        assert_eq!(record.invalid_reason.as_deref(), Some(expected.code()));
    }
    let (_, header, _, _) = jws_parts(AAK_DEVELOPMENT_1);
    let bad_signature = signature.replacen('b', "c", 1);
    let bytes = with_jws(&body, &header, &payload, &bad_signature);
    assert_eq!(
        aak_outcome(&bytes, KeyPolicy::AllowDevelopment),
        Ok(Err(SignatureError::Mismatch))
    );
    let bytes = with_jws(&body, &header, &payload, &signature[..40]);
    assert_eq!(
        aak_outcome(&bytes, KeyPolicy::AllowDevelopment),
        Ok(Err(SignatureError::JwsSignatureMalformed))
    );
}

#[test]
fn malformed_adattributionkit_bodies_are_refused_with_field_and_reason() {
    let (body, header, payload, signature) = jws_parts(AAK_DEVELOPMENT_1);
    let refused = |bytes: &[u8]| match aak::parse(bytes) {
        Err(PostbackError::Field { field, reason }) => (field, reason),
        other => panic!("expected a field error, got {other:?}"),
    };
    assert_eq!(
        refused(br#"{"jws-string": ""}"#),
        ("jws-string", Reason::Empty)
    );
    assert_eq!(
        refused(format!(r#"{{"jws-string": "{header}.{payload}"}}"#).as_bytes()),
        (
            "jws-string",
            Reason::Format("three base64url parts separated by '.'")
        )
    );
    let mut claims = decode(&payload);
    claims["postback-sequence-index"] = json!(3);
    assert_eq!(
        refused(&with_jws(&body, &header, &encode(&claims), &signature)),
        (
            "postback-sequence-index",
            Reason::OutOfRange { min: 0, max: 2 }
        )
    );
    let mut claims = decode(&payload);
    claims
        .as_object_mut()
        .map(|o| o.remove("postback-identifier"));
    assert_eq!(
        refused(&with_jws(&body, &header, &encode(&claims), &signature)),
        ("postback-identifier", Reason::Missing)
    );
    let mut outer = body.clone();
    outer["ad-interaction-type"] = json!("tap");
    assert_eq!(
        refused(outer.to_string().as_bytes()).0,
        "ad-interaction-type"
    );
    let mut outer = body.clone();
    outer["coarse-conversion-value"] = json!("low");
    assert_eq!(
        refused(outer.to_string().as_bytes()),
        (
            "coarse-conversion-value",
            Reason::Conflicts("conversion-value")
        )
    );
}

/// The body around the JWS is not signed: changing it keeps the signature valid (Apple's
/// design), and dedup on `postback-identifier` keeps a replay from counting twice.
#[test]
fn unsigned_body_fields_do_not_break_the_jws_and_dedup_holds_them() {
    let mut body: Value = serde_json::from_str(AAK_DEVELOPMENT_1).expect("JSON");
    body["conversion-value"] = json!(25);
    body["country-code"] = json!("FR");
    let original = receive_aak(
        AAK_DEVELOPMENT_1.as_bytes(),
        None,
        KeyPolicy::AllowDevelopment,
    )
    .expect("readable");
    let replay = receive_aak(
        body.to_string().as_bytes(),
        None,
        KeyPolicy::AllowDevelopment,
    )
    .expect("readable");
    assert!(replay.verified);
    assert_eq!(replay.dedup_key(), original.dedup_key());
}

fn sample(name: &str) -> &'static str {
    SKAN_SAMPLES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        .unwrap_or_else(|| panic!("no sample {name}"))
}

#[test]
fn records_serialize_for_storage() {
    let record = receive_skan(SKAN_4_0_COARSE.as_bytes(), None).expect("readable");
    let json = serde_json::to_value(&record).expect("serializes");
    assert_eq!(json["protocol"], "skadnetwork");
    assert_eq!(json["version"], "4.0");
    assert_eq!(json["coarse_value"], "high");
    let back: PostbackRecord = serde_json::from_value(json).expect("round trip");
    assert_eq!(back, record);
}

/// The crate's table-based verifier and p256's generic one agree on Apple's samples and on
/// each of them tampered.
#[test]
fn p256s_own_verifier_agrees_on_apples_samples() {
    use attrib_skan::keys::{APPLE_DEVELOPMENT_1_P256_SPKI, APPLE_PRODUCTION_P256_SPKI};
    use base64::engine::general_purpose::STANDARD;
    use p256::ecdsa::signature::Verifier as _;
    use p256::ecdsa::{Signature, VerifyingKey};
    use p256::pkcs8::DecodePublicKey as _;

    let key = |spki: &str| {
        VerifyingKey::from_public_key_der(&STANDARD.decode(spki).expect("base64")).expect("SPKI")
    };
    let production = key(APPLE_PRODUCTION_P256_SPKI);
    for (name, sample) in SKAN_SAMPLES {
        for body in [sample.as_bytes().to_vec(), with(sample, "app-id", json!(7))] {
            let postback = skan::parse(&body).expect("readable");
            let der = STANDARD
                .decode(&postback.attribution_signature)
                .expect("base64");
            let signature = Signature::from_der(&der).expect("DER");
            let generic = production.verify(postback.signed_message().as_bytes(), &signature);
            assert_eq!(generic.is_ok(), skan::verify(&postback).is_ok(), "{name}");
        }
    }
    let (_, header, payload, signature) = jws_parts(AAK_DEVELOPMENT_1);
    let raw =
        Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).expect("b64url")).expect("r||s");
    let development = key(APPLE_DEVELOPMENT_1_P256_SPKI);
    assert!(development
        .verify(format!("{header}.{payload}").as_bytes(), &raw)
        .is_ok());
}

#[test]
fn records_decode_through_the_apps_schema() {
    let schema = attrib_skan::ConversionSchema::from_json(
        br#"{"windows": [{"postback_sequence_index": 0,
            "fine": [{"value": 63, "revenue": {"min": 50, "max": 100, "currency": "USD"},
                      "events": ["purchase"]}],
            "coarse": [{"value": "high", "events": ["subscribed"]}]}]}"#,
    )
    .expect("a valid schema");
    let fine = receive_skan(SKAN_4_0_FINE.as_bytes(), Some(&schema)).expect("readable");
    let decoded = fine.decoded.expect("63 is mapped");
    let revenue = decoded.revenue.expect("a revenue range");
    assert_eq!((revenue.min, revenue.max), (50.0, 100.0));
    assert_eq!(decoded.events, ["purchase"]);

    let coarse = receive_skan(SKAN_4_0_COARSE.as_bytes(), Some(&schema)).expect("readable");
    assert_eq!(
        coarse.decoded.expect("high is mapped").events,
        ["subscribed"]
    );

    let unmapped = receive_skan(SKAN_2_2.as_bytes(), Some(&schema)).expect("readable");
    assert_eq!((unmapped.fine_value, unmapped.decoded), (Some(20), None));
}
