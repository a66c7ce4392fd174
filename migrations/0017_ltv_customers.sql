-- Per-customer purchase summaries for lifetime value (`GET /v1/ltv`, workers/query/src/queries/ltv.rs),
-- pushed by the origin in the rollup upsert's `ltv_customers` section: one row per customer,
-- in the summary format of the `lifetimes` package, under the day of the customer's first
-- purchase (the acquisition cohort) and the source credited with it. No user id is stored:
-- the fit needs only the summaries. Times are in days; `t` is the customer's age when the
-- origin computed the row, so the origin re-sends a cohort's days as they age.
CREATE TABLE IF NOT EXISTS ltv_customers (
  app_id TEXT NOT NULL,
  day TEXT NOT NULL,
  source TEXT NOT NULL,
  currency TEXT NOT NULL,
  -- Repeat purchases (all but the first).
  frequency INTEGER NOT NULL CHECK (frequency >= 0),
  -- Age in days at the last repeat purchase (0 without one).
  recency REAL NOT NULL CHECK (recency >= 0),
  -- Age in days since the first purchase (`T`).
  t REAL NOT NULL CHECK (t > 0),
  -- Mean value of the repeat purchases in `currency`; 0 without one (as in `lifetimes`).
  monetary_value REAL NOT NULL DEFAULT 0 CHECK (monetary_value >= 0),
  region TEXT NOT NULL DEFAULT '',
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS ltv_customers_by_app_day ON ltv_customers (app_id, day, region);
