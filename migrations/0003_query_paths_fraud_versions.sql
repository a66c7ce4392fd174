-- Read-side tables of the query Worker, written through its signed /internal/rollups endpoint
-- (workers/query/src/contract.rs documents the body). The same statements run on D1 and Turso.

-- Conversion paths: the sources of the touches eligible for each conversion, oldest first
-- (consecutive repeats merged, the last 20 kept; see core/src/rollup.rs), stored as a JSON array of
-- strings (serde_json's canonical form, e.g. '["google","email"]') so that sources containing
-- " > " stay unambiguous. One row per (app, UTC day of the conversion, path, currency);
-- `conversions` counts conversions with that path, `value` sums their revenue (never across
-- currencies). Unattributed conversions have the path '["(organic)"]'.
CREATE TABLE IF NOT EXISTS conversion_paths (
  app_id TEXT NOT NULL,
  day TEXT NOT NULL,
  path TEXT NOT NULL,
  steps INTEGER NOT NULL CHECK (steps >= 1),
  currency TEXT NOT NULL,
  conversions REAL NOT NULL DEFAULT 0,
  -- Journeys whose touches followed this path and ended without a conversion (currency '').
  nulls REAL NOT NULL DEFAULT 0,
  value REAL NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (app_id, day, path, currency)
);
CREATE INDEX IF NOT EXISTS conversion_paths_by_app_day ON conversion_paths (app_id, day);

-- Touches and events the fraud rules rejected, per (app, UTC day, reason).
CREATE TABLE IF NOT EXISTS fraud_counts (
  app_id TEXT NOT NULL,
  day TEXT NOT NULL,
  reason TEXT NOT NULL,
  count INTEGER NOT NULL DEFAULT 0 CHECK (count >= 0),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (app_id, day, reason)
);

-- Bumped in the same batch as every upsert touching the app: part of the edge cache key, so a
-- new rollup makes every cached read of that app a miss at once.
CREATE TABLE IF NOT EXISTS stats_versions (
  app_id TEXT PRIMARY KEY,
  version INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
