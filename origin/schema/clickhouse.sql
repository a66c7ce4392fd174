-- ClickHouse schema of the origin's sink. Applied by the origin on start, one statement at a
-- time over HTTP; every statement is idempotent. `{database}` is replaced with
-- CLICKHOUSE_DATABASE.
--
-- Constraints: valid on Debian's ClickHouse 18.16 AND on current releases, so it uses only
-- what 18.16 has:
--   * no DateTime64, LowCardinality, Nullable-heavy columns, CODEC, TTL, Map, JSON types:
--     times are Int64 milliseconds, days are Date, absent strings are '';
--   * new-style MergeTree syntax (PARTITION BY / ORDER BY), available since 1.1.54310;
--   * no `IF NOT EXISTS` on ALTER; no column DEFAULTs that call newer functions.
-- Dedup: every base table is a ReplacingMergeTree whose sorting key contains the record id
-- (and only columns derived from the record), so a record delivered twice collapses to one
-- row at merge time; read with FINAL (or GROUP BY id) for exact counts before merges run.
-- The partition (month of the record's day) is a function of the record too, so both copies
-- always land in the same partition and do meet in a merge.

CREATE DATABASE IF NOT EXISTS {database};

-- One row per accepted event (outbox record kind `event`), with the touch it made, if any.
CREATE TABLE IF NOT EXISTS {database}.events (
    id String,
    app_id String,
    journey String,
    message_id String,
    event_type String,
    user_id String,
    anonymous_id String,
    name String,
    timestamp_ms Int64,
    received_at_ms Int64,
    day Date,
    is_conversion UInt8,
    has_touch UInt8,
    touch_id String,
    touch_ts_ms Int64,
    touch_day Date,
    touch_kind String,
    touch_channel String,
    touch_source String,
    touch_medium String,
    touch_campaign String,
    touch_rejected String,
    record String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (app_id, day, id);

-- One row per attribution record (a conversion under every model, one revision).
CREATE TABLE IF NOT EXISTS {database}.attributions (
    id String,
    app_id String,
    journey String,
    conversion_id String,
    revision UInt32,
    conversion_name String,
    conversion_ts_ms Int64,
    day Date,
    revenue Float64,
    currency String,
    basis String,
    default_model String,
    attributed_at_ms Int64,
    record String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (app_id, day, id);

-- One row per (attribution, model, credited touch); unattributed conversions credit
-- source '(organic)', campaign '(none)' under every model.
CREATE TABLE IF NOT EXISTS {database}.attribution_credits (
    attribution_id String,
    app_id String,
    day Date,
    conversion_id String,
    revision UInt32,
    model String,
    touch_id String,
    touch_ts_ms Int64,
    channel String,
    source String,
    medium String,
    campaign String,
    currency String,
    revenue Float64,
    credit Float64,
    value Float64
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (app_id, day, attribution_id, model, touch_id);

-- Journeys merged into others (identity resolution).
CREATE TABLE IF NOT EXISTS {database}.merges (
    id String,
    app_id String,
    from_journey String,
    into_journey String,
    merged_at_ms Int64,
    day Date,
    record String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (app_id, day, id);

-- Daily rollups, maintained by ClickHouse as rows are inserted. They sum what was inserted:
-- a batch redelivered after a crash (the window between a sink's insert and its cursor
-- commit) or a re-attributed conversion (every revision) counts again here. The exact
-- daily stats (each record once, latest revision) are the ones the origin recomputes and
-- pushes to the edge read store; these views serve fast approximate dashboards.
CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.daily_touches
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (app_id, day, source, campaign)
AS SELECT
    app_id,
    touch_day AS day,
    touch_source AS source,
    touch_campaign AS campaign,
    count() AS touches
FROM {database}.events
WHERE has_touch = 1 AND touch_rejected = ''
GROUP BY app_id, touch_day, touch_source, touch_campaign;

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.daily_attribution
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (app_id, day, source, campaign, model, currency)
AS SELECT
    app_id,
    day,
    source,
    campaign,
    model,
    currency,
    sum(credit) AS conversions,
    sum(value) AS credited_value
FROM {database}.attribution_credits
GROUP BY app_id, day, source, campaign, model, currency;
