-- The origin's embedded store (libsql / SQLite file), used when no Kafka and no ClickHouse
-- is configured. Applied by the origin on start; every statement is idempotent.
-- Records are keyed by their outbox id, so a record delivered twice is stored once
-- (INSERT OR IGNORE). `record` keeps the JSON exactly as the Durable Object sent it.

PRAGMA journal_mode = WAL;

CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    journey TEXT NOT NULL,
    event_type TEXT NOT NULL,
    name TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    day TEXT NOT NULL,
    is_conversion INTEGER NOT NULL,
    touch_source TEXT NOT NULL,
    touch_campaign TEXT NOT NULL,
    record TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_app_day ON events (app_id, day);

CREATE TABLE IF NOT EXISTS attributions (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    journey TEXT NOT NULL,
    conversion_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    conversion_ts_ms INTEGER NOT NULL,
    day TEXT NOT NULL,
    revenue REAL NOT NULL,
    currency TEXT NOT NULL,
    basis TEXT NOT NULL,
    record TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS attributions_by_app_day ON attributions (app_id, day);

CREATE TABLE IF NOT EXISTS merges (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    from_journey TEXT NOT NULL,
    into_journey TEXT NOT NULL,
    merged_at_ms INTEGER NOT NULL,
    record TEXT NOT NULL
) WITHOUT ROWID;

-- Null paths (record kind `null_path`): touches of a journey that ended without a conversion.
-- `day` is the UTC day of the last touch; `path` the steps as a JSON array of strings.
CREATE TABLE IF NOT EXISTS null_paths (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    journey TEXT NOT NULL,
    day TEXT NOT NULL,
    path TEXT NOT NULL,
    touches INTEGER NOT NULL,
    last_touch_ms INTEGER NOT NULL,
    record TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS null_paths_by_app_day ON null_paths (app_id, day);

-- Verified SKAdNetwork / AdAttributionKit postbacks (record kind `skan_postback`), one row per
-- record id `skan:{app}:{dedup_key}`: a postback Apple's device sent twice is stored once.
-- `source_identifier` is the campaign ('' when the postback had none); `day` is the UTC day
-- the edge received it.
CREATE TABLE IF NOT EXISTS skan_postbacks (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    dedup_key TEXT NOT NULL,
    protocol TEXT NOT NULL,
    version TEXT NOT NULL,
    ad_network_id TEXT NOT NULL,
    source_identifier TEXT NOT NULL,
    did_win INTEGER NOT NULL,
    postback_sequence_index INTEGER NOT NULL,
    fine_value INTEGER,
    coarse_value TEXT NOT NULL,
    decoded TEXT NOT NULL,
    received_at_ms INTEGER NOT NULL,
    day TEXT NOT NULL,
    record TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS skan_postbacks_by_app_day ON skan_postbacks (app_id, day);

-- Ad spend (record kind `spend`), one row per (app, day, source, campaign, ad group): the row
-- of the latest upload (`uploaded_at_ms`), as a re-upload replaces in the edge read store.
CREATE TABLE IF NOT EXISTS spend (
    app_id TEXT NOT NULL,
    day TEXT NOT NULL,
    source TEXT NOT NULL,
    campaign TEXT NOT NULL,
    ad_group TEXT NOT NULL,
    id TEXT NOT NULL,
    spend REAL NOT NULL,
    currency TEXT NOT NULL,
    impressions INTEGER,
    clicks INTEGER,
    uploaded_at_ms INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (app_id, day, source, campaign, ad_group)
) WITHOUT ROWID;

-- The read-store tables (daily_stats, conversion_paths, fraud_counts, rollup_generations,
-- stats_versions, with a region in their keys) are created by the rollup target
-- (src/rollup/read_store.rs), which also rebuilds an older file's region-less daily_stats.
