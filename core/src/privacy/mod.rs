//! Data-subject regulations (issue 12), modelled on Segment's Public API, and the keyed hashes
//! that are all the suppression list holds of a person.
//!
//! `SUPPRESS_ONLY` adds the subjects' hashes to the list, `UNSUPPRESS` removes them, both done
//! at once (store `edge_suppression`). The delete types (`DELETE_ONLY`, `SUPPRESS_WITH_DELETE`)
//! erase the subjects' journeys ([`erasure`]); each store reports its own status, and a store
//! not erased yet says so (a regulation never reports work that was not done).

pub mod consent;
pub mod erasure;
pub mod ip;
pub mod residency;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::FieldError;
use crate::event::Event;
use crate::limits::MAX_ID_CHARS;
use crate::manage::doc::{object, required};
use crate::mobile::device::{keyed_hash, usable, DeviceIdKind};

/// Subject ids in one regulation.
pub const MAX_REGULATION_SUBJECT_IDS: usize = 100;
/// Longest subject id (the ingest limit on ids: a longer one was never collected).
pub const MAX_SUBJECT_ID_CHARS: usize = MAX_ID_CHARS;
/// The store a suppression lives in, as a regulation's status names it.
pub const EDGE_SUPPRESSION_STORE: &str = "edge_suppression";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RegulationType {
    SuppressOnly,
    Unsuppress,
    SuppressWithDelete,
    DeleteOnly,
}

impl RegulationType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "SUPPRESS_ONLY" => Self::SuppressOnly,
            "UNSUPPRESS" => Self::Unsuppress,
            "SUPPRESS_WITH_DELETE" => Self::SuppressWithDelete,
            "DELETE_ONLY" => Self::DeleteOnly,
            _ => return None,
        })
    }

    /// Whether the regulation deletes what is held about the subjects.
    pub fn erases(self) -> bool {
        matches!(self, Self::DeleteOnly | Self::SuppressWithDelete)
    }

    /// Whether the regulation adds the subjects to the suppression list.
    pub fn suppresses(self) -> bool {
        matches!(self, Self::SuppressOnly | Self::SuppressWithDelete)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SuppressOnly => "SUPPRESS_ONLY",
            Self::Unsuppress => "UNSUPPRESS",
            Self::SuppressWithDelete => "SUPPRESS_WITH_DELETE",
            Self::DeleteOnly => "DELETE_ONLY",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubjectType {
    UserId,
    AnonymousId,
    DeviceId,
}

impl SubjectType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "USER_ID" => Self::UserId,
            "ANONYMOUS_ID" => Self::AnonymousId,
            "DEVICE_ID" => Self::DeviceId,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserId => "USER_ID",
            Self::AnonymousId => "ANONYMOUS_ID",
            Self::DeviceId => "DEVICE_ID",
        }
    }

    /// What the hash key separates kinds by: a user id and an anonymous id with the same text
    /// are different subjects.
    fn label(self) -> &'static str {
        match self {
            Self::UserId => "user_id",
            Self::AnonymousId => "anonymous_id",
            // Any device id (advertising or vendor), as `mobile::device` normalises it. The
            // label is the advertising kind's so that entries written before vendor ids counted
            // keep matching.
            Self::DeviceId => "advertising",
        }
    }
}

/// `POST /admin/v1/apps/{app}/regulations`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct RegulationInput {
    pub regulation_type: RegulationType,
    pub subject_type: SubjectType,
    pub subject_ids: Vec<String>,
}

impl RegulationInput {
    pub fn parse(value: &Value) -> Result<RegulationInput, FieldError> {
        let map = object(value, "", &["regulationType", "subjectType", "subjectIds"])?;
        let types = "SUPPRESS_ONLY, UNSUPPRESS, SUPPRESS_WITH_DELETE or DELETE_ONLY";
        let regulation: String = required(map, "", "regulationType", types)?;
        let regulation_type = RegulationType::parse(&regulation)
            .ok_or_else(|| FieldError::new("regulationType", format!("must be {types}")))?;
        let subjects = "USER_ID, ANONYMOUS_ID or DEVICE_ID";
        let subject: String = required(map, "", "subjectType", subjects)?;
        let subject_type = SubjectType::parse(&subject)
            .ok_or_else(|| FieldError::new("subjectType", format!("must be {subjects}")))?;
        let ids: Vec<String> = required(map, "", "subjectIds", "an array of strings")?;
        if ids.is_empty() || ids.len() > MAX_REGULATION_SUBJECT_IDS {
            return Err(FieldError::new(
                "subjectIds",
                format!("must hold 1 to {MAX_REGULATION_SUBJECT_IDS} ids"),
            ));
        }
        let mut subject_ids: Vec<String> = Vec::with_capacity(ids.len());
        for (i, id) in ids.into_iter().enumerate() {
            let field = format!("subjectIds[{i}]");
            if id.is_empty() || id.chars().count() > MAX_SUBJECT_ID_CHARS {
                return Err(FieldError::new(
                    field,
                    format!("must be 1 to {MAX_SUBJECT_ID_CHARS} characters"),
                ));
            }
            if subject_type == SubjectType::DeviceId
                && usable(DeviceIdKind::Advertising, &id).is_none()
            {
                return Err(FieldError::new(
                    field,
                    "is not a usable device id (IDFA, GAID, IDFV or Android id)",
                ));
            }
            if !subject_ids.contains(&id) {
                subject_ids.push(id);
            }
        }
        Ok(RegulationInput {
            regulation_type,
            subject_type,
            subject_ids,
        })
    }
}

/// The suppression list's entry for `raw` as a subject of `kind` in `app_id`: the keyed hash
/// of `mobile::device` (the app id is in the key), never the id. `None` for a device id
/// that is not usable (all zeros, a macro left unfilled).
pub fn subject_hash(secret: &[u8], app_id: &str, kind: SubjectType, raw: &str) -> Option<String> {
    let value = match kind {
        SubjectType::DeviceId => usable(DeviceIdKind::Advertising, raw)?.value,
        SubjectType::UserId | SubjectType::AnonymousId => raw.to_owned(),
    };
    Some(keyed_hash(secret, app_id, kind.label(), &value))
}

/// Every suppression hash an event could match: its `userId`, `anonymousId`, an alias's
/// `previousId` (as either kind), and as device ids the raw `context.device.advertisingId`
/// and `context.device.id` (IDFV, Android id). Checked before the advertising id is replaced
/// by its device hash.
pub fn event_subject_hashes(secret: &[u8], app_id: &str, event: &Event) -> Vec<String> {
    let mut ids: Vec<(SubjectType, &str)> = Vec::new();
    if let Some(user) = event.user_id.as_deref() {
        ids.push((SubjectType::UserId, user));
    }
    if let Some(anonymous) = event.anonymous_id.as_deref() {
        ids.push((SubjectType::AnonymousId, anonymous));
    }
    if let Some(previous) = event.previous_id.as_deref() {
        ids.push((SubjectType::UserId, previous));
        ids.push((SubjectType::AnonymousId, previous));
    }
    let device = event.context.get("device");
    for field in ["advertisingId", "id"] {
        if let Some(id) = device.and_then(|d| d.get(field)).and_then(Value::as_str) {
            ids.push((SubjectType::DeviceId, id));
        }
    }
    ids.into_iter()
        .filter_map(|(kind, raw)| subject_hash(secret, app_id, kind, raw))
        .collect()
}

#[cfg(test)]
mod tests;
