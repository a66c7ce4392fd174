//! Decoding of the Segment HTTP Tracking API: `/v1/{track,identify,page,screen,group,alias}`
//! carry one event, `/v1/batch` (and its short alias `/v1/b`) carry many.
//!
//! A request is refused whole only when it cannot be read at all (too big, not JSON, no batch).
//! Otherwise every event is judged on its own: a bad event is reported with the field and the
//! reason, and its good neighbours go on.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::event::{Event, EventType};
use crate::ingest_route::IngestRoute;
use crate::limits::{
    MAX_BATCH_BYTES, MAX_BATCH_CONTEXT_BYTES, MAX_BATCH_EXPANDED_BYTES, MAX_EVENTS_PER_BATCH,
    MAX_EVENT_BYTES, MAX_EVENT_NAME_CHARS, MAX_ID_CHARS,
};
use crate::message_id::derive_message_id;
use crate::time::{correct_skew, parse_timestamp, to_millis};

/// Which ingest endpoint a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Single(EventType),
    Batch,
}

impl Endpoint {
    /// Every spelling the SDKs use (see [`IngestRoute`]): `/v1/track`, `/v1/t`, `/v1/b`, ...
    pub fn from_path(path: &str) -> Option<Endpoint> {
        match IngestRoute::from_path(path)? {
            IngestRoute::Segment(endpoint) => Some(endpoint),
            IngestRoute::Beacon => Some(Endpoint::Batch),
            IngestRoute::Settings { .. } => None,
        }
    }
}

/// Why a whole request was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    #[error("body is {actual} bytes; the limit is {limit}")]
    BodyTooLarge { actual: usize, limit: usize },
    #[error("body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("body must be a JSON object")]
    NotAnObject,
    #[error("{0}")]
    InvalidField(FieldError),
    #[error("batch has {actual} events; the limit is {limit}")]
    TooManyEvents { actual: usize, limit: usize },
}

impl RequestError {
    /// The field the client should look at.
    pub fn field_error(&self) -> FieldError {
        match self {
            RequestError::InvalidField(err) => err.clone(),
            RequestError::TooManyEvents { .. } => FieldError::new("batch", self.to_string()),
            other => FieldError::new("body", other.to_string()),
        }
    }
}

/// One event of a request, accepted or rejected.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Position in `batch`; `None` for single-event endpoints.
    pub index: Option<usize>,
    pub outcome: Result<Event, Rejection>,
}

/// A rejected event: every problem found, each naming its field.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecodedRequest {
    /// `writeKey` from the body, for clients that do not use HTTP Basic auth.
    pub write_key: Option<String>,
    pub events: Vec<Decoded>,
}

#[derive(Deserialize)]
struct BatchEnvelope<'a> {
    #[serde(borrow, default)]
    batch: Option<&'a RawValue>,
    #[serde(rename = "writeKey", default)]
    write_key: Option<Value>,
    #[serde(rename = "sentAt", default)]
    sent_at: Option<Value>,
    #[serde(borrow, default)]
    context: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct KeyOnly {
    #[serde(rename = "writeKey", default)]
    write_key: Option<Value>,
}

/// The `writeKey` of a body, read without building anything else of it (other fields are
/// skipped, not allocated), so a request whose key is only in its body is authenticated before
/// its events are decoded. A body that is not a JSON object is refused here, as cheaply.
pub fn peek_write_key(body: &[u8]) -> Result<Option<String>, RequestError> {
    if body.len() > MAX_BATCH_BYTES {
        return Err(RequestError::BodyTooLarge {
            actual: body.len(),
            limit: MAX_BATCH_BYTES,
        });
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| RequestError::InvalidJson("body is not UTF-8".into()))?;
    if !text.trim_start().starts_with('{') {
        return match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Err(e) => Err(RequestError::InvalidJson(e.to_string())),
            Ok(_) => Err(RequestError::NotAnObject),
        };
    }
    let envelope: KeyOnly =
        serde_json::from_str(text).map_err(|e| RequestError::InvalidJson(e.to_string()))?;
    write_key_of(envelope.write_key.as_ref())
}

/// Decodes a request body received at `received_at`.
pub fn decode_request(
    endpoint: Endpoint,
    body: &[u8],
    received_at: DateTime<Utc>,
) -> Result<DecodedRequest, RequestError> {
    if body.len() > MAX_BATCH_BYTES {
        return Err(RequestError::BodyTooLarge {
            actual: body.len(),
            limit: MAX_BATCH_BYTES,
        });
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| RequestError::InvalidJson("body is not UTF-8".into()))?;
    match endpoint {
        Endpoint::Single(call) => decode_single(call, text, received_at),
        Endpoint::Batch => decode_batch(text, received_at),
    }
}

fn decode_single(
    call: EventType,
    text: &str,
    received_at: DateTime<Utc>,
) -> Result<DecodedRequest, RequestError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| RequestError::InvalidJson(e.to_string()))?;
    let Value::Object(object) = value else {
        return Err(RequestError::NotAnObject);
    };
    let write_key = write_key_of(object.get("writeKey"))?;
    if text.len() > MAX_EVENT_BYTES {
        return Ok(DecodedRequest {
            write_key,
            events: vec![Decoded {
                index: None,
                outcome: Err(Rejection {
                    index: None,
                    message_id: None,
                    errors: vec![too_big(text.len(), 0)],
                }),
            }],
        });
    }
    let outcome = validate_event(
        &object,
        text.len(),
        Some(call),
        &EventDefaults::none(),
        received_at,
    )
    .map_err(|errors| Rejection {
        index: None,
        message_id: object
            .get("messageId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        errors,
    });
    Ok(DecodedRequest {
        write_key,
        events: vec![Decoded {
            index: None,
            outcome,
        }],
    })
}

fn decode_batch(text: &str, received_at: DateTime<Utc>) -> Result<DecodedRequest, RequestError> {
    let first_char = text.trim_start().chars().next();
    if first_char != Some('{') {
        return match serde_json::from_str::<Value>(text) {
            Err(e) => Err(RequestError::InvalidJson(e.to_string())),
            Ok(_) => Err(RequestError::NotAnObject),
        };
    }
    let envelope: BatchEnvelope =
        serde_json::from_str(text).map_err(|e| RequestError::InvalidJson(e.to_string()))?;
    let write_key = write_key_of(envelope.write_key.as_ref())?;
    let batch_sent_at = match envelope.sent_at.as_ref().filter(|v| !v.is_null()) {
        Some(v) => Some(parse_timestamp("sentAt", v).map_err(RequestError::InvalidField)?),
        None => None,
    };
    let batch_context = batch_context(envelope.context)?;
    let Some(raw_batch) = envelope.batch else {
        return Err(RequestError::InvalidField(FieldError::new(
            "batch",
            "is required: an array of events",
        )));
    };
    let items: Vec<&RawValue> = serde_json::from_str(raw_batch.get()).map_err(|_| {
        RequestError::InvalidField(FieldError::new("batch", "must be an array of events"))
    })?;
    if items.is_empty() {
        return Err(RequestError::InvalidField(FieldError::new(
            "batch",
            "must contain at least one event",
        )));
    }
    if items.len() > MAX_EVENTS_PER_BATCH {
        return Err(RequestError::TooManyEvents {
            actual: items.len(),
            limit: MAX_EVENTS_PER_BATCH,
        });
    }
    // Finding 2 of issue 13: the batch context is copied into every event, so the events after
    // the merge are bounded as a whole before any of them is built.
    let (context, context_bytes) = batch_context.unwrap_or_default();
    let expanded: usize = items
        .iter()
        .map(|raw| raw.get().len() + context_bytes)
        .sum();
    if expanded > MAX_BATCH_EXPANDED_BYTES {
        return Err(RequestError::InvalidField(FieldError::new(
            "context",
            format!(
                "merged into each of the {} events it makes {expanded} bytes; the limit is \
                 {MAX_BATCH_EXPANDED_BYTES}",
                items.len()
            ),
        )));
    }
    let defaults = EventDefaults {
        sent_at: batch_sent_at,
        context: (context_bytes > 0).then_some(context),
        context_bytes,
    };
    let events = items
        .into_iter()
        .enumerate()
        .map(|(index, raw)| Decoded {
            index: Some(index),
            outcome: decode_batch_item(index, raw, &defaults, received_at),
        })
        .collect();
    Ok(DecodedRequest { write_key, events })
}

fn decode_batch_item(
    index: usize,
    raw: &RawValue,
    defaults: &EventDefaults,
    received_at: DateTime<Utc>,
) -> Result<Event, Rejection> {
    let prefix = format!("batch[{index}]");
    let reject = |message_id: Option<String>, errors: Vec<FieldError>| Rejection {
        index: Some(index),
        message_id,
        errors: errors.into_iter().map(|e| e.within(&prefix)).collect(),
    };
    let merged_len = raw.get().len() + defaults.context_bytes;
    if merged_len > MAX_EVENT_BYTES {
        return Err(Rejection {
            index: Some(index),
            message_id: None,
            errors: vec![too_big(raw.get().len(), defaults.context_bytes).within(&prefix)],
        });
    }
    let object = match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::Object(object)) => object,
        _ => {
            return Err(Rejection {
                index: Some(index),
                message_id: None,
                errors: vec![FieldError::new(prefix, "must be an event object")],
            })
        }
    };
    validate_event(&object, merged_len, None, defaults, received_at).map_err(|errors| {
        let message_id = object
            .get("messageId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        reject(message_id, errors)
    })
}

/// What a batch supplies to each of its events.
struct EventDefaults {
    sent_at: Option<DateTime<Utc>>,
    context: Option<Map<String, Value>>,
    /// Size of the batch context as sent: what merging it can add to an event at most.
    context_bytes: usize,
}

impl EventDefaults {
    fn none() -> Self {
        EventDefaults {
            sent_at: None,
            context: None,
            context_bytes: 0,
        }
    }
}

/// A batch-level `context` and its size as sent.
type BatchContext = (Map<String, Value>, usize);

/// The batch-level `context`, bounded before it is parsed.
fn batch_context(raw: Option<&RawValue>) -> Result<Option<BatchContext>, RequestError> {
    let Some(raw) = raw else { return Ok(None) };
    if raw.get().len() > MAX_BATCH_CONTEXT_BYTES {
        return Err(RequestError::InvalidField(FieldError::new(
            "context",
            format!(
                "is {} bytes; the limit for a batch context is {MAX_BATCH_CONTEXT_BYTES}",
                raw.get().len()
            ),
        )));
    }
    match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::Null) => Ok(None),
        Ok(Value::Object(map)) if map.is_empty() => Ok(None),
        Ok(Value::Object(map)) => Ok(Some((map, raw.get().len()))),
        _ => Err(RequestError::InvalidField(FieldError::new(
            "context",
            "must be an object",
        ))),
    }
}

fn too_big(event_bytes: usize, context_bytes: usize) -> FieldError {
    let reason = if context_bytes == 0 {
        format!("is {event_bytes} bytes; the limit is {MAX_EVENT_BYTES}")
    } else {
        format!(
            "is {event_bytes} bytes plus {context_bytes} of batch context; the limit is \
             {MAX_EVENT_BYTES}"
        )
    };
    FieldError::new("event", reason)
}

fn write_key_of(value: Option<&Value>) -> Result<Option<String>, RequestError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(RequestError::InvalidField(FieldError::new(
            "writeKey",
            "must be a non-empty string",
        ))),
    }
}

/// Validates one event object. `implied` is the call type of a single-event endpoint; batch
/// items name their own `type`.
fn validate_event(
    object: &Map<String, Value>,
    raw_len: usize,
    implied: Option<EventType>,
    defaults: &EventDefaults,
    received_at: DateTime<Utc>,
) -> Result<Event, Vec<FieldError>> {
    let mut errors = Vec::new();
    if raw_len > MAX_EVENT_BYTES {
        return Err(vec![too_big(raw_len, 0)]);
    }
    let event_type = match implied {
        Some(call) => Some(call),
        None => match object.get("type") {
            Some(Value::String(s)) => EventType::parse_segment_call(s).or_else(|| {
                errors.push(FieldError::new(
                    "type",
                    "must be one of track, identify, page, screen, group, alias",
                ));
                None
            }),
            _ => {
                errors.push(FieldError::new(
                    "type",
                    "is required: one of track, identify, page, screen, group, alias",
                ));
                None
            }
        },
    };

    let user_id = identity_id(object, "userId", &mut errors);
    let anonymous_id = identity_id(object, "anonymousId", &mut errors);
    if user_id.is_none() && anonymous_id.is_none() && !errors.iter().any(is_id_error) {
        errors.push(FieldError::new(
            "userId",
            "userId or anonymousId is required",
        ));
    }
    let explicit_message_id = optional_id(object, "messageId", &mut errors);

    let timestamp = optional_time(object, "timestamp", &mut errors)
        .or_else(|| optional_time(object, "originalTimestamp", &mut errors));
    let sent_at = optional_time(object, "sentAt", &mut errors).or(defaults.sent_at);

    let mut context = optional_object(object, "context", &mut errors);
    if let Some(batch_context) = &defaults.context {
        for (key, value) in batch_context {
            context.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    let properties = optional_object(object, "properties", &mut errors);
    let traits = optional_object(object, "traits", &mut errors);
    optional_object(object, "integrations", &mut errors);

    let mut name = None;
    let mut previous_id = None;
    let mut group_id = None;
    match event_type {
        Some(EventType::Track) => {
            name = required_name(object, "event", &mut errors);
        }
        Some(EventType::Page) | Some(EventType::Screen) => {
            name = optional_name(object, "name", &mut errors);
        }
        Some(EventType::Group) => {
            group_id = optional_id(object, "groupId", &mut errors);
            if group_id.is_none() && !errors.iter().any(|e| e.field == "groupId") {
                errors.push(FieldError::new("groupId", "is required for group calls"));
            }
        }
        Some(EventType::Alias) => {
            previous_id = optional_id(object, "previousId", &mut errors);
            if previous_id.is_none() && !errors.iter().any(|e| e.field == "previousId") {
                errors.push(FieldError::new("previousId", "is required for alias calls"));
            }
            if user_id.is_none() && !errors.iter().any(|e| e.field == "userId") {
                errors.push(FieldError::new("userId", "is required for alias calls"));
            }
        }
        _ => {}
    }

    let Some(event_type) = event_type.filter(|_| errors.is_empty()) else {
        return Err(errors);
    };
    let corrected = correct_skew(timestamp, sent_at, received_at);
    let message_id = explicit_message_id.unwrap_or_else(|| derive_message_id(object));
    Ok(Event {
        message_id,
        event_type,
        user_id,
        anonymous_id,
        previous_id,
        group_id,
        name,
        timestamp_ms: to_millis(corrected),
        original_timestamp_ms: timestamp.map(to_millis),
        sent_at_ms: sent_at.map(to_millis),
        received_at_ms: to_millis(received_at),
        context,
        properties,
        traits,
    })
}

fn is_id_error(err: &FieldError) -> bool {
    err.field == "userId" || err.field == "anonymousId"
}

/// `userId` and `anonymousId`: an empty string means "not known yet" (RudderStack's JS SDK v3
/// sends `"userId": ""` on every call before identify), so it counts as absent, not invalid.
fn identity_id(
    object: &Map<String, Value>,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match object.get(key) {
        Some(Value::String(s)) if s.is_empty() => None,
        _ => optional_id(object, key, errors),
    }
}

/// Ids are strings; integers are accepted and kept as their decimal text, as Segment does.
fn optional_id(
    object: &Map<String, Value>,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let text = match object.get(key)? {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        _ => {
            errors.push(FieldError::new(key, "must be a string"));
            return None;
        }
    };
    if text.trim().is_empty() {
        errors.push(FieldError::new(key, "must not be empty"));
        return None;
    }
    if text.chars().count() > MAX_ID_CHARS {
        errors.push(FieldError::new(
            key,
            format!("is longer than {MAX_ID_CHARS} characters"),
        ));
        return None;
    }
    Some(text)
}

fn optional_time(
    object: &Map<String, Value>,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    match object.get(key) {
        None | Some(Value::Null) => None,
        Some(value) => parse_timestamp(key, value).map_err(|e| errors.push(e)).ok(),
    }
}

fn optional_object(
    object: &Map<String, Value>,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Map<String, Value> {
    match object.get(key) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => {
            errors.push(FieldError::new(key, "must be an object"));
            Map::new()
        }
    }
}

fn optional_name(
    object: &Map<String, Value>,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match object.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() > MAX_EVENT_NAME_CHARS => {
            errors.push(FieldError::new(
                key,
                format!("is longer than {MAX_EVENT_NAME_CHARS} characters"),
            ));
            None
        }
        Some(Value::String(s)) => Some(s.clone()).filter(|s| !s.is_empty()),
        Some(_) => {
            errors.push(FieldError::new(key, "must be a string"));
            None
        }
    }
}

fn required_name(
    object: &Map<String, Value>,
    key: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let before = errors.len();
    let name = optional_name(object, key, errors);
    if name.is_none() && errors.len() == before {
        errors.push(FieldError::new(key, "is required: the name of the event"));
    }
    name
}

#[cfg(test)]
mod tests;
