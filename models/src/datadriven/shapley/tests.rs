use proptest::prelude::*;

use super::*;

fn set(rows: &[(&str, f64, f64)]) -> PathSet {
    PathSet::parse(
        ">",
        true,
        rows.iter().map(|&(p, c, v)| (p, c, 0.0, Some(v))),
    )
    .unwrap()
}

fn credit(credits: &ChannelCredits, channel: &str) -> f64 {
    credits.get(channel).map_or(0.0, |c| c.conversions)
}

/// Zhao's simplified formula, written independently of the implementation.
fn closed_form(paths: &PathSet) -> Vec<f64> {
    let mut credit = vec![0.0; paths.channel_count()];
    for row in 0..paths.len() {
        let mut set = paths.path(row).to_vec();
        set.sort_unstable();
        set.dedup();
        for &c in &set {
            credit[c as usize] += paths.conversions()[row] / set.len() as f64;
        }
    }
    credit
}

#[test]
fn two_channel_game_by_hand() {
    // v(a) = 1, v(b) = 0, v(ab) = 3: phi_a = (1 + 3) / 2, phi_b = (0 + 2) / 2.
    let paths = set(&[("a > b", 2.0, 20.0), ("a", 1.0, 4.0)]);
    let result = shapley_simplified(&paths, ShapleyMethod::Exact).unwrap();
    assert!((credit(&result, "a") - 2.0).abs() < 1e-12);
    assert!((credit(&result, "b") - 1.0).abs() < 1e-12);
    assert!((result.get("a").unwrap().value.unwrap() - 14.0).abs() < 1e-12);
}

#[test]
fn three_channel_game_by_hand() {
    // R(a)=6, R(ab)=4, R(abc)=3, R(bc)=2:
    // phi_a = 6 + 4/2 + 3/3 = 9, phi_b = 2 + 1 + 1 = 4, phi_c = 1 + 1 = 2.
    let paths = set(&[
        ("a", 6.0, 0.0),
        ("b > a > b", 4.0, 0.0),
        ("c > b > a", 3.0, 0.0),
        ("c > b", 2.0, 0.0),
    ]);
    let result = shapley_simplified(&paths, ShapleyMethod::Exact).unwrap();
    assert!((credit(&result, "a") - 9.0).abs() < 1e-12);
    assert!((credit(&result, "b") - 4.0).abs() < 1e-12);
    assert!((credit(&result, "c") - 2.0).abs() < 1e-12);
}

#[test]
fn ordered_spreads_credit_over_positions() {
    // Row "b > a > b" (4 conversions, set {a, b}): a gets 2 at position 2,
    // b gets 2 split over positions 1 and 3.
    let paths = set(&[("b > a > b", 4.0, 0.0), ("a", 1.0, 0.0)]);
    let ordered = shapley_ordered(&paths, ShapleyMethod::Exact).unwrap();
    let b = paths.channel_names().iter().position(|c| c == "b").unwrap();
    let a = paths.channel_names().iter().position(|c| c == "a").unwrap();
    assert_eq!(ordered.conversions_by_position[b], vec![1.0, 0.0, 1.0]);
    assert_eq!(ordered.conversions_by_position[a], vec![1.0, 2.0, 0.0]);
    assert_eq!(ordered.credits.model, "shapley_ordered");
}

#[test]
fn exact_refuses_too_many_channels_and_sampling_takes_over() {
    let names: Vec<String> = (0..=MAX_EXACT_SHAPLEY_CHANNELS)
        .map(|i| format!("c{i}"))
        .collect();
    let paths = PathSet::parse(
        ">",
        false,
        names.iter().map(|n| (n.as_str(), 1.0, 0.0, None)),
    )
    .unwrap();
    let err = shapley_simplified(&paths, ShapleyMethod::Exact).unwrap_err();
    assert!(matches!(err, Error::TooManyChannelsForExactShapley { .. }));
    assert!(shapley_ordered(&paths, ShapleyMethod::Exact).is_err());
    let method = ShapleyMethod::auto(&paths, 10, 1);
    assert!(matches!(method, ShapleyMethod::Sampled { .. }));
    let result = shapley_simplified(&paths, method).unwrap();
    for c in &result.channels {
        assert!((c.conversions - 1.0).abs() < 1e-12);
    }
}

#[test]
fn inputs_without_conversions_give_zero_credit() {
    // No channel carries conversions, so the game has no players at all.
    let paths = set(&[("a", 0.0, 0.0), ("a > b", 0.0, 0.0)]);
    for method in [
        ShapleyMethod::Exact,
        ShapleyMethod::Sampled {
            permutations: 3,
            seed: 0,
        },
    ] {
        let result = shapley_simplified(&paths, method).unwrap();
        assert!(result.channels.iter().all(|c| c.conversions == 0.0));
        let ordered = shapley_ordered(&paths, method).unwrap();
        assert!(ordered
            .credits
            .channels
            .iter()
            .all(|c| c.conversions == 0.0));
    }
}

#[test]
fn zero_samples_is_an_error() {
    let paths = set(&[("a", 1.0, 0.0)]);
    let method = ShapleyMethod::Sampled {
        permutations: 0,
        seed: 1,
    };
    assert_eq!(
        shapley_simplified(&paths, method),
        Err(Error::ZeroShapleySamples)
    );
}

#[test]
fn sampling_converges_to_exact_and_is_reproducible() {
    let paths = set(&[
        ("a > b", 5.0, 0.0),
        ("b > c > a", 7.0, 0.0),
        ("c", 2.0, 0.0),
        ("a > c", 3.0, 0.0),
    ]);
    let exact = shapley_simplified(&paths, ShapleyMethod::Exact).unwrap();
    let method = ShapleyMethod::Sampled {
        permutations: 40_000,
        seed: 42,
    };
    let sampled = shapley_simplified(&paths, method).unwrap();
    assert_eq!(sampled, shapley_simplified(&paths, method).unwrap());
    for (e, s) in exact.channels.iter().zip(&sampled.channels) {
        // standard error <= 17 / (2 * 200)
        assert!(
            (e.conversions - s.conversions).abs() < 0.2,
            "{e:?} vs {s:?}"
        );
    }
}

fn arbitrary_rows() -> impl Strategy<Value = Vec<(Vec<u8>, u8)>> {
    prop::collection::vec((prop::collection::vec(0u8..7, 1..6), 0u8..9), 1..20)
}

fn to_paths(rows: &[(Vec<u8>, u8)]) -> PathSet {
    let texts: Vec<String> = rows
        .iter()
        .map(|(p, _)| {
            p.iter()
                .map(|c| format!("ch{c}"))
                .collect::<Vec<_>>()
                .join(">")
        })
        .collect();
    PathSet::parse(
        ">",
        false,
        rows.iter()
            .zip(&texts)
            .map(|((_, c), t)| (t.as_str(), f64::from(*c), 0.0, None)),
    )
    .unwrap()
}

proptest! {
    #[test]
    fn exact_equals_zhao_closed_form(rows in arbitrary_rows()) {
        let paths = to_paths(&rows);
        let exact = shapley_simplified(&paths, ShapleyMethod::Exact).unwrap();
        for (credit, oracle) in exact.channels.iter().zip(closed_form(&paths)) {
            prop_assert!((credit.conversions - oracle).abs() < 1e-9);
        }
    }

    #[test]
    fn efficiency_for_every_method(rows in arbitrary_rows(), seed in any::<u64>()) {
        let paths = to_paths(&rows);
        let total = paths.total_conversions();
        for method in [ShapleyMethod::Exact, ShapleyMethod::Sampled { permutations: 50, seed }] {
            let simplified = shapley_simplified(&paths, method).unwrap();
            let ordered = shapley_ordered(&paths, method).unwrap();
            let sum: f64 = simplified.channels.iter().map(|c| c.conversions).sum();
            prop_assert!((sum - total).abs() < 1e-9);
            for (u, o) in simplified.channels.iter().zip(&ordered.credits.channels) {
                prop_assert!((u.conversions - o.conversions).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn interchangeable_channels_get_equal_credit(rows in arbitrary_rows()) {
        // Mirror every row with ch0 and ch1 swapped: the game is symmetric in them.
        let mirrored: Vec<_> = rows
            .iter()
            .cloned()
            .chain(rows.iter().map(|(p, c)| {
                let swapped = p.iter().map(|&x| match x { 0 => 1, 1 => 0, x => x }).collect();
                (swapped, *c)
            }))
            .collect();
        let paths = to_paths(&mirrored);
        let exact = shapley_simplified(&paths, ShapleyMethod::Exact).unwrap();
        prop_assert!((credit(&exact, "ch0") - credit(&exact, "ch1")).abs() < 1e-9);
    }

    #[test]
    fn null_player_gets_nothing(rows in arbitrary_rows()) {
        // ch9 only ever appears in rows without conversions: it never changes v.
        let with_dummy: Vec<_> = rows
            .iter()
            .cloned()
            .chain(rows.iter().map(|(p, _)| {
                let mut p = p.clone();
                p.push(9);
                (p, 0)
            }))
            .collect();
        let paths = to_paths(&with_dummy);
        for method in [ShapleyMethod::Exact, ShapleyMethod::Sampled { permutations: 20, seed: 3 }] {
            let result = shapley_simplified(&paths, method).unwrap();
            prop_assert_eq!(credit(&result, "ch9"), 0.0);
        }
    }
}

#[test]
fn closed_form_matches_enumeration_and_has_no_channel_limit() {
    let small = set(&[
        ("a>b", 3.0, 30.0),
        ("b>c>a", 2.0, 10.0),
        ("c", 1.0, 5.0),
        ("a", 4.0, 8.0),
    ]);
    let enumerated = shapley_simplified(&small, ShapleyMethod::Exact).unwrap();
    let closed = shapley_simplified(&small, ShapleyMethod::ClosedForm).unwrap();
    for c in &enumerated.channels {
        let other = closed.get(&c.channel).unwrap();
        assert!(
            (c.conversions - other.conversions).abs() < 1e-9,
            "{}",
            c.channel
        );
        assert!(
            (c.value.unwrap() - other.value.unwrap()).abs() < 1e-9,
            "{}",
            c.channel
        );
    }
    // Far past the enumeration's limit: 60 channels, paths of three.
    let names: Vec<String> = (0..60).map(|i| format!("c{i}")).collect();
    let rows: Vec<String> = (0..60)
        .map(|i| {
            format!(
                "{}>{}>{}",
                names[i],
                names[(i + 1) % 60],
                names[(i + 7) % 60]
            )
        })
        .collect();
    let wide = PathSet::parse(
        ">",
        false,
        rows.iter().map(|r| (r.as_str(), 1.0, 0.0, None)),
    )
    .unwrap();
    let result = shapley_simplified(&wide, ShapleyMethod::ClosedForm).unwrap();
    let oracle = closed_form(&wide);
    for (id, name) in wide.channel_names().iter().enumerate() {
        assert!((credit(&result, name) - oracle[id]).abs() < 1e-9, "{name}");
    }
    let total: f64 = result.channels.iter().map(|c| c.conversions).sum();
    assert!((total - 60.0).abs() < 1e-9, "efficiency");
    let ordered = shapley_ordered(&wide, ShapleyMethod::ClosedForm).unwrap();
    for (a, b) in ordered.credits.channels.iter().zip(&result.channels) {
        assert!((a.conversions - b.conversions).abs() < 1e-9);
    }
}
