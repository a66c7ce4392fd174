use super::*;

fn load(toml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_sources(&Sources::from_parts(toml, env)?)
}

const SECRET: (&str, &str) = ("EDGE_ORIGIN_SECRET", "s3cret");

#[test]
fn defaults_run_embedded_only() {
    let config = load("", &[SECRET]).expect("valid");
    assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(config.embedded.mode, EmbeddedMode::On);
    assert!(config.kafka.is_none() && config.clickhouse.is_none());
    assert_eq!(config.sink_names(), ["rollups", "embedded"]);
    assert_eq!(
        config.embedded.path,
        PathBuf::from(DEFAULT_DATA_DIR).join("origin.db")
    );
}

#[test]
fn environment_wins_over_the_file() {
    let config = load(
        "listen = \"127.0.0.1:1000\"\n[kafka]\nbrokers = \"a:1\"\nlinger_ms = 7\n",
        &[
            SECRET,
            ("ATTRIB_ORIGIN_LISTEN", "127.0.0.1:2000"),
            ("KAFKA_EVENTS_TOPIC", "ev"),
        ],
    )
    .expect("valid");
    assert_eq!(config.listen.port(), 2000);
    let kafka = config.kafka.expect("kafka on");
    assert_eq!(
        (kafka.brokers.as_str(), kafka.events_topic.as_str()),
        ("a:1", "ev")
    );
    assert_eq!(kafka.linger_ms, 7);
    assert_eq!(
        config.embedded.mode,
        EmbeddedMode::Off,
        "auto turns off with a sink"
    );
}

#[test]
fn errors_name_the_bad_setting() {
    let err = load("", &[SECRET, ("ATTRIB_ORIGIN_LISTEN", "nowhere")])
        .expect_err("bad address")
        .to_string();
    assert!(err.contains("ATTRIB_ORIGIN_LISTEN"), "{err}");

    let err = load("[clickhouse]\nurl = \"ftp://x\"\n", &[SECRET])
        .expect_err("bad scheme")
        .to_string();
    assert!(
        err.contains("clickhouse.url") && err.contains("http"),
        "{err}"
    );

    let err = load("", &[SECRET, ("KAFKA_BROKERS", "no-port")])
        .expect_err("bad brokers")
        .to_string();
    assert!(err.contains("KAFKA_BROKERS"), "{err}");

    let err = load("", &[SECRET, ("ATTRIB_ORIGIN_EMBEDDED", "maybe")])
        .expect_err("bad mode")
        .to_string();
    assert!(err.contains("ATTRIB_ORIGIN_EMBEDDED"), "{err}");

    let err = load("", &[SECRET, ("TURSO_AUTH_TOKEN", "t")])
        .expect_err("token without url")
        .to_string();
    assert!(err.contains("TURSO_URL") && !err.contains("\"t\""), "{err}");
}

#[test]
fn secret_is_required_and_unknown_keys_are_refused() {
    let err = load("", &[]).expect_err("no secret").to_string();
    assert!(err.contains("EDGE_ORIGIN_SECRET"), "{err}");
    let err = load("[kafka]\nbrokerz = \"a:1\"\n", &[SECRET])
        .expect_err("typo")
        .to_string();
    assert!(err.contains("kafka.brokerz"), "{err}");
    let err = load("listen = [", &[SECRET])
        .expect_err("bad toml")
        .to_string();
    assert!(err.contains("TOML"), "{err}");
}

#[test]
fn the_example_file_is_valid() {
    let config = load(include_str!("../../origin.example.toml"), &[SECRET]).expect("valid");
    assert_eq!(config.rollups.debounce, Duration::from_millis(1000));
}
