-- ClickHouse schema of the origin's sink. Applied by the origin on start, one statement at a
-- time over HTTP; every statement is idempotent. `{database}` is replaced with
-- CLICKHOUSE_DATABASE.
--
-- Constraints: valid on Debian's ClickHouse 18.16 AND on current releases, so it uses only
-- what 18.16 has:
--   * no DateTime64, LowCardinality, Nullable-heavy columns, CODEC, TTL, Map, JSON types:
--     times are Int64 milliseconds, days are Date, absent strings are '';
--   * new-style MergeTree syntax (PARTITION BY / ORDER BY), available since 1.1.54310;
--   * no `IF NOT EXISTS` on ALTER; no column DEFAULTs that call newer functions;
--   * no query parameters, no startsWith(): the origin's own queries use plain literals;
--   * inserts in RowBinary with an explicit column list (Date = UInt16 days).
-- Dedup: every base table (but `spend`, keyed by its business key) is a ReplacingMergeTree
-- whose sorting key contains the record id
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

-- One row per null path (outbox record kind `null_path`): touches of a journey that ended
-- without a conversion, closed by the journey once none could be credited. `day` is the UTC
-- day of the last touch (the day the rollups count it on); `path` holds the steps (sources,
-- oldest first, repeats merged, at most 20). Count nulls per path with FINAL, e.g.
-- `SELECT path, count() FROM null_paths FINAL WHERE app_id = 'x' GROUP BY path`.
CREATE TABLE IF NOT EXISTS {database}.null_paths (
    id String,
    app_id String,
    journey String,
    day Date,
    path Array(String),
    touches UInt32,
    first_touch_ms Int64,
    last_touch_ms Int64,
    last_touch_id String,
    closed_at_ms Int64,
    record String
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(day)
ORDER BY (app_id, day, id);

-- One row per verified SKAdNetwork / AdAttributionKit postback (record kind `skan_postback`,
-- id `skan:{app}:{dedup_key}`, the dedup key being Apple's transaction-id or
-- postback-identifier with protocol, app and network). One partition, sorted by id: every
-- copy of a postback meets in merges and in FINAL, whatever day each copy was received.
-- `source_identifier` is the campaign; `did_win` winning vs non-winning, e.g.
-- `SELECT ad_network_id, source_identifier, did_win, count() FROM skan_postbacks FINAL
--  WHERE app_id = 'x' GROUP BY ad_network_id, source_identifier, did_win`.
CREATE TABLE IF NOT EXISTS {database}.skan_postbacks (
    id String,
    app_id String,
    dedup_key String,
    protocol String,
    version String,
    ad_network_id String,
    source_identifier String,
    did_win UInt8,
    postback_sequence_index UInt8,
    has_fine_value UInt8,
    fine_value UInt8,
    coarse_value String,
    decoded String,
    received_at_ms Int64,
    day Date,
    record String
) ENGINE = ReplacingMergeTree()
ORDER BY (app_id, id);

-- Ad spend (record kind `spend`), one row per (app, day, source, campaign, ad group) after
-- merges: ReplacingMergeTree(uploaded_at_ms) keeps the latest upload's row, as a re-upload
-- replaces at the edge (a redelivered older upload loses to it). Read with FINAL, e.g.
-- `SELECT source, sum(spend) FROM spend FINAL WHERE app_id = 'x' GROUP BY source`.
CREATE TABLE IF NOT EXISTS {database}.spend (
    id String,
    app_id String,
    day Date,
    source String,
    campaign String,
    ad_group String,
    spend Float64,
    currency String,
    has_impressions UInt8,
    impressions UInt64,
    has_clicks UInt8,
    clicks UInt64,
    uploaded_at_ms UInt64,
    record String
) ENGINE = ReplacingMergeTree(uploaded_at_ms)
PARTITION BY toYYYYMM(day)
ORDER BY (app_id, day, source, campaign, ad_group);

-- One row per attribution record: a conversion at one revision, with its contribution to
-- the daily stats (per model, source and campaign: fractional conversions and credited
-- value, summed as core::rollup::daily_stats does for one conversion; the conversion's
-- revenue counts once per element). Written by the origin, one row per record, so a
-- revision is always whole. ReplacingMergeTree(revision) on (app_id, conversion_id) keeps
-- the latest revision; one partition, so every revision of a conversion meets in merges
-- (and in FINAL) whatever its day. Read through `daily_attribution`.
CREATE TABLE IF NOT EXISTS {database}.conversion_stats (
    app_id String,
    conversion_id String,
    revision UInt32,
    attribution_id String,
    day Date,
    currency String,
    revenue Float64,
    model Array(String),
    source Array(String),
    campaign Array(String),
    conversions Array(Float64),
    credited_value Array(Float64)
) ENGINE = ReplacingMergeTree(revision)
ORDER BY (app_id, conversion_id);

-- Daily rollups, exact: each record counted once, each conversion at its latest revision,
-- the same figures as core::rollup::daily_stats (up to float summation order).
-- * daily_touches: materialized, summed at insert. Exact because the origin never inserts an
--   event twice (it checks which ids are already present before re-sending a batch that may
--   have reached ClickHouse; see src/sinks/clickhouse/sink.rs). Read with sum(touches) and
--   GROUP BY: SummingMergeTree parts are summed at merge time.
-- * daily_attribution: a plain view over conversion_stats FINAL (latest revision of every
--   conversion), expanded per model, source and campaign. Its columns are those of the
--   materialized view of earlier versions, plus revenue; the origin drops that one on start.
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

CREATE VIEW IF NOT EXISTS {database}.daily_attribution AS
SELECT
    app_id,
    day,
    share_source AS source,
    share_campaign AS campaign,
    share_model AS model,
    currency,
    sum(share_conversions) AS conversions,
    sum(conversion_revenue) AS revenue,
    sum(share_value) AS credited_value
FROM (
    SELECT
        app_id,
        day,
        currency,
        revenue AS conversion_revenue,
        model AS share_model,
        source AS share_source,
        campaign AS share_campaign,
        conversions AS share_conversions,
        credited_value AS share_value
    FROM {database}.conversion_stats FINAL
)
ARRAY JOIN share_model, share_source, share_campaign, share_conversions, share_value
GROUP BY app_id, day, share_source, share_campaign, share_model, currency;

-- Acquisition cohorts (core::cohorts), plain views computed at read time and so exact:
-- * cohort_conversions: each conversion at its latest revision, with its journey (the user)
--   and the source and campaign of its largest credit under its default model (the earliest
--   touch of equal ones). A rejected latest revision has no credits, so it is left out.
-- * cohort_users: each user's cohort, the day of their first such conversion, and its source
--   and campaign.
-- * cohort_activity: the days each user was active (a track, page or screen event, or a
--   conversion); events of a journey merged into another count for the surviving journey.
-- * cohort_retention: per cohort (day, source, campaign) and day after it (0 to 90) the
--   cohort's size and the users active that day; cohort_revenue: that day's revenue per
--   currency. The same figures as the edge's `cohort_days` rows, e.g.
--   `SELECT day_offset, sum(active_users) / sum(users) FROM cohort_retention
--    WHERE app_id = 'x' AND cohort_day = '2026-03-01' GROUP BY day_offset ORDER BY day_offset`.
-- Written for 18.16 and checked on 26.9 too: one JOIN per SELECT (nested otherwise), USING,
-- ALL INNER joins (ANY INNER keeps one row per left key on current releases) and ANY LEFT
-- joins against one row per key, every joined subquery named (current releases require it),
-- day differences with toRelativeDayNum.
CREATE VIEW IF NOT EXISTS {database}.cohort_conversions AS
SELECT
    app_id,
    conversion_id,
    c_user AS user,
    c_ts_ms AS ts_ms,
    c_day AS day,
    c_currency AS currency,
    c_revenue AS revenue,
    source,
    campaign
FROM (
    SELECT
        app_id,
        conversion_id,
        max(revision) AS c_revision,
        argMax(journey, revision) AS c_user,
        argMax(conversion_ts_ms, revision) AS c_ts_ms,
        argMax(day, revision) AS c_day,
        argMax(currency, revision) AS c_currency,
        argMax(revenue, revision) AS c_revenue,
        argMax(default_model, revision) AS c_model
    FROM {database}.attributions
    GROUP BY app_id, conversion_id
) AS latest
ALL INNER JOIN (
    SELECT
        app_id,
        conversion_id,
        revision AS c_revision,
        model AS c_model,
        argMax(source, (credit, -touch_ts_ms)) AS source,
        argMax(campaign, (credit, -touch_ts_ms)) AS campaign
    FROM {database}.attribution_credits
    GROUP BY app_id, conversion_id, revision, model
) AS top_credit USING (app_id, conversion_id, c_revision, c_model);

CREATE VIEW IF NOT EXISTS {database}.cohort_users AS
SELECT
    app_id,
    user,
    min(day) AS cohort_day,
    argMin(source, (ts_ms, conversion_id)) AS source,
    argMin(campaign, (ts_ms, conversion_id)) AS campaign
FROM {database}.cohort_conversions
GROUP BY app_id, user;

CREATE VIEW IF NOT EXISTS {database}.cohort_activity AS
SELECT DISTINCT app_id, if(into_journey = '', journey, into_journey) AS user, day
FROM (
    SELECT app_id, journey, day
    FROM {database}.events
    WHERE event_type IN ('track', 'page', 'screen')
) AS active_events
ANY LEFT JOIN (
    SELECT app_id, from_journey AS journey, any(into_journey) AS into_journey
    FROM {database}.merges
    GROUP BY app_id, from_journey
) AS merged USING (app_id, journey)
UNION ALL
SELECT DISTINCT app_id, user, day FROM {database}.cohort_conversions;

CREATE VIEW IF NOT EXISTS {database}.cohort_retention AS
SELECT app_id, cohort_day, source, campaign, day_offset, users, active_users
FROM (
    SELECT
        app_id,
        cohort_day,
        source,
        campaign,
        toRelativeDayNum(day) - toRelativeDayNum(cohort_day) AS day_offset,
        uniqExact(user) AS active_users
    FROM {database}.cohort_activity
    ALL INNER JOIN {database}.cohort_users USING (app_id, user)
    WHERE day_offset BETWEEN 0 AND 90
    GROUP BY app_id, cohort_day, source, campaign, day_offset
) AS active
ANY LEFT JOIN (
    SELECT app_id, cohort_day, source, campaign, count() AS users
    FROM {database}.cohort_users
    GROUP BY app_id, cohort_day, source, campaign
) AS sizes USING (app_id, cohort_day, source, campaign);

CREATE VIEW IF NOT EXISTS {database}.cohort_revenue AS
SELECT
    app_id,
    cohort_day,
    source,
    campaign,
    toRelativeDayNum(day) - toRelativeDayNum(cohort_day) AS day_offset,
    currency,
    sum(revenue) AS revenue
FROM (SELECT app_id, user, day, currency, revenue FROM {database}.cohort_conversions) AS bought
ALL INNER JOIN {database}.cohort_users USING (app_id, user)
WHERE day_offset BETWEEN 0 AND 90 AND currency != ''
GROUP BY app_id, cohort_day, source, campaign, day_offset, currency;
