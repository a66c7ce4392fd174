//! The origin's configuration: a TOML file and environment variables, environment winning.
//!
//! Every setting has one TOML key and one environment variable (the table in
//! `origin/README.md`); errors name the one that was wrong and why, so a bad deployment
//! fails at start with a message instead of misbehaving later. Sink settings live beside
//! their sinks (`sinks/*/config.rs`) and read through the same [`Sources`].

pub mod sources;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::retention::RetentionConfig;
pub use sources::{Setting, Sources};

use attrib_core::signing::{Direction, Keyring};

use crate::rollup::RollupConfig;
use crate::sinks::clickhouse::ClickHouseConfig;
use crate::sinks::embedded::{EmbeddedConfig, EmbeddedMode};
use crate::sinks::kafka::KafkaConfig;
use crate::spool::SpoolConfig;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8790";
pub const DEFAULT_DATA_DIR: &str = ".state/origin";

const LISTEN: Setting = Setting::new("listen", "ATTRIB_ORIGIN_LISTEN");
const DATA_DIR: Setting = Setting::new("data_dir", "ATTRIB_ORIGIN_DATA_DIR");
const SECRET: Setting = Setting::new("edge_origin_secret", "EDGE_ORIGIN_SECRET");
const OUTBOX_KEYS: Setting = Setting::new("signing.outbox_keys", "ATTRIB_ORIGIN_OUTBOX_KEYS");
const ROLLUP_KEYS: Setting = Setting::new("signing.rollup_keys", "ATTRIB_ORIGIN_ROLLUP_KEYS");
const SEGMENT_BYTES: Setting =
    Setting::new("spool.segment_bytes", "ATTRIB_ORIGIN_SPOOL_SEGMENT_BYTES");
const DEDUP_DAYS: Setting = Setting::new(
    "spool.dedup_retention_days",
    "ATTRIB_ORIGIN_DEDUP_RETENTION_DAYS",
);
const SHUTDOWN_GRACE: Setting =
    Setting::new("shutdown_grace_ms", "ATTRIB_ORIGIN_SHUTDOWN_GRACE_MS");
const ADMIN_TOKEN: Setting = Setting::new("admin_token", "ATTRIB_ORIGIN_ADMIN_TOKEN");
const MAX_IN_FLIGHT: Setting = Setting::new("limits.max_in_flight", "ATTRIB_ORIGIN_MAX_IN_FLIGHT");
const REQUEST_TIMEOUT: Setting = Setting::new(
    "limits.request_timeout_ms",
    "ATTRIB_ORIGIN_REQUEST_TIMEOUT_MS",
);
const HEADER_TIMEOUT: Setting = Setting::new(
    "limits.header_timeout_ms",
    "ATTRIB_ORIGIN_HEADER_TIMEOUT_MS",
);
const RETENTION_DAYS: Setting = Setting::new("retention.days", "ATTRIB_ORIGIN_RETENTION_DAYS");
const RETENTION_INTERVAL: Setting = Setting::new(
    "retention.interval_secs",
    "ATTRIB_ORIGIN_RETENTION_INTERVAL_SECS",
);
const MAX_CONNECTIONS: Setting =
    Setting::new("limits.max_connections", "ATTRIB_ORIGIN_MAX_CONNECTIONS");
const MAX_QUEUED_APPENDS: Setting = Setting::new(
    "limits.max_queued_appends",
    "ATTRIB_ORIGIN_MAX_QUEUED_APPENDS",
);
const MIN_FREE_DISK: Setting = Setting::new(
    "limits.min_free_disk_bytes",
    "ATTRIB_ORIGIN_MIN_FREE_DISK_BYTES",
);

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("config file {path}: unknown setting `{key}` (see origin/README.md)")]
    UnknownKey { path: PathBuf, key: String },
    #[error("{origin} = {value:?}: {reason}")]
    Invalid {
        origin: String,
        value: String,
        reason: String,
    },
    #[error("{0} is required (set the environment variable or the TOML key)")]
    Missing(String),
}

#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Verifies outbox batches (edge → origin): `ATTRIB_ORIGIN_OUTBOX_KEYS`, else derived
    /// from `EDGE_ORIGIN_SECRET` (`attrib_core::signing`).
    pub outbox_keys: Keyring,
    /// Signs rollups (origin → edge): `ATTRIB_ORIGIN_ROLLUP_KEYS`, else derived likewise.
    pub rollup_keys: Keyring,
    pub spool: SpoolConfig,
    pub kafka: Option<KafkaConfig>,
    pub clickhouse: Option<ClickHouseConfig>,
    pub embedded: EmbeddedConfig,
    pub rollups: RollupConfig,
    /// How long shutdown waits for a sink to finish its current batch.
    pub shutdown_grace: Duration,
    /// Intake bounds (`crate::limits`).
    pub intake: IntakeLimits,
    /// Bearer token of the admin API (`/admin/...`); off when unset.
    pub admin_token: Option<String>,
    /// Raw events older than this are removed from ClickHouse and the embedded store
    /// (`crate::retention`).
    pub retention: RetentionConfig,
}

/// The HTTP intake's bounds; defaults in [`crate::limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntakeLimits {
    pub max_in_flight: usize,
    pub request_timeout: Duration,
    /// Longest a connection may take to send a request head, idle keep-alive included.
    pub header_timeout: Duration,
    /// Open connections at once; beyond it none is accepted until one closes.
    pub max_connections: usize,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("outbox_keys", &self.outbox_keys)
            .field("rollup_keys", &self.rollup_keys)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("kafka", &self.kafka)
            .field("clickhouse", &self.clickhouse)
            .field("embedded", &self.embedded)
            .field("rollups", &self.rollups)
            .field("spool", &self.spool)
            .field("intake", &self.intake)
            .finish()
    }
}

impl Config {
    /// Reads `file` (if any) and the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Config::from_sources(&Sources::new(file, env)?)
    }

    pub fn from_sources(sources: &Sources) -> Result<Config, ConfigError> {
        sources.reject_unknown_keys(&known_settings())?;
        let listen = sources.parse_or(&LISTEN, DEFAULT_LISTEN, |v| {
            v.parse::<SocketAddr>()
                .map_err(|e| format!("not a socket address like {DEFAULT_LISTEN} ({e})"))
        })?;
        let data_dir = PathBuf::from(sources.string_or(&DATA_DIR, DEFAULT_DATA_DIR));
        let secret = sources.string(&SECRET);
        if secret.as_deref() == Some("") {
            return Err(sources.invalid(&SECRET, "", "must not be empty"));
        }
        let keyring = |direction: Direction, setting: &Setting| {
            Keyring::from_settings(
                direction,
                sources.string(setting).as_deref(),
                secret.as_deref(),
            )
            .map_err(|e| sources.invalid(setting, "<redacted>", &e.to_string()))?
            .ok_or_else(|| {
                ConfigError::Missing(format!("{} (or EDGE_ORIGIN_SECRET)", setting.describe()))
            })
        };
        let outbox_keys = keyring(Direction::Outbox, &OUTBOX_KEYS)?;
        let rollup_keys = keyring(Direction::Rollups, &ROLLUP_KEYS)?;
        let spool = SpoolConfig {
            dir: data_dir.join("spool"),
            segment_bytes: sources.parse_or(&SEGMENT_BYTES, "67108864", sources::positive_u64)?,
            dedup_retention_days: sources.parse_or(&DEDUP_DAYS, "7", sources::positive_u64)?,
            max_queued_appends: sources.parse_or(
                &MAX_QUEUED_APPENDS,
                &crate::limits::DEFAULT_MAX_QUEUED_APPENDS.to_string(),
                sources::positive_u64,
            )? as usize,
            min_free_disk_bytes: sources.parse_or(
                &MIN_FREE_DISK,
                &crate::limits::DEFAULT_MIN_FREE_DISK_BYTES.to_string(),
                |v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| "must be a whole number of bytes".to_string())
                },
            )?,
            free_space_override: None,
        };
        let admin_token = match sources.string(&ADMIN_TOKEN) {
            Some(token) if token.len() < 16 => {
                return Err(sources.invalid(
                    &ADMIN_TOKEN,
                    "<redacted>",
                    "must be at least 16 characters",
                ))
            }
            other => other,
        };
        let intake = IntakeLimits {
            max_in_flight: sources.parse_or(
                &MAX_IN_FLIGHT,
                &crate::limits::DEFAULT_MAX_IN_FLIGHT.to_string(),
                sources::positive_u64,
            )? as usize,
            request_timeout: Duration::from_millis(
                sources.parse_or(
                    &REQUEST_TIMEOUT,
                    &crate::limits::DEFAULT_REQUEST_TIMEOUT
                        .as_millis()
                        .to_string(),
                    sources::positive_u64,
                )?,
            ),
            header_timeout: Duration::from_millis(
                sources.parse_or(
                    &HEADER_TIMEOUT,
                    &crate::limits::DEFAULT_HEADER_TIMEOUT
                        .as_millis()
                        .to_string(),
                    sources::positive_u64,
                )?,
            ),
            max_connections: sources.parse_or(
                &MAX_CONNECTIONS,
                &crate::limits::DEFAULT_MAX_CONNECTIONS.to_string(),
                sources::positive_u64,
            )? as usize,
        };
        let retention = RetentionConfig {
            days: sources.parse_or(
                &RETENTION_DAYS,
                &attrib_core::limits::DEFAULT_RETENTION_DAYS.to_string(),
                |v| {
                    v.trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|d| *d <= u64::from(attrib_core::limits::MAX_RETENTION_DAYS))
                        .ok_or_else(|| "must be 0 (off) to 3650 days".to_string())
                },
            )?,
            interval: Duration::from_secs(sources.parse_or(
                &RETENTION_INTERVAL,
                "3600",
                sources::positive_u64,
            )?),
        };
        let kafka = KafkaConfig::from_sources(sources)?;
        let clickhouse = ClickHouseConfig::from_sources(sources)?;
        let mut embedded = EmbeddedConfig::from_sources(sources, &data_dir)?;
        if embedded.mode == EmbeddedMode::Auto {
            embedded.mode = if kafka.is_none() && clickhouse.is_none() {
                EmbeddedMode::On
            } else {
                EmbeddedMode::Off
            };
        }
        let rollups = RollupConfig::from_sources(sources, &data_dir)?;
        let shutdown_grace = Duration::from_millis(sources.parse_or(
            &SHUTDOWN_GRACE,
            "10000",
            sources::positive_u64,
        )?);
        Ok(Config {
            listen,
            data_dir,
            outbox_keys,
            rollup_keys,
            spool,
            kafka,
            clickhouse,
            embedded,
            rollups,
            shutdown_grace,
            intake,
            admin_token,
            retention,
        })
    }

    /// Names of the spool consumers this configuration runs, in a stable order.
    pub fn sink_names(&self) -> Vec<&'static str> {
        let mut names = vec![crate::rollup::SINK_NAME];
        if self.kafka.is_some() {
            names.push(crate::sinks::kafka::SINK_NAME);
        }
        if self.clickhouse.is_some() {
            names.push(crate::sinks::clickhouse::SINK_NAME);
        }
        if self.embedded.mode == EmbeddedMode::On {
            names.push(crate::sinks::embedded::SINK_NAME);
        }
        names
    }
}

fn known_settings() -> Vec<&'static Setting> {
    let mut all = vec![
        &LISTEN,
        &DATA_DIR,
        &SECRET,
        &OUTBOX_KEYS,
        &ROLLUP_KEYS,
        &SEGMENT_BYTES,
        &DEDUP_DAYS,
        &SHUTDOWN_GRACE,
        &ADMIN_TOKEN,
        &MAX_IN_FLIGHT,
        &REQUEST_TIMEOUT,
        &HEADER_TIMEOUT,
        &MAX_CONNECTIONS,
        &MAX_QUEUED_APPENDS,
        &MIN_FREE_DISK,
        &RETENTION_DAYS,
        &RETENTION_INTERVAL,
    ];
    all.extend(KafkaConfig::SETTINGS);
    all.extend(ClickHouseConfig::SETTINGS);
    all.extend(EmbeddedConfig::SETTINGS);
    all.extend(RollupConfig::SETTINGS);
    all
}

#[cfg(test)]
mod tests;
