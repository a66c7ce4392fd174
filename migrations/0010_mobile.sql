-- Mobile app attribution (core/src/mobile): per-platform destinations and deep links on links,
-- per-app mobile settings (JSON, checked by attrib_core::mobile::settings::parse_mobile_settings),
-- which app a link host's association files speak for, and SKAN / AdAttributionKit postbacks.

ALTER TABLE links ADD COLUMN ios_url TEXT;
ALTER TABLE links ADD COLUMN android_url TEXT;
ALTER TABLE links ADD COLUMN deep_link TEXT;
ALTER TABLE links ADD COLUMN deep_link_params TEXT
  CHECK (deep_link_params IS NULL OR (json_valid(deep_link_params) AND json_type(deep_link_params) = 'object'));

ALTER TABLE apps ADD COLUMN mobile TEXT NOT NULL DEFAULT '{}'
  CHECK (json_valid(mobile) AND json_type(mobile) = 'object');
-- SKAN and AdAttributionKit postbacks name the app by its App Store id.
CREATE UNIQUE INDEX IF NOT EXISTS apps_by_apple_app_id
  ON apps (json_extract(mobile, '$.apple_app_id')) WHERE json_extract(mobile, '$.apple_app_id') IS NOT NULL;

-- The link host (the Host of /c/ links) whose /.well-known association files are this app's.
CREATE TABLE IF NOT EXISTS link_hosts (
  host TEXT PRIMARY KEY CHECK (length(host) BETWEEN 1 AND 253 AND host = lower(host)),
  app_id TEXT NOT NULL REFERENCES apps (id)
);
CREATE INDEX IF NOT EXISTS link_hosts_by_app ON link_hosts (app_id);

-- Developer copies of SKAdNetwork / AdAttributionKit postbacks, one row per dedup key
-- (transaction-id, or postback-identifier) per app; invalid ones counted by reason.
CREATE TABLE IF NOT EXISTS skan_postbacks (
  app_id TEXT NOT NULL,
  dedup_key TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('skan', 'aak')),
  version TEXT NOT NULL,
  ad_network_id TEXT NOT NULL,
  source_identifier TEXT,
  did_win INTEGER,
  postback_sequence_index INTEGER,
  fine_value INTEGER,
  coarse_value TEXT,
  decoded TEXT,
  body TEXT NOT NULL,
  received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (app_id, dedup_key)
);
CREATE TABLE IF NOT EXISTS skan_invalid (
  app_id TEXT NOT NULL,
  reason TEXT NOT NULL,
  n INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (app_id, reason)
);
