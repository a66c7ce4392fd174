use super::*;
use crate::testkit::*;
use proptest::prelude::*;

fn conversion(ts_ms: i64, revenue: f64) -> Conversion {
    Conversion {
        conversion_id: "conv".into(),
        name: "Order Completed".into(),
        ts_ms,
        revenue,
        currency: "USD".into(),
        order_id: None,
    }
}

fn credit_map(result: &AttributionResult, model: Model) -> Vec<(String, f64)> {
    result
        .credits_of(model)
        .iter()
        .map(|c| (c.touch_id.clone(), c.credit))
        .collect()
}

#[test]
fn heuristic_models_on_three_touches() {
    let now = 10 * DAY_MS;
    let mut direct = touch("b", now - 2 * DAY_MS, TouchKind::Click, Channel::Direct);
    direct.source = "(direct)".into();
    let touches = vec![click("a", now - 3 * DAY_MS), direct, {
        let mut t = touch("c", now - DAY_MS, TouchKind::Click, Channel::Direct);
        t.source = "(direct)".into();
        t
    }];
    let settings = AppSettings::with_defaults("app");
    let r = attribute(&conversion(now, 100.0), &touches, &settings, now);
    assert_eq!(r.basis, Basis::Click);
    assert_eq!(
        credit_map(&r, Model::LastClick),
        vec![("c".to_string(), 1.0)]
    );
    assert_eq!(
        credit_map(&r, Model::FirstClick),
        vec![("a".to_string(), 1.0)]
    );
    assert_eq!(
        credit_map(&r, Model::LastNonDirect),
        vec![("a".to_string(), 1.0)]
    );
    let linear = credit_map(&r, Model::Linear);
    assert!(linear.iter().all(|(_, c)| (c - 1.0 / 3.0).abs() < 1e-12));
    let position = credit_map(&r, Model::PositionBased);
    for ((_, got), want) in position.iter().zip([0.4, 0.2, 0.4]) {
        assert!((got - want).abs() < 1e-12, "{position:?}");
    }
    // Half-life 7 days: a touch one day older weighs 2^(-1/7) as much.
    let decay = credit_map(&r, Model::TimeDecay);
    let ratio = decay[1].1 / decay[2].1;
    assert!((ratio - (-1.0f64 / 7.0).exp2()).abs() < 1e-12);
    let value: f64 = r.credits_of(Model::Linear).iter().map(|c| c.value).sum();
    assert!((value - 100.0).abs() < 1e-9);
}

#[test]
fn position_based_with_two_touches_splits_evenly() {
    let now = DAY_MS;
    let touches = vec![click("a", now - 2 * HOUR_MS), click("b", now - HOUR_MS)];
    let r = attribute(
        &conversion(now, 0.0),
        &touches,
        &AppSettings::with_defaults("x"),
        now,
    );
    assert_eq!(
        credit_map(&r, Model::PositionBased),
        vec![("a".into(), 0.5), ("b".into(), 0.5)]
    );
}

#[test]
fn clicks_beat_views_and_windows_apply() {
    let now = 30 * DAY_MS;
    let settings = AppSettings::with_defaults("app");
    let old_click = click("old", now - 8 * DAY_MS);
    let recent_view = view("v", now - HOUR_MS);
    let recent_click = click("c", now - 6 * DAY_MS);
    let future_click = click("future", now + 1);

    let r = attribute(
        &conversion(now, 0.0),
        &[
            old_click.clone(),
            recent_view.clone(),
            recent_click,
            future_click.clone(),
        ],
        &settings,
        now,
    );
    assert_eq!(r.basis, Basis::Click);
    assert_eq!(credit_map(&r, Model::Linear), vec![("c".into(), 1.0)]);

    let r = attribute(
        &conversion(now, 0.0),
        &[old_click.clone(), recent_view],
        &settings,
        now,
    );
    assert_eq!(r.basis, Basis::View);
    assert_eq!(credit_map(&r, Model::LastClick), vec![("v".into(), 1.0)]);

    let stale_view = view("sv", now - 25 * HOUR_MS);
    let r = attribute(
        &conversion(now, 0.0),
        &[old_click, stale_view, future_click],
        &settings,
        now,
    );
    assert_eq!(r.basis, Basis::Unattributed);
    assert!(r.models.iter().all(|m| m.credits.is_empty()));
}

#[test]
fn rejected_touches_earn_nothing() {
    let now = DAY_MS;
    let mut fraud = click("fraud", now - HOUR_MS);
    fraud.rejected = Some("click_injection".into());
    let r = attribute(
        &conversion(now, 0.0),
        &[click("good", now - 2 * HOUR_MS), fraud],
        &AppSettings::with_defaults("x"),
        now,
    );
    assert_eq!(credit_map(&r, Model::LastClick), vec![("good".into(), 1.0)]);
}

#[test]
fn time_decay_survives_very_old_touches() {
    let now = 100 * DAY_MS;
    let mut settings = AppSettings::with_defaults("x");
    settings.time_decay_half_life_secs = 60;
    settings.click_window_secs = 90 * 24 * 3600;
    let touches = vec![
        click("ancient", now - 89 * DAY_MS),
        click("older", now - 88 * DAY_MS),
    ];
    let r = attribute(&conversion(now, 0.0), &touches, &settings, now);
    let total: f64 = r
        .credits_of(Model::TimeDecay)
        .iter()
        .map(|c| c.credit)
        .sum();
    assert!((total - 1.0).abs() < 1e-12);
}

fn arbitrary_touches() -> impl Strategy<Value = Vec<Touch>> {
    // Distinct timestamps within ten days before the conversion; a mix of kinds and channels.
    prop::collection::btree_set(0i64..(10 * DAY_MS), 1..40).prop_flat_map(|times| {
        let times: Vec<i64> = times.into_iter().collect();
        let n = times.len();
        (
            Just(times),
            prop::collection::vec((any::<bool>(), any::<bool>()), n),
        )
            .prop_map(|(times, flags)| {
                times
                    .into_iter()
                    .zip(flags)
                    .enumerate()
                    .map(|(i, (age, (is_view, is_direct)))| {
                        let kind = if is_view {
                            TouchKind::View
                        } else {
                            TouchKind::Click
                        };
                        let channel = if is_direct {
                            Channel::Direct
                        } else {
                            Channel::Email
                        };
                        touch(&format!("t{i}"), 20 * DAY_MS - age, kind, channel)
                    })
                    .collect()
            })
    })
}

proptest! {
    #[test]
    fn credits_sum_to_one_for_every_attributed_conversion(touches in arbitrary_touches()) {
        let now = 20 * DAY_MS;
        let r = attribute(&conversion(now, 50.0), &touches, &AppSettings::with_defaults("x"), now);
        for m in &r.models {
            let sum: f64 = m.credits.iter().map(|c| c.credit).sum();
            if r.basis == Basis::Unattributed {
                prop_assert!(m.credits.is_empty());
            } else {
                prop_assert!((sum - 1.0).abs() < 1e-9, "{:?} sums to {}", m.model, sum);
                let value: f64 = m.credits.iter().map(|c| c.value).sum();
                prop_assert!((value - 50.0).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn result_does_not_depend_on_touch_order(touches in arbitrary_touches(), seed in any::<u64>()) {
        let now = 20 * DAY_MS;
        let settings = AppSettings::with_defaults("x");
        let mut shuffled = touches.clone();
        // Deterministic Fisher-Yates from the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let a = attribute(&conversion(now, 10.0), &touches, &settings, now);
        let b = attribute(&conversion(now, 10.0), &shuffled, &settings, now);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn only_touches_inside_windows_earn_credit(touches in arbitrary_touches()) {
        let now = 20 * DAY_MS;
        let settings = AppSettings::with_defaults("x");
        let windows = Windows::of(&settings);
        let r = attribute(&conversion(now, 0.0), &touches, &settings, now);
        let any_click_in_window = touches.iter().any(|t| {
            t.kind == TouchKind::Click && now - t.ts_ms <= windows.click_ms && t.ts_ms <= now
        });
        for m in &r.models {
            for c in &m.credits {
                let window = match c.kind { TouchKind::Click => windows.click_ms, TouchKind::View => windows.view_ms };
                prop_assert!(c.ts_ms <= now && now - c.ts_ms <= window);
                if any_click_in_window {
                    prop_assert_eq!(c.kind, TouchKind::Click);
                }
            }
        }
    }
}

#[test]
fn results_stored_before_fraud_fields_still_read() {
    let old = serde_json::json!({
        "conversion": {"conversion_id": "c", "name": "Signed Up", "ts_ms": 5, "revenue": 0.0, "currency": "USD"},
        "basis": "unattributed", "default_model": "last_click",
        "models": [{"model": "last_click", "credits": []}],
        "revision": 1, "attributed_at_ms": 6
    });
    let result: AttributionResult = serde_json::from_value(old).expect("reads");
    assert_eq!(result.rejected, None);
    assert!(!result.reattributed);
    assert!(result.reengagement.is_none());
    // And the new fields stay out of the JSON when unused, so old readers see what they knew.
    let json = serde_json::to_value(&result).expect("writes");
    for absent in [
        "rejected",
        "rejected_detail",
        "reattributed",
        "reengagement",
    ] {
        assert!(json.get(absent).is_none(), "{absent}");
    }
}
