-- Privacy regulations (issue 12): suppression at the edge. core/src/privacy holds the rules;
-- the management API (/admin/v1/apps/{app}/regulations) writes these rows, the ingest Worker
-- reads them.

-- A regulation as the API reports it. Subject ids are not kept: only their count here, and
-- their keyed hashes in `suppressions`.
CREATE TABLE IF NOT EXISTS regulations (
  id TEXT PRIMARY KEY,
  app_id TEXT NOT NULL REFERENCES apps (id),
  regulation_type TEXT NOT NULL
    CHECK (regulation_type IN ('SUPPRESS_ONLY', 'UNSUPPRESS', 'SUPPRESS_WITH_DELETE', 'DELETE_ONLY')),
  subject_type TEXT NOT NULL CHECK (subject_type IN ('USER_ID', 'ANONYMOUS_ID', 'DEVICE_ID')),
  subject_count INTEGER NOT NULL CHECK (subject_count >= 1),
  -- JSON object: store name -> {"status": "pending"|"done"|"failed", "reason"?}.
  stores TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS regulations_by_app ON regulations (app_id, created_at);

-- The suppression list: HMAC-SHA256 of the subject under HMAC(SUPPRESSION_SECRET, app id)
-- (core/src/privacy `subject_hash`), never the raw id. The hash covers the subject kind.
CREATE TABLE IF NOT EXISTS suppressions (
  app_id TEXT NOT NULL REFERENCES apps (id),
  hash TEXT NOT NULL CHECK (length(hash) = 64),
  subject_type TEXT NOT NULL CHECK (subject_type IN ('USER_ID', 'ANONYMOUS_ID', 'DEVICE_ID')),
  regulation_id TEXT NOT NULL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (app_id, hash)
);

-- Events the ingest Worker dropped because a subject was suppressed, per app and UTC day.
CREATE TABLE IF NOT EXISTS suppressed_events (
  app_id TEXT NOT NULL,
  day TEXT NOT NULL,
  events INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (app_id, day)
);
