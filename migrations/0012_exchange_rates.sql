-- Daily exchange rates per app, loaded through PUT /admin/v1/apps/{app}/rates (ECB reference
-- format: units of `currency` per 1 EUR on `day`), and the app's reporting currency.
-- Kept in the read store beside daily_stats so /v1/stats converts revenue in one query.
CREATE TABLE IF NOT EXISTS exchange_rates (
  app_id TEXT NOT NULL,
  day TEXT NOT NULL,
  currency TEXT NOT NULL,
  per_eur REAL NOT NULL CHECK (per_eur > 0),
  PRIMARY KEY (app_id, day, currency)
);
ALTER TABLE apps ADD COLUMN reporting_currency TEXT;
