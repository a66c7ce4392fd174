use super::*;
use crate::attribution::{attribute, Model};
use crate::conversion::Conversion;
use crate::limits::POSTBACK_MAX_ATTEMPTS;
use crate::postback::target::Targets;
use crate::testkit::*;
use crate::touch::Touch;

const NOW: i64 = 100 * DAY_MS;

fn conversion(revenue: f64) -> Conversion {
    Conversion {
        conversion_id: "conv-1".into(),
        name: "Order Completed".into(),
        ts_ms: NOW,
        revenue,
        currency: "EUR".into(),
        order_id: Some("A-1".into()),
    }
}

fn from(id: &str, ts_ms: i64, source: &str) -> Touch {
    let mut t = click(id, ts_ms);
    t.source = source.into();
    t.campaign = format!("{source} spring & sale");
    t.click_id = Some(format!("c_{id}"));
    t
}

fn settings_with(configs: Vec<PostbackConfig>) -> AppSettings {
    let mut s = AppSettings::with_defaults("app");
    s.postbacks = configs;
    s
}

fn config(network: &str, url: &str) -> PostbackConfig {
    PostbackConfig {
        network: network.into(),
        url: url.into(),
        method: PostbackMethod::Get,
        events: Vec::new(),
    }
}

fn query(url: &str) -> BTreeMap<String, String> {
    url::Url::parse(url)
        .expect("url")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[test]
fn templates_are_checked_when_configured() {
    assert!(template::validate(
        "https://net.example/pb?click={click_id}&rev={revenue}",
        Targets::PublicOnly
    )
    .is_ok());
    assert!(
        template::validate("https://net.example/pb?x={clickid}", Targets::PublicOnly)
            .expect_err("unknown")
            .contains("unknown macro {clickid}")
    );
    assert!(template::validate("https://net.example/pb?x={click_id", Targets::PublicOnly).is_err());
    assert!(template::validate("https://net.example/pb?x=click_id}", Targets::PublicOnly).is_err());
    assert!(template::validate("ftp://net.example/{click_id}", Targets::PublicOnly).is_err());
    assert!(template::validate("/relative?c={click_id}", Targets::PublicOnly).is_err());
    let long = format!(
        "https://n.example/?{}",
        "a".repeat(crate::limits::MAX_POSTBACK_TEMPLATE_CHARS)
    );
    assert!(template::validate(&long, Targets::PublicOnly).is_err());
    let settings = settings_with(vec![config("Google", "https://n.example/")]);
    assert_eq!(
        settings.validate().expect_err("upper case").field,
        "postbacks[0].network"
    );
    let twice = settings_with(vec![
        config("g", "https://n.example/"),
        config("g", "https://m.example/"),
    ]);
    assert_eq!(
        twice.validate().expect_err("twice").field,
        "postbacks[1].network"
    );
}

#[test]
fn macro_values_cannot_add_parameters() {
    let values = BTreeMap::from([("campaign", "a&b=c d/é".to_owned())]);
    let url = template::expand("https://n.example/pb?c={campaign}&x=1", &values).expect("expands");
    assert_eq!(url, "https://n.example/pb?c=a%26b%3Dc%20d%2F%C3%A9&x=1");
    assert_eq!(query(&url).get("c").map(String::as_str), Some("a&b=c d/é"));
}

#[test]
fn last_click_sends_one_postback_with_every_macro() {
    let mut touches = vec![
        from("g", NOW - 2 * HOUR_MS, "google"),
        from("n", NOW - HOUR_MS, "newsy"),
    ];
    touches[1].ad_click_id = Some("network_click_id:NET-42".into());
    touches[1].link_id = Some("spring".into());
    let settings = settings_with(vec![config(
        "newsy",
        "https://newsy.example/pb?key={idempotency_key}&click={click_id}&nc={network_click_id}\
         &camp={campaign}&ev={event_name}&rev={revenue}&cur={currency}&credit={credit}\
         &ts={conversion_ts}&t={conversion_time}&tt={touch_ts}&m={model}&o={order_id}&l={link_id}",
    )]);
    let result = attribute(&conversion(12.5), &touches, &settings, NOW + 7);
    let planned = plan(&result, &touches, &settings);
    assert_eq!(planned.len(), 1, "google has no postback configured");
    let pb = &planned[0];
    assert_eq!(pb.key, idempotency_key("app", "conv-1", "newsy"));
    assert_eq!((pb.network.as_str(), pb.touch_id.as_str()), ("newsy", "n"));
    assert_eq!(pb.created_at_ms, NOW + 7);
    let q = query(&pb.url);
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("<missing>");
    assert_eq!(get("key"), pb.key);
    assert_eq!(get("click"), "c_n");
    assert_eq!(get("nc"), "NET-42");
    assert_eq!(get("camp"), "newsy spring & sale");
    assert_eq!(get("ev"), "Order Completed");
    assert_eq!(
        (get("rev"), get("cur"), get("credit")),
        ("12.5", "EUR", "1")
    );
    assert_eq!(get("ts"), NOW.to_string());
    assert_eq!(get("t"), "1970-04-11T00:00:00.000Z");
    assert_eq!(get("tt"), (NOW - HOUR_MS).to_string());
    assert_eq!(
        (get("m"), get("o"), get("l")),
        ("last_click", "A-1", "spring")
    );
}

#[test]
fn multi_touch_default_models_send_one_postback_per_credited_network() {
    let touches = vec![
        from("g1", NOW - 3 * HOUR_MS, "google"),
        from("n1", NOW - 2 * HOUR_MS, "newsy"),
        from("g2", NOW - HOUR_MS, "google"),
    ];
    let mut settings = settings_with(vec![config(
        "*",
        "https://any.example/pb?n={network}&c={credit}&v={credited_value}&t={touch_id}",
    )]);
    settings.default_model = Model::Linear;
    let result = attribute(&conversion(30.0), &touches, &settings, NOW);
    let planned = plan(&result, &touches, &settings);
    let summary: Vec<(String, String, String, String)> = planned
        .iter()
        .map(|p| {
            let q = query(&p.url);
            (
                q["n"].clone(),
                q["c"].clone(),
                q["v"].clone(),
                q["t"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("google".into(), "0.666667".into(), "20".into(), "g2".into()),
            ("newsy".into(), "0.333333".into(), "10".into(), "n1".into()),
        ]
    );
}

#[test]
fn nothing_for_rejected_unattributed_or_filtered_conversions() {
    let touches = vec![from("n", NOW - HOUR_MS, "newsy")];
    let settings = settings_with(vec![config(
        "newsy",
        "https://n.example/?k={idempotency_key}",
    )]);
    let mut rejected = attribute(&conversion(1.0), &touches, &settings, NOW);
    rejected.rejected = Some("bot_user_agent".into());
    assert!(plan(&rejected, &touches, &settings).is_empty());
    let organic = attribute(&conversion(1.0), &[], &settings, NOW);
    assert!(plan(&organic, &[], &settings).is_empty());
    let mut only_installs = settings.clone();
    only_installs.postbacks[0].events = vec!["Application Installed".into()];
    let result = attribute(&conversion(1.0), &touches, &only_installs, NOW);
    assert!(plan(&result, &touches, &only_installs).is_empty());
    assert_eq!(plan(&result, &touches, &settings).len(), 1);
}

#[test]
fn post_postbacks_carry_the_macros_as_json() {
    let touches = vec![from("n", NOW - HOUR_MS, "newsy")];
    let mut settings = settings_with(vec![config("newsy", "https://n.example/pb")]);
    settings.postbacks[0].method = PostbackMethod::Post;
    let result = attribute(&conversion(2.0), &touches, &settings, NOW);
    let pb = plan(&result, &touches, &settings).remove(0);
    let body: serde_json::Value =
        serde_json::from_str(pb.body.as_deref().expect("body")).expect("json");
    assert_eq!(body["idempotency_key"], pb.key.as_str());
    assert_eq!(body["click_id"], "c_n");
    assert_eq!(body["revenue"], "2");
}

#[test]
fn keys_are_stable_and_distinct() {
    let a = idempotency_key("app", "c1", "newsy");
    assert_eq!(a, idempotency_key("app", "c1", "newsy"));
    assert_ne!(a, idempotency_key("app", "c1", "google"));
    assert_ne!(a, idempotency_key("app", "c2", "newsy"));
    assert_ne!(a, idempotency_key("other", "c1", "newsy"));
    // The separator keeps ("a", "bc") and ("ab", "c") apart.
    assert_ne!(
        idempotency_key("a", "bc", "n"),
        idempotency_key("ab", "c", "n")
    );
}

#[test]
fn retry_policy() {
    assert_eq!(outcome_of(Some(204), 1), AttemptOutcome::Delivered);
    for retryable in [None, Some(500), Some(503), Some(429), Some(408)] {
        assert_eq!(
            outcome_of(retryable, 1),
            AttemptOutcome::Retry,
            "{retryable:?}"
        );
        assert_eq!(
            outcome_of(retryable, POSTBACK_MAX_ATTEMPTS),
            AttemptOutcome::Failed
        );
    }
    assert_eq!(outcome_of(Some(404), 1), AttemptOutcome::Failed);
    assert_eq!(outcome_of(Some(301), 1), AttemptOutcome::Failed);
}

#[test]
fn backoff_grows_to_the_cap_with_bounded_jitter() {
    let mut last = 0;
    for attempt in 1..=POSTBACK_MAX_ATTEMPTS {
        let wait = backoff_ms(attempt, "pb_x");
        let base = (POSTBACK_BACKOFF_BASE_MS << (attempt - 1).min(20)).min(POSTBACK_BACKOFF_MAX_MS);
        assert!(
            wait >= base && wait <= base + base / 8,
            "attempt {attempt}: {wait}"
        );
        assert!(wait >= last || base == POSTBACK_BACKOFF_MAX_MS);
        last = wait;
    }
    let total: i64 = (1..POSTBACK_MAX_ATTEMPTS).map(|a| backoff_ms(a, "k")).sum();
    assert!(
        total > 3_600_000,
        "retries span more than an hour of downtime: {total} ms"
    );
}

#[test]
fn decimals() {
    assert_eq!(decimal(1.0), "1");
    assert_eq!(decimal(0.5), "0.5");
    assert_eq!(decimal(1.0 / 3.0), "0.333333");
    assert_eq!(decimal(0.0), "0");
    assert_eq!(decimal(1e-9), "0");
}
