//! Requests and replies between the Workers and the Journey Durable Object.
//!
//! These cross a `fetch` to the object as JSON; both sides compile this one definition.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::attribution::AttributionResult;
use crate::event::Event;
use crate::fraud::Flag;
use crate::geo::Placement;
use crate::identity::{JourneyKey, MergeRefusal};
use crate::journey::{EventOutcome, JourneyExport};
use crate::keys::WriteKeyClass;
use crate::postback::PostbackState;
use crate::settings::AppSettings;
use crate::touch::Touch;

/// Paths on the Journey Durable Object.
pub const RECORD_PATH: &str = "/record";
pub const MERGE_PATH: &str = "/merge";
pub const VIEW_PATH: &str = "/view";
pub const REATTRIBUTE_PATH: &str = "/reattribute";
/// `POST /erase` (issue 12, erasure): deletes everything the journey holds, leaves a tombstone.
pub const ERASE_PATH: &str = "/erase";

/// `POST /erase`'s body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseRequest {
    /// Also forget the journey's merge links (sent once every store is done): until then an
    /// erased journey keeps the names of the journeys linked to it, so that sending the
    /// regulation again still finds them (their rows at the origin, in the postback log).
    #[serde(default)]
    pub forget_links: bool,
}

/// `POST /erase`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EraseReply {
    /// Whether the journey held anything (false for a journey never seen or erased before).
    pub existed: bool,
    /// When the tombstone was set (this erasure's time: a second erasure renews it).
    pub erased_at_ms: i64,
}

/// `POST /edge-facts`: records of edge facts (`crate::outbox`, "Edge facts") for an edge
/// journey's outbox, which sends them to the origin like any journey's records.
pub const EDGE_FACTS_PATH: &str = "/edge-facts";

/// `POST /edge-facts`. `key` is an edge key (`JourneyKind::Edge`); every record is a
/// `skan_postback` or `spend` of `key.app_id`; at most
/// `crate::limits::MAX_EDGE_FACTS_PER_REQUEST` records ([`check_edge_facts`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeFactsRequest {
    pub key: JourneyKey,
    /// Used only if the object is new; it keeps its first placement (and origin region).
    pub placement: Placement,
    pub records: Vec<crate::outbox::OutboxRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeFactsReply {
    /// Records written to the outbox (all of the request's: the origin deduplicates).
    pub queued: usize,
    pub journey: String,
}

/// Why an edge journey refuses a request: a caller bug, never user input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EdgeFactsError {
    #[error("{0} is not an edge journey")]
    NotEdge(String),
    #[error("{0} records; at most {max} per request", max = crate::limits::MAX_EDGE_FACTS_PER_REQUEST)]
    TooMany(usize),
    #[error("records[{0}] is not an edge fact of the journey's app")]
    NotEdgeFact(usize),
}

/// Checks an [`EdgeFactsRequest`] before anything is written.
pub fn check_edge_facts(request: &EdgeFactsRequest) -> Result<(), EdgeFactsError> {
    use crate::identity::JourneyKind;
    use crate::outbox::OutboxRecord;
    if request.key.kind != JourneyKind::Edge {
        return Err(EdgeFactsError::NotEdge(request.key.object_name()));
    }
    if request.records.len() > crate::limits::MAX_EDGE_FACTS_PER_REQUEST {
        return Err(EdgeFactsError::TooMany(request.records.len()));
    }
    for (index, record) in request.records.iter().enumerate() {
        let edge = matches!(
            record,
            OutboxRecord::SkanPostback(_) | OutboxRecord::Spend(_)
        );
        if !edge || record.app_id() != request.key.app_id {
            return Err(EdgeFactsError::NotEdgeFact(index));
        }
    }
    Ok(())
}

/// `POST /record`: events for one journey, in the order received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordRequest {
    pub key: JourneyKey,
    pub settings: AppSettings,
    /// Used only if the journey is new; a journey keeps its first placement.
    pub placement: Placement,
    pub events: Vec<Event>,
    /// Times this request was forwarded from merged journeys (cycle guard).
    #[serde(default)]
    pub hops: u8,
    /// Ingest-time fraud verdicts, by message id of the flagged events.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flags: BTreeMap<String, Flag>,
    /// The class of the write key the events came with; it decides what they may merge
    /// (`crate::identity::check_hand_over`). Absent: `client`, the safe default.
    #[serde(default)]
    pub key_class: WriteKeyClass,
    /// Raw device ids for the postbacks of conversion events, by message id
    /// (`crate::postback::device`): they travel beside the events, never inside them, and
    /// the journey keeps them only in pending postbacks.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub device_ids: BTreeMap<String, crate::postback::device::PostbackDeviceIds>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordReply {
    /// One per event of the request, same order.
    pub outcomes: Vec<EventOutcome>,
    /// The journey that finally recorded them (differs when this one was merged away).
    pub journey: String,
    pub placement: Placement,
}

/// `POST /merge`: hand everything over to `into` and forward from now on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeRequest {
    pub into: JourneyKey,
    /// The class of the write key of the events asking for the merge (absent: `client`).
    #[serde(default)]
    pub key_class: WriteKeyClass,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeReply {
    /// Empty when the merge was refused.
    pub export: JourneyExport,
    /// Why the journey kept itself (issue 13, finding 5); nothing was handed over or changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<MergeRefusal>,
}

/// `POST /reattribute`: re-run attribution over the journey's stored conversions with
/// `settings` (see `crate::journey::Journey::reattribute`). A merged journey forwards it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReattributeRequest {
    pub key: JourneyKey,
    pub settings: AppSettings,
    #[serde(default)]
    pub hops: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReattributeReply {
    /// The journey that re-ran (differs when the requested one was merged away).
    pub journey: String,
    pub exists: bool,
    /// Conversions judged again.
    pub conversions: usize,
    /// The new revisions, oldest conversion first.
    pub revised: Vec<AttributionResult>,
}

/// `GET /view`: a journey as the query API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JourneyView {
    pub journey: String,
    pub exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
    #[serde(default)]
    pub merged_from: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    pub event_count: u64,
    /// Oldest first.
    pub touches: Vec<Touch>,
    /// Oldest first, each with its credits under every model.
    pub conversions: Vec<AttributionResult>,
    /// Outbox records not yet acknowledged by the origin.
    pub outbox_pending: u64,
    /// Postbacks of this journey's conversions, oldest first, with their delivery state.
    #[serde(default)]
    pub postbacks: Vec<PostbackState>,
    /// Touches at or before this time are decided for null paths: closed into one, or part
    /// of a conversion (`crate::journey::nulls`). Absent before the first closing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths_closed_through_ms: Option<i64>,
    /// Merges this journey asked for and was refused (issue 13, finding 5: a client write
    /// key's alias or identify naming a journey seen with another user); a remembered refusal
    /// is not asked, nor counted, again. Absent when none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub merges_refused: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Records the origin refused for good, set aside by the journey (issue 13, finding 7):
/// `GET` lists the oldest (at most `crate::limits::MAX_DEAD_LETTERS_PER_REQUEST`), `POST
/// …/replay` moves them back into the outbox to be sent again.
pub const DEAD_LETTERS_PATH: &str = "/dead-letters";
pub const DEAD_LETTERS_REPLAY_PATH: &str = "/dead-letters/replay";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub seq: i64,
    pub at_ms: i64,
    /// The origin's answer to the record sent alone.
    pub status: u16,
    /// The outbox record as it was sent.
    pub record: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLettersView {
    pub journey: String,
    /// Dead letters kept now (at most `crate::limits::MAX_DEAD_LETTERS_PER_JOURNEY`).
    pub total: u64,
    /// Oldest first.
    pub dead_letters: Vec<DeadLetter>,
}

/// `POST /dead-letters/replay`: these dead letters (by `seq`), or the oldest ones when empty;
/// at most `crate::limits::MAX_DEAD_LETTERS_PER_REQUEST` either way.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplayRequest {
    #[serde(default)]
    pub seqs: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayReply {
    pub replayed: usize,
    /// Dead letters still kept.
    pub left: u64,
}

/// Benchmark routes, answered only when the object runs with `BENCH_COUNTERS=1`
/// (`scripts/bench-edge.sh`): `POST` a [`RecordRequest`] to the no-op route and get every
/// event reported stored with nothing written (the "one object call per person" step of the
/// ladder); `GET` the counters: rows read and written, statements, invocations and database
/// bytes since the instance started.
pub const BENCH_NOOP_PATH: &str = "/bench/noop";
pub const BENCH_COUNTERS_PATH: &str = "/bench/counters";

/// `GET /export`: everything one journey holds about its person, for a data-subject export
/// (issue 12). Bounded like a merge's hand-over (the newest facts of each kind within
/// `crate::limits::MAX_EXPORT_BYTES`) and at most `crate::limits::MAX_EXPORT_POSTBACKS`
/// postbacks; `truncated` says when the journey holds more than the document carries.
pub const EXPORT_PATH: &str = "/export";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JourneyRawExport {
    pub journey: String,
    pub exists: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
    #[serde(default)]
    pub merged_from: Vec<String>,
    /// Raw events stored, oldest first.
    pub events: Vec<Event>,
    /// Events the journey holds in all (more than `events` when truncated).
    pub event_count: u64,
    pub touches: Vec<Touch>,
    /// Conversions with their attribution results.
    pub conversions: Vec<AttributionResult>,
    pub postbacks: Vec<PostbackState>,
    pub truncated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::JourneyKind;
    use crate::outbox::{MergeRecord, OutboxRecord, SpendRecord};

    fn spend(app: &str) -> OutboxRecord {
        OutboxRecord::Spend(SpendRecord {
            app_id: app.into(),
            day: "2024-05-01".into(),
            source: "google".into(),
            campaign: "spring".into(),
            ad_group: String::new(),
            spend: 1.0,
            currency: "USD".into(),
            impressions: None,
            clicks: None,
            uploaded_at_ms: 1,
        })
    }

    fn request(kind: JourneyKind, records: Vec<OutboxRecord>) -> EdgeFactsRequest {
        EdgeFactsRequest {
            key: JourneyKey::new("app", kind, "spend"),
            placement: Placement {
                jurisdiction: None,
                location_hint: None,
                origin_region: crate::geo::OriginRegion::Us,
            },
            records,
        }
    }

    /// An edge journey carries only edge facts of its own app, and only so many at once: it
    /// must not become a way to write a person's records or another tenant's.
    #[test]
    fn edge_journeys_take_only_their_apps_edge_facts() {
        assert_eq!(
            check_edge_facts(&request(JourneyKind::Edge, vec![spend("app")])),
            Ok(())
        );
        assert!(matches!(
            check_edge_facts(&request(JourneyKind::User, vec![spend("app")])),
            Err(EdgeFactsError::NotEdge(_))
        ));
        assert_eq!(
            check_edge_facts(&request(
                JourneyKind::Edge,
                vec![spend("app"), spend("other")]
            )),
            Err(EdgeFactsError::NotEdgeFact(1))
        );
        let merge = OutboxRecord::Merge(MergeRecord {
            app_id: "app".into(),
            from: "a:app:x".into(),
            into: "u:app:y".into(),
            merged_at_ms: 1,
        });
        assert_eq!(
            check_edge_facts(&request(JourneyKind::Edge, vec![merge])),
            Err(EdgeFactsError::NotEdgeFact(0))
        );
        let many = vec![spend("app"); crate::limits::MAX_EDGE_FACTS_PER_REQUEST + 1];
        assert_eq!(
            check_edge_facts(&request(JourneyKind::Edge, many)),
            Err(EdgeFactsError::TooMany(
                crate::limits::MAX_EDGE_FACTS_PER_REQUEST + 1
            ))
        );
    }

    /// Record ids of spend rows are unambiguous whatever their names hold.
    #[test]
    fn spend_record_ids_keep_names_with_colons_apart() {
        let a = crate::outbox::spend_record_id("app", 1, "2024-05-01", ["a:b", "c", ""]);
        let b = crate::outbox::spend_record_id("app", 1, "2024-05-01", ["a", "b:c", ""]);
        assert_ne!(a, b);
        assert_eq!(a, "spend:app:1:2024-05-01:[\"a:b\",\"c\",\"\"]");
    }
}
