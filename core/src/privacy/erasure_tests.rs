use super::*;

fn user(id: &str) -> JourneyKey {
    JourneyKey::new("app1", JourneyKind::User, id)
}

#[test]
fn names_parse_within_the_app_only() {
    assert_eq!(parse_object_name("app1", "u:app1:ann"), Some(user("ann")));
    assert_eq!(
        parse_object_name("app1", "a:app1:anon:with:colons"),
        Some(JourneyKey::new(
            "app1",
            JourneyKind::Anonymous,
            "anon:with:colons"
        ))
    );
    assert_eq!(parse_object_name("app1", "u:app2:ann"), None);
    assert_eq!(parse_object_name("app1", "x:app1:ann"), None);
    assert_eq!(parse_object_name("app1", "u:app1:"), None);
    assert_eq!(parse_object_name("app1", "garbage"), None);
}

#[test]
fn the_walk_follows_links_both_ways_once_each_and_stays_in_the_app() {
    let mut walk = LinkedJourneys::new("app1", [user("ann"), user("ann")]).unwrap();
    let mut visited = Vec::new();
    while let Some(key) = walk.next_to_visit() {
        visited.push(key.object_name());
        let links: Vec<&str> = match key.object_name().as_str() {
            // The user absorbed an anonymous journey and a click; another app's name is ignored.
            "u:app1:ann" => vec!["a:app1:anon-1", "c:app1:clk", "u:app2:ann"],
            // The anonymous journey points back (merged_into): not visited twice.
            "a:app1:anon-1" => vec!["u:app1:ann"],
            _ => vec![],
        };
        walk.link(links).unwrap();
    }
    assert_eq!(visited, ["u:app1:ann", "a:app1:anon-1", "c:app1:clk"]);
    assert_eq!(walk.journeys().len(), 3);
}

#[test]
fn a_graph_beyond_the_bound_fails_before_anything_is_erased() {
    let mut walk = LinkedJourneys::new("app1", [user("hub")]).unwrap();
    walk.next_to_visit();
    let names: Vec<String> = (0..MAX_ERASED_JOURNEYS)
        .map(|i| format!("a:app1:anon-{i}"))
        .collect();
    let err = walk.link(names.iter().map(String::as_str)).unwrap_err();
    assert_eq!(err, ErasureError::TooManyJourneys);
    let fits: Vec<String> = (0..MAX_ERASED_JOURNEYS - 1)
        .map(|i| format!("a:app1:anon-{i}"))
        .collect();
    let mut walk = LinkedJourneys::new("app1", [user("hub")]).unwrap();
    walk.link(fits.iter().map(String::as_str)).unwrap();
    assert_eq!(walk.journeys().len(), MAX_ERASED_JOURNEYS);
}

#[test]
fn the_tombstone_holds_for_its_bound_then_lifts() {
    let erased = 1_700_000_000_000;
    assert!(tombstone_holds(erased, erased));
    assert!(tombstone_holds(erased, erased + ERASURE_TOMBSTONE_MS - 1));
    assert!(!tombstone_holds(erased, erased + ERASURE_TOMBSTONE_MS));
    assert!(tombstone_holds(i64::MAX, 0));
}

#[test]
fn stores_per_type_and_the_overall_status() {
    let keys = |t| {
        stores_of(t, SubjectType::UserId)
            .into_keys()
            .collect::<Vec<_>>()
    };
    assert_eq!(keys(RegulationType::SuppressOnly), [EDGE_SUPPRESSION_STORE]);
    assert_eq!(keys(RegulationType::Unsuppress), [EDGE_SUPPRESSION_STORE]);
    assert_eq!(
        keys(RegulationType::DeleteOnly),
        [EDGE_JOURNEYS_STORE, EDGE_POSTBACK_LOG_STORE, ORIGIN_STORE]
    );
    assert_eq!(keys(RegulationType::SuppressWithDelete).len(), 4);
    let device = |t| {
        stores_of(t, SubjectType::DeviceId)
            .into_keys()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        device(RegulationType::DeleteOnly),
        [EDGE_DEVICE_TOUCHES_STORE]
    );
    assert_eq!(
        device(RegulationType::SuppressWithDelete),
        [EDGE_DEVICE_TOUCHES_STORE, EDGE_SUPPRESSION_STORE]
    );

    let mut stores = stores_of(RegulationType::DeleteOnly, SubjectType::AnonymousId);
    assert_eq!(overall(&stores), "pending");
    for status in stores.values_mut() {
        *status = StoreStatus::Done;
    }
    assert_eq!(overall(&stores), "done");
    stores.insert(ORIGIN_STORE.into(), StoreStatus::failed("unreachable"));
    assert_eq!(overall(&stores), "failed");
    assert_eq!(
        serde_json::to_value(&stores[ORIGIN_STORE]).unwrap(),
        serde_json::json!({"status": "failed", "reason": "unreachable"})
    );
    assert_eq!(
        serde_json::to_value(StoreStatus::Done).unwrap(),
        serde_json::json!({"status": "done"})
    );
}

#[test]
fn subjects_name_their_journeys() {
    assert_eq!(
        subject_journey("app1", SubjectType::UserId, "ann"),
        Some(user("ann"))
    );
    assert_eq!(
        subject_journey("app1", SubjectType::AnonymousId, "x").map(|k| k.object_name()),
        Some("a:app1:x".into())
    );
    assert_eq!(subject_journey("app1", SubjectType::DeviceId, "x"), None);
}

#[test]
fn an_origin_erasure_takes_only_the_apps_journeys_within_bounds() {
    let ok = OriginErasure {
        app_id: "app1".into(),
        journeys: vec!["u:app1:ann".into(), "a:app1:x".into()],
    };
    assert_eq!(ok.check(), Ok(()));
    let field = |app: &str, journeys: Vec<String>| {
        OriginErasure {
            app_id: app.into(),
            journeys,
        }
        .check()
        .unwrap_err()
        .field
    };
    assert_eq!(field("app1", vec![]), "journeys");
    assert_eq!(field("app1", vec!["u:app2:ann".into()]), "journeys[0]");
    assert_eq!(
        field("app1", vec!["u:app1:a".into(), "nope".into()]),
        "journeys[1]"
    );
    assert_eq!(field("a:b", vec!["u:a:b:x".into()]), "app_id");
    let many = (0..=MAX_ERASED_JOURNEYS)
        .map(|i| format!("u:app1:{i}"))
        .collect();
    assert_eq!(field("app1", many), "journeys");
    let long = format!("u:app1:{}", "x".repeat(MAX_JOURNEY_NAME_CHARS));
    assert_eq!(field("app1", vec![long]), "journeys[0]");
}

/// Issue 12: the origin's rollup facts keep an erased person's conversions as anonymous
/// counts: nothing of the person is left in the record, and every aggregate is the same.
#[test]
fn an_anonymised_attribution_names_nobody_and_leaves_the_aggregates_unchanged() {
    use crate::outbox::{AttributionRecord, OutboxRecord};
    use crate::rollup::{conversion_paths, daily_stats};
    use crate::testkit::click;
    let settings = crate::settings::AppSettings::with_defaults("app1");
    let now = 10 * 86_400_000;
    let touches = [click("t1", now - 7_200_000), click("t2", now - 3_600_000)];
    let conversion = crate::conversion::Conversion {
        conversion_id: "c1".into(),
        name: "Order Completed".into(),
        ts_ms: now,
        revenue: 40.0,
        currency: "EUR".into(),
        order_id: Some("order-of-ann-7f3".into()),
    };
    let mut result = crate::attribution::attribute(&conversion, &touches, &settings, now);
    result.rejected_detail = Some("ip 203.0.113.9".into());
    let original = AttributionRecord {
        app_id: "app1".into(),
        journey: "u:app1:ann-7f3".into(),
        result,
    };
    let mut erased = original.clone();
    anonymise_attribution(&mut erased);
    let text = serde_json::to_string(&erased).unwrap();
    for personal in ["ann-7f3", "203.0.113.9"] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }
    let before = [OutboxRecord::Attribution(Box::new(original))];
    let after = [OutboxRecord::Attribution(Box::new(erased))];
    assert_eq!(daily_stats(&before), daily_stats(&after));
    assert_eq!(conversion_paths(&before), conversion_paths(&after));
    assert!(!daily_stats(&after).is_empty());
}

/// Issue 12: a `DEVICE_ID` erasure names the device object the ingest Worker keeps for that
/// advertising id (the same keyed hash, whatever its case), and none for an unusable id.
#[test]
fn device_ids_name_their_device_objects() {
    use crate::mobile::device::{hashed, object_name, DeviceId, DeviceIdKind};
    let id = "6D92078A-8246-4BA4-AE5B-76104861E7DC";
    let object_of = |kind| {
        object_name(
            "app1",
            &hashed(
                b"device-secret",
                "app1",
                &DeviceId {
                    kind,
                    value: id.to_lowercase(),
                },
            ),
        )
    };
    // One id, in any case, names its object as an IDFA and as an IDFV.
    let mut expected = vec![
        object_of(DeviceIdKind::Advertising),
        object_of(DeviceIdKind::Vendor),
    ];
    expected.sort();
    assert_eq!(
        device_object_names(b"device-secret", "app1", &[id.into(), id.to_lowercase()]),
        expected
    );
    assert!(device_object_names(
        b"device-secret",
        "app1",
        &["00000000-0000-0000-0000-000000000000".into()]
    )
    .is_empty());
}
