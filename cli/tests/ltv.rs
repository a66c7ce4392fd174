//! `attrib ltv` input handling: errors name the line, the column and the reason; groups sum
//! their customers; a synthetic file from `attrib ltv-generate` fits back near its parameters.

mod support;

use serde_json::Value;
use support::*;

fn ltv(dir: &std::path::Path, name: &str, body: &str, args: &[&str]) -> std::process::Output {
    let file = dir.join(name);
    std::fs::write(&file, body).expect("cannot write input");
    attrib()
        .arg("ltv")
        .arg(&file)
        .args(args)
        .output()
        .expect("cannot start attrib")
}

fn stderr(output: &std::process::Output) -> String {
    assert!(!output.status.success(), "expected a failure");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn bad_input_is_refused_with_line_and_column() {
    let dir = scratch_dir("ltv-bad");
    let header = "frequency,recency,T,monetary_value\n";
    let cases = [
        ("recency,T\n1,2\n", "line 1: missing column `frequency`"),
        (
            &format!("{header}1,2,3,4\n1,x,3,4\n") as &str,
            "line 3, column `recency`: not a number",
        ),
        (
            &format!("{header}1.5,2,3,4\n"),
            "line 2, column `frequency`: must be a whole number",
        ),
        (
            &format!("{header}1,4,3,4\n"),
            "line 2, column `recency`: is larger than T",
        ),
        (
            &format!("{header}1,2,0,4\n"),
            "line 2, column `T`: must be positive",
        ),
        (
            &format!("{header}1,2,3,0\n"),
            "line 2, column `monetary_value`: must be positive",
        ),
        (&format!("{header}1,2,3\n"), "line 2: not valid CSV"),
        (header, "no customers"),
    ];
    for (i, (body, expected)) in cases.iter().enumerate() {
        let err = stderr(&ltv(&dir, &format!("bad{i}.csv"), body, &[]));
        assert!(
            err.contains(expected),
            "case {i}: {err:?} lacks {expected:?}"
        );
    }
    let ok = format!("{header}1,2,3,4\n");
    let err = stderr(&ltv(&dir, "params.csv", &ok, &["--bgnbd-params", "1,2,3"]));
    assert!(err.contains("--bgnbd-params: needs 4"), "{err}");
    let err = stderr(&ltv(&dir, "horizon.csv", &ok, &["--horizon=-1"]));
    assert!(err.contains("period_length"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn synthetic_customers_fit_back_and_groups_add_up() {
    let dir = scratch_dir("ltv-synthetic");
    let csv = dir.join("customers.csv");
    run_ok(
        attrib()
            .args([
                "ltv-generate",
                "--customers",
                "20000",
                "--seed",
                "5",
                "--output",
            ])
            .arg(&csv),
    );
    // Tag every customer with a cohort from its line number, then fit and group.
    let text = std::fs::read_to_string(&csv).expect("generated file");
    let mut tagged = String::new();
    for (i, line) in text.lines().enumerate() {
        let tag = if i == 0 {
            "cohort"
        } else if i % 3 == 0 {
            "2026-01"
        } else {
            "2026-02"
        };
        tagged.push_str(&format!("{line},{tag}\n"));
    }
    std::fs::write(&csv, tagged).expect("tagged file");
    let out: Value = serde_json::from_str(&run_ok(attrib().arg("ltv").arg(&csv).args([
        "--json",
        "--group-by",
        "cohort",
        "--horizon",
        "26",
    ])))
    .expect("JSON");
    let r = out["bgnbd"]["r"].as_f64().expect("r");
    let p = out["gamma_gamma"]["p"].as_f64().expect("p");
    // 20,000 customers: r's standard error is about 2.5%, p's about 5%.
    assert!((r - 0.243).abs() / 0.243 < 0.1, "{out}");
    assert!((p - 6.25).abs() / 6.25 < 0.2, "{out}");
    let groups = out["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 2);
    for key in ["customers", "expected_purchases", "clv"] {
        let sum: f64 = groups.iter().map(|g| g[key].as_f64().expect(key)).sum();
        let total = out["predictions"][key].as_f64().expect(key);
        assert!(
            (sum - total).abs() <= 1e-9 * total.abs(),
            "{key}: {sum} vs {total}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
