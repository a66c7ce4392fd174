//! `attrib ltv FILE`: BG/NBD and Gamma-Gamma fits and lifetime-value predictions over a CSV in
//! the summary format of the `lifetimes` package, and `attrib ltv-generate`, which writes such a
//! file drawn from known parameters (for benches and tests).
//!
//! Input columns, found by name: `frequency`, `recency`, `T`, optional `monetary_value`, and an
//! optional group column (`--group-by`) whose predictions are summed per value. Errors name the
//! line, the column and the reason. The models live in `attrib_models::ltv`; this file owns only
//! reading, flags and printing.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use attrib_models::ltv::{
    self, bgnbd, gamma_gamma, limits::MAX_CUSTOMERS, predict, summarize_groups, synthetic,
    BgNbdParams, ClvSettings, Customer, GammaGammaParams,
};
use clap::Args;
use serde_json::{json, Value};

/// Largest input file read (about 40 bytes a customer: room for the 20 million customer limit).
pub const MAX_LTV_FILE_BYTES: u64 = 1 << 30;
/// Longest group value (`--group-by`).
pub const MAX_GROUP_CHARS: usize = 256;

#[derive(Debug, Args)]
pub struct LtvArgs {
    /// CSV with columns frequency, recency, T and optionally monetary_value.
    input: PathBuf,
    /// Prediction horizon, in the unit of T.
    #[arg(long, default_value_t = 52.0)]
    horizon: f64,
    /// Lifetime value is summed over this many equal periods of the horizon...
    #[arg(long, default_value_t = 1)]
    periods: u32,
    /// ...each discounted at this rate per period (lifetimes: 12 periods, 0.01).
    #[arg(long, default_value_t = 0.0)]
    discount_rate: f64,
    /// Sum predictions per value of this column (a cohort or source).
    #[arg(long)]
    group_by: Option<String>,
    /// Predict with these BG/NBD parameters (r,alpha,a,b) instead of fitting.
    #[arg(long, value_delimiter = ',')]
    bgnbd_params: Option<Vec<f64>>,
    /// Predict with these Gamma-Gamma parameters (p,q,v) instead of fitting.
    #[arg(long, value_delimiter = ',')]
    gamma_gamma_params: Option<Vec<f64>>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// With --json: every customer's predictions too, in input order.
    #[arg(long)]
    per_customer: bool,
}

#[derive(Debug, Args)]
pub struct LtvGenerateArgs {
    #[arg(long)]
    customers: usize,
    /// BG/NBD parameters r,alpha,a,b [default: the published CDNOW fit].
    #[arg(
        long,
        value_delimiter = ',',
        num_args = 4,
        default_value = "0.243,4.414,0.793,2.426"
    )]
    bgnbd_params: Vec<f64>,
    /// Gamma-Gamma parameters p,q,v [default: the published CDNOW fit].
    #[arg(
        long,
        value_delimiter = ',',
        num_args = 3,
        default_value = "6.25,3.74,15.44"
    )]
    gamma_gamma_params: Vec<f64>,
    /// Ages T are uniform between these two values.
    #[arg(long, value_delimiter = ',', default_value = "27,39")]
    ages: Vec<f64>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    output: PathBuf,
}

struct Input {
    customers: Vec<Customer>,
    groups: Option<Vec<String>>,
    has_monetary: bool,
}

pub fn run(args: &LtvArgs) -> Result<()> {
    let settings = ClvSettings {
        periods: args.periods,
        period_length: args.horizon / f64::from(args.periods.max(1)),
        discount_rate: args.discount_rate,
    };
    settings
        .validate()
        .map_err(|e| anyhow!("{e} (--horizon, --periods, --discount-rate)"))?;
    let input = read(args)?;
    let customers = &input.customers;
    if customers.is_empty() {
        bail!("{}: no customers", args.input.display());
    }

    let started = Instant::now();
    let (bg, bg_fit) = match &args.bgnbd_params {
        Some(p) => (bgnbd_params(p)?, None),
        None => {
            let fit = bgnbd::fit(customers).context("BG/NBD")?;
            (fit.params, Some(fit))
        }
    };
    let bgnbd_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let (gg, gg_fit) = match (&args.gamma_gamma_params, input.has_monetary) {
        (Some(p), _) => (Some(gamma_gamma_params(p)?), None),
        (None, true) => {
            let fit = gamma_gamma::fit(customers).context("Gamma-Gamma")?;
            (Some(fit.params), Some(fit))
        }
        (None, false) => (None, None),
    };
    let gamma_gamma_seconds = started.elapsed().as_secs_f64();

    let predictions = customers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            predict(&bg, gg.as_ref(), c, &settings).with_context(|| format!("customer {}", i + 1))
        })
        .collect::<Result<Vec<_>>>()?;
    let total = summarize_groups(predictions.iter().map(|p| ((), *p)));
    let total = &total[0];
    let groups = input.groups.as_ref().map(|keys| {
        summarize_groups(
            keys.iter()
                .map(String::as_str)
                .zip(predictions.iter().copied()),
        )
    });

    let bg_ll = bg_fit.map_or_else(|| bg.log_likelihood(customers), |f| f.log_likelihood);
    let gg_ll =
        gg.map(|g| gg_fit.map_or_else(|| g.log_likelihood(customers), |f| f.log_likelihood));
    if args.json {
        let mut out = json!({
            "customers": customers.len(),
            "bgnbd": {
                "r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b,
                "log_likelihood": bg_ll,
                "fitted": bg_fit.is_some(),
                "iterations": bg_fit.map(|f| f.iterations),
                "fit_seconds": bg_fit.map(|_| bgnbd_seconds),
            },
            "gamma_gamma": gg.map(|g| json!({
                "p": g.p, "q": g.q, "v": g.v,
                "log_likelihood": gg_ll,
                "fitted": gg_fit.is_some(),
                "customers": gg_fit.map(|f| f.customers),
                "iterations": gg_fit.map(|f| f.iterations),
                "fit_seconds": gg_fit.map(|_| gamma_gamma_seconds),
            })),
            "horizon": args.horizon,
            "periods": args.periods,
            "discount_rate": args.discount_rate,
            "predictions": group_json(total.customers, total.expected_purchases, total.mean_p_alive, total.clv),
        });
        if let Some(groups) = &groups {
            out["groups"] = groups
                .iter()
                .map(|g| {
                    let mut v =
                        group_json(g.customers, g.expected_purchases, g.mean_p_alive, g.clv);
                    v["group"] = Value::from(g.key);
                    v
                })
                .collect();
        }
        if args.per_customer {
            out["per_customer"] = predictions
                .iter()
                .map(|p| {
                    json!({
                        "expected_purchases": p.expected_purchases,
                        "p_alive": p.p_alive,
                        "expected_average_value": p.expected_average_value,
                        "clv": p.clv,
                    })
                })
                .collect();
        }
        println!("{out}");
        return Ok(());
    }

    let how = if bg_fit.is_some() { "fitted" } else { "given" };
    println!("BG/NBD ({how}, {} customers)", customers.len());
    println!(
        "  r = {:.6}  alpha = {:.6}  a = {:.6}  b = {:.6}",
        bg.r, bg.alpha, bg.a, bg.b
    );
    println!("  log-likelihood = {bg_ll:.4}");
    match gg {
        Some(g) => {
            let how = if gg_fit.is_some() { "fitted" } else { "given" };
            let buyers = gg_fit.map_or(String::new(), |f| {
                format!(", {} repeat buyers", f.customers)
            });
            println!("Gamma-Gamma ({how}{buyers})");
            println!("  p = {:.6}  q = {:.6}  v = {:.6}", g.p, g.q, g.v);
            println!("  log-likelihood = {:.4}", gg_ll.unwrap_or(f64::NAN));
        }
        None => println!("Gamma-Gamma: not fitted (no monetary_value column)"),
    }
    println!(
        "Over a horizon of {} ({} period(s), discount {} per period):",
        args.horizon, args.periods, args.discount_rate
    );
    let print_row = |name: &str, customers: usize, purchases: f64, alive: f64, clv: Option<f64>| {
        let clv = clv.map_or("-".to_owned(), |v| format!("{v:.2}"));
        println!("  {name:<24} {customers:>10} {purchases:>18.4} {alive:>12.4} {clv:>16}");
    };
    println!(
        "  {:<24} {:>10} {:>18} {:>12} {:>16}",
        "group", "customers", "expected purchases", "mean P(alive)", "CLV"
    );
    print_row(
        "(all)",
        total.customers,
        total.expected_purchases,
        total.mean_p_alive,
        total.clv,
    );
    for g in groups.iter().flatten() {
        print_row(
            g.key,
            g.customers,
            g.expected_purchases,
            g.mean_p_alive,
            g.clv,
        );
    }
    Ok(())
}

fn group_json(customers: usize, purchases: f64, p_alive: f64, clv: Option<f64>) -> Value {
    json!({
        "customers": customers,
        "expected_purchases": purchases,
        "mean_p_alive": p_alive,
        "clv": clv,
    })
}

fn bgnbd_params(p: &[f64]) -> Result<BgNbdParams> {
    positive("--bgnbd-params", p, 4)?;
    Ok(BgNbdParams {
        r: p[0],
        alpha: p[1],
        a: p[2],
        b: p[3],
    })
}

fn gamma_gamma_params(p: &[f64]) -> Result<GammaGammaParams> {
    positive("--gamma-gamma-params", p, 3)?;
    Ok(GammaGammaParams {
        p: p[0],
        q: p[1],
        v: p[2],
    })
}

fn positive(flag: &str, values: &[f64], count: usize) -> Result<()> {
    if values.len() != count {
        bail!(
            "{flag}: needs {count} comma-separated values, got {}",
            values.len()
        );
    }
    if values.iter().any(|v| !v.is_finite() || *v <= 0.0) {
        bail!("{flag}: every parameter must be positive and finite");
    }
    Ok(())
}

fn read(args: &LtvArgs) -> Result<Input> {
    let path = &args.input;
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size > MAX_LTV_FILE_BYTES {
        bail!(
            "{}: {size} bytes exceed the limit of {MAX_LTV_FILE_BYTES}",
            path.display()
        );
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(file);
    let headers = reader
        .headers()
        .with_context(|| format!("{}: line 1: cannot read the header", path.display()))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let required = |name: &str| {
        column(name).ok_or_else(|| anyhow!("{}: line 1: missing column `{name}`", path.display()))
    };
    let (frequency, recency, age) = (required("frequency")?, required("recency")?, required("T")?);
    let monetary = column("monetary_value");
    let group = match &args.group_by {
        Some(name) => Some(required(name)?),
        None => None,
    };
    let mut customers = Vec::new();
    let mut groups = group.map(|_| Vec::new());
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        let more = reader
            .read_record(&mut record)
            .with_context(|| format!("{}: line {line}: not valid CSV", path.display()))?;
        if !more {
            break;
        }
        let line = record.position().map_or(line, |p| p.line());
        let at = |name: &str| format!("{}: line {line}, column `{name}`", path.display());
        if customers.len() >= MAX_CUSTOMERS {
            bail!("{}: more than {MAX_CUSTOMERS} customers", at("frequency"));
        }
        let number = |index: usize, name: &str| -> Result<f64> {
            let text = record.get(index).unwrap_or("").trim();
            text.parse::<f64>()
                .map_err(|_| anyhow!("{}: not a number: {text:?}", at(name)))
        };
        let x = number(frequency, "frequency")?;
        if x.fract() != 0.0 || !(0.0..=f64::from(ltv::limits::MAX_FREQUENCY)).contains(&x) {
            bail!(
                "{}: must be a whole number between 0 and 1,000,000",
                at("frequency")
            );
        }
        let customer = Customer {
            frequency: x as u32,
            recency: number(recency, "recency")?,
            age: number(age, "T")?,
            monetary_value: monetary.map(|m| number(m, "monetary_value")).transpose()?,
        };
        customer
            .validate()
            .map_err(|(field, reason)| anyhow!("{}: {reason}", at(field.column())))?;
        if let (Some(index), Some(groups)) = (group, groups.as_mut()) {
            let value = record.get(index).unwrap_or("").trim();
            if value.chars().count() > MAX_GROUP_CHARS {
                bail!(
                    "{}: longer than {MAX_GROUP_CHARS} characters",
                    at(&headers[index])
                );
            }
            groups.push(value.to_owned());
        }
        customers.push(customer);
    }
    Ok(Input {
        customers,
        groups,
        has_monetary: monetary.is_some(),
    })
}

pub fn generate(args: &LtvGenerateArgs) -> Result<()> {
    if args.customers == 0 || args.customers > MAX_CUSTOMERS {
        bail!("--customers must be between 1 and {MAX_CUSTOMERS}");
    }
    let bg = bgnbd_params(&args.bgnbd_params)?;
    let gg = gamma_gamma_params(&args.gamma_gamma_params)?;
    let [min_age, max_age] = args.ages[..] else {
        bail!("--ages: needs two comma-separated values");
    };
    if !(min_age > 0.0 && max_age >= min_age && max_age <= ltv::limits::MAX_MAGNITUDE) {
        bail!("--ages: need 0 < min <= max <= 1e12");
    }
    let customers = synthetic::customers(
        &bg,
        Some(&gg),
        args.customers,
        (min_age, max_age),
        args.seed,
    );
    let file = File::create(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let mut out = BufWriter::new(file);
    writeln!(out, "frequency,recency,T,monetary_value")?;
    for c in &customers {
        // Full precision: the comparison fits both tools on exactly these numbers.
        writeln!(
            out,
            "{},{:?},{:?},{:?}",
            c.frequency,
            c.recency,
            c.age,
            c.monetary_value.unwrap_or(0.0)
        )?;
    }
    out.flush()?;
    Ok(())
}
