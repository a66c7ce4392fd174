//! Parameter recovery on synthetic data drawn from known parameters (seeded), optimality of the
//! fits, and predictions against values printed by `lifetimes` 0.11.3 for the same parameters.

use super::*;

/// The published CDNOW fits (Fader, Hardie & Lee 2005), used as "true" parameters.
const CDNOW_BGNBD: BgNbdParams = BgNbdParams {
    r: 0.243,
    alpha: 4.414,
    a: 0.793,
    b: 2.426,
};
const CDNOW_GG: GammaGammaParams = GammaGammaParams {
    p: 6.25,
    q: 3.74,
    v: 15.44,
};

fn rel(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs()
}

#[test]
fn bgnbd_recovers_the_parameters_it_was_drawn_from() {
    // 100,000 customers: the standard errors (scaled from CDNOW's 2,357) are about 1% for r and
    // α and 3-4% for a and b; the bounds are about three of them.
    let customers = synthetic::customers(&CDNOW_BGNBD, None, 100_000, (27.0, 39.0), 7);
    let fit = bgnbd::fit(&customers).unwrap();
    let p = fit.params;
    assert!(rel(p.r, CDNOW_BGNBD.r) < 0.04, "{p:?}");
    assert!(rel(p.alpha, CDNOW_BGNBD.alpha) < 0.05, "{p:?}");
    assert!(rel(p.a, CDNOW_BGNBD.a) < 0.12, "{p:?}");
    assert!(rel(p.b, CDNOW_BGNBD.b) < 0.12, "{p:?}");
    // A maximum: at least as likely as the truth, and flat.
    assert!(fit.log_likelihood >= CDNOW_BGNBD.log_likelihood(&customers));
    assert_flat(
        |q: [f64; 4]| {
            BgNbdParams {
                r: q[0],
                alpha: q[1],
                a: q[2],
                b: q[3],
            }
            .log_likelihood(&customers)
        },
        [p.r, p.alpha, p.a, p.b],
    );
}

#[test]
fn bgnbd_recovers_parameters_with_a_above_one() {
    let truth = BgNbdParams {
        r: 1.5,
        alpha: 20.0,
        a: 2.5,
        b: 6.0,
    };
    let customers = synthetic::customers(&truth, None, 50_000, (10.0, 100.0), 11);
    let p = bgnbd::fit(&customers).unwrap().params;
    assert!(rel(p.r, truth.r) < 0.1, "{p:?}");
    assert!(rel(p.alpha, truth.alpha) < 0.1, "{p:?}");
    assert!(rel(p.a, truth.a) < 0.25, "{p:?}");
    assert!(rel(p.b, truth.b) < 0.25, "{p:?}");
}

#[test]
fn gamma_gamma_recovers_the_parameters_it_was_drawn_from() {
    let customers = synthetic::customers(&CDNOW_BGNBD, Some(&CDNOW_GG), 100_000, (27.0, 39.0), 3);
    let fit = gamma_gamma::fit(&customers).unwrap();
    let p = fit.params;
    assert!(fit.customers > 30_000 && fit.customers < 100_000);
    // About 40,000 repeat buyers: p, q and v within a few standard errors.
    assert!(rel(p.p, CDNOW_GG.p) < 0.08, "{p:?}");
    assert!(rel(p.q, CDNOW_GG.q) < 0.08, "{p:?}");
    assert!(rel(p.v, CDNOW_GG.v) < 0.12, "{p:?}");
    assert!(fit.log_likelihood >= CDNOW_GG.log_likelihood(&customers));
    assert_flat(
        |q: [f64; 3]| {
            GammaGammaParams {
                p: q[0],
                q: q[1],
                v: q[2],
            }
            .log_likelihood(&customers)
        },
        [p.p, p.q, p.v],
    );
}

/// The numeric gradient of the log-likelihood (relative steps) vanishes at a fitted maximum.
fn assert_flat<const K: usize>(ll: impl Fn([f64; K]) -> f64, at: [f64; K]) {
    for i in 0..K {
        let h = 1e-5 * at[i];
        let (mut up, mut down) = (at, at);
        up[i] += h;
        down[i] -= h;
        let slope = (ll(up) - ll(down)) / (2.0 * h) * at[i];
        assert!(slope.abs() < 1e-2, "d LL / d ln θ{i} = {slope}");
    }
}

#[test]
fn predictions_equal_lifetimes_for_the_same_parameters() {
    // Printed by lifetimes 0.11.3 (BetaGeoFitter / GammaGammaFitter with params_ set to the
    // published CDNOW values): conditional_expected_number_of_purchases_up_to_time(39, ...),
    // conditional_probability_alive, conditional_expected_average_profit and
    // customer_lifetime_value(time=12, discount_rate=0.01, freq="W").
    let cases = [
        ((2, 30.43, 38.86), 1.2260281747671318, 0.726578570080673),
        ((0, 0.0, 38.86), 0.19509805201125396, 1.0),
        ((7, 35.14, 38.86), 4.404936881220414, 0.8471234841586981),
        ((40, 30.0, 38.0), 0.325775572022986, 0.011480579532113693),
    ];
    for ((frequency, recency, age), purchases, alive) in cases {
        let c = Customer {
            frequency,
            recency,
            age,
            monetary_value: None,
        };
        let got = CDNOW_BGNBD.expected_purchases(&c, 39.0).unwrap();
        assert!(
            (got - purchases).abs() < 1e-9,
            "{c:?}: {got} vs {purchases}"
        );
        assert!((CDNOW_BGNBD.p_alive(&c) - alive).abs() < 1e-12, "{c:?}");
    }
    let c = Customer {
        frequency: 2,
        recency: 30.43,
        age: 38.86,
        monetary_value: Some(22.35),
    };
    let value = CDNOW_GG.expected_average_value(&c).unwrap();
    assert!((value - 24.663713910761157).abs() < 1e-9, "{value}");
    let settings = ClvSettings {
        periods: 12,
        period_length: 4.345,
        discount_rate: 0.01,
    };
    let p = predict(&CDNOW_BGNBD, Some(&CDNOW_GG), &c, &settings).unwrap();
    assert!((p.clv.unwrap() - 36.28921112559936).abs() < 1e-9, "{p:?}");
}

#[test]
fn predictions_at_the_edges() {
    let c = Customer {
        frequency: 3,
        recency: 10.0,
        age: 20.0,
        monetary_value: Some(5.0),
    };
    assert_eq!(CDNOW_BGNBD.expected_purchases(&c, 0.0).unwrap(), 0.0);
    assert!(matches!(
        CDNOW_BGNBD.expected_purchases(&c, -1.0),
        Err(Error::InvalidSetting {
            name: "horizon",
            ..
        })
    ));
    let short = CDNOW_BGNBD.expected_purchases(&c, 10.0).unwrap();
    let long = CDNOW_BGNBD.expected_purchases(&c, 1e6).unwrap();
    assert!(short > 0.0 && long > short);
    let q_low = GammaGammaParams { q: 0.9, ..CDNOW_GG };
    assert!(matches!(
        q_low.expected_average_value(&c),
        Err(Error::Undefined { .. })
    ));
    let bad = ClvSettings {
        periods: 0,
        period_length: 1.0,
        discount_rate: 0.0,
    };
    assert!(predict(&CDNOW_BGNBD, None, &c, &bad).is_err());
}

#[test]
fn invalid_customers_are_named() {
    let ok = Customer {
        frequency: 1,
        recency: 2.0,
        age: 3.0,
        monetary_value: Some(1.0),
    };
    let cases = [
        (Customer { recency: 4.0, ..ok }, CustomerField::Recency),
        (Customer { age: 0.0, ..ok }, CustomerField::Age),
        (
            Customer {
                age: f64::NAN,
                ..ok
            },
            CustomerField::Age,
        ),
        (Customer { frequency: 0, ..ok }, CustomerField::Recency),
        (
            Customer {
                monetary_value: Some(0.0),
                ..ok
            },
            CustomerField::MonetaryValue,
        ),
        (
            Customer {
                monetary_value: Some(-1.0),
                ..ok
            },
            CustomerField::MonetaryValue,
        ),
        (
            Customer {
                frequency: limits::MAX_FREQUENCY + 1,
                ..ok
            },
            CustomerField::Frequency,
        ),
    ];
    for (c, field) in cases {
        let err = bgnbd::fit(&[ok, c]).unwrap_err();
        assert!(
            matches!(err, Error::InvalidCustomer { index: 1, field: f, .. } if f == field),
            "{c:?}: {err}"
        );
    }
    assert_eq!(bgnbd::fit(&[]).unwrap_err(), Error::NoCustomers);
    let no_repeat = Customer {
        frequency: 0,
        recency: 0.0,
        ..ok
    };
    assert_eq!(
        gamma_gamma::fit(&[no_repeat]).unwrap_err(),
        Error::NoRepeatBuyers
    );
}

#[test]
fn groups_sum_their_customers() {
    let c = |frequency, recency| Customer {
        frequency,
        recency,
        age: 30.0,
        monetary_value: Some(10.0),
    };
    let customers = [c(0, 0.0), c(2, 20.0), c(5, 29.0)];
    let settings = ClvSettings {
        periods: 3,
        period_length: 4.0,
        discount_rate: 0.0,
    };
    let preds: Vec<_> = customers
        .iter()
        .map(|c| predict(&CDNOW_BGNBD, Some(&CDNOW_GG), c, &settings).unwrap())
        .collect();
    let groups = summarize_groups(["b", "a", "b"].into_iter().zip(preds.iter().copied()));
    assert_eq!(groups.len(), 2);
    assert_eq!((groups[0].key, groups[0].customers), ("a", 1));
    assert_eq!(groups[1].customers, 2);
    let b_sum = preds[0].expected_purchases + preds[2].expected_purchases;
    assert!((groups[1].expected_purchases - b_sum).abs() < 1e-12);
    let b_clv = preds[0].clv.unwrap() + preds[2].clv.unwrap();
    assert!((groups[1].clv.unwrap() - b_clv).abs() < 1e-12);
    assert!((groups[1].mean_p_alive - (preds[0].p_alive + preds[2].p_alive) / 2.0).abs() < 1e-12);
    // Without discounting, the value is the expected purchases times the expected value.
    let value = preds[1].expected_average_value.unwrap();
    assert!((preds[1].clv.unwrap() - value * preds[1].expected_purchases).abs() < 1e-9);
}

/// Regression: with a + b < 1 (fitted so on daily data) a first-time buyer's hypergeometric
/// function has c = a + b − 1 < 0 and is negative; it was refused as "did not converge", so
/// `GET /v1/ltv` answered 422 for horizons of a year. Values from scipy's hyp2f1 (−0.82109578761934)
/// and the paper's equation (10) with it.
#[test]
fn expected_purchases_when_a_plus_b_is_below_one() {
    let params = BgNbdParams {
        r: 0.285_047_202_115_796_15,
        alpha: 41.962_787_070_487_32,
        a: 0.243_064_328_092_546_83,
        b: 0.492_272_968_069_464_25,
    };
    let z = 365.0 / (params.alpha + 100.0 + 365.0);
    let (sign, ln_abs) = special::signed_ln_hyp2f1(
        params.r,
        params.b,
        params.a + params.b - 1.0,
        z,
        limits::MAX_HYP2F1_TERMS,
    )
    .unwrap();
    assert_eq!(sign, -1.0);
    assert!(rel(ln_abs.exp(), 0.821_095_787_619_339_8) < 1e-12);
    let new = Customer {
        frequency: 0,
        recency: 0.0,
        age: 100.0,
        monetary_value: None,
    };
    let got = params.expected_purchases(&new, 365.0).unwrap();
    assert!(rel(got, 0.549_384_679_501_544_1) < 1e-9, "{got}");
    let repeat = Customer {
        frequency: 2,
        recency: 50.0,
        age: 100.0,
        monetary_value: None,
    };
    let got = params.expected_purchases(&repeat, 365.0).unwrap();
    assert!(rel(got, 3.314_340_700_865_367_6) < 1e-9, "{got}");
}
