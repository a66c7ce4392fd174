//! Every limit the query Worker enforces, in one place (docs/deploy.md and the OpenAPI
//! document name the same numbers; change them together).
//!
//! Read limits keep one query cheap for D1 and Turso (a year of one app's daily rows is at
//! most tens of thousands of rows to aggregate); upsert limits keep one signed request inside
//! a Worker's memory and a D1 batch.

/// Longest date range of a read, in days (both ends included).
pub const MAX_RANGE_DAYS: i64 = 366;
/// Range when `from` is not given: this many days ending at `to` (both included).
pub const DEFAULT_RANGE_DAYS: i64 = 30;
/// Days before this one are refused as typos (`0026-01-01`).
pub const EARLIEST_DAY: &str = "2000-01-01";
/// Days after this one are refused likewise.
pub const LATEST_DAY: &str = "2099-12-31";

/// Rows a stats read returns at most (`limit`), and when `limit` is not given.
pub const MAX_STATS_ROWS: usize = 5_000;
pub const DEFAULT_STATS_ROWS: usize = 1_000;
/// (day, currency) pairs without an exchange rate a stats read lists at most.
pub const MAX_MISSING_RATES: usize = 100;
/// Paths a top-paths read returns at most, and when `limit` is not given.
pub const MAX_PATH_ROWS: usize = 500;
pub const DEFAULT_PATH_ROWS: usize = 20;
/// Rows a fraud read returns at most, and when `limit` is not given.
pub const MAX_FRAUD_ROWS: usize = 5_000;
pub const DEFAULT_FRAUD_ROWS: usize = 1_000;

/// Rows a SKAdNetwork / AdAttributionKit read (`/v1/skan`) returns at most, and by default.
pub const MAX_SKAN_ROWS: usize = 5_000;
pub const DEFAULT_SKAN_ROWS: usize = 1_000;

/// Customers one lifetime-value fit (`/v1/ltv`) takes at most: a wider range or set of
/// sources is refused (413 naming `from`), never silently sampled. The BG/NBD and Gamma-Gamma
/// fits are a few dozen passes over the customers, well inside a Worker's CPU time here.
pub const MAX_LTV_CUSTOMERS: usize = 20_000;
/// Longest prediction horizon of `/v1/ltv`, in days, and the default.
pub const MAX_LTV_HORIZON_DAYS: usize = 3_650;
pub const DEFAULT_LTV_HORIZON_DAYS: usize = 365;

/// Cohort groups one `/v1/cohorts` read returns at most (more: 413 naming `group_by`), and the
/// stored cohort rows it aggregates at most (more: 413 naming `from`).
pub const MAX_COHORT_GROUPS: usize = 1_000;
pub const MAX_COHORT_READ_ROWS: usize = 100_000;

/// Values in one comma-separated filter (`source=a,b,c`).
pub const MAX_FILTER_VALUES: usize = 20;
/// Longest filter value; sources and campaigns are cut to this length at ingest.
pub const MAX_FILTER_VALUE_CHARS: usize = attrib_core::limits::MAX_CAMPAIGN_FIELD_CHARS;
/// Longest query string of a read.
pub const MAX_QUERY_STRING_BYTES: usize = 8 * 1024;

/// Steps of one conversion path; the origin keeps the last ones (nearest the conversion).
pub use attrib_core::rollup::MAX_PATH_STEPS;
/// Longest currency code (ISO 4217 codes have 3 letters; the slack is for custom units).
pub const MAX_CURRENCY_CHARS: usize = 16;
/// Longest fraud reason.
pub const MAX_REASON_CHARS: usize = 64;

/// Daily-stats rows in one upsert; the origin sends larger sets as several upserts.
pub const MAX_ROLLUP_ROWS: usize = attrib_core::rollup::MAX_UPSERT_SECTION_ROWS;
/// Path rows in one upsert.
pub const MAX_UPSERT_PATH_ROWS: usize = attrib_core::rollup::MAX_UPSERT_SECTION_ROWS;
/// Fraud rows in one upsert.
pub const MAX_UPSERT_FRAUD_ROWS: usize = attrib_core::rollup::MAX_UPSERT_SECTION_ROWS;
/// Customer summary rows (`ltv_customers`) in one upsert.
pub const MAX_UPSERT_LTV_ROWS: usize = attrib_core::rollup::MAX_UPSERT_SECTION_ROWS;
/// Cohort rows (`cohorts`) in one upsert.
pub const MAX_UPSERT_COHORT_ROWS: usize = attrib_core::rollup::MAX_UPSERT_SECTION_ROWS;
/// (app, day) pairs replaced by one upsert.
pub const MAX_UPSERT_DAYS: usize = 400;
/// Body size of one upsert (a row is well under 1 KB).
pub const MAX_ROLLUP_BYTES: usize = attrib_core::rollup::MAX_UPSERT_BYTES;
/// Counts are bound to SQL as doubles: above this they would lose precision.
pub const MAX_COUNT: u64 = 1 << 53;

/// Postback attempt log (D1 `postback_attempts`): days an attempt is kept
/// (`POSTBACK_LOG_RETENTION_DAYS` overrides), and the longest setting allowed.
pub const DEFAULT_POSTBACK_LOG_RETENTION_DAYS: u64 = 90;
pub const MAX_POSTBACK_LOG_RETENTION_DAYS: u64 = 3_650;
/// Attempts one prune statement deletes, and statements one scheduled run issues at most
/// (what is left over goes at the next run), so a run stays within a D1 query's limits.
pub const PRUNE_ROWS_PER_STATEMENT: usize = 5_000;
pub const MAX_PRUNE_STATEMENTS_PER_RUN: usize = 20;

/// Edge cache: a cached read is fresh for this long (`CACHE_TTL_SECS` overrides) ...
pub const DEFAULT_CACHE_TTL_SECS: u64 = 60;
/// ... then served stale while one request refreshes it for this long (`CACHE_SWR_SECS`).
pub const DEFAULT_CACHE_SWR_SECS: u64 = 600;
/// Upper bound for both settings.
pub const MAX_CACHE_SECS: u64 = 86_400;
/// How long an isolate trusts the stats version it read. New rollups are visible at the edge
/// within this time (at once in the isolate that took the upsert).
pub const STATS_VERSION_TTL_MS: u64 = 1_000;
/// The isolate's version memo is cleared when it holds more apps than this.
pub const MAX_VERSION_ENTRIES: usize = 10_000;

/// Longest `after` cursor of `GET /internal/retention` (an app id: 1 to 64 characters); a
/// page names at most `attrib_core::limits::RETENTION_APPS_PER_PAGE` apps.
pub const MAX_RETENTION_CURSOR_CHARS: usize = 64;
