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
/// Journeys merged into another journey by one event (anonymousId, alias previousId, click ids).
pub const MAX_MERGES_PER_EVENT: usize = 4;
/// A merged journey forwards events to its target; a chain longer than this is refused (a cycle).
pub const MAX_MERGE_HOPS: u8 = 4;

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
/// split by the sender. Room for a full batch of maximum-size events with their touches.
pub const MAX_OUTBOX_BATCH_BYTES: usize = 20 * 1024 * 1024;
/// How far the signature timestamp of an outbox batch may be from the origin's clock.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;
