//! Kafka TLS and SASL settings (issue 13, finding 8 "Kafka has no TLS/SASL settings"):
//! named settings instead of free-form librdkafka properties, checked at start so a typo
//! fails with the variable named rather than as a connection that never authenticates, and
//! mapped onto the librdkafka client of the producer, the admin client and the recovery
//! consumer alike. The password is never logged (same rule as `CLICKHOUSE_PASSWORD`).

use std::path::PathBuf;

use crate::config::sources::non_empty;
use crate::config::{ConfigError, Setting, Sources};

pub(super) const PROTOCOL: Setting =
    Setting::new("kafka.security_protocol", "KAFKA_SECURITY_PROTOCOL");
pub(super) const MECHANISM: Setting = Setting::new("kafka.sasl_mechanism", "KAFKA_SASL_MECHANISM");
pub(super) const USERNAME: Setting = Setting::new("kafka.sasl_username", "KAFKA_SASL_USERNAME");
pub(super) const PASSWORD: Setting = Setting::new("kafka.sasl_password", "KAFKA_SASL_PASSWORD");
pub(super) const CA_FILE: Setting = Setting::new("kafka.ssl_ca_file", "KAFKA_SSL_CA_FILE");

/// librdkafka properties these settings own: `KAFKA_PROPERTIES` may not set them, so there
/// is one place for each and no doubt which one wins.
pub(super) const OWNED_PROPERTIES: [(&str, &Setting); 6] = [
    ("security.protocol", &PROTOCOL),
    ("sasl.mechanism", &MECHANISM),
    ("sasl.mechanisms", &MECHANISM),
    ("sasl.username", &USERNAME),
    ("sasl.password", &PASSWORD),
    ("ssl.ca.location", &CA_FILE),
];

/// `security.protocol`: whether the connection is encrypted and whether it authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    #[default]
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "plaintext",
            SecurityProtocol::Ssl => "ssl",
            SecurityProtocol::SaslPlaintext => "sasl_plaintext",
            SecurityProtocol::SaslSsl => "sasl_ssl",
        }
    }

    fn parse(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "plaintext" => Ok(SecurityProtocol::Plaintext),
            "ssl" => Ok(SecurityProtocol::Ssl),
            "sasl_plaintext" => Ok(SecurityProtocol::SaslPlaintext),
            "sasl_ssl" => Ok(SecurityProtocol::SaslSsl),
            _ => Err("must be plaintext, ssl, sasl_plaintext or sasl_ssl".into()),
        }
    }

    fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }

    fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }
}

/// `sasl.mechanism`. GSSAPI (Kerberos) and OAUTHBEARER are not offered: they need more than
/// a user and a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl SaslMechanism {
    pub fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    fn parse(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_uppercase().as_str() {
            "PLAIN" => Ok(SaslMechanism::Plain),
            "SCRAM-SHA-256" => Ok(SaslMechanism::ScramSha256),
            "SCRAM-SHA-512" => Ok(SaslMechanism::ScramSha512),
            _ => Err("must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512".into()),
        }
    }
}

/// A value that must never be logged: `Debug` prints `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslCredentials {
    pub mechanism: SaslMechanism,
    pub username: String,
    pub password: Secret,
}

/// How the origin's Kafka clients connect. The default is what the origin did before:
/// plaintext, no authentication.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KafkaSecurity {
    pub protocol: SecurityProtocol,
    /// Set exactly when `protocol` is `sasl_*`.
    pub sasl: Option<SaslCredentials>,
    /// CA certificates (PEM) the broker's certificate is checked against; without it, the
    /// system's trust store. Only with `ssl` / `sasl_ssl`.
    pub ca_file: Option<PathBuf>,
}

impl KafkaSecurity {
    pub const SETTINGS: [&'static Setting; 5] =
        [&PROTOCOL, &MECHANISM, &USERNAME, &PASSWORD, &CA_FILE];

    pub fn from_sources(sources: &Sources) -> Result<Self, ConfigError> {
        let protocol = sources.parse_or(&PROTOCOL, "plaintext", SecurityProtocol::parse)?;
        let mechanism = sources.parse_opt(&MECHANISM, SaslMechanism::parse)?;
        let username = sources.parse_opt(&USERNAME, non_empty)?;
        // Parsed without echoing the value: an error must not print the password.
        let password = match sources.string(&PASSWORD) {
            Some(p) if p.is_empty() => {
                return Err(sources.invalid(&PASSWORD, "<redacted>", "must not be empty"))
            }
            other => other.map(Secret),
        };
        let sasl = if protocol.uses_sasl() {
            let needed = |setting: &Setting| {
                ConfigError::Missing(format!(
                    "{} (KAFKA_SECURITY_PROTOCOL is {})",
                    setting.describe(),
                    protocol.as_str()
                ))
            };
            Some(SaslCredentials {
                mechanism: mechanism.ok_or_else(|| needed(&MECHANISM))?,
                username: username.ok_or_else(|| needed(&USERNAME))?,
                password: password.ok_or_else(|| needed(&PASSWORD))?,
            })
        } else {
            // Credentials the protocol would ignore are a mistake in the deployment: say so.
            for (set, setting) in [
                (mechanism.is_some(), &MECHANISM),
                (username.is_some(), &USERNAME),
                (password.is_some(), &PASSWORD),
            ] {
                if set {
                    return Err(sources.invalid(
                        setting,
                        "<redacted>",
                        &format!(
                            "is only used with KAFKA_SECURITY_PROTOCOL sasl_plaintext or sasl_ssl, not {}",
                            protocol.as_str()
                        ),
                    ));
                }
            }
            None
        };
        let ca_file = sources.parse_opt(&CA_FILE, |v| {
            let path = PathBuf::from(non_empty(v)?);
            if path.is_file() {
                Ok(path)
            } else {
                Err("is not a readable file".into())
            }
        })?;
        if let Some(path) = &ca_file {
            if !protocol.uses_tls() {
                return Err(sources.invalid(
                    &CA_FILE,
                    &path.display().to_string(),
                    &format!(
                        "is only used with KAFKA_SECURITY_PROTOCOL ssl or sasl_ssl, not {}",
                        protocol.as_str()
                    ),
                ));
            }
        }
        Ok(KafkaSecurity {
            protocol,
            sasl,
            ca_file,
        })
    }

    /// The librdkafka properties of these settings.
    pub fn properties(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("security.protocol", self.protocol.as_str().to_owned())];
        if let Some(sasl) = &self.sasl {
            out.push(("sasl.mechanism", sasl.mechanism.as_str().to_owned()));
            out.push(("sasl.username", sasl.username.clone()));
            out.push(("sasl.password", sasl.password.expose().to_owned()));
        }
        if let Some(path) = &self.ca_file {
            out.push(("ssl.ca.location", path.display().to_string()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn security(env: &[(&str, &str)]) -> Result<KafkaSecurity, ConfigError> {
        KafkaSecurity::from_sources(&Sources::from_parts("", env).expect("sources"))
    }

    fn props(security: &KafkaSecurity) -> Vec<(&'static str, String)> {
        security.properties()
    }

    const PW: &str = "pw-that-must-not-leak";

    #[test]
    fn finding_8_kafka_security_each_protocol_maps_onto_librdkafka() {
        let plain = security(&[]).expect("default");
        assert_eq!(plain, KafkaSecurity::default());
        assert_eq!(
            props(&plain),
            [("security.protocol", "plaintext".to_owned())]
        );

        let ca = tempfile::NamedTempFile::new().expect("ca file");
        let ca_path = ca.path().display().to_string();
        let ssl = security(&[
            ("KAFKA_SECURITY_PROTOCOL", "SSL"),
            ("KAFKA_SSL_CA_FILE", &ca_path),
        ])
        .expect("ssl");
        assert_eq!(
            props(&ssl),
            [
                ("security.protocol", "ssl".to_owned()),
                ("ssl.ca.location", ca_path.clone()),
            ]
        );

        let sasl_plain = security(&[
            ("KAFKA_SECURITY_PROTOCOL", "sasl_plaintext"),
            ("KAFKA_SASL_MECHANISM", "PLAIN"),
            ("KAFKA_SASL_USERNAME", "origin"),
            ("KAFKA_SASL_PASSWORD", PW),
        ])
        .expect("sasl_plaintext");
        assert_eq!(
            props(&sasl_plain),
            [
                ("security.protocol", "sasl_plaintext".to_owned()),
                ("sasl.mechanism", "PLAIN".to_owned()),
                ("sasl.username", "origin".to_owned()),
                ("sasl.password", PW.to_owned()),
            ]
        );

        for (given, mechanism) in [
            ("scram-sha-256", "SCRAM-SHA-256"),
            ("SCRAM-SHA-512", "SCRAM-SHA-512"),
        ] {
            let sasl_ssl = security(&[
                ("KAFKA_SECURITY_PROTOCOL", "sasl_ssl"),
                ("KAFKA_SASL_MECHANISM", given),
                ("KAFKA_SASL_USERNAME", "origin"),
                ("KAFKA_SASL_PASSWORD", PW),
                ("KAFKA_SSL_CA_FILE", &ca_path),
            ])
            .expect("sasl_ssl");
            let p = props(&sasl_ssl);
            assert_eq!(p[0], ("security.protocol", "sasl_ssl".to_owned()));
            assert_eq!(p[1], ("sasl.mechanism", mechanism.to_owned()));
            assert_eq!(p[4], ("ssl.ca.location", ca_path.clone()));
        }
    }

    #[test]
    fn finding_8_kafka_security_bad_values_name_the_variable() {
        let cases: [(&[(&str, &str)], &str); 7] = [
            (
                &[("KAFKA_SECURITY_PROTOCOL", "tls")],
                "KAFKA_SECURITY_PROTOCOL",
            ),
            (
                &[
                    ("KAFKA_SECURITY_PROTOCOL", "sasl_ssl"),
                    ("KAFKA_SASL_MECHANISM", "GSSAPI"),
                ],
                "KAFKA_SASL_MECHANISM",
            ),
            (
                &[
                    ("KAFKA_SECURITY_PROTOCOL", "sasl_ssl"),
                    ("KAFKA_SASL_USERNAME", "u"),
                    ("KAFKA_SASL_PASSWORD", PW),
                ],
                "KAFKA_SASL_MECHANISM",
            ),
            (
                &[
                    ("KAFKA_SECURITY_PROTOCOL", "sasl_plaintext"),
                    ("KAFKA_SASL_MECHANISM", "PLAIN"),
                    ("KAFKA_SASL_USERNAME", "u"),
                ],
                "KAFKA_SASL_PASSWORD",
            ),
            (
                &[("KAFKA_SASL_PASSWORD", PW)],
                "KAFKA_SASL_PASSWORD", // set, but the protocol is plaintext
            ),
            (
                &[
                    ("KAFKA_SECURITY_PROTOCOL", "ssl"),
                    ("KAFKA_SSL_CA_FILE", "/nonexistent/ca.pem"),
                ],
                "KAFKA_SSL_CA_FILE",
            ),
            (
                &[
                    ("KAFKA_SECURITY_PROTOCOL", "sasl_plaintext"),
                    ("KAFKA_SASL_MECHANISM", "PLAIN"),
                    ("KAFKA_SASL_USERNAME", "u"),
                    ("KAFKA_SASL_PASSWORD", ""),
                ],
                "KAFKA_SASL_PASSWORD",
            ),
        ];
        for (env, variable) in cases {
            let err = security(env).expect_err("refused").to_string();
            assert!(err.contains(variable), "{env:?}: {err}");
            assert!(!err.contains(PW), "{env:?}: the password is echoed: {err}");
        }
        // A CA file with a protocol that does not use TLS.
        let ca = tempfile::NamedTempFile::new().expect("ca file");
        let err = security(&[("KAFKA_SSL_CA_FILE", ca.path().to_str().expect("utf-8 path"))])
            .expect_err("refused")
            .to_string();
        assert!(err.contains("KAFKA_SSL_CA_FILE"), "{err}");
    }
}
