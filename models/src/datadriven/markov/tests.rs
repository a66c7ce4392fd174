use proptest::prelude::*;

use super::*;

fn set(rows: &[(&str, f64, f64, f64)], with_values: bool) -> PathSet {
    PathSet::parse(
        ">",
        with_values,
        rows.iter()
            .map(|&(p, c, n, v)| (p, c, n, with_values.then_some(v))),
    )
    .unwrap()
}

/// The example worked by hand in the module tests: states start, a, b, c.
/// start -> a 4/11, b 3/11, c 4/11; a -> b 4/7, conv 1/7, null 2/7;
/// b -> a 3/7, conv 3/7, null 1/7; c -> null.
/// x_a = 19/37, x_b = 24/37, P = 148/407; without a: P = 9/77; without b: 4/77.
fn hand_example(with_values: bool) -> PathSet {
    set(
        &[
            ("a > a > b", 3.0, 1.0, 30.0),
            ("b > a", 1.0, 2.0, 5.0),
            ("c", 0.0, 4.0, 0.0),
        ],
        with_values,
    )
}

#[test]
fn order_one_matches_hand_computed_removal_effects() {
    let result = markov(&hand_example(false), 1).unwrap();
    assert!((result.conversion_probability - 148.0 / 407.0).abs() < 1e-14);
    let re_a = 1.0 - 3663.0 / 11396.0;
    let re_b = 1.0 - 1628.0 / 11396.0;
    assert!((result.removal_effects[0] - re_a).abs() < 1e-14);
    assert!((result.removal_effects[1] - re_b).abs() < 1e-14);
    assert_eq!(result.removal_effects[2], 0.0);
    let a = result.credits.get("a").unwrap().conversions;
    assert!((a - 4.0 * re_a / (re_a + re_b)).abs() < 1e-12);
    assert_eq!(result.credits.get("a").unwrap().value, None);
}

#[test]
fn value_is_attributed_through_the_last_state_before_conversion() {
    // Value per step into conversion: a 5/7, b 30/7; V = 1295/407;
    // without a: 90/77; without b: 20/77.
    let result = markov(&hand_example(true), 1).unwrap();
    let value_effects = result.value_removal_effects.unwrap();
    let rev_a = 1.0 - 36630.0 / 99715.0;
    let rev_b = 1.0 - 8140.0 / 99715.0;
    assert!((value_effects[0] - rev_a).abs() < 1e-14);
    assert!((value_effects[1] - rev_b).abs() < 1e-14);
    let b = result.credits.get("b").unwrap().value.unwrap();
    assert!((b - 35.0 * rev_b / (rev_a + rev_b)).abs() < 1e-12);
}

#[test]
fn order_two_removes_every_state_containing_the_channel() {
    // start -> (a,b) 1, (a,b) -> (b,c) 1/2, conv 1/2 (weights: row 1 has 1,
    // row 3 has 1 conversion); (b,c) -> conv. Removing b kills everything.
    let paths = set(
        &[("a > b > c", 1.0, 0.0, 0.0), ("a > b", 1.0, 0.0, 0.0)],
        false,
    );
    let result = markov(&paths, 2).unwrap();
    assert_eq!(result.state_count, 3);
    assert!((result.conversion_probability - 1.0).abs() < 1e-15);
    assert!((result.removal_effects[0] - 1.0).abs() < 1e-15);
    assert!((result.removal_effects[1] - 1.0).abs() < 1e-15);
    assert!((result.removal_effects[2] - 0.5).abs() < 1e-15);
    assert!((result.credits.get("c").unwrap().conversions - 0.4).abs() < 1e-12);
}

#[test]
fn rejects_bad_order_and_inputs_without_conversions() {
    let paths = hand_example(false);
    assert!(matches!(
        markov(&paths, 0),
        Err(Error::UnsupportedOrder { .. })
    ));
    assert!(matches!(
        markov(&paths, 5),
        Err(Error::UnsupportedOrder { .. })
    ));
    let no_conversions = set(&[("a > b", 0.0, 3.0, 0.0)], false);
    assert_eq!(markov(&no_conversions, 1), Err(Error::NoConversions));
}

#[test]
fn progress_reports_every_solve() {
    let mut calls = Vec::new();
    markov_with_progress(&hand_example(false), 2, &mut |done, total| {
        calls.push((done, total))
    })
    .unwrap();
    assert_eq!(calls, vec![(1, 4), (2, 4), (3, 4), (4, 4)]);
}

fn arbitrary_paths() -> impl Strategy<Value = Vec<(Vec<u8>, u8, u8, u16)>> {
    prop::collection::vec(
        (
            prop::collection::vec(0u8..6, 1..8),
            0u8..6,
            0u8..6,
            0u16..500,
        ),
        1..25,
    )
}

fn to_path_set(rows: &[(Vec<u8>, u8, u8, u16)]) -> PathSet {
    let texts: Vec<String> = rows
        .iter()
        .map(|(p, ..)| {
            p.iter()
                .map(|c| format!("ch{c}"))
                .collect::<Vec<_>>()
                .join(" > ")
        })
        .collect();
    PathSet::parse(
        ">",
        true,
        rows.iter().zip(&texts).map(|((_, c, n, v), text)| {
            (
                text.as_str(),
                f64::from(*c),
                f64::from(*n),
                Some(f64::from(*v)),
            )
        }),
    )
    .unwrap()
}

proptest! {
    #[test]
    fn credits_sum_to_totals_and_are_non_negative(rows in arbitrary_paths(), order in 1usize..=4) {
        let paths = to_path_set(&rows);
        prop_assume!(paths.total_conversions() > 0.0);
        let result = markov(&paths, order).unwrap();
        let total: f64 = result.credits.channels.iter().map(|c| c.conversions).sum();
        prop_assert!((total - paths.total_conversions()).abs() <= 1e-9 * paths.total_conversions());
        for (credit, effect) in result.credits.channels.iter().zip(&result.removal_effects) {
            prop_assert!(credit.conversions >= 0.0);
            prop_assert!((0.0..=1.0 + 1e-12).contains(effect));
        }
        let value_total: f64 = result.credits.channels.iter().filter_map(|c| c.value).sum();
        let expected_value = paths.total_value().unwrap();
        let value_attributed = result.value_removal_effects.unwrap().iter().any(|&e| e > 0.0);
        if value_attributed {
            prop_assert!((value_total - expected_value).abs() <= 1e-9 * expected_value.max(1.0));
        }
    }

    #[test]
    fn a_channel_on_every_converting_path_has_full_removal_effect(
        rows in arbitrary_paths(), order in 1usize..=3,
    ) {
        // Prefix every path with the same channel: removing it blocks everything.
        let prefixed: Vec<_> = rows
            .into_iter()
            .map(|(mut p, c, n, v)| { p.insert(0, 9); (p, c, n, v) })
            .collect();
        let paths = to_path_set(&prefixed);
        prop_assume!(paths.total_conversions() > 0.0);
        let result = markov(&paths, order).unwrap();
        let gateway = paths.channel_names().iter().position(|c| c == "ch9").unwrap();
        prop_assert!((result.removal_effects[gateway] - 1.0).abs() < 1e-12);
    }
}
