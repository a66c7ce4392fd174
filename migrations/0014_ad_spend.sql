-- Daily ad spend per app, loaded through PUT /admin/v1/apps/{app}/spend (JSON or CSV).
-- One row per (app, day, source, campaign, ad_group): a re-upload of a key replaces it.
-- `ad_group` is '' when the row names none. Sources are lowercased and campaigns trimmed the
-- way touches are, so /v1/stats joins spend on daily_stats' (day, source, campaign) and
-- converts it with exchange_rates on its own day, in one query.
CREATE TABLE IF NOT EXISTS ad_spend (
  app_id TEXT NOT NULL,
  day TEXT NOT NULL,
  source TEXT NOT NULL,
  campaign TEXT NOT NULL,
  ad_group TEXT NOT NULL DEFAULT '',
  spend REAL NOT NULL CHECK (spend >= 0),
  currency TEXT NOT NULL CHECK (length(currency) = 3),
  impressions INTEGER CHECK (impressions IS NULL OR impressions >= 0),
  clicks INTEGER CHECK (clicks IS NULL OR clicks >= 0),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (app_id, day, source, campaign, ad_group)
);
