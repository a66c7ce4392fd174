//! `attrib-origin`: runs the origin service until SIGTERM or SIGINT.
//!
//! Usage: `attrib-origin [--config path/to/origin.toml]`; every setting can also come from
//! the environment (see origin/README.md). Logs: `RUST_LOG` (default `info`) and
//! `ATTRIB_ORIGIN_LOG_FORMAT=json` for JSON lines.
//!
//! `attrib-origin dead-letters list [--sink S]` and `attrib-origin dead-letters replay --sink S
//! [--id ID]...` talk to a running origin's admin API (`--url`, default
//! `http://$ATTRIB_ORIGIN_LISTEN`; token from `ATTRIB_ORIGIN_ADMIN_TOKEN`).

use std::path::PathBuf;

use anyhow::{bail, Context};
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: attrib-origin [--config FILE]\n       attrib-origin dead-letters list [--sink S] [--url URL]\n       attrib-origin dead-letters replay --sink S [--id ID]... [--url URL]\nSettings: origin/README.md";

/// `attrib-origin dead-letters ...`: the admin API of a running origin, from a terminal.
async fn dead_letters(args: &[String]) -> anyhow::Result<()> {
    let action = args.first().map(String::as_str);
    let (mut sink, mut ids, mut url) = (None, Vec::new(), None);
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        let mut value = || {
            rest.next()
                .cloned()
                .with_context(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--sink" => sink = Some(value()?),
            "--id" => ids.push(value()?),
            "--url" => url = Some(value()?),
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let url = url.unwrap_or_else(|| {
        let listen = std::env::var("ATTRIB_ORIGIN_LISTEN")
            .unwrap_or_else(|_| attrib_origin::config::DEFAULT_LISTEN.into());
        format!("http://{listen}")
    });
    let token = std::env::var("ATTRIB_ORIGIN_ADMIN_TOKEN")
        .context("ATTRIB_ORIGIN_ADMIN_TOKEN is not set")?;
    let client = reqwest::Client::new();
    let request = match action {
        Some("list") => {
            let mut request = client.get(format!("{url}/admin/dead-letters"));
            if let Some(sink) = &sink {
                request = request.query(&[("sink", sink)]);
            }
            request
        }
        Some("replay") => {
            let sink = sink.context("replay needs --sink")?;
            let body = if ids.is_empty() {
                serde_json::json!({ "sink": sink })
            } else {
                serde_json::json!({ "sink": sink, "ids": ids })
            };
            client
                .post(format!("{url}/admin/dead-letters/replay"))
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&body)?)
        }
        _ => bail!("{USAGE}"),
    };
    let response = request.bearer_auth(token).send().await?;
    let status = response.status();
    let text = response.text().await?;
    println!("{text}");
    if !status.is_success() {
        bail!("the origin answered {status}");
    }
    Ok(())
}

fn config_path() -> anyhow::Result<Option<PathBuf>> {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" | "-c" => {
                path = Some(PathBuf::from(
                    args.next().context("--config needs a file path")?,
                ));
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (usage: attrib-origin [--config FILE])"),
        }
    }
    Ok(path)
}

fn init_logs() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if std::env::var("ATTRIB_ORIGIN_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() -> anyhow::Result<&'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("dead-letters") {
        return dead_letters(&args[1..]).await;
    }
    init_logs();
    let path = config_path()?;
    let config = attrib_origin::Config::load(path.as_deref()).context("invalid configuration")?;
    tracing::info!(?config, "starting");
    let origin = attrib_origin::start(config)
        .await
        .context("the origin could not start")?;
    let signal = shutdown_signal().await?;
    tracing::info!(signal, "shutting down");
    origin.shutdown().await;
    Ok(())
}
