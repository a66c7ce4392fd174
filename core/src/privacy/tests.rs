use serde_json::json;

use super::*;
use crate::mobile::device::{hashed, DeviceId};

const SECRET: &[u8] = b"a deployment secret";

#[test]
fn suppress_and_unsuppress_parse_with_ids_deduplicated() {
    let input = RegulationInput::parse(&json!({
        "regulationType": "SUPPRESS_ONLY", "subjectType": "USER_ID", "subjectIds": ["u1", "u2", "u1"]
    }))
    .unwrap();
    assert_eq!(input.regulation_type, RegulationType::SuppressOnly);
    assert_eq!(input.subject_type, SubjectType::UserId);
    assert_eq!(input.subject_ids, vec!["u1", "u2"]);
    let input = RegulationInput::parse(&json!({
        "regulationType": "UNSUPPRESS", "subjectType": "ANONYMOUS_ID", "subjectIds": ["a"]
    }))
    .unwrap();
    assert_eq!(input.regulation_type, RegulationType::Unsuppress);
}

#[test]
fn delete_types_parse_for_user_and_anonymous_ids_but_not_device_ids() {
    for (kind, expected) in [
        ("DELETE_ONLY", RegulationType::DeleteOnly),
        ("SUPPRESS_WITH_DELETE", RegulationType::SuppressWithDelete),
    ] {
        for subject in ["USER_ID", "ANONYMOUS_ID"] {
            let input = RegulationInput::parse(&json!({
                "regulationType": kind, "subjectType": subject, "subjectIds": ["u"]
            }))
            .unwrap();
            assert_eq!(input.regulation_type, expected);
            assert!(input.regulation_type.erases());
        }
        // A device id's erasure reaches its device-touches object (`erasure::stores_of`).
        let input = RegulationInput::parse(&json!({
            "regulationType": kind, "subjectType": "DEVICE_ID",
            "subjectIds": ["6D92078A-8246-4BA4-AE5B-76104861E7DC"]
        }))
        .unwrap();
        assert_eq!(input.subject_type, SubjectType::DeviceId);
    }
    assert!(RegulationType::SuppressWithDelete.suppresses());
    assert!(!RegulationType::DeleteOnly.suppresses());
    assert!(!RegulationType::SuppressOnly.erases());
}

#[test]
fn bad_bodies_name_their_field() {
    let cases = [
        (
            json!({"regulationType": "NOPE", "subjectType": "USER_ID", "subjectIds": ["u"]}),
            "regulationType",
        ),
        (
            json!({"regulationType": "SUPPRESS_ONLY", "subjectType": "EMAIL", "subjectIds": ["u"]}),
            "subjectType",
        ),
        (
            json!({"regulationType": "SUPPRESS_ONLY", "subjectType": "USER_ID", "subjectIds": []}),
            "subjectIds",
        ),
        (
            json!({"regulationType": "SUPPRESS_ONLY", "subjectType": "USER_ID", "subjectIds": [""]}),
            "subjectIds[0]",
        ),
        (
            json!({"regulationType": "SUPPRESS_ONLY", "subjectType": "USER_ID", "subjectIds": ["u", "x".repeat(MAX_SUBJECT_ID_CHARS + 1)]}),
            "subjectIds[1]",
        ),
        (
            json!({"regulationType": "SUPPRESS_ONLY", "subjectType": "DEVICE_ID", "subjectIds": ["00000000-0000-0000-0000-000000000000"]}),
            "subjectIds[0]",
        ),
        (
            json!({"regulationType": "SUPPRESS_ONLY", "subjectType": "USER_ID", "subjectIds": ["u"], "extra": 1}),
            "extra",
        ),
        (
            json!({"regulationType": "SUPPRESS_ONLY", "subjectType": "USER_ID"}),
            "subjectIds",
        ),
    ];
    for (body, field) in cases {
        assert_eq!(
            RegulationInput::parse(&body).unwrap_err().field,
            field,
            "{body}"
        );
    }
    let many: Vec<String> = (0..=MAX_REGULATION_SUBJECT_IDS)
        .map(|i| format!("u{i}"))
        .collect();
    let err = RegulationInput::parse(&json!({
        "regulationType": "SUPPRESS_ONLY", "subjectType": "USER_ID", "subjectIds": many
    }))
    .unwrap_err();
    assert_eq!(err.field, "subjectIds");
}

#[test]
fn hashes_are_keyed_by_app_and_kind_and_never_the_id() {
    let a = subject_hash(SECRET, "app1", SubjectType::UserId, "u1").unwrap();
    assert_eq!(a.len(), 64);
    assert!(!a.contains("u1"));
    assert_ne!(
        a,
        subject_hash(SECRET, "app2", SubjectType::UserId, "u1").unwrap()
    );
    assert_ne!(
        a,
        subject_hash(SECRET, "app1", SubjectType::AnonymousId, "u1").unwrap()
    );
    assert_ne!(
        a,
        subject_hash(b"another secret", "app1", SubjectType::UserId, "u1").unwrap()
    );
    // User ids are case-sensitive; advertising ids are not.
    assert_ne!(
        a,
        subject_hash(SECRET, "app1", SubjectType::UserId, "U1").unwrap()
    );
    let idfa = "6D92078A-8246-4BA4-AE5B-76104861E7DC";
    assert_eq!(
        subject_hash(SECRET, "app1", SubjectType::DeviceId, idfa),
        subject_hash(SECRET, "app1", SubjectType::DeviceId, &idfa.to_lowercase())
    );
}

#[test]
fn device_hash_is_unchanged_by_the_fold_into_keyed_hash() {
    // The device objects are named by this hash: folding it into keyed_hash must not move them.
    let id = DeviceId {
        kind: DeviceIdKind::Advertising,
        value: "abc-123".into(),
    };
    use hmac::{Hmac, Mac};
    let mut app_key = <Hmac<sha2::Sha256> as Mac>::new_from_slice(SECRET).unwrap();
    app_key.update(b"app1");
    let key = app_key.finalize().into_bytes();
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key).unwrap();
    mac.update(b"advertising:abc-123");
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hashed(SECRET, "app1", &id), expected);
    assert_eq!(
        hashed(SECRET, "app1", &id),
        subject_hash(SECRET, "app1", SubjectType::DeviceId, "ABC-123").unwrap()
    );
}

#[test]
fn an_event_matches_by_any_of_its_ids() {
    let event: Event = serde_json::from_value(json!({
        "messageId": "m", "type": "track", "userId": "u1", "anonymousId": "a1",
        "timestampMs": 0, "receivedAtMs": 0,
        "context": {"device": {"advertisingId": "6D92078A-8246-4BA4-AE5B-76104861E7DC"}}
    }))
    .unwrap();
    let hashes = event_subject_hashes(SECRET, "app1", &event);
    for (kind, raw) in [
        (SubjectType::UserId, "u1"),
        (SubjectType::AnonymousId, "a1"),
        (
            SubjectType::DeviceId,
            "6d92078a-8246-4ba4-ae5b-76104861e7dc",
        ),
    ] {
        assert!(
            hashes.contains(&subject_hash(SECRET, "app1", kind, raw).unwrap()),
            "{raw}"
        );
    }
    assert!(
        !hashes.contains(&subject_hash(SECRET, "app1", SubjectType::AnonymousId, "u1").unwrap())
    );
}

/// Issue 12: a `DEVICE_ID` names a device by its vendor id too (IDFV, Android id: the SDK's
/// `context.device.id`), with or without an advertising id beside it.
#[test]
fn an_event_matches_a_device_id_by_its_vendor_id() {
    let idfv = "0F8E5B37-3D9B-4C1F-9E2A-7C6D5B4A3F21";
    let suppressed = subject_hash(SECRET, "app1", SubjectType::DeviceId, idfv).unwrap();
    let event: Event = serde_json::from_value(json!({
        "messageId": "m", "type": "track", "anonymousId": "a1",
        "timestampMs": 0, "receivedAtMs": 0,
        "context": {"device": {"id": idfv.to_lowercase(), "adTrackingEnabled": false}}
    }))
    .unwrap();
    assert!(event_subject_hashes(SECRET, "app1", &event).contains(&suppressed));
    assert!(!event_subject_hashes(SECRET, "app2", &event).contains(&suppressed));
}
