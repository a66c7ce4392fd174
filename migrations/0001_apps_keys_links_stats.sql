-- Apps, their credentials, their tracking links, and the daily stats the dashboards read.
-- Defaults and bounds mirror core/src/limits.rs and core/src/settings.rs.

CREATE TABLE IF NOT EXISTS apps (
  id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64 AND id NOT LIKE '%:%'),
  name TEXT NOT NULL,
  residency TEXT NOT NULL DEFAULT 'global' CHECK (residency IN ('global', 'eu', 'us')),
  click_window_secs INTEGER NOT NULL DEFAULT 604800 CHECK (click_window_secs BETWEEN 1 AND 7776000),
  view_window_secs INTEGER NOT NULL DEFAULT 86400 CHECK (view_window_secs BETWEEN 0 AND 2592000),
  reattribution_window_secs INTEGER NOT NULL DEFAULT 7776000 CHECK (reattribution_window_secs BETWEEN 0 AND 31536000),
  default_model TEXT NOT NULL DEFAULT 'last_click' CHECK (default_model IN
    ('last_click', 'first_click', 'linear', 'time_decay', 'position_based', 'last_non_direct')),
  time_decay_half_life_secs INTEGER NOT NULL DEFAULT 604800 CHECK (time_decay_half_life_secs BETWEEN 60 AND 7776000),
  conversion_events TEXT NOT NULL DEFAULT '["Application Installed","Order Completed","Signed Up"]'
    CHECK (json_valid(conversion_events) AND json_type(conversion_events) = 'array'),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Only SHA-256 hashes of keys are stored (core/src/keys.rs).
CREATE TABLE IF NOT EXISTS api_keys (
  key_hash TEXT PRIMARY KEY CHECK (length(key_hash) = 64),
  app_id TEXT NOT NULL REFERENCES apps (id),
  kind TEXT NOT NULL CHECK (kind IN ('write', 'read')),
  label TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS api_keys_by_app ON api_keys (app_id);

CREATE TABLE IF NOT EXISTS links (
  id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  app_id TEXT NOT NULL REFERENCES apps (id),
  destination_url TEXT NOT NULL,
  source TEXT,
  medium TEXT,
  campaign TEXT,
  content TEXT,
  term TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS links_by_app ON links (app_id);

-- Written by the origin (through the query Worker's /internal/rollups); see core/src/rollup.rs
-- for what each column counts. currency = '' on rows that only carry touches.
CREATE TABLE IF NOT EXISTS daily_stats (
  app_id TEXT NOT NULL,
  day TEXT NOT NULL,
  source TEXT NOT NULL,
  campaign TEXT NOT NULL,
  model TEXT NOT NULL,
  currency TEXT NOT NULL,
  touches INTEGER NOT NULL DEFAULT 0,
  conversions REAL NOT NULL DEFAULT 0,
  revenue REAL NOT NULL DEFAULT 0,
  credited_value REAL NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (app_id, day, source, campaign, model, currency)
);
CREATE INDEX IF NOT EXISTS daily_stats_by_app_model_day ON daily_stats (app_id, model, day);
