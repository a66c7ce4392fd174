//! Shared plumbing for the tests that compare `attrib` with the
//! ChannelAttribution Python package: locating the pinned interpreter,
//! generating seeded data with `attrib generate`, and running both sides.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Runs ChannelAttribution on one CSV as asked by a JSON request file and
/// prints the results as JSON. Its banners go to a swallowed buffer so stdout
/// carries only the JSON.
pub const CHANNEL_ATTRIBUTION_RUNNER: &str = r#"
import contextlib, io, json, os, sys, time
os.environ.setdefault("MPLBACKEND", "Agg")
with contextlib.redirect_stdout(io.StringIO()):
    import ChannelAttribution as ca
import pandas as pd

request = json.load(open(sys.argv[1]))
data = pd.read_csv(request["csv"])
has_value = "total_conversion_value" in data.columns
value = "total_conversion_value" if has_value else None
out = {"markov": {}}
for order in request.get("orders", []):
    kwargs = dict(var_value=value, var_null="total_null", order=order,
                  verbose=False, flg_pro=False)
    kwargs.update(request.get("markov_kwargs", {}))
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        result = ca.markov_model(data, "path", "total_conversions", **kwargs)
    entry = {"seconds": time.perf_counter() - start,
             "conversions": dict(zip(result["channel_name"], map(float, result["total_conversions"])))}
    if has_value:
        entry["values"] = dict(zip(result["channel_name"], map(float, result["total_conversion_value"])))
    out["markov"][str(order)] = entry
if request.get("heuristics"):
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        h = ca.heuristic_models(data, "path", "total_conversions", var_value=value, flg_pro=False)
    columns = {c: dict(zip(h["channel_name"], map(float, h[c]))) for c in h.columns if c != "channel_name"}
    out["heuristics"] = {"seconds": time.perf_counter() - start, "columns": columns}
json.dump(out, sys.stdout)
"#;

/// The interpreter with ChannelAttribution installed: `ATTRIB_PYTHON`, else
/// the venv made by `scripts/setup/50-python.sh`. Panics (fails the test) with
/// the fix when it is missing: a silently skipped comparison proves nothing.
pub fn python() -> PathBuf {
    if let Some(explicit) = std::env::var_os("ATTRIB_PYTHON") {
        let path = PathBuf::from(explicit);
        assert!(
            path.exists(),
            "ATTRIB_PYTHON={} does not exist; unset it or run `bash scripts/setup/50-python.sh`",
            path.display()
        );
        return path;
    }
    let tools = std::env::var_os("ATTRIB_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/attribution-tools"))
        })
        .expect("neither ATTRIB_TOOLS_DIR nor HOME is set");
    let venv_python = tools.join("python-venv/bin/python");
    assert!(
        venv_python.exists(),
        "ChannelAttribution is not installed ({} is missing). \
         Run `bash scripts/setup/50-python.sh` from the repository root, \
         or point ATTRIB_PYTHON at a python with ChannelAttribution 2.2.5.",
        venv_python.display()
    );
    venv_python
}

pub fn attrib() -> Command {
    Command::new(env!("CARGO_BIN_EXE_attrib"))
}

/// A fresh scratch directory for one test.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("attrib-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("cannot create a scratch directory");
    dir
}

pub fn run_ok(command: &mut Command) -> String {
    let output = command.output().expect("cannot start the command");
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("output is not UTF-8")
}

pub fn generate(dir: &Path, paths: usize, channels: usize, seed: u64) -> PathBuf {
    let file = dir.join(format!("paths-{paths}-{channels}-{seed}.csv"));
    run_ok(
        attrib()
            .args([
                "generate",
                "--paths",
                &paths.to_string(),
                "--channels",
                &channels.to_string(),
                "--seed",
                &seed.to_string(),
                "--output",
            ])
            .arg(&file),
    );
    file
}

/// Runs the ChannelAttribution runner with `request` (its `csv` is set here).
pub fn channel_attribution(dir: &Path, csv: &Path, mut request: Value) -> Value {
    let script = dir.join("channel_attribution_runner.py");
    std::fs::write(&script, CHANNEL_ATTRIBUTION_RUNNER).expect("cannot write the runner");
    request["csv"] = Value::from(csv.to_string_lossy().into_owned());
    let request_file = dir.join("request.json");
    std::fs::write(&request_file, request.to_string()).expect("cannot write the request");
    let stdout = run_ok(Command::new(python()).arg(&script).arg(&request_file));
    serde_json::from_str(&stdout).expect("the runner did not print JSON")
}

/// Our results for `args` (after `run <csv> --json`), keyed by model name.
pub fn ours(csv: &Path, args: &[&str]) -> Value {
    let stdout = run_ok(
        attrib()
            .arg("run")
            .arg(csv)
            .args(["--json", "--no-progress"])
            .args(args),
    );
    serde_json::from_str(&stdout).expect("attrib did not print JSON")
}

pub fn model<'a>(ours: &'a Value, name: &str) -> &'a Value {
    ours["models"]
        .as_array()
        .and_then(|models| models.iter().find(|m| m["model"] == name))
        .unwrap_or_else(|| panic!("model {name} missing from {ours}"))
}

/// `channel -> (conversions, value)` of one of our models.
pub fn credits(model: &Value) -> Vec<(String, f64, Option<f64>)> {
    model["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .map(|c| {
            (
                c["channel"].as_str().expect("channel").to_owned(),
                c["conversions"].as_f64().expect("conversions"),
                c["value"].as_f64(),
            )
        })
        .collect()
}
