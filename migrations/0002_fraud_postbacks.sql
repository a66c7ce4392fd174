-- Fraud rules, re-engagement and lifecycle settings per app; postback configurations per app
-- and network; the postback attempt log the query API reads. Defaults and bounds mirror
-- core/src/limits.rs, core/src/settings.rs and core/src/fraud/rules.rs.

-- Days after a user's click (once they have converted) during which their conversions are
-- credited to that click too; 0 turns re-engagement off. Default 30 days, at most 90.
ALTER TABLE apps ADD COLUMN reengagement_window_secs INTEGER NOT NULL DEFAULT 2592000
  CHECK (reengagement_window_secs BETWEEN 0 AND 7776000);
-- Conversions counted once per user lifecycle (re-attribution window, core/src/lifecycle.rs).
ALTER TABLE apps ADD COLUMN lifecycle_events TEXT NOT NULL DEFAULT '["Application Installed","Signed Up"]'
  CHECK (json_valid(lifecycle_events) AND json_type(lifecycle_events) = 'array');
-- A JSON object in the shape of core's FraudRules; every field optional (defaults apply), e.g.
-- {"click_injection": {"min_ctit_secs": 5}, "datacenter": {"extra_asns": [64512]},
--  "ip_click_flood": {"enabled": false}}. Unknown fields are refused when the app is loaded.
ALTER TABLE apps ADD COLUMN fraud_rules TEXT NOT NULL DEFAULT '{}'
  CHECK (json_valid(fraud_rules) AND json_type(fraud_rules) = 'object');

-- One postback per (app, network): network is a touch source (lower case), or '*' for every
-- network without its own row. url_template uses {macro} placeholders (core/src/postback).
-- events: the conversion names to send for, '[]' for all.
CREATE TABLE IF NOT EXISTS postback_configs (
  app_id TEXT NOT NULL REFERENCES apps (id),
  network TEXT NOT NULL CHECK (length(network) BETWEEN 1 AND 256 AND network = lower(network)),
  url_template TEXT NOT NULL CHECK (length(url_template) BETWEEN 1 AND 2048),
  method TEXT NOT NULL DEFAULT 'GET' CHECK (method IN ('GET', 'POST')),
  events TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(events) AND json_type(events) = 'array'),
  enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (app_id, network)
);

-- Every postback attempt, copied here by the Journey objects (at least once; the key makes
-- copies one row). outcome: delivered (2xx), retry (will be tried again), failed (given up).
CREATE TABLE IF NOT EXISTS postback_attempts (
  postback_key TEXT NOT NULL,
  attempt INTEGER NOT NULL CHECK (attempt >= 1),
  app_id TEXT NOT NULL,
  journey TEXT NOT NULL,
  network TEXT NOT NULL,
  conversion_id TEXT NOT NULL,
  event_name TEXT NOT NULL,
  method TEXT NOT NULL,
  url TEXT NOT NULL,
  status_code INTEGER,
  error TEXT,
  outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed')),
  attempted_at_ms INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  PRIMARY KEY (postback_key, attempt)
);
CREATE INDEX IF NOT EXISTS postback_attempts_by_app_time ON postback_attempts (app_id, attempted_at_ms);
CREATE INDEX IF NOT EXISTS postback_attempts_by_conversion ON postback_attempts (app_id, conversion_id);
