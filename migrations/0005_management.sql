-- The management API (/admin/v1/ on the query Worker): key ids and kinds (write, read, manage),
-- rotation overlaps, per-app versions for compare-and-set, archived apps, and the audit log.
-- core/src/manage holds the rules these rows must follow; the Worker writes each change and
-- its audit entry in one D1 batch.

-- api_keys gains an id (how the API names a key without its secret), the kind `manage`, and
-- an expiry (a rotated key works until then, beside its replacement). SQLite cannot change a
-- CHECK, so the table is rebuilt; existing keys keep their hashes and get an id.
CREATE TABLE api_keys_v5 (
  key_hash TEXT PRIMARY KEY CHECK (length(key_hash) = 64),
  id TEXT NOT NULL UNIQUE DEFAULT ('key_' || lower(hex(randomblob(8)))),
  app_id TEXT NOT NULL REFERENCES apps (id),
  kind TEXT NOT NULL CHECK (kind IN ('write', 'read', 'manage')),
  label TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  revoked_at TEXT,
  -- Set when the key is rotated: it stops working at this time (same format as created_at).
  expires_at TEXT,
  -- The key this one replaced, when it came from a rotation.
  rotated_from TEXT
);
INSERT INTO api_keys_v5 (key_hash, app_id, kind, label, created_at, revoked_at)
  SELECT key_hash, app_id, kind, label, created_at, revoked_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_v5 RENAME TO api_keys;
CREATE INDEX IF NOT EXISTS api_keys_by_app ON api_keys (app_id);

-- Compare-and-set: every management change under an app sets version = expected + 1 first in
-- its batch; the trigger aborts the batch when the app has moved on (another writer won), so
-- concurrent updates never lose one another (the API answers 409).
ALTER TABLE apps ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1);
ALTER TABLE apps ADD COLUMN archived_at TEXT;
ALTER TABLE apps ADD COLUMN updated_at TEXT;
CREATE TRIGGER IF NOT EXISTS apps_version_compare_and_set
BEFORE UPDATE OF version ON apps
WHEN NEW.version <> OLD.version + 1
BEGIN
  SELECT RAISE(ABORT, 'version_conflict');
END;

-- Every management change: who (actor), what (action, resource), before and after (JSON, with
-- no secrets: keys appear by id), when.
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  app_id TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  resource TEXT NOT NULL,
  before TEXT CHECK (before IS NULL OR json_valid(before)),
  after TEXT CHECK (after IS NULL OR json_valid(after)),
  version INTEGER,
  at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS audit_log_by_app ON audit_log (app_id, id);
