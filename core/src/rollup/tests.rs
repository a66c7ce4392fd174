use super::*;
use crate::attribution::attribute;
use crate::conversion::Conversion;
use crate::outbox::{AttributionRecord, EventRecord};
use crate::settings::AppSettings;
use crate::testkit::*;

fn conversion(id: &str, ts_ms: i64, revenue: f64, currency: &str) -> Conversion {
    Conversion {
        conversion_id: id.into(),
        name: "Order Completed".into(),
        ts_ms,
        revenue,
        currency: currency.into(),
        order_id: None,
    }
}

fn event_record(id: &str, touch: Option<crate::touch::Touch>) -> OutboxRecord {
    OutboxRecord::Event(Box::new(EventRecord {
        app_id: "app".into(),
        journey: "a:app:x".into(),
        event: event(id, crate::event::EventType::Page, 0),
        touch,
        is_conversion: false,
    }))
}

fn attribution_record(result: AttributionResult) -> OutboxRecord {
    OutboxRecord::Attribution(Box::new(AttributionRecord {
        app_id: "app".into(),
        journey: "a:app:x".into(),
        result,
    }))
}

fn row<'a>(stats: &'a [DailyStat], source: &str, model: Model, currency: &str) -> &'a StatValues {
    &stats
        .iter()
        .find(|s| s.key.source == source && s.key.model == model && s.key.currency == currency)
        .expect("row present")
        .values
}

#[test]
fn touches_conversions_and_value_per_model() {
    let settings = AppSettings::with_defaults("app");
    let now = 10 * DAY_MS;
    let a = click("a", now - 2 * HOUR_MS);
    let b = click("b", now - HOUR_MS);
    let result = attribute(
        &conversion("c1", now, 100.0, "USD"),
        &[a.clone(), b.clone()],
        &settings,
        now,
    );
    let records = vec![
        event_record("a", Some(a)),
        event_record("b", Some(b.clone())),
        event_record("b", Some(b)), // delivered twice
        attribution_record(result),
    ];
    let stats = daily_stats(&records);
    assert_eq!(row(&stats, "src-a", Model::Linear, "").touches, 1);
    let linear_a = row(&stats, "src-a", Model::Linear, "USD");
    assert_eq!(
        (
            linear_a.conversions,
            linear_a.revenue,
            linear_a.credited_value
        ),
        (0.5, 100.0, 50.0)
    );
    let last_b = row(&stats, "src-b", Model::LastClick, "USD");
    assert_eq!((last_b.conversions, last_b.credited_value), (1.0, 100.0));
    assert!(!stats.iter().any(|s| s.key.source == "src-a"
        && s.key.model == Model::LastClick
        && s.key.currency == "USD"));
}

#[test]
fn organic_conversions_and_currencies_stay_apart() {
    let settings = AppSettings::with_defaults("app");
    let organic = attribute(&conversion("c1", DAY_MS, 10.0, "EUR"), &[], &settings, 0);
    let mut revised = attribute(&conversion("c2", DAY_MS, 7.0, "JPY"), &[], &settings, 0);
    let first = revised.clone();
    revised.revision = 2;
    revised.conversion.revenue = 8.0;
    let stats = daily_stats(&[
        attribution_record(organic),
        attribution_record(revised),
        attribution_record(first),
    ]);
    let eur = row(&stats, ORGANIC_SOURCE, Model::TimeDecay, "EUR");
    assert_eq!((eur.conversions, eur.revenue), (1.0, 10.0));
    let jpy = row(&stats, ORGANIC_SOURCE, Model::TimeDecay, "JPY");
    assert_eq!(
        (jpy.conversions, jpy.revenue),
        (1.0, 8.0),
        "latest revision only"
    );
    assert_eq!(
        affected_days(&[event_record("x", Some(click("t", 3 * DAY_MS)))]),
        vec![AppDay {
            app_id: "app".into(),
            day: "1970-01-04".into()
        }]
    );
}

#[test]
fn conversion_paths_merge_repeats_and_keep_the_latest_revision() {
    let settings = AppSettings::with_defaults("app");
    let now = 10 * DAY_MS;
    let mut b1 = click("b1", now - 3 * HOUR_MS);
    let mut b2 = click("b2", now - 2 * HOUR_MS);
    b1.source = "bing".into();
    b2.source = "bing".into();
    let g = click("g", now - 4 * HOUR_MS);
    let first = attribute(
        &conversion("c1", now, 10.0, "USD"),
        &[g.clone(), b1, b2],
        &settings,
        now,
    );
    let mut revised = first.clone();
    revised.revision = 2;
    revised.conversion.revenue = 12.0;
    let organic = attribute(&conversion("c2", now, 5.0, "USD"), &[], &settings, now);
    let paths = conversion_paths(&[
        attribution_record(first),
        attribution_record(revised),
        attribution_record(organic),
    ]);
    let find = |steps: &[&str]| {
        paths
            .iter()
            .find(|p| p.path == steps.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("path present")
    };
    let converted = find(&["src-g", "bing"]);
    assert_eq!((converted.conversions, converted.value), (1.0, 12.0));
    assert_eq!(find(&[ORGANIC_SOURCE]).conversions, 1.0);
    assert_eq!(paths.len(), 2);
}

#[test]
fn rejected_conversions_are_neither_attributed_nor_organic() {
    let settings = AppSettings::with_defaults("app");
    let touches = [click("t", DAY_MS - HOUR_MS)];
    let mut rejected = attribute(
        &conversion("c1", DAY_MS, 10.0, "USD"),
        &touches,
        &settings,
        0,
    );
    rejected.rejected = Some("click_injection".into());
    rejected.models.iter_mut().for_each(|m| m.credits.clear());
    let mut organic_rejected = attribute(&conversion("c2", DAY_MS, 5.0, "USD"), &[], &settings, 0);
    organic_rejected.rejected = Some("bot_user_agent".into());
    let stats = daily_stats(&[
        attribution_record(rejected),
        attribution_record(organic_rejected),
    ]);
    assert!(stats.is_empty(), "{stats:?}");
    let paths = conversion_paths(&[attribution_record(rejected_again())]);
    assert!(
        paths.is_empty(),
        "rejected conversions have no path: {paths:?}"
    );
}

fn rejected_again() -> AttributionResult {
    let settings = AppSettings::with_defaults("app");
    let mut result = attribute(&conversion("c3", DAY_MS, 1.0, "USD"), &[], &settings, 0);
    result.rejected = Some("click_injection".into());
    result
}

fn null_record(journey: &str, last_touch_id: &str, last_ms: i64, path: &[&str]) -> OutboxRecord {
    OutboxRecord::NullPath(crate::outbox::NullPathRecord {
        app_id: "app".into(),
        journey: journey.into(),
        path: path.iter().map(|s| s.to_string()).collect(),
        touches: path.len() as u32,
        first_touch_ms: last_ms - HOUR_MS,
        last_touch_ms: last_ms,
        last_touch_id: last_touch_id.into(),
        closed_at_ms: last_ms + DAY_MS,
    })
}

#[test]
fn null_paths_count_each_record_once_on_the_day_of_its_last_touch() {
    let late = DAY_MS - 1; // 1970-01-01T23:59:59.999Z
    let records = [
        null_record("u:app:a", "t1", late, &["google", "email"]),
        null_record("u:app:a", "t1", late, &["google", "email"]), // redelivered
        null_record("u:app:b", "t9", late, &["google", "email"]),
        null_record("u:app:c", "t2", DAY_MS, &["google"]),
        null_record("u:app:d", "t3", DAY_MS, &[]), // no step: counts nowhere
    ];
    let paths = null_paths(&records);
    let summary: Vec<_> = paths
        .iter()
        .map(|p| {
            (
                p.day.as_str(),
                p.path.join(">"),
                p.currency.as_str(),
                p.nulls,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("1970-01-01", "google>email".to_string(), "", 2.0),
            ("1970-01-02", "google".to_string(), "", 1.0),
        ]
    );
    assert!(paths.iter().all(|p| p.conversions == 0.0 && p.value == 0.0));
    assert_eq!(
        affected_days(&records[..1]),
        vec![AppDay {
            app_id: "app".into(),
            day: "1970-01-01".into()
        }]
    );
    assert!(daily_stats(&records).is_empty(), "null paths are not stats");
}

#[test]
fn converting_and_null_rows_of_one_key_are_combined_once() {
    let settings = AppSettings::with_defaults("app");
    let t = click("g", DAY_MS + HOUR_MS);
    let mut organic = attribute(
        &conversion("c0", DAY_MS + 3 * HOUR_MS, 2.0, ""),
        &[],
        &settings,
        0,
    );
    organic.conversion.currency = String::new(); // a conversion without currency meets nulls
    let records = vec![
        attribution_record(attribute(
            &conversion("c1", DAY_MS + 2 * HOUR_MS, 10.0, "USD"),
            &[t],
            &settings,
            0,
        )),
        attribution_record(organic),
        null_record("u:app:a", "x1", DAY_MS + HOUR_MS, &["src-g"]),
        null_record("u:app:b", "x2", DAY_MS + HOUR_MS, &["(organic)"]),
    ];
    let all = all_paths(&records);
    let rows: Vec<_> = all
        .iter()
        .map(|p| {
            (
                p.path.join(">"),
                p.currency.as_str(),
                p.conversions,
                p.nulls,
                p.value,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("(organic)".to_string(), "", 1.0, 1.0, 2.0),
            ("src-g".to_string(), "", 0.0, 1.0, 0.0),
            ("src-g".to_string(), "USD", 1.0, 0.0, 10.0),
        ]
    );
    // Combining is idempotent on combined rows and keeps one row per key.
    assert_eq!(combine_paths(all.clone()), all);
    let doubled = combine_paths(all.iter().cloned().chain(all.iter().cloned()));
    assert_eq!(doubled.len(), all.len());
    assert_eq!(doubled[0].nulls, 2.0);
}

#[test]
fn path_steps_merge_repeats_and_keep_the_last_steps() {
    assert_eq!(path_steps(["a", "a", "b", "a"]), ["a", "b", "a"]);
    let many: Vec<String> = (0..MAX_PATH_STEPS + 3).map(|i| format!("s{i}")).collect();
    let steps = path_steps(many.iter().map(String::as_str));
    assert_eq!(steps.len(), MAX_PATH_STEPS);
    assert_eq!(steps[0], "s3");
    assert!(path_steps(std::iter::empty()).is_empty());
}
