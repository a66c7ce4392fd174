-- Per-customer purchase summaries for lifetime value (`GET /v1/ltv`, workers/query/src/queries/ltv.rs),
-- pushed by the origin in the rollup upsert's `ltv_customers` section: one row per customer,
-- in the summary format of the `lifetimes` package, under the day of the customer's first
-- purchase (the acquisition cohort) and the source credited with it. No user id is stored:
-- the fit needs only the summaries. Times are in days; `t` is the customer's age on
-- `observed_on`, the UTC day the origin computed the row. Frequency and recency change only
-- with a purchase (which makes the origin push the cohort's day again), so the edge ages the
-- customer itself: T today = t + (today - observed_on).
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
  observed_on TEXT NOT NULL,
  -- Mean value of the repeat purchases in `currency`; 0 without one (as in `lifetimes`).
  monetary_value REAL NOT NULL DEFAULT 0 CHECK (monetary_value >= 0),
  region TEXT NOT NULL DEFAULT '',
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS ltv_customers_by_app_day ON ltv_customers (app_id, day, region);

-- Acquisition cohorts for `GET /v1/cohorts` (workers/query/src/queries/cohorts.rs), pushed in
-- the rollup upsert's `cohorts` section (attrib_core::cohorts::CohortRow): per cohort (day of
-- the users' first attributed conversion, its source and campaign) and day after it (0..90),
-- rows with currency '' carry the cohort's size and the users who converted that day, rows
-- with a currency carry that day's revenue in it.
CREATE TABLE IF NOT EXISTS cohort_days (
  app_id TEXT NOT NULL,
  day TEXT NOT NULL,
  source TEXT NOT NULL,
  campaign TEXT NOT NULL,
  day_offset INTEGER NOT NULL CHECK (day_offset BETWEEN 0 AND 90),
  currency TEXT NOT NULL,
  users INTEGER NOT NULL DEFAULT 0 CHECK (users >= 0),
  active_users INTEGER NOT NULL DEFAULT 0 CHECK (active_users >= 0),
  revenue REAL NOT NULL DEFAULT 0,
  region TEXT NOT NULL DEFAULT '',
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (app_id, day, source, campaign, day_offset, currency, region)
);
