-- Issue 13, finding 3: regional origins each push their own rollups; before, each replaced whole
-- (app, day) rows with its own facts, so a global app's stats flipped between regions. Every
-- rollup table gets a `region` in its primary key; an upsert replaces its region's rows only and
-- reads sum the regions. Existing rows become the unnamed region '' (what a single-region origin
-- without ATTRIB_ORIGIN_REGION keeps writing). SQLite cannot change a primary key in place, so
-- each table is rebuilt and copied.

CREATE TABLE daily_stats_regions (
  app_id TEXT NOT NULL,
  day TEXT NOT NULL,
  region TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL,
  campaign TEXT NOT NULL,
  model TEXT NOT NULL,
  currency TEXT NOT NULL,
  touches INTEGER NOT NULL DEFAULT 0,
  conversions REAL NOT NULL DEFAULT 0,
  revenue REAL NOT NULL DEFAULT 0,
  credited_value REAL NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (app_id, day, region, source, campaign, model, currency)
);
INSERT INTO daily_stats_regions (app_id, day, region, source, campaign, model, currency, touches,
  conversions, revenue, credited_value, updated_at)
  SELECT app_id, day, '', source, campaign, model, currency, touches, conversions, revenue,
         credited_value, updated_at FROM daily_stats;
DROP TABLE daily_stats;
ALTER TABLE daily_stats_regions RENAME TO daily_stats;
CREATE INDEX IF NOT EXISTS daily_stats_by_app_model_day ON daily_stats (app_id, model, day);

CREATE TABLE conversion_paths_regions (
  app_id TEXT NOT NULL,
  day TEXT NOT NULL,
  region TEXT NOT NULL DEFAULT '',
  path TEXT NOT NULL,
  steps INTEGER NOT NULL CHECK (steps >= 1),
  currency TEXT NOT NULL,
  conversions REAL NOT NULL DEFAULT 0,
  nulls REAL NOT NULL DEFAULT 0,
  value REAL NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (app_id, day, region, path, currency)
);
INSERT INTO conversion_paths_regions (app_id, day, region, path, steps, currency, conversions,
  nulls, value, updated_at)
  SELECT app_id, day, '', path, steps, currency, conversions, nulls, value, updated_at
  FROM conversion_paths;
DROP TABLE conversion_paths;
ALTER TABLE conversion_paths_regions RENAME TO conversion_paths;
CREATE INDEX IF NOT EXISTS conversion_paths_by_app_day ON conversion_paths (app_id, day);

CREATE TABLE fraud_counts_regions (
  app_id TEXT NOT NULL,
  day TEXT NOT NULL,
  region TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL,
  count INTEGER NOT NULL DEFAULT 0 CHECK (count >= 0),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (app_id, day, region, reason)
);
INSERT INTO fraud_counts_regions (app_id, day, region, reason, count, updated_at)
  SELECT app_id, day, '', reason, count, updated_at FROM fraud_counts;
DROP TABLE fraud_counts;
ALTER TABLE fraud_counts_regions RENAME TO fraud_counts;

-- The highest rollup `seq` applied per (app, day, region): an upsert below it is stale (409
-- `stale_rollup`), so a late retry or a replayed signed body cannot roll a day back.
CREATE TABLE IF NOT EXISTS rollup_generations (
  app_id TEXT NOT NULL,
  day TEXT NOT NULL,
  region TEXT NOT NULL,
  seq INTEGER NOT NULL CHECK (seq >= 0),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (app_id, day, region)
);
