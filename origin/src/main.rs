//! `attrib-origin`: runs the origin service until SIGTERM or SIGINT.
//!
//! Usage: `attrib-origin [--config path/to/origin.toml]`; every setting can also come from
//! the environment (see origin/README.md). Logs: `RUST_LOG` (default `info`) and
//! `ATTRIB_ORIGIN_LOG_FORMAT=json` for JSON lines.

use std::path::PathBuf;

use anyhow::{bail, Context};
use tracing_subscriber::EnvFilter;

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
                println!("usage: attrib-origin [--config FILE]\nSettings: origin/README.md");
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
