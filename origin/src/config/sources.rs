//! Where setting values come from: the environment first, then the TOML file, then the
//! default. Values of any TOML type are read as text and parsed by the setting's parser, so
//! a file and the environment accept exactly the same values.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::ConfigError;

/// One setting: its dotted TOML key and its environment variable.
#[derive(Debug)]
pub struct Setting {
    pub key: &'static str,
    pub env: &'static str,
}

impl Setting {
    pub const fn new(key: &'static str, env: &'static str) -> Self {
        Setting { key, env }
    }

    pub fn describe(&self) -> String {
        format!("{} (TOML `{}`)", self.env, self.key)
    }
}

pub struct Sources {
    path: Option<PathBuf>,
    file: toml::Table,
    env: HashMap<String, String>,
}

impl Sources {
    pub fn new(path: Option<&Path>, env: HashMap<String, String>) -> Result<Self, ConfigError> {
        let file = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                Self::parse_toml(path, &text)?
            }
            None => toml::Table::new(),
        };
        Ok(Sources {
            path: path.map(Path::to_owned),
            file,
            env,
        })
    }

    /// For tests: a TOML text instead of a file.
    pub fn from_parts(toml_text: &str, env: &[(&str, &str)]) -> Result<Self, ConfigError> {
        let path = PathBuf::from("<inline>");
        Ok(Sources {
            file: Self::parse_toml(&path, toml_text)?,
            path: Some(path),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        })
    }

    fn parse_toml(path: &Path, text: &str) -> Result<toml::Table, ConfigError> {
        text.parse::<toml::Table>().map_err(|e| ConfigError::Toml {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// The raw value and where it came from (`KAFKA_BROKERS` or `file.toml: kafka.brokers`).
    pub fn get(&self, setting: &Setting) -> Option<(String, String)> {
        if let Some(value) = self.env.get(setting.env) {
            return Some((value.clone(), setting.env.to_owned()));
        }
        let mut node = self.file.get(setting.key.split('.').next()?)?;
        for part in setting.key.split('.').skip(1) {
            node = node.as_table()?.get(part)?;
        }
        let text = match node {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let file = self
            .path
            .as_deref()
            .map_or_else(String::new, |p| p.display().to_string());
        Some((text, format!("{file}: {}", setting.key)))
    }

    pub fn string(&self, setting: &Setting) -> Option<String> {
        self.get(setting).map(|(value, _)| value)
    }

    pub fn string_or(&self, setting: &Setting, default: &str) -> String {
        self.string(setting).unwrap_or_else(|| default.to_owned())
    }

    /// Parses the value (or `default`); errors name the source of the bad value.
    pub fn parse_or<T>(
        &self,
        setting: &Setting,
        default: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.get(setting) {
            Some((value, origin)) => parse(&value).map_err(|reason| ConfigError::Invalid {
                origin,
                value,
                reason,
            }),
            None => parse(default).map_err(|reason| ConfigError::Invalid {
                origin: format!("default of {}", setting.describe()),
                value: default.to_owned(),
                reason,
            }),
        }
    }

    /// Parses the value if it is set.
    pub fn parse_opt<T>(
        &self,
        setting: &Setting,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        match self.get(setting) {
            Some((value, origin)) => {
                parse(&value)
                    .map(Some)
                    .map_err(|reason| ConfigError::Invalid {
                        origin,
                        value,
                        reason,
                    })
            }
            None => Ok(None),
        }
    }

    pub fn invalid(&self, setting: &Setting, value: &str, reason: &str) -> ConfigError {
        let origin = self
            .get(setting)
            .map_or_else(|| setting.describe(), |(_, origin)| origin);
        ConfigError::Invalid {
            origin,
            value: value.to_owned(),
            reason: reason.to_owned(),
        }
    }

    /// Typos in the file fail loudly instead of being ignored.
    pub fn reject_unknown_keys(&self, known: &[&Setting]) -> Result<(), ConfigError> {
        let mut keys = Vec::new();
        collect_keys(&self.file, "", &mut keys);
        match keys
            .into_iter()
            .find(|key| !known.iter().any(|s| s.key == key))
        {
            Some(key) => Err(ConfigError::UnknownKey {
                path: self.path.clone().unwrap_or_default(),
                key,
            }),
            None => Ok(()),
        }
    }
}

fn collect_keys(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => collect_keys(inner, &path, out),
            _ => out.push(path),
        }
    }
}

pub fn positive_u64(value: &str) -> Result<u64, String> {
    match value.trim().parse::<u64>() {
        Ok(0) => Err("must be greater than 0".into()),
        Ok(n) => Ok(n),
        Err(_) => Err("must be a whole number".into()),
    }
}

pub fn http_url(value: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(value.trim()).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!("scheme must be http or https, not {other}")),
    }
}

pub fn non_empty(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        Err("must not be empty".into())
    } else {
        Ok(value.to_owned())
    }
}
