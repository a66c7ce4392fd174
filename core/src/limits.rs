//! Every size, count and window the platform enforces, in one place.
//!
//! README.md's "Limits" table mirrors this file; change both together.

/// Largest single event, as serialized JSON (Segment's limit).
pub const MAX_EVENT_BYTES: usize = 32 * 1024;
/// Largest request body on any ingest endpoint (Segment's batch limit).
pub const MAX_BATCH_BYTES: usize = 500 * 1024;
/// Most events in one `/v1/batch` call. Each distinct user in a batch costs one Durable Object
/// call, and a Worker invocation has a bounded number of subrequests.
pub const MAX_EVENTS_PER_BATCH: usize = 1_000;
/// Longest `userId`, `anonymousId`, `previousId`, `groupId` or `messageId`.
pub const MAX_ID_CHARS: usize = 256;
/// Longest event name (`event` of a track call, `name` of a page or screen call).
pub const MAX_EVENT_NAME_CHARS: usize = 256;
/// UTM values and referrer hosts longer than this are cut (at a character boundary): they come
/// from URLs the client does not control, so they are not a reason to reject an event.
pub const MAX_CAMPAIGN_FIELD_CHARS: usize = 256;

/// A repeated identical touch within this gap is the same visit, not a new touch; a page view
/// with no campaign and no referrer is a new direct touch only after this much inactivity.
pub const TOUCH_SESSION_TIMEOUT_MS: i64 = 30 * 60 * 1000;
/// Attribution looks at no more than this many eligible touches (the most recent ones).
pub const MAX_TOUCHES_PER_ATTRIBUTION: usize = 1_000;
/// Touches a conversion reads from its journey: the newest in its window, up to this many
/// (ten times what attribution keeps, so clicks are not crowded out by a burst of views short
/// of a flood).
pub const MAX_TOUCHES_READ_PER_CONVERSION: usize = 10 * MAX_TOUCHES_PER_ATTRIBUTION;
/// Stored conversions one call judges again because its touches arrived after them
/// (`crate::journey::late`), oldest first: what a late touch costs stays near what a call's
/// new conversions cost.
pub const MAX_CONVERSIONS_REJUDGED_PER_CALL: usize = 100;
/// Storage one journey may use (its Durable Object's SQLite database, in bytes). Past it, new
/// events to the journey are refused, each with the error [`JOURNEY_FULL_REASON`] (a retry of
/// an event already stored is still answered as a duplicate); what it holds is kept, and its
/// conversions, null paths, postbacks and re-runs go on (issue 13, finding 4).
pub const MAX_JOURNEY_BYTES: u64 = 64 * 1024 * 1024;
pub const JOURNEY_FULL_REASON: &str = "the journey reached its storage limit";
/// What one merge hands over and one journey view shows: the newest facts of each kind, within
/// a byte bound, so a flooded journey stays mergeable and viewable. Older facts stay in the
/// merged-away journey (their events' ids are not carried over, so the origin's own dedup
/// catches a late retry of one of them).
pub const MAX_EXPORT_EVENTS: usize = 2_000;
pub const MAX_EXPORT_TOUCHES: usize = MAX_TOUCHES_PER_ATTRIBUTION;
pub const MAX_EXPORT_CONVERSIONS: usize = 500;
pub const MAX_EXPORT_BYTES: usize = 8 * 1024 * 1024;
/// Postbacks one journey's data-subject export carries (`crate::protocol::EXPORT_PATH`).
pub const MAX_EXPORT_POSTBACKS: usize = 1_000;
/// Journeys one data-subject export reads: the requested one, where it was merged into and
/// what was merged into it (the rest are named, not read).
pub const MAX_SUBJECT_EXPORT_JOURNEYS: usize = 8;
/// Bytes of one data-subject export document: journeys past it are named, not included.
pub const MAX_SUBJECT_EXPORT_BYTES: usize = 16 * 1024 * 1024;
/// Postback attempt log rows (D1) one data-subject export carries, newest kept.
pub const MAX_EXPORT_POSTBACK_ATTEMPTS: usize = 2_000;
/// Journeys merged into another journey by one event (anonymousId, alias previousId, click ids).
pub const MAX_MERGES_PER_EVENT: usize = 4;
/// A merged journey forwards events to its target; a chain longer than this is refused (a cycle).
pub const MAX_MERGE_HOPS: u8 = 4;
/// Refused merges a journey remembers, so a client key's later events naming the same refused
/// journey (a shared device's anonymous id, say) do not ask it again: a refusal to a client key
/// is permanent (`crate::identity::check_hand_over`). Beyond this many, it is asked each time.
pub const MAX_REMEMBERED_MERGE_REFUSALS: u64 = 100;
/// How long an erased journey drops events for its id (issue 12, erasure): events in flight
/// when a person is erased (queued in an SDK, retried by a proxy) must not bring them back.
/// After it the id may be collected afresh; `SUPPRESS_WITH_DELETE` keeps it out for good.
pub const ERASURE_TOMBSTONE_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Journeys one erasure regulation reaches (the subjects' journeys and every journey merged
/// into or from them): each costs the query Worker two Durable Object requests. Beyond it the
/// regulation fails before anything is deleted.
pub const MAX_ERASED_JOURNEYS: usize = 200;

/// Defaults and bounds for per-app attribution settings, in seconds.
pub const DEFAULT_CLICK_WINDOW_SECS: u32 = 7 * 24 * 3600;
pub const DEFAULT_VIEW_WINDOW_SECS: u32 = 24 * 3600;
pub const DEFAULT_REATTRIBUTION_WINDOW_SECS: u32 = 90 * 24 * 3600;
pub const DEFAULT_TIME_DECAY_HALF_LIFE_SECS: u32 = 7 * 24 * 3600;
pub const MAX_CLICK_WINDOW_SECS: u32 = 90 * 24 * 3600;
pub const MAX_VIEW_WINDOW_SECS: u32 = 30 * 24 * 3600;
pub const MAX_REATTRIBUTION_WINDOW_SECS: u32 = 365 * 24 * 3600;
pub const MIN_TIME_DECAY_HALF_LIFE_SECS: u32 = 60;
pub const MAX_TIME_DECAY_HALF_LIFE_SECS: u32 = 90 * 24 * 3600;
/// Most conversion event names an app may configure.
pub const MAX_CONVERSION_EVENTS: usize = 50;

/// Outbox records sent to the origin in one signed batch.
pub const MAX_OUTBOX_RECORDS_PER_BATCH: usize = 500;
/// Largest outbox batch body the origin accepts (JSON bytes); larger ones get 413 and must be
/// split by the sender. Twice a journey's flush ([`MAX_OUTBOX_FLUSH_BYTES`]); it also bounds
/// what an unauthenticated sender can make the origin buffer before the HMAC is checked.
pub const MAX_OUTBOX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Bytes of records in one flush from a journey: below the origin's body limit, so a flush is never refused for its size alone. A single record larger
/// than this goes alone; the origin's 413 then sets it aside (`crate::outbox_delivery`).
pub const MAX_OUTBOX_FLUSH_BYTES: usize = 4 * 1024 * 1024;
/// Batches one alarm run posts (halving a refused batch included): a Durable Object invocation
/// has a subrequest budget, and the postbacks of the same run need theirs.
pub const MAX_FLUSH_REQUESTS_PER_ALARM: usize = 16;
/// Records the origin refused for good (400, 413, 422 on a record alone), kept per journey for
/// inspection and replay. When full, nothing is dropped: further refused records stay in the
/// outbox and its flush backs off until dead letters are replayed.
pub const MAX_DEAD_LETTERS_PER_JOURNEY: usize = 1_000;
/// Dead letters listed or replayed by one request to the journey.
pub const MAX_DEAD_LETTERS_PER_REQUEST: usize = 100;
/// How far the signature timestamp of an outbox batch may be from the origin's clock.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// Default and bound of the re-engagement window: after a click by a user who has already
/// converted, that user's conversions within this time are credited to the click too.
pub const DEFAULT_REENGAGEMENT_WINDOW_SECS: u32 = 30 * 24 * 3600;
pub const MAX_REENGAGEMENT_WINDOW_SECS: u32 = 90 * 24 * 3600;

/// Fraud rule defaults (each rule is on by default; apps change them in `apps.fraud_rules`).
/// Click injection: an install this soon after its last click is rejected.
pub const DEFAULT_MIN_CTIT_SECS: u32 = 10;
pub const MAX_MIN_CTIT_SECS: u32 = 3600;
/// Click spamming: an install this long after its last click (the tail of the
/// click-to-install time distribution) is rejected.
pub const DEFAULT_MAX_CTIT_SECS: u32 = 3 * 24 * 3600;
pub const MIN_MAX_CTIT_SECS: u32 = 60;
/// Click flooding: more tracking-link clicks than this from one IP address in the window are
/// rejected (the first ones are kept).
pub const DEFAULT_MAX_CLICKS_PER_IP: u32 = 50;
/// The same, per device (the visitor id the click names, else IP and user agent).
pub const DEFAULT_MAX_CLICKS_PER_DEVICE: u32 = 10;
pub const DEFAULT_CLICK_FLOOD_WINDOW_SECS: u32 = 3600;
pub const MAX_CLICKS_LIMIT: u32 = 100_000;
pub const MIN_CLICK_FLOOD_WINDOW_SECS: u32 = 60;
/// Click counters keep this much history (per-minute buckets), so no window is longer.
pub const MAX_CLICK_FLOOD_WINDOW_SECS: u32 = 24 * 3600;
/// Timestamp bounds, after clock-skew correction: later than received + this is "future".
pub const DEFAULT_MAX_FUTURE_SECS: u32 = 10 * 60;
pub const MIN_MAX_FUTURE_SECS: u32 = 60;
pub const MAX_MAX_FUTURE_SECS: u32 = 7 * 24 * 3600;
/// Older than received − this is "stale".
pub const DEFAULT_MAX_PAST_SECS: u32 = 30 * 24 * 3600;
pub const MIN_MAX_PAST_SECS: u32 = 24 * 3600;
pub const MAX_MAX_PAST_SECS: u32 = 2 * 365 * 24 * 3600;
/// Most ASNs in an app's datacenter list, and most extra bot user-agent patterns.
pub const MAX_BLOCKED_ASNS: usize = 10_000;
pub const MAX_BOT_PATTERNS: usize = 100;
pub const MAX_BOT_PATTERN_CHARS: usize = 128;
/// Longest user agent the bot rule looks at (longer ones are cut, not rejected).
pub const MAX_USER_AGENT_CHARS: usize = 1024;

/// Postbacks: configurations per app, template size, expanded URL size.
pub const MAX_POSTBACK_CONFIGS: usize = 100;
pub const MAX_POSTBACK_TEMPLATE_CHARS: usize = 2048;
pub const MAX_POSTBACK_URL_CHARS: usize = 8192;
/// Postback retries: exponential backoff from the base (1 s, 2 s, 4 s, ...) capped at the max;
/// after the last attempt the postback is given up (status `failed`). At these values 30
/// attempts span about 1 h 48 min of a receiver being down (see `postback::backoff_ms`).
pub const POSTBACK_BACKOFF_BASE_MS: i64 = 1_000;
pub const POSTBACK_BACKOFF_MAX_MS: i64 = 5 * 60 * 1_000;
pub const POSTBACK_MAX_ATTEMPTS: u32 = 30;
/// One postback request may take this long before it counts as failed (and is retried).
pub const POSTBACK_TIMEOUT_MS: u64 = 10_000;
/// Postbacks sent by one alarm run (a Durable Object invocation has a subrequest budget).
pub const MAX_POSTBACKS_PER_ALARM: usize = 20;
/// Longest error text kept in a postback attempt's log.
pub const MAX_POSTBACK_ERROR_CHARS: usize = 512;

/// Ingest front end: every limit above applies to the decompressed body (`Content-Encoding:
/// gzip` or `deflate`), checked while inflating; a compressed body may not itself be larger.
/// The batch-level `context` of a `/v1/batch` body is merged into every event that lacks its
/// keys, so it is bounded on its own before the merge...
pub const MAX_BATCH_CONTEXT_BYTES: usize = 8 * 1024;
/// ...and the batch's events after the merge (each event's bytes plus the batch context it
/// receives) may add up to no more than this, so one 500 KB request never costs more than a
/// bounded multiple of its size in the isolate.
pub const MAX_BATCH_EXPANDED_BYTES: usize = 2 * 1024 * 1024;

/// The retry policy ingest's settings document asks the SDKs to follow (`httpConfig`, read by
/// analytics-next and analytics-swift): on 429, wait `Retry-After` (at most this many seconds)
/// up to this many times; on 5xx and timeouts, back off exponentially from the base to the max.
pub const SDK_RATE_LIMIT_MAX_RETRIES: u32 = 100;
pub const SDK_RATE_LIMIT_MAX_WAIT_SECS: u32 = 300;
pub const SDK_BACKOFF_MAX_RETRIES: u32 = 100;
pub const SDK_BACKOFF_BASE_SECS: f64 = 0.5;
pub const SDK_BACKOFF_MAX_SECS: u32 = 300;
/// Mobile (core/src/mobile): store and deep-link URLs on a link, deep-link parameters (count
/// and JSON size), bundle ids / certificate fingerprints / link hosts per app, the deferred
/// deep-link lookback (default AppsFlyer's 15 minutes), recent touches a device keeps.
pub const MAX_MOBILE_URL_CHARS: usize = 2048;
pub const MAX_DEEP_LINK_PARAMS: usize = 32;
pub const MAX_DEEP_LINK_PARAMS_BYTES: usize = 4096;
pub const MAX_APP_BUNDLE_IDS: usize = 10;
pub const MAX_CERT_FINGERPRINTS: usize = 10;
pub const DEFAULT_DEFERRED_LOOKBACK_SECS: u32 = 15 * 60;
pub const MAX_DEFERRED_LOOKBACK_SECS: u32 = 7 * 24 * 3600;
pub const MAX_DEVICE_TOUCHES: usize = 50;
/// Longest device identifier accepted from a click URL or `context.device` (longer: ignored).
pub const MAX_DEVICE_ID_CHARS: usize = 128;
/// SKAN ad network → source mapping per app (`crate::mobile::skan_sources`): ad networks, the
/// campaign names of all of them together, and an ad network id's length (as `attrib-skan`
/// accepts it in a postback).
pub const MAX_SKAN_SOURCES: usize = 100;
pub const MAX_SKAN_CAMPAIGNS: usize = 1000;
pub const MAX_SKAN_AD_NETWORK_ID_CHARS: usize = 128;

/// Currency columns of one exchange-rate upload (the ECB file has about 30).
pub const MAX_RATE_CURRENCIES: usize = 64;
/// Rates (day × currency cells) of one exchange-rate upload: a year of the ECB file.
pub const MAX_RATE_CELLS: usize = 12_000;
/// Per-cell errors reported for one upload at most.
pub const MAX_RATE_ERRORS: usize = 50;
/// Bytes of one exchange-rate CSV upload.
pub const MAX_RATE_CSV_BYTES: usize = 512 * 1024;

/// Rows of one ad-spend upload (`PUT /admin/v1/apps/{app}/spend`): a year of 13 campaigns a
/// day; larger loads go in several uploads (each replaces only its own keys).
pub const MAX_SPEND_ROWS: usize = 5_000;
/// Bytes of one ad-spend upload (JSON or CSV).
pub const MAX_SPEND_BODY_BYTES: usize = 1024 * 1024;
/// Characters of a spend row's source, campaign and ad group (the touch fields' own bound,
/// `MAX_CAMPAIGN_FIELD_CHARS`, so every stored campaign can be named).
pub const MAX_SPEND_FIELD_CHARS: usize = MAX_CAMPAIGN_FIELD_CHARS;
/// A spend amount: 0 to this, in its currency.
pub const MAX_SPEND_AMOUNT: f64 = 1e12;
/// Impressions or clicks of one spend row: 0 to this (exact in a JS number and a REAL).
pub const MAX_SPEND_COUNT: u64 = 1_000_000_000_000;
/// Per-row errors reported for one spend upload at most.
pub const MAX_SPEND_ERRORS: usize = 100;
/// Years a spend row's day may fall in (a typo such as 0202 is refused, not stored).
pub const SPEND_YEARS: std::ops::RangeInclusive<i32> = 2000..=2099;
/// Edge facts (SKAN postbacks, spend rows) one request to an edge journey carries at most
/// (`crate::protocol::EdgeFactsRequest`): one origin batch's worth. A spend upload of
/// `MAX_SPEND_ROWS` goes in several requests.
pub const MAX_EDGE_FACTS_PER_REQUEST: usize = MAX_OUTBOX_RECORDS_PER_BATCH;
/// Spend rows one `GET .../spend` answers at most.
pub const MAX_SPEND_READ_ROWS: usize = 5_000;

/// How long raw events and touches are kept, per app (`retention_days` in the app's settings;
/// issue 12): 395 days by default (13 months: a year-over-year comparison of a whole month
/// still has its raw data), at least 1 day, at most 10 years. Conversions and their
/// attribution results are kept (`crate::journey::timing::retention_cutoff_ms`).
pub const DEFAULT_RETENTION_DAYS: u32 = 395;
pub const MIN_RETENTION_DAYS: u32 = 1;
pub const MAX_RETENTION_DAYS: u32 = 3_650;
/// Rows of each kind (events, touches) one alarm run removes for retention: a journey holding
/// more expired rows removes them over several runs, [`crate::journey::timing::RETENTION_CONTINUE_MS`]
/// apart.
pub const MAX_RETENTION_DELETES_PER_RUN: usize = 500;
/// Apps one page of the query Worker's signed `GET /internal/retention` names at most
/// (`crate::app_retention`); the origin asks for the next page after the last id.
pub const RETENTION_APPS_PER_PAGE: usize = 1_000;
/// Apps whose own `retention_days` one origin retention run applies at most: every app a
/// deployment may have (`crate::manage::MAX_APPS`, ten pages). Should the Worker name more,
/// the named ones get their own rule and the deployment-wide rule is skipped for that run (it
/// would otherwise reach apps it cannot tell apart).
pub const MAX_RETENTION_APPS: usize = crate::manage::MAX_APPS;
/// Apps one `app_id IN (...)` rule of a retention run names at most (one embedded delete
/// statement, one term of the ClickHouse mutation).
pub const RETENTION_APPS_PER_STATEMENT: usize = RETENTION_APPS_PER_PAGE;
