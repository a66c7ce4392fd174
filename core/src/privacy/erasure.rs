//! Erasure (issue 12, scope 2): the pure rules of `DELETE_ONLY` and `SUPPRESS_WITH_DELETE`.
//!
//! A regulation erases every journey of its subjects: the subject's own journey and, followed
//! both ways, every journey merged into it or that it was merged into (an anonymous id's
//! journey merged into the user's, a click's). [`LinkedJourneys`] walks that graph within one
//! app, bounded by [`MAX_ERASED_JOURNEYS`]; the whole graph is known before anything is
//! deleted, so an erasure that would exceed the bound deletes nothing. An erased journey keeps
//! its links until every store is done, so a regulation sent again still finds the rest.
//!
//! An erased journey keeps a tombstone (the time of its erasure, nothing about the person) and
//! drops events for its id while [`tombstone_holds`]: events in flight do not resurrect the
//! person. Each store reports its own [`StoreStatus`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::{RegulationType, SubjectType, EDGE_SUPPRESSION_STORE};
use crate::identity::{JourneyKey, JourneyKind};
use crate::limits::{ERASURE_TOMBSTONE_MS, MAX_ERASED_JOURNEYS};

/// The Journey Durable Objects (events, touches, conversions, postbacks, outbox, dead letters).
pub const EDGE_JOURNEYS_STORE: &str = "edge_journeys";
/// D1's `postback_attempts` (the postback log of `/v1/postbacks`).
pub const EDGE_POSTBACK_LOG_STORE: &str = "edge_postback_log";
/// The device-touches Durable Objects (`DEVICE_ID` erasures).
pub const EDGE_DEVICE_TOUCHES_STORE: &str = "edge_device_touches";
/// The origin's stores (ClickHouse, Kafka, the embedded store).
pub const ORIGIN_STORE: &str = "origin";

/// The origin's erasure endpoint: signed like the outbox (`crate::signing`, outbox keys).
pub const ORIGIN_ERASE_PATH: &str = "/v1/erase";
/// Longest journey name an origin erasure takes (kind, app id, id, separators).
pub const MAX_JOURNEY_NAME_CHARS: usize = 2 + crate::limits::MAX_ID_CHARS * 2;

/// `POST /v1/erase` to the origin: the journeys the edge erased, whose rows the origin deletes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginErasure {
    pub app_id: String,
    pub journeys: Vec<String>,
}

impl OriginErasure {
    /// Checks the request: 1 to [`MAX_ERASED_JOURNEYS`] names, each a journey of `app_id`.
    pub fn check(&self) -> Result<(), crate::FieldError> {
        if self.app_id.is_empty() || self.app_id.contains(':') {
            return Err(crate::FieldError::new("app_id", "must be an app id"));
        }
        if self.journeys.is_empty() || self.journeys.len() > MAX_ERASED_JOURNEYS {
            return Err(crate::FieldError::new(
                "journeys",
                format!("must hold 1 to {MAX_ERASED_JOURNEYS} names"),
            ));
        }
        for (i, name) in self.journeys.iter().enumerate() {
            if name.chars().count() > MAX_JOURNEY_NAME_CHARS
                || parse_object_name(&self.app_id, name).is_none()
            {
                return Err(crate::FieldError::new(
                    format!("journeys[{i}]"),
                    "must be a journey name of the app (u:, a: or c:)",
                ));
            }
        }
        Ok(())
    }
}

/// The origin's answer: a status per origin store (`origin_embedded`, `origin_clickhouse`,
/// `origin_kafka`: those it has).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginErasureReply {
    pub stores: BTreeMap<String, StoreStatus>,
}

/// One store's progress on a regulation, as `GET .../regulations/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum StoreStatus {
    Pending,
    Done,
    Failed { reason: String },
}

impl StoreStatus {
    pub fn failed(reason: impl Into<String>) -> Self {
        StoreStatus::Failed {
            reason: reason.into(),
        }
    }
}

/// The stores a regulation of `kind` about `subject` ids reaches, each pending. A device id
/// names no journey (its events are in the journeys of the user and anonymous ids it came
/// with, erased by those ids): its erasure reaches the device-touches object only.
pub fn stores_of(kind: RegulationType, subject: SubjectType) -> BTreeMap<String, StoreStatus> {
    let mut names = Vec::new();
    if kind.suppresses() || kind == RegulationType::Unsuppress {
        names.push(EDGE_SUPPRESSION_STORE);
    }
    if kind.erases() {
        match subject {
            SubjectType::DeviceId => names.push(EDGE_DEVICE_TOUCHES_STORE),
            SubjectType::UserId | SubjectType::AnonymousId => {
                names.extend([EDGE_JOURNEYS_STORE, EDGE_POSTBACK_LOG_STORE, ORIGIN_STORE])
            }
        }
    }
    names
        .into_iter()
        .map(|n| (n.to_owned(), StoreStatus::Pending))
        .collect()
}

/// A regulation's status: failed if a store failed, done when every store is, else pending.
pub fn overall(stores: &BTreeMap<String, StoreStatus>) -> &'static str {
    if stores
        .values()
        .any(|s| matches!(s, StoreStatus::Failed { .. }))
    {
        "failed"
    } else if stores.values().all(|s| *s == StoreStatus::Done) {
        "done"
    } else {
        "pending"
    }
}

/// The journey a subject id names in `app_id`; `None` for kinds that name no journey.
pub fn subject_journey(app_id: &str, kind: SubjectType, id: &str) -> Option<JourneyKey> {
    let kind = match kind {
        SubjectType::UserId => JourneyKind::User,
        SubjectType::AnonymousId => JourneyKind::Anonymous,
        SubjectType::DeviceId => return None,
    };
    Some(JourneyKey::new(app_id, kind, id))
}

/// `u:app:id` (or `a:`, `c:`) → key, only within `app_id`: a link to another app's journey is
/// never followed.
pub fn parse_object_name(app_id: &str, name: &str) -> Option<JourneyKey> {
    let (kind, rest) = name.split_once(':')?;
    let (app, id) = rest.split_once(':')?;
    let kind = match kind {
        "u" => JourneyKind::User,
        "a" => JourneyKind::Anonymous,
        "c" => JourneyKind::Click,
        _ => return None,
    };
    (app == app_id && !id.is_empty()).then(|| JourneyKey::new(app, kind, id))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErasureError {
    #[error(
        "the subjects have more than {MAX_ERASED_JOURNEYS} linked journeys; nothing was erased"
    )]
    TooManyJourneys,
}

/// The journeys of an erasure, found breadth first from the subjects' own.
#[derive(Debug)]
pub struct LinkedJourneys {
    app_id: String,
    seen: BTreeSet<String>,
    found: Vec<JourneyKey>,
    queue: VecDeque<JourneyKey>,
}

impl LinkedJourneys {
    pub fn new(
        app_id: &str,
        starts: impl IntoIterator<Item = JourneyKey>,
    ) -> Result<Self, ErasureError> {
        let mut walk = LinkedJourneys {
            app_id: app_id.to_owned(),
            seen: BTreeSet::new(),
            found: Vec::new(),
            queue: VecDeque::new(),
        };
        for key in starts {
            walk.add(key)?;
        }
        Ok(walk)
    }

    fn add(&mut self, key: JourneyKey) -> Result<(), ErasureError> {
        if key.app_id != self.app_id || !self.seen.insert(key.object_name()) {
            return Ok(());
        }
        if self.found.len() >= MAX_ERASED_JOURNEYS {
            return Err(ErasureError::TooManyJourneys);
        }
        self.found.push(key.clone());
        self.queue.push_back(key);
        Ok(())
    }

    /// The next journey whose links are still to be read.
    pub fn next_to_visit(&mut self) -> Option<JourneyKey> {
        self.queue.pop_front()
    }

    /// Adds the journeys a visited one names (`merged_into`, `merged_from`); names of other
    /// apps or of no journey are ignored.
    pub fn link<'n>(
        &mut self,
        names: impl IntoIterator<Item = &'n str>,
    ) -> Result<(), ErasureError> {
        for name in names {
            if let Some(key) = parse_object_name(&self.app_id, name) {
                self.add(key)?;
            }
        }
        Ok(())
    }

    /// Every journey found, the subjects' first.
    pub fn journeys(&self) -> &[JourneyKey] {
        &self.found
    }
}

/// The device-touches objects of device ids `raw` in `app_id` (`secret`: the device-id secret
/// the ingest Worker names them with). A `DEVICE_ID` does not say its kind, and the ingest
/// Worker keeps one object per id and kind, so each id names two: its object as an advertising
/// id (IDFA, GAID) and as a vendor id (IDFV, Android id). Ids with no usable form name none.
pub fn device_object_names(secret: &[u8], app_id: &str, raw: &[String]) -> Vec<String> {
    use crate::mobile::device::{hashed, object_name, usable, DeviceIdKind};
    let mut names: Vec<String> = raw
        .iter()
        .flat_map(|id| {
            [DeviceIdKind::Advertising, DeviceIdKind::Vendor]
                .into_iter()
                .filter_map(move |kind| usable(kind, id))
        })
        .map(|id| object_name(app_id, &hashed(secret, app_id, &id)))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The journey an erased person's kept attributions name instead of theirs.
pub const ERASED_JOURNEY: &str = "erased";

/// An attribution kept, after its person's erasure, as an anonymous count (README, Privacy:
/// erasure: aggregates are not recomputed without the person): the journey (the person's id)
/// becomes [`ERASED_JOURNEY`], the shop's order id and the fraud rule's detail go. What the
/// rollups read (conversion, time, revenue, models, credits with their channels, rejection
/// code) stays, so every aggregate computed from it is unchanged.
pub fn anonymise_attribution(record: &mut crate::outbox::AttributionRecord) {
    record.journey = ERASED_JOURNEY.to_owned();
    record.result.conversion.order_id = None;
    record.result.rejected_detail = None;
}

/// Whether a journey erased at `erased_at_ms` still drops events at `now_ms`.
pub fn tombstone_holds(erased_at_ms: i64, now_ms: i64) -> bool {
    now_ms < erased_at_ms.saturating_add(ERASURE_TOMBSTONE_MS)
}

#[cfg(test)]
#[path = "erasure_tests.rs"]
mod tests;
