-- Retention per app (issue 12): raw events and touches older than this many days are removed
-- from the app's Journey objects by their alarm (durable-objects/src/retention.rs); the
-- bounds are core/src/limits.rs (DEFAULT_RETENTION_DAYS 395, MIN 1, MAX 3650), checked by the
-- management API before anything is written. Conversions and their attribution results stay.
ALTER TABLE apps ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 395
  CHECK (retention_days BETWEEN 1 AND 3650);
