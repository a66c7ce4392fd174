-- Privacy per app (issue 12): what is kept of client IP addresses (core/src/privacy/ip.rs)
-- and how consent is read (core/src/privacy/consent.rs),
-- set through /admin/v1/apps/{app}/settings. `truncate` (IPv4 /24, IPv6 /48) is the default.
ALTER TABLE apps ADD COLUMN ip_handling TEXT NOT NULL DEFAULT 'truncate'
  CHECK (ip_handling IN ('truncate', 'drop', 'hash'));

-- Which context.consent.categoryPreferences categories stand for analytics and advertising
-- (core/src/privacy/consent.rs), JSON {"analytics", "advertising"}; '{}' is Segment's
-- `Analytics` and `Advertising`.
ALTER TABLE apps ADD COLUMN consent TEXT NOT NULL DEFAULT '{}';

-- Events the ingest Worker dropped because they carried no analytics consent, per app and UTC
-- day (like suppressed_events).
CREATE TABLE IF NOT EXISTS consent_dropped_events (
  app_id TEXT NOT NULL,
  day TEXT NOT NULL,
  events INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (app_id, day)
);
