//! The upsert contract: what each section replaces, and how bad rows are named.

use serde_json::json;

use super::*;

fn body(value: serde_json::Value) -> UpsertBody {
    serde_json::from_value(value).expect("decodes")
}

fn day_of(app: &str) -> serde_json::Value {
    json!([{"app_id": app, "day": "2026-03-01"}])
}

#[test]
fn sections_replace_only_their_own_tables() {
    let fraud_only = body(json!({
        "days": day_of("a"),
        "fraud": [{"app_id": "a", "day": "2026-03-01", "reason": "click_flood", "count": 3}]
    }));
    fraud_only.validate().expect("valid");
    let sql: Vec<String> = fraud_only
        .statements("t")
        .into_iter()
        .map(|s| s.sql)
        .collect();
    assert!(sql[0].starts_with("DELETE FROM fraud_counts"));
    assert!(!sql
        .iter()
        .any(|s| s.contains("daily_stats") || s.contains("conversion_paths")));
    assert!(
        sql.last().is_some_and(|s| s.contains("stats_versions")),
        "version bumped last"
    );
    assert_eq!(fraud_only.applied().rows, None);
}

#[test]
fn paths_are_stored_as_canonical_json_with_their_length() {
    let b = body(json!({
        "days": day_of("a"),
        "paths": [{"app_id": "a", "day": "2026-03-01", "path": ["google", "e > mail"],
                   "currency": "USD", "conversions": 2, "value": 10.5}]
    }));
    b.validate().expect("valid");
    let insert = b
        .statements("t")
        .into_iter()
        .find(|s| s.sql.starts_with("INSERT INTO conversion_paths"))
        .expect("insert");
    assert_eq!(
        insert.params[2],
        Param::Text(r#"["google","e > mail"]"#.into())
    );
    assert_eq!(insert.params[3], Param::Int(2));
}

#[test]
fn bad_rows_name_their_field() {
    let cases = [
        (
            json!({"days": day_of("a"), "paths": [{"app_id": "a", "day": "2026-03-01", "path": [],
            "currency": "USD", "conversions": 1, "value": 1}]}),
            "paths[0].path",
        ),
        (
            json!({"days": day_of("a"), "paths": [{"app_id": "a", "day": "2026-03-02", "path": ["x"],
            "currency": "USD", "conversions": 1, "value": 1}]}),
            "paths[0]",
        ),
        (
            json!({"days": day_of("a"), "fraud": [{"app_id": "a", "day": "2026-03-01", "reason": "",
            "count": 1}]}),
            "fraud[0].reason",
        ),
        (
            json!({"days": day_of("a"), "fraud": [
            {"app_id": "a", "day": "2026-03-01", "reason": "r", "count": 1},
            {"app_id": "a", "day": "2026-03-01", "reason": "r", "count": 2}]}),
            "fraud[1]",
        ),
        (
            json!({"days": [{"app_id": "a", "day": "2026-02-30"}]}),
            "days[0].day",
        ),
        (
            json!({"days": day_of("a"), "rows": [{"app_id": "a", "day": "2026-03-01", "source": "s",
            "campaign": "c", "model": "linear", "currency": "", "touches": 1,
            "conversions": -1, "revenue": 0, "credited_value": 0}]}),
            "rows[0].conversions",
        ),
    ];
    for (value, field) in cases {
        let err = body(value).validate().expect_err(field);
        assert_eq!(err.field_error().field, field);
    }
}

#[test]
fn unknown_sections_are_refused() {
    let err = serde_json::from_value::<UpsertBody>(json!({"days": [], "path": []}));
    assert!(err.is_err(), "a misspelt section must not be ignored");
}

#[test]
fn nothing_to_replace_bumps_nothing() {
    let b = body(json!({"days": day_of("a")}));
    assert!(b.statements("t").is_empty());
}

/// Issue 13, finding 3: an upsert replaces its own region's rows only, and records its seq
/// first (so a stale one is checked against what is stored).
#[test]
fn regions_overwrite_each_other_no_more_an_upsert_replaces_its_region_only() {
    let b = body(json!({
        "days": day_of("a"),
        "rows": [{"app_id": "a", "day": "2026-03-01", "source": "s", "campaign": "c",
                  "model": "linear", "currency": "", "touches": 1, "conversions": 0,
                  "revenue": 0, "credited_value": 0}],
        "region": "eu",
        "seq": 7
    }));
    b.validate().expect("valid");
    let statements = b.statements("t");
    assert!(statements[0]
        .sql
        .starts_with("INSERT INTO rollup_generations"));
    let delete = statements
        .iter()
        .find(|s| s.sql.starts_with("DELETE FROM daily_stats"))
        .expect("a delete");
    assert!(delete.sql.contains("region = ?3"), "{}", delete.sql);
    let insert = statements
        .iter()
        .find(|s| s.sql.starts_with("INSERT INTO daily_stats"))
        .expect("an insert");
    assert!(insert.sql.contains("region"), "{}", insert.sql);
    let checks = b.stale_checks();
    assert_eq!(checks.len(), 1);
    assert!(checks[0].sql.contains("seq > ?2"), "{}", checks[0].sql);
    // Without a seq nothing is checked or recorded (writers older than the field).
    let legacy = body(json!({"days": day_of("a"), "rows": []}));
    assert!(legacy.stale_checks().is_empty());
    assert!(!legacy
        .statements("t")
        .iter()
        .any(|s| s.sql.contains("rollup_generations")));
    let long = body(json!({"days": day_of("a"), "region": "x".repeat(33)}));
    assert_eq!(
        long.validate().expect_err("too long").field_error().field,
        "region"
    );
}

#[test]
fn stale_checks_stay_under_d1_bound_parameter_limit() {
    let days: Vec<_> = (0..400)
        .map(|i| json!({"app_id": "a", "day": format!("2025-{:02}-{:02}", i % 12 + 1, i % 28 + 1)}))
        .collect();
    let b = body(json!({"days": days, "seq": 1}));
    let checks = b.stale_checks();
    assert_eq!(checks.len(), 10);
    assert!(checks.iter().all(|c| c.params.len() <= 100));
}

/// What `attrib_core::cohorts` computes for the origin is what this contract takes: cohort
/// rows and lifetime-value summaries of a few journeys make a valid upsert of their days.
#[test]
fn core_cohort_rows_and_ltv_summaries_are_valid_sections() {
    use attrib_core::cohorts::{cohort_rows, ltv_summaries, UserConversion};
    const DAY: i64 = 86_400_000;
    let t0 = 1_772_359_200_000; // 2026-03-01T10:00:00Z
    let conv = |user, ts_ms, currency, revenue| UserConversion {
        app_id: "a",
        user,
        ts_ms,
        source: "google",
        campaign: "spring",
        currency,
        revenue,
    };
    let conversions = vec![
        conv("ann", t0, "USD", 10.0),
        conv("ann", t0 + DAY, "EUR", 5.0), // a repeat day with no USD value
        conv("bob", t0 + 3600, "USD", 4.0),
        conv("bob", t0 + 2 * DAY, "USD", 6.0),
    ];
    let upsert = body(json!({
        "days": day_of("a"),
        "cohorts": cohort_rows(&conversions),
        "ltv_customers": ltv_summaries(&conversions, t0 + 5 * DAY),
    }));
    upsert.validate().expect("valid");
    assert_eq!(upsert.applied().ltv_customers, Some(2));
    let ann = upsert
        .ltv_customers
        .iter()
        .flatten()
        .find(|c| c.monetary_value == 0.0)
        .expect("ann's repeat day has no USD value");
    assert_eq!(ann.frequency, 1);
    assert_eq!(ann.customer().monetary_value, None, "no value known");
}

/// The upsert the origin sends (`attrib_core::rollup::RollupUpsert`, with its cohort and
/// customer sections) is the body this contract takes, field for field.
#[test]
fn the_origins_rollup_upsert_with_cohort_sections_is_this_body() {
    use attrib_core::cohorts::{cohort_rows, ltv_summaries, UserConversion};
    use attrib_core::rollup::{AppDay, RollupUpsert};
    let t0 = 1_772_359_200_000; // 2026-03-01T10:00:00Z
    let conversions = [UserConversion {
        app_id: "a",
        user: "u:a:ann",
        ts_ms: t0,
        source: "google",
        campaign: "spring",
        currency: "USD",
        revenue: 10.0,
    }];
    let sent = RollupUpsert {
        days: vec![AppDay {
            app_id: "a".into(),
            day: "2026-03-01".into(),
        }],
        rows: Vec::new(),
        paths: Some(Vec::new()),
        fraud: Some(Vec::new()),
        cohorts: Some(cohort_rows(&conversions)),
        ltv_customers: Some(ltv_summaries(&conversions, t0 + 86_400_000)),
        region: "eu".into(),
        seq: Some(7),
    };
    let json = serde_json::to_vec(&sent).expect("json");
    let got: UpsertBody = serde_json::from_slice(&json).expect("the Worker's body");
    got.validate().expect("valid");
    assert_eq!(got.applied().cohorts, Some(2));
    assert_eq!(got.applied().ltv_customers, Some(1));
    assert_eq!((got.region.as_str(), got.seq), ("eu", Some(7)));
}
