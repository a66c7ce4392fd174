//! Embedded (libsql file) sink settings. By default it is on exactly when neither Kafka nor
//! ClickHouse is configured, so the stack runs with nothing else installed.

use std::path::{Path, PathBuf};

use crate::config::{ConfigError, Setting, Sources};

const MODE: Setting = Setting::new("embedded.mode", "ATTRIB_ORIGIN_EMBEDDED");
const PATH: Setting = Setting::new("embedded.path", "ATTRIB_ORIGIN_EMBEDDED_PATH");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddedMode {
    /// On when no other sink is configured (resolved by [`crate::config::Config`]).
    Auto,
    On,
    Off,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedConfig {
    pub mode: EmbeddedMode,
    pub path: PathBuf,
}

impl EmbeddedConfig {
    pub const SETTINGS: [&'static Setting; 2] = [&MODE, &PATH];

    pub fn from_sources(sources: &Sources, data_dir: &Path) -> Result<Self, ConfigError> {
        let mode = sources.parse_or(&MODE, "auto", |v| match v {
            "auto" => Ok(EmbeddedMode::Auto),
            "on" | "true" => Ok(EmbeddedMode::On),
            "off" | "false" => Ok(EmbeddedMode::Off),
            _ => Err("must be auto, on or off".into()),
        })?;
        let path = sources
            .string(&PATH)
            .map_or_else(|| data_dir.join("origin.db"), PathBuf::from);
        Ok(EmbeddedConfig { mode, path })
    }
}
