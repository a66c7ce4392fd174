//! `attrib bench`: wall-clock timing of the models on one input, for
//! `scripts/bench-datadriven.sh`.
//!
//! The rows are first loaded into memory as strings (like a DataFrame before
//! ChannelAttribution is called); each timed run then includes parsing the
//! path strings into a [`PathSet`] plus the model, which is what a call to
//! ChannelAttribution's `markov_model` / `heuristic_models` covers. Each
//! model runs `repeat` times and the fastest run is reported (the machine is
//! shared; the minimum is the least noisy estimate of the cost).

use std::time::Instant;

use anyhow::{Context, Result};
use attrib_models::datadriven::{heuristics, markov, ChannelCredits, PathSet};
use serde::Serialize;

use crate::input::{read_path_set, InputSpec};

#[derive(Debug, Serialize)]
struct Timing {
    model: String,
    rows: usize,
    channels: usize,
    best_seconds: f64,
    runs: Vec<f64>,
}

#[derive(Debug, Serialize)]
struct BenchReport {
    timings: Vec<Timing>,
    models: Vec<ChannelCredits>,
}

pub fn run(spec: &InputSpec, orders: &[usize], repeat: usize) -> Result<String> {
    let loaded = read_path_set(spec)?;
    // Rebuild path strings so each timed run parses text, like the Python side.
    let rows: Vec<(String, f64, f64, Option<f64>)> = (0..loaded.len())
        .map(|row| {
            let text = loaded
                .path(row)
                .iter()
                .map(|&c| loaded.channel_names()[c as usize].as_str())
                .collect::<Vec<_>>()
                .join(&spec.separator);
            (
                text,
                loaded.conversions()[row],
                loaded.nulls()[row],
                loaded.values().map(|v| v[row]),
            )
        })
        .collect();
    let parse = || {
        PathSet::parse(
            &spec.separator,
            loaded.has_values(),
            rows.iter().map(|(p, c, n, v)| (p.as_str(), *c, *n, *v)),
        )
    };
    let mut timings = Vec::new();
    let mut models = Vec::new();
    let (timing, _) = time("parse_only", repeat, &loaded, || {
        let paths = parse()?;
        Ok(heuristics(&PathSet::parse(
            ">",
            false,
            [(paths.channel_names()[0].as_str(), 0.0, 0.0, None)],
        )?)
        .linear)
    })?;
    timings.push(timing);
    for &order in orders {
        let (timing, credits) = time(&format!("markov_order_{order}"), repeat, &loaded, || {
            let paths = parse()?;
            Ok(markov(&paths, order)?.credits)
        })?;
        timings.push(timing);
        models.push(credits);
    }
    let (timing, credits) = time("heuristics", repeat, &loaded, || {
        let paths = parse()?;
        Ok(heuristics(&paths).linear)
    })?;
    timings.push(timing);
    models.push(credits);
    serde_json::to_string(&BenchReport { timings, models }).context("cannot encode the report")
}

fn time(
    model: &str,
    repeat: usize,
    loaded: &PathSet,
    mut run: impl FnMut() -> Result<ChannelCredits>,
) -> Result<(Timing, ChannelCredits)> {
    let mut runs = Vec::new();
    let mut last = None;
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        let credits = run().with_context(|| format!("{model} failed"))?;
        runs.push(start.elapsed().as_secs_f64());
        last = Some(credits);
    }
    let best_seconds = runs.iter().copied().fold(f64::INFINITY, f64::min);
    let credits = last.context("no run")?;
    Ok((
        Timing {
            model: model.to_owned(),
            rows: loaded.len(),
            channels: loaded.channel_count(),
            best_seconds,
            runs,
        },
        credits,
    ))
}
