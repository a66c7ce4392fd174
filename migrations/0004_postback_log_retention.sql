-- The query Worker's scheduled prune deletes postback attempts older than the retention
-- (POSTBACK_LOG_RETENTION_DAYS); this index lets it find them without scanning the log.
CREATE INDEX IF NOT EXISTS postback_attempts_by_time ON postback_attempts (attempted_at_ms);
