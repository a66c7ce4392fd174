-- Privacy per app (issue 12): what is kept of client IP addresses (core/src/privacy/ip.rs),
-- set through /admin/v1/apps/{app}/settings. `truncate` (IPv4 /24, IPv6 /48) is the default.
ALTER TABLE apps ADD COLUMN ip_handling TEXT NOT NULL DEFAULT 'truncate'
  CHECK (ip_handling IN ('truncate', 'drop', 'hash'));
