use super::counts::fraud_counts;
use super::flood::*;
use super::screen::*;
use super::*;
use crate::attribution::{attribute, Basis};
use crate::conversion::Conversion;
use crate::event::EventType;
use crate::outbox::{AttributionRecord, EventRecord, OutboxRecord};
use crate::settings::AppSettings;
use crate::testkit::*;
use serde_json::json;

const NOW: i64 = 100 * DAY_MS;

fn page_from(agent: Option<&str>, context: serde_json::Value) -> crate::event::Event {
    let mut e = with_context(event("p", EventType::Page, NOW), context);
    if let Some(agent) = agent {
        e.context.insert("userAgent".into(), json!(agent));
    }
    e
}

fn reason(flag: Option<Flag>) -> Option<Reason> {
    flag.map(|f| f.reason)
}

fn direct(asn: u32) -> RequestSignals<'static> {
    RequestSignals {
        asn: Some(asn),
        ip: Some("203.0.113.7"),
    }
}

#[test]
fn reason_codes_round_trip_and_match_serde() {
    for r in Reason::ALL {
        assert_eq!(Reason::parse(r.as_str()), Some(r));
        assert_eq!(
            serde_json::to_value(r).expect("serializes"),
            json!(r.as_str())
        );
    }
    assert_eq!(Reason::parse("nope"), None);
}

#[test]
fn timestamps_beyond_the_bounds_are_flagged_at_the_bounds_not() {
    let rules = FraudRules::default();
    let limit_future = i64::from(rules.timestamps.max_future_secs) * 1000;
    let limit_past = i64::from(rules.timestamps.max_past_secs) * 1000;
    let at = |offset: i64| {
        let mut e = event("t", EventType::Track, NOW + offset);
        e.received_at_ms = NOW;
        e
    };
    let none = RequestSignals::default();
    assert_eq!(reason(screen_event(&at(limit_future), &none, &rules)), None);
    assert_eq!(
        reason(screen_event(&at(limit_future + 1), &none, &rules)),
        Some(Reason::FutureTimestamp)
    );
    assert_eq!(reason(screen_event(&at(-limit_past), &none, &rules)), None);
    assert_eq!(
        reason(screen_event(&at(-limit_past - 1), &none, &rules)),
        Some(Reason::StaleTimestamp)
    );
    let mut off = rules.clone();
    off.timestamps.enabled = false;
    assert_eq!(
        reason(screen_event(&at(limit_future * 10), &none, &off)),
        None
    );
}

#[test]
fn bot_user_agents_are_flagged_and_phones_are_not() {
    let rules = FraudRules::default();
    let none = RequestSignals::default();
    let flagged = |agent: &str| {
        reason(screen_event(
            &page_from(Some(agent), json!({})),
            &none,
            &rules,
        ))
    };
    for bot in [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "AdsBot-Google (+http://www.google.com/adsbot.html)",
        "curl/8.4.0",
        "python-requests/2.31",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36",
        "facebookexternalhit/1.1",
    ] {
        assert_eq!(flagged(bot), Some(Reason::BotUserAgent), "{bot}");
    }
    for person in [
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 9; CUBOT X20 PRO) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    ] {
        assert_eq!(flagged(person), None, "{person}");
    }
    // No user agent at all is not evidence of anything.
    assert_eq!(
        reason(screen_event(&page_from(None, json!({})), &none, &rules)),
        None
    );

    let mut own = rules.clone();
    own.bot_user_agents.extra_patterns = vec!["AcmeProbe".into()];
    let probe = page_from(Some("acmeprobe/1.0"), json!({}));
    assert_eq!(
        reason(screen_event(&probe, &none, &own)),
        Some(Reason::BotUserAgent)
    );
    own.bot_user_agents.enabled = false;
    assert_eq!(reason(screen_event(&probe, &none, &own)), None);
}

#[test]
fn datacenter_networks_are_flagged_only_for_direct_requests() {
    let rules = FraudRules::default();
    let aws = direct(16509);
    let page = page_from(None, json!({}));
    assert_eq!(
        reason(screen_event(&page, &aws, &rules)),
        Some(Reason::DatacenterAsn)
    );
    // A server relaying its user's event (another IP in the context, or a server library).
    let relayed = page_from(None, json!({"ip": "198.51.100.1"}));
    assert_eq!(reason(screen_event(&relayed, &aws, &rules)), None);
    let same_ip = page_from(None, json!({"ip": "203.0.113.7"}));
    assert_eq!(
        reason(screen_event(&same_ip, &aws, &rules)),
        Some(Reason::DatacenterAsn)
    );
    let server = page_from(
        None,
        json!({"library": {"name": "@segment/analytics-node"}}),
    );
    assert_eq!(reason(screen_event(&server, &aws, &rules)), None);
    // A tracking-link click always comes from the device.
    let mut click = event("c", EventType::Click, NOW);
    click.context.insert("ip".into(), json!("198.51.100.1"));
    assert_eq!(
        reason(screen_event(&click, &aws, &rules)),
        Some(Reason::DatacenterAsn)
    );
    // Residential and unknown networks pass.
    assert_eq!(reason(screen_event(&page, &direct(3215), &rules)), None);
    assert_eq!(
        reason(screen_event(&page, &RequestSignals::default(), &rules)),
        None
    );
}

#[test]
fn private_relay_networks_are_not_on_the_default_datacenter_list() {
    // iCloud Private Relay and WARP egress through these carry real people.
    for asn in [13335, 20940, 54113] {
        assert!(!FraudRules::default().datacenter.blocks(asn), "AS{asn}");
    }
    assert!(
        lists::DEFAULT_DATACENTER_ASNS
            .windows(2)
            .all(|w| w[0] < w[1]),
        "sorted for binary search"
    );
}

#[test]
fn an_apps_own_asn_list_replaces_the_default_and_extra_asns_add() {
    let mut rules = FraudRules::default();
    rules.datacenter.asns = Some(vec![64512]);
    assert!(rules.datacenter.blocks(64512));
    assert!(!rules.datacenter.blocks(16509));
    rules.datacenter.asns = None;
    rules.datacenter.extra_asns = vec![64513];
    assert!(rules.datacenter.blocks(64513) && rules.datacenter.blocks(16509));
    rules.datacenter.enabled = false;
    assert!(!rules.datacenter.blocks(16509));
}

#[test]
fn click_floods_flag_clicks_past_the_limit() {
    let rules = FraudRules::default();
    let ip_max = rules.ip_click_flood.max_clicks;
    let device_max = rules.device_click_flood.max_clicks;
    assert_eq!(
        reason(flood_flag(Some(ip_max), Some(device_max), &rules)),
        None
    );
    assert_eq!(
        reason(flood_flag(Some(ip_max + 1), Some(device_max + 1), &rules)),
        Some(Reason::IpClickFlood)
    );
    assert_eq!(
        reason(flood_flag(Some(1), Some(device_max + 1), &rules)),
        Some(Reason::DeviceClickFlood)
    );
    assert_eq!(reason(flood_flag(None, None, &rules)), None);
    let mut off = rules.clone();
    off.ip_click_flood.enabled = false;
    off.device_click_flood.enabled = false;
    assert_eq!(
        reason(flood_flag(Some(u32::MAX), Some(u32::MAX), &off)),
        None
    );
}

fn install(ts_ms: i64) -> Conversion {
    Conversion {
        conversion_id: "i".into(),
        name: "Application Installed".into(),
        ts_ms,
        revenue: 0.0,
        currency: "USD".into(),
        order_id: None,
    }
}

#[test]
fn click_to_install_time_decides_injection_and_spamming() {
    let rules = FraudRules::default();
    let judge = |ctit_ms: i64, basis: Basis, name: &str| {
        let t = click("k", NOW - ctit_ms);
        let mut conversion = install(NOW);
        conversion.name = name.into();
        reason(judge_conversion(&conversion, basis, &[&t], &rules))
    };
    let min = i64::from(rules.click_injection.min_ctit_secs) * 1000;
    let max = i64::from(rules.click_spamming.max_ctit_secs) * 1000;
    let installed = "Application Installed";
    assert_eq!(
        judge(min - 1, Basis::Click, installed),
        Some(Reason::ClickInjection)
    );
    assert_eq!(judge(min, Basis::Click, installed), None);
    assert_eq!(judge(max, Basis::Click, installed), None);
    assert_eq!(
        judge(max + 1, Basis::Click, installed),
        Some(Reason::ClickSpamming)
    );
    // Only the configured conversions, only clicks.
    assert_eq!(judge(1, Basis::Click, "Order Completed"), None);
    assert_eq!(judge(1, Basis::View, installed), None);
}

#[test]
fn injection_is_judged_on_the_last_click() {
    let rules = FraudRules::default();
    let early = click("early", NOW - HOUR_MS);
    let injected = click("injected", NOW - 2_000);
    let flag = judge_conversion(&install(NOW), Basis::Click, &[&early, &injected], &rules)
        .expect("flagged");
    assert_eq!(flag.reason, Reason::ClickInjection);
    assert!(flag.detail.contains("injected"), "{}", flag.detail);
}

#[test]
fn partial_rule_json_keeps_every_other_default() {
    let rules: FraudRules =
        serde_json::from_value(json!({"device_click_flood": {"window_secs": 600}})).expect("reads");
    assert_eq!(rules.device_click_flood.window_secs, 600);
    assert_eq!(
        rules.device_click_flood.max_clicks,
        crate::limits::DEFAULT_MAX_CLICKS_PER_DEVICE,
        "the device default, not the IP one"
    );
    assert!(
        rules.datacenter.enabled,
        "rules absent from the JSON stay on"
    );
    assert_eq!(
        serde_json::from_value::<FraudRules>(json!({})).expect("reads"),
        FraudRules::default()
    );
    assert!(
        serde_json::from_value::<FraudRules>(json!({"click_injection": {"min_ctit": 5}})).is_err(),
        "a typo is refused, not ignored"
    );
}

#[test]
fn datacenter_rule_is_on_when_the_json_leaves_it_out() {
    // Regression: `Datacenter` once derived `Default`, so an app whose `fraud_rules` said
    // nothing about it had the rule silently off.
    let rules: FraudRules =
        serde_json::from_value(json!({"bot_user_agents": {"enabled": false}})).expect("reads");
    assert!(rules.datacenter.enabled);
    assert!(rules.datacenter.blocks(16509));
    let partial: FraudRules =
        serde_json::from_value(json!({"datacenter": {"extra_asns": [1]}})).expect("reads");
    assert!(partial.datacenter.enabled && partial.datacenter.blocks(16509));
}

#[test]
fn bad_thresholds_name_their_field() {
    let mut rules = FraudRules::default();
    rules.ip_click_flood.window_secs = 10;
    assert_eq!(
        rules.validate().expect_err("too short").field,
        "fraud_rules.ip_click_flood.window_secs"
    );
    let mut rules = FraudRules::default();
    rules.click_spamming.max_ctit_secs = 60;
    rules.click_injection.min_ctit_secs = 60;
    assert_eq!(
        rules.validate().expect_err("crossed").field,
        "fraud_rules.click_spamming.max_ctit_secs"
    );
    let mut rules = FraudRules::default();
    rules.bot_user_agents.extra_patterns = vec![" ".into()];
    assert!(rules.validate().is_err());
    FraudRules::default()
        .validate()
        .expect("defaults are valid");
}

#[test]
fn counter_windows_and_names() {
    let ts = 10 * 60_000 + 30_000; // 10.5 minutes
    assert_eq!(bucket_of(ts), 10);
    assert_eq!(
        first_bucket(ts, 60),
        10,
        "a one-minute window is the current bucket"
    );
    assert_eq!(first_bucket(ts, 3600), 10 - 59);
    assert_eq!(first_bucket(ts, 90), 9, "partial minutes round up");
    let keyed = keyed_counter_name(Some(b"k"), "app", CounterKind::Ip, "203.0.113.7");
    assert!(keyed.starts_with("app:ip:") && keyed.len() == "app:ip:".len() + 32);
    assert_ne!(keyed, counter_name("app", CounterKind::Ip, "203.0.113.7"));
    assert_ne!(
        keyed,
        keyed_counter_name(Some(b"other"), "app", CounterKind::Ip, "203.0.113.7"),
        "keyed by the deployment's secret"
    );
    assert_eq!(
        keyed_counter_name(None, "app", CounterKind::Ip, "203.0.113.7"),
        counter_name("app", CounterKind::Ip, "203.0.113.7")
    );
    let name = counter_name("app", CounterKind::Ip, "203.0.113.7");
    assert!(
        name.starts_with("app:ip:") && !name.contains("203.0.113.7"),
        "{name}"
    );
    assert_ne!(
        name,
        counter_name("app", CounterKind::Device, "203.0.113.7")
    );
    assert_eq!(
        device_of(None, Some("a1"), Some("ip"), None).as_deref(),
        Some("a:a1")
    );
    assert_eq!(device_of(None, None, None, Some("ua")), None);
}

fn touch_record(id: &str, ts_ms: i64, rejected: Option<&str>) -> OutboxRecord {
    let mut t = click(id, ts_ms);
    t.rejected = rejected.map(str::to_owned);
    OutboxRecord::Event(Box::new(EventRecord {
        app_id: "app".into(),
        journey: "a:app:x".into(),
        event: event(id, EventType::Page, ts_ms),
        touch: Some(t),
        is_conversion: false,
    }))
}

#[test]
fn counts_by_app_day_and_reason_once_per_fact_and_latest_revision() {
    let settings = AppSettings::with_defaults("app");
    let mut first = attribute(&install(DAY_MS + 5), &[], &settings, 0);
    first.rejected = Some("click_injection".into());
    let mut lifted = first.clone();
    lifted.revision = 2;
    lifted.rejected = None;
    let other = {
        let mut c = install(2 * DAY_MS + 5);
        c.conversion_id = "j".into();
        let mut r = attribute(&c, &[], &settings, 0);
        r.rejected = Some("bot_user_agent".into());
        r
    };
    let attribution = |result| {
        OutboxRecord::Attribution(Box::new(AttributionRecord {
            app_id: "app".into(),
            journey: "a:app:x".into(),
            result,
        }))
    };
    let no_consent = {
        let mut c = install(DAY_MS + 7);
        c.conversion_id = "k".into();
        let mut r = attribute(&c, &[], &settings, 0);
        r.rejected = Some("no_advertising_consent".into());
        r
    };
    let bot = touch_record("t1", DAY_MS + 1, Some("bot_user_agent"));
    let records = vec![
        bot.clone(),
        bot,
        touch_record("t2", DAY_MS + 2, Some("bot_user_agent")),
        touch_record("t3", DAY_MS + 3, None),
        // Consent is not fraud: kept out of the counts.
        touch_record("t4", DAY_MS + 4, Some("no_advertising_consent")),
        attribution(no_consent),
        attribution(first.clone()),
        attribution(other),
    ];
    let counts = fraud_counts(&records);
    let as_tuples: Vec<(&str, &str, u64)> = counts
        .iter()
        .map(|c| (c.day.as_str(), c.reason.as_str(), c.count))
        .collect();
    assert_eq!(
        as_tuples,
        [
            ("1970-01-02", "bot_user_agent", 2),
            ("1970-01-02", "click_injection", 1),
            ("1970-01-03", "bot_user_agent", 1),
        ]
    );
    // A later revision that lifts the rejection takes it out of the count.
    let mut with_revision = records.clone();
    with_revision.push(attribution(lifted));
    assert!(fraud_counts(&with_revision)
        .iter()
        .all(|c| c.reason != "click_injection"));
}
