//! Behaviour of the `attrib` binary itself: input errors, column options and
//! output formats (no Python needed).

mod support;

use std::path::{Path, PathBuf};

use support::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, text).expect("cannot write the input");
    file
}

fn run_err(args: &[&str], file: &Path) -> String {
    let output = attrib()
        .arg("run")
        .arg(file)
        .args(args)
        .output()
        .expect("cannot start attrib");
    assert!(!output.status.success(), "attrib unexpectedly succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn bad_number_is_reported_with_line_and_column() {
    let dir = scratch_dir("bad-number");
    let file = write(
        &dir,
        "in.csv",
        "path,total_conversions,total_null\na > b,1,0\nb,x,2\n",
    );
    let err = run_err(&[], &file);
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("`total_conversions`"), "{err}");
    assert!(err.contains("not a number"), "{err}");
}

#[test]
fn negative_count_and_empty_channel_are_rejected() {
    let dir = scratch_dir("invalid-rows");
    let negative = write(
        &dir,
        "neg.csv",
        "path,total_conversions,total_null\na,1,-2\n",
    );
    let err = run_err(&[], &negative);
    assert!(
        err.contains("line 2") && err.contains("`total_null`"),
        "{err}"
    );
    let empty = write(&dir, "empty.csv", "path,total_conversions\na > > b,1\n");
    let err = run_err(&[], &empty);
    assert!(
        err.contains("line 2") && err.contains("touchpoint 2"),
        "{err}"
    );
}

#[test]
fn missing_columns_and_files_are_explained() {
    let dir = scratch_dir("missing");
    let file = write(&dir, "in.csv", "route,total_conversions\na,1\n");
    let err = run_err(&[], &file);
    assert!(
        err.contains("no column `path`") && err.contains("`route`"),
        "{err}"
    );
    let err = run_err(
        &["--value-column", "revenue"],
        &write(&dir, "ok.csv", "path,total_conversions\na,1\n"),
    );
    assert!(err.contains("no column `revenue`"), "{err}");
    let err = run_err(&[], &dir.join("absent.csv"));
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn custom_columns_delimiter_and_separator() {
    let dir = scratch_dir("custom");
    let file = write(
        &dir,
        "in.csv",
        "journey;conv;lost;rev\nsearch | email;3;1;30\nemail;1;4;5\n",
    );
    let out = run_ok(attrib().arg("run").arg(&file).args([
        "--delimiter",
        ";",
        "--separator",
        "|",
        "--path-column",
        "journey",
        "--conversions-column",
        "conv",
        "--nulls-column",
        "lost",
        "--value-column",
        "rev",
        "--models",
        "heuristics",
        "--csv",
    ]));
    assert!(
        out.starts_with("model,channel,conversions,value\n"),
        "{out}"
    );
    assert!(out.contains("first_touch,search,3,30\n"), "{out}");
    assert!(out.contains("last_touch,email,4,35\n"), "{out}");
}

#[test]
fn table_lists_every_model_and_sums_to_the_total() {
    let dir = scratch_dir("table");
    let csv = generate(&dir, 300, 6, 5);
    let out = run_ok(attrib().arg("run").arg(&csv).args([
        "--models",
        "markov,shapley,shapley-ordered,heuristics",
        "--order",
        "1,2",
    ]));
    let header = out.lines().next().unwrap_or_default();
    for model in [
        "markov_order_1",
        "markov_order_2",
        "shapley",
        "shapley_ordered",
        "first_touch",
        "last_touch",
        "linear",
    ] {
        assert!(header.contains(&format!("{model} conv")), "{header}");
    }
    let total_line = out
        .lines()
        .find(|l| l.starts_with("TOTAL"))
        .expect("TOTAL row");
    let totals: Vec<&str> = total_line.split_whitespace().skip(1).step_by(2).collect();
    assert!(totals.windows(2).all(|w| w[0] == w[1]), "{total_line}");
}

#[test]
fn json_carries_markov_details_and_sampled_shapley_is_seeded() {
    let dir = scratch_dir("json");
    let csv = generate(&dir, 200, 5, 9);
    let args = [
        "--models",
        "markov,shapley",
        "--shapley-method",
        "sampled",
        "--shapley-samples",
        "500",
        "--seed",
        "7",
    ];
    let first = ours(&csv, &args);
    assert_eq!(first, ours(&csv, &args));
    let markov = model(&first, "markov_order_1");
    assert!(markov["details"]["removal_effects"]
        .as_array()
        .is_some_and(|r| r.len() == 5));
    let shapley = model(&first, "shapley_sampled");
    let total: f64 = credits(shapley).iter().map(|c| c.1).sum();
    let expected = shapley["total_conversions"].as_f64().unwrap_or(f64::NAN);
    assert!((total - expected).abs() < 1e-6);
}

#[test]
fn unsupported_order_is_rejected_before_reading() {
    let dir = scratch_dir("order");
    let file = write(&dir, "in.csv", "path,total_conversions\na,1\n");
    let err = run_err(&["--order", "5"], &file);
    assert!(err.contains("--order must be between 1 and 4"), "{err}");
}

#[test]
fn default_shapley_is_the_closed_form_and_equals_enumeration() {
    let dir = scratch_dir("shapley-closed-form");
    let csv = generate(&dir, 400, 7, 3);
    let default = ours(&csv, &["--models", "shapley,shapley-ordered"]);
    let enumerated = ours(
        &csv,
        &[
            "--models",
            "shapley,shapley-ordered",
            "--shapley-method",
            "exact",
        ],
    );
    for name in ["shapley", "shapley_ordered"] {
        let closed = credits(model(&default, name));
        let exact = credits(model(&enumerated, name));
        assert_eq!(closed.len(), 7, "{name}: {closed:?}");
        for ((channel, ours, _), (other, theirs, _)) in closed.iter().zip(&exact) {
            assert_eq!(channel, other, "{name}");
            assert!(
                (ours - theirs).abs() < 1e-9,
                "{name} {channel}: {ours} vs {theirs}"
            );
        }
    }
    // Past the enumeration limit (20 channels) the default stays exact instead of sampling.
    let wide = generate(&dir, 2_000, 25, 4);
    let out = ours(&wide, &["--models", "shapley"]);
    let shapley = model(&out, "shapley");
    let total: f64 = credits(shapley).iter().map(|c| c.1).sum();
    let expected = shapley["total_conversions"].as_f64().unwrap_or(f64::NAN);
    assert!((total - expected).abs() < 1e-6, "{total} vs {expected}");
}
