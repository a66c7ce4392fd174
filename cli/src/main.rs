//! `attrib`: run the data-driven and heuristic attribution models of
//! `attrib_models::datadriven` on a ChannelAttribution-format CSV file.
//!
//! The binary owns only IO and presentation: reading the file (with clear
//! line/column errors and a progress bar on big inputs), choosing models from
//! flags, and printing a table, JSON or CSV. All attribution logic lives in
//! the IO-free core crate so the Workers run the very same code.

mod admin;
mod bench;
mod generate;
mod input;
mod ltv;
mod output;

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use attrib_models::datadriven::{
    heuristics, markov_with_progress, shapley_ordered, shapley_simplified, PathSet, ShapleyMethod,
    MAX_MARKOV_ORDER,
};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::input::{InputSpec, DEFAULT_CONVERSIONS_COLUMN, DEFAULT_PATH_COLUMN};
use crate::output::ModelReport;

/// Inputs with at least this many rows get a progress bar while solving.
const PROGRESS_MIN_ROWS: usize = 50_000;

#[derive(Debug, Parser)]
#[command(
    name = "attrib",
    version,
    about = "Multi-touch attribution on aggregated journey paths"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Attribute conversions (and value) to channels with the chosen models.
    Run(RunArgs),
    /// Write a seeded synthetic path file (ChannelAttribution format).
    Generate(GenerateArgs),
    /// Time the models on a file (used by scripts/bench-datadriven.sh).
    #[command(hide = true)]
    Bench(BenchArgs),
    /// The management API (apps, keys, links, postbacks, settings, audit): cli/src/admin.
    #[command(flatten)]
    Admin(admin::AdminCommand),
    /// Fit BG/NBD and Gamma-Gamma to a lifetimes-format summary CSV and predict lifetime value.
    Ltv(ltv::LtvArgs),
    /// Write a seeded synthetic customer summary CSV (used by scripts/bench-ltv.sh).
    #[command(hide = true)]
    LtvGenerate(ltv::LtvGenerateArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Model {
    /// Markov chain removal effects, at each --order.
    Markov,
    /// Unordered (simplified) Shapley value.
    Shapley,
    /// Ordered (position-aware) Shapley value.
    ShapleyOrdered,
    /// First touch, last touch and linear.
    Heuristics,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ShapleyChoice {
    /// Zhao's closed form: exact at any channel count, what the query Worker runs.
    ClosedForm,
    /// Enumeration of every coalition when the channel count allows, sampling otherwise.
    Auto,
    /// Enumeration of every coalition (the textbook definition; at most 20 channels).
    Exact,
    /// Monte Carlo over random channel orders (`--shapley-samples`, `--seed`).
    Sampled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
struct InputArgs {
    /// CSV file with one row per distinct path.
    input: PathBuf,
    /// CSV field delimiter (one ASCII character).
    #[arg(long, default_value = ",")]
    delimiter: char,
    /// Separator between channels inside a path (names are trimmed).
    #[arg(long, default_value = ">")]
    separator: String,
    #[arg(long, default_value = DEFAULT_PATH_COLUMN)]
    path_column: String,
    #[arg(long, default_value = DEFAULT_CONVERSIONS_COLUMN)]
    conversions_column: String,
    /// Non-converting journeys per path [default: total_null, if present].
    #[arg(long)]
    nulls_column: Option<String>,
    /// Conversion value per path [default: total_conversion_value, if present].
    #[arg(long)]
    value_column: Option<String>,
    /// Ignore conversion values even if the file has them.
    #[arg(long)]
    no_value: bool,
    /// Never show progress bars.
    #[arg(long)]
    no_progress: bool,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Models to run (comma-separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "markov,heuristics"
    )]
    models: Vec<Model>,
    /// Markov orders to run (comma-separated, 1 to 4).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    order: Vec<usize>,
    #[arg(long, value_enum, default_value = "closed-form")]
    shapley_method: ShapleyChoice,
    /// Permutations drawn when Shapley is sampled.
    #[arg(long, default_value_t = 20_000)]
    shapley_samples: u32,
    /// Seed for Shapley sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Shorthand for --format json.
    #[arg(long, conflicts_with_all = ["format", "csv"])]
    json: bool,
    /// Shorthand for --format csv.
    #[arg(long, conflicts_with = "format")]
    csv: bool,
}

#[derive(Debug, Args)]
struct GenerateArgs {
    /// Number of distinct paths.
    #[arg(long, default_value_t = 10_000)]
    paths: usize,
    /// Number of channels (1 to 255).
    #[arg(long, default_value_t = 12)]
    channels: usize,
    /// Longest path, in touchpoints.
    #[arg(long, default_value_t = 20)]
    max_length: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output file (stdout if absent).
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct BenchArgs {
    #[command(flatten)]
    input: InputArgs,
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    order: Vec<usize>,
    #[arg(long, default_value_t = 3)]
    repeat: usize,
}

fn main() {
    if let Err(err) = run_cli() {
        eprintln!("attrib: error: {err:#}");
        std::process::exit(1);
    }
}

fn run_cli() -> Result<()> {
    match Cli::parse().command {
        Command::Run(args) => run(&args),
        Command::Generate(args) => generate(&args),
        Command::Bench(args) => {
            let spec = input_spec(&args.input)?;
            let report = bench::run(&spec, &args.order, args.repeat)?;
            println!("{report}");
            Ok(())
        }
        Command::Admin(command) => admin::run(command),
        Command::Ltv(args) => ltv::run(&args),
        Command::LtvGenerate(args) => ltv::generate(&args),
    }
}

fn input_spec(args: &InputArgs) -> Result<InputSpec> {
    input::ensure_file(&args.input)?;
    if !args.delimiter.is_ascii() {
        bail!("--delimiter must be a single ASCII character");
    }
    Ok(InputSpec {
        file: args.input.clone(),
        delimiter: args.delimiter as u8,
        separator: args.separator.clone(),
        path_column: args.path_column.clone(),
        conversions_column: args.conversions_column.clone(),
        nulls_column: args.nulls_column.clone(),
        value_column: args.value_column.clone(),
        ignore_value: args.no_value,
        show_progress: !args.no_progress,
    })
}

fn run(args: &RunArgs) -> Result<()> {
    for &order in &args.order {
        if !(1..=MAX_MARKOV_ORDER).contains(&order) {
            bail!("--order must be between 1 and {MAX_MARKOV_ORDER}, got {order}");
        }
    }
    let spec = input_spec(&args.input)?;
    let paths = input::read_path_set(&spec)?;
    let show_progress = spec.show_progress && paths.len() >= PROGRESS_MIN_ROWS;
    let mut reports = Vec::new();
    for model in &args.models {
        match model {
            Model::Markov => {
                for &order in &args.order {
                    reports.push(run_markov(&paths, order, show_progress)?);
                }
            }
            Model::Shapley => {
                let credits = shapley_simplified(&paths, shapley_method(args, &paths))
                    .context("shapley failed")?;
                reports.push(ModelReport {
                    credits,
                    details: None,
                });
            }
            Model::ShapleyOrdered => {
                let ordered = shapley_ordered(&paths, shapley_method(args, &paths))
                    .context("ordered shapley failed")?;
                let details = serde_json::json!({
                    "conversions_by_position": ordered.conversions_by_position,
                    "value_by_position": ordered.value_by_position,
                });
                reports.push(ModelReport {
                    credits: ordered.credits,
                    details: Some(details),
                });
            }
            Model::Heuristics => {
                let h = heuristics(&paths);
                for credits in [h.first_touch, h.last_touch, h.linear] {
                    reports.push(ModelReport {
                        credits,
                        details: None,
                    });
                }
            }
        }
    }
    let format = if args.json {
        Format::Json
    } else if args.csv {
        Format::Csv
    } else {
        args.format
    };
    let text = match format {
        Format::Table => output::to_table(&reports),
        Format::Json => output::to_json(&reports)? + "\n",
        Format::Csv => output::to_csv(&reports),
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .context("cannot write the output")
}

fn run_markov(paths: &PathSet, order: usize, show_progress: bool) -> Result<ModelReport> {
    let bar = if show_progress {
        let bar = ProgressBar::new(0);
        if let Ok(style) = ProgressStyle::with_template(&format!(
            "markov order {order}: solving {{bar:40}} {{pos}}/{{len}} removal systems"
        )) {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let result = markov_with_progress(paths, order, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    let result = result.with_context(|| format!("markov order {order} failed"))?;
    let details = serde_json::json!({
        "order": result.order,
        "removal_effects": result.removal_effects,
        "value_removal_effects": result.value_removal_effects,
        "conversion_probability": result.conversion_probability,
        "state_count": result.state_count,
        "transition_count": result.transition_count,
    });
    Ok(ModelReport {
        credits: result.credits,
        details: Some(details),
    })
}

fn shapley_method(args: &RunArgs, paths: &PathSet) -> ShapleyMethod {
    let sampled = ShapleyMethod::Sampled {
        permutations: args.shapley_samples,
        seed: args.seed,
    };
    match args.shapley_method {
        ShapleyChoice::ClosedForm => ShapleyMethod::ClosedForm,
        ShapleyChoice::Exact => ShapleyMethod::Exact,
        ShapleyChoice::Sampled => sampled,
        ShapleyChoice::Auto => ShapleyMethod::auto(paths, args.shapley_samples, args.seed),
    }
}

fn generate(args: &GenerateArgs) -> Result<()> {
    if !(1..=255).contains(&args.channels) {
        bail!("--channels must be between 1 and 255");
    }
    let spec = generate::GenerateSpec {
        distinct_paths: args.paths,
        channels: args.channels,
        max_length: args.max_length,
        seed: args.seed,
    };
    let (text, produced) = generate::generate_csv(&spec);
    if produced < args.paths {
        eprintln!(
            "attrib: warning: only {produced} distinct paths exist for these settings (asked {})",
            args.paths
        );
    }
    match &args.output {
        Some(file) => {
            std::fs::write(file, text).with_context(|| format!("cannot write {}", file.display()))
        }
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context("cannot write the output"),
    }
}
