-- Per-app ingest rate limit: which tier of the Workers rate-limiting bindings counts the app's
-- requests (core/src/ratelimit.rs: low 20, default 5,000, high 50,000 requests per 10 s; off =
-- no per-app limit, the per-IP limit still applies).
ALTER TABLE apps ADD COLUMN rate_limit_tier TEXT NOT NULL DEFAULT 'default'
  CHECK (rate_limit_tier IN ('low', 'default', 'high', 'off'));
