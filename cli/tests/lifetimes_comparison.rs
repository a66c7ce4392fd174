//! `attrib ltv` against the `lifetimes` package (0.11.3) on the CDNOW summary it ships
//! (`load_cdnow_summary_data_with_monetary_value`: 2,357 customers, 946 repeat buyers).
//!
//! - Our fitted parameters are within 1% of the published maximum-likelihood fits (Fader,
//!   Hardie & Lee 2005): BG/NBD r 0.243, α 4.414, a 0.793, b 2.426; Gamma-Gamma p 6.25,
//!   q 3.74, γ 15.44.
//! - Our log-likelihood is at least as high as at `lifetimes`' own fit, to the resolution of an
//!   f64 total ([`LL_RESOLUTION`]), and both tools compute the same log-likelihood for the same
//!   parameters.
//! - With `lifetimes`' parameters, every customer's expected purchases, P(alive), expected
//!   average value and 12-month CLV (weeks, 1% a month) equal `lifetimes`' to 1e-6.
//!
//! Needs the venv from `bash scripts/setup/50-python.sh` (or `ATTRIB_PYTHON`); without it this
//! test fails, by design.

mod support;

use std::process::Command;

use serde_json::Value;
use support::*;

const LIFETIMES_RUNNER: &str = r#"
import json, sys, warnings
warnings.simplefilter("ignore")
import numpy as np
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

out_csv, horizon, months, weeks_per_month = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), 4.345
data = load_cdnow_summary_data_with_monetary_value()
data.to_csv(out_csv, index=False, float_format="%.17g")
f, r, T, m = data["frequency"], data["recency"], data["T"], data["monetary_value"]
bg = BetaGeoFitter(penalizer_coef=0.0).fit(f, r, T)
repeat = data[data["frequency"] > 0]
gg = GammaGammaFitter(penalizer_coef=0.0).fit(repeat["frequency"], repeat["monetary_value"])
bp, gp = bg.params_, gg.params_
ones = np.ones(len(data))
bg_ll = -BetaGeoFitter._negative_log_likelihood(
    np.log(bp.values), f.values, r.values, T.values, ones, 0.0) * len(data)
gg_ll = -GammaGammaFitter._negative_log_likelihood(
    np.log(gp.values), repeat["frequency"].values, repeat["monetary_value"].values,
    np.ones(len(repeat)), 0.0) * len(repeat)
purchases = bg.conditional_expected_number_of_purchases_up_to_time(horizon, f, r, T)
alive = bg.conditional_probability_alive(f, r, T)
value = gg.conditional_expected_average_profit(f, m)
clv = gg.customer_lifetime_value(bg, f, r, T, m, time=months, discount_rate=0.01, freq="W")
json.dump({
    "bgnbd": {k: float(v) for k, v in bp.items()}, "bgnbd_log_likelihood": float(bg_ll),
    "gamma_gamma": {k: float(v) for k, v in gp.items()}, "gamma_gamma_log_likelihood": float(gg_ll),
    "repeat_buyers": int(len(repeat)),
    "expected_purchases": [float(x) for x in purchases], "p_alive": [float(x) for x in alive],
    "expected_average_value": [float(x) for x in value], "clv": [float(x) for x in clv],
}, sys.stdout)
"#;

/// Relative resolution of a log-likelihood total: a few ulps. Both fits sit at the same optimum;
/// on CDNOW the Gamma-Gamma totals differ in the last two ulps (1.6e-12 of 4,056), which no
/// f64 optimiser can resolve, so "at least as high" is judged to this resolution.
const LL_RESOLUTION: f64 = 4.0 * f64::EPSILON;

const MONTHS: u32 = 12;
/// lifetimes' `customer_lifetime_value(freq="W")` steps months of 4.345 weeks.
const HORIZON_WEEKS: f64 = 12.0 * 4.345;

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn ltv_json(csv: &std::path::Path, args: &[String]) -> Value {
    let stdout = run_ok(attrib().arg("ltv").arg(csv).arg("--json").args(args));
    serde_json::from_str(&stdout).expect("attrib ltv did not print JSON")
}

#[test]
fn cdnow_fits_match_the_published_values_and_lifetimes() {
    let dir = scratch_dir("lifetimes-cdnow");
    let script = dir.join("lifetimes_runner.py");
    std::fs::write(&script, LIFETIMES_RUNNER).expect("cannot write the runner");
    let csv = dir.join("cdnow.csv");
    let stdout = run_ok(
        Command::new(python())
            .arg(&script)
            .arg(&csv)
            .arg(HORIZON_WEEKS.to_string())
            .arg(MONTHS.to_string()),
    );
    let theirs: Value = serde_json::from_str(&stdout).expect("the runner did not print JSON");

    // Our own fit: the published values, and a likelihood at least lifetimes'.
    let fit = ltv_json(&csv, &[]);
    let (bg, gg) = (&fit["bgnbd"], &fit["gamma_gamma"]);
    let published = [
        (f(bg, "r"), 0.243),
        (f(bg, "alpha"), 4.414),
        (f(bg, "a"), 0.793),
        (f(bg, "b"), 2.426),
        (f(gg, "p"), 6.25),
        (f(gg, "q"), 3.74),
        (f(gg, "v"), 15.44),
    ];
    for (got, want) in published {
        assert!(
            (got - want).abs() / want < 0.01,
            "{got} is not within 1% of {want}: {fit}"
        );
    }
    assert_eq!(fit["customers"], 2357);
    assert_eq!(gg["customers"], theirs["repeat_buyers"]);

    // lifetimes' parameters through our code: same likelihoods (one formula), same predictions.
    let (tb, tg) = (&theirs["bgnbd"], &theirs["gamma_gamma"]);
    let given = ltv_json(
        &csv,
        &[
            "--per-customer".into(),
            "--horizon".into(),
            HORIZON_WEEKS.to_string(),
            "--periods".into(),
            MONTHS.to_string(),
            "--discount-rate".into(),
            "0.01".into(),
            "--bgnbd-params".into(),
            format!(
                "{},{},{},{}",
                f(tb, "r"),
                f(tb, "alpha"),
                f(tb, "a"),
                f(tb, "b")
            ),
            "--gamma-gamma-params".into(),
            format!("{},{},{}", f(tg, "p"), f(tg, "q"), f(tg, "v")),
        ],
    );
    for (model, key) in [
        ("bgnbd", "bgnbd_log_likelihood"),
        ("gamma_gamma", "gamma_gamma_log_likelihood"),
    ] {
        let ours_at_theirs = f(&given[model], "log_likelihood");
        let theirs_at_theirs = f(&theirs, key);
        assert!(
            (ours_at_theirs - theirs_at_theirs).abs() < 1e-9 * theirs_at_theirs.abs(),
            "{model}: the two tools' log-likelihoods differ at the same parameters: \
             {ours_at_theirs} vs {theirs_at_theirs}"
        );
        let ours_fit = f(&fit[model], "log_likelihood");
        eprintln!("{model}: log-likelihood ours {ours_fit}, at lifetimes' fit {ours_at_theirs}");
        assert!(
            ours_fit >= ours_at_theirs - LL_RESOLUTION * ours_at_theirs.abs(),
            "{model}: our fit's log-likelihood {ours_fit} is below lifetimes' fit {ours_at_theirs}"
        );
    }

    let rows = given["per_customer"].as_array().expect("per_customer");
    assert_eq!(rows.len(), 2357);
    let mut worst = 0.0f64;
    for key in [
        "expected_purchases",
        "p_alive",
        "expected_average_value",
        "clv",
    ] {
        let their_values = theirs[key].as_array().expect(key);
        for (i, (row, their)) in rows.iter().zip(their_values).enumerate() {
            let (ours, their) = (f(row, key), their.as_f64().expect(key));
            let gap = (ours - their).abs();
            worst = worst.max(gap);
            assert!(
                gap <= 1e-6,
                "customer {}: {key} {ours} vs lifetimes {their}",
                i + 1
            );
        }
    }
    eprintln!("largest prediction gap to lifetimes: {worst:e}");
    let _ = std::fs::remove_dir_all(&dir);
}
