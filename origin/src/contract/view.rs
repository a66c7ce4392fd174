//! Borrowed mirrors of `attrib_core::outbox` records: the same field names, types, defaults
//! and enums, but strings borrow from the request body and the free-form maps (`context`,
//! `properties`, `traits`) are checked to be objects and skipped, not built.
//!
//! They must accept exactly what the contract types accept (`tests.rs` checks that against
//! `OutboxRecord` with every field removed, nulled or retyped). The enum tag `kind` is read
//! first when it comes first, as the edge writes it (one pass); anywhere else costs a second
//! pass ([`parse_record`]).

use std::borrow::Cow;
use std::fmt;

use attrib_core::attribution::{Basis, Model};
use attrib_core::event::EventType;
use attrib_core::touch::{Channel, TouchKind};
use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A JSON string, borrowed from the input unless it had escapes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Str<'a>(pub Cow<'a, str>);

impl Str<'_> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for StrVisitor<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(StrVisitor(std::marker::PhantomData))
    }
}

/// `Map<String, Value>` as the contract declares it: an object (or null, which serde_json's
/// `Map` takes as empty), validated and dropped.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyObject;

impl<'de> Deserialize<'de> for AnyObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = AnyObject;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(AnyObject)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(AnyObject)
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Event,
    Attribution,
    Merge,
    NullPath,
    SkanPostback,
    Spend,
}

/// `OutboxRecord`, borrowed.
// Parsed one at a time on the stack; boxing the event variant would allocate per record.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum RecordView<'a> {
    Event(EventRecordView<'a>),
    Attribution(AttributionRecordView<'a>),
    Merge(MergeRecordView<'a>),
    NullPath(NullPathRecordView<'a>),
    SkanPostback(SkanPostbackRecordView<'a>),
    Spend(SpendRecordView<'a>),
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventRecordView<'a> {
    #[serde(borrow)]
    pub app_id: Str<'a>,
    #[serde(borrow)]
    pub journey: Str<'a>,
    #[serde(borrow)]
    pub event: EventView<'a>,
    #[serde(default, borrow)]
    pub touch: Option<TouchView<'a>>,
    #[serde(default)]
    pub is_conversion: bool,
    /// The enum tag when it is not read before the variant (see [`parse_record`]).
    #[serde(default)]
    kind: Option<IgnoredAny>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView<'a> {
    #[serde(borrow)]
    pub message_id: Str<'a>,
    #[serde(rename = "type")]
    pub event_type: EventType,
    #[serde(default, borrow)]
    pub user_id: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub anonymous_id: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub previous_id: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub group_id: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub name: Option<Str<'a>>,
    pub timestamp_ms: i64,
    #[serde(default)]
    pub original_timestamp_ms: Option<i64>,
    #[serde(default)]
    pub sent_at_ms: Option<i64>,
    pub received_at_ms: i64,
    #[serde(default)]
    pub context: AnyObject,
    #[serde(default)]
    pub properties: AnyObject,
    #[serde(default)]
    pub traits: AnyObject,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TouchView<'a> {
    #[serde(borrow)]
    pub touch_id: Str<'a>,
    #[serde(borrow)]
    pub message_id: Str<'a>,
    pub ts_ms: i64,
    pub kind: TouchKind,
    pub channel: Channel,
    #[serde(borrow)]
    pub source: Str<'a>,
    #[serde(borrow)]
    pub medium: Str<'a>,
    #[serde(borrow)]
    pub campaign: Str<'a>,
    #[serde(default, borrow)]
    pub term: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub content: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub link_id: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub click_id: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub ad_click_id: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub rejected: Option<Str<'a>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AttributionRecordView<'a> {
    #[serde(borrow)]
    pub app_id: Str<'a>,
    #[serde(borrow)]
    pub journey: Str<'a>,
    #[serde(borrow)]
    pub result: ResultView<'a>,
    #[serde(default)]
    kind: Option<IgnoredAny>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ResultView<'a> {
    #[serde(borrow)]
    pub conversion: ConversionView<'a>,
    pub basis: Basis,
    pub default_model: Model,
    #[serde(borrow)]
    pub models: Vec<ModelView<'a>>,
    pub revision: u32,
    pub attributed_at_ms: i64,
    /// The fraud rule that refused the conversion: it is reported, never credited.
    #[serde(default, borrow)]
    pub rejected: Option<Str<'a>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConversionView<'a> {
    #[serde(borrow)]
    pub conversion_id: Str<'a>,
    #[serde(borrow)]
    pub name: Str<'a>,
    pub ts_ms: i64,
    pub revenue: f64,
    #[serde(borrow)]
    pub currency: Str<'a>,
    #[serde(default, borrow)]
    pub order_id: Option<Str<'a>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ModelView<'a> {
    pub model: Model,
    #[serde(borrow)]
    pub credits: Vec<CreditView<'a>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CreditView<'a> {
    #[serde(borrow)]
    pub touch_id: Str<'a>,
    pub ts_ms: i64,
    pub kind: TouchKind,
    pub channel: Channel,
    #[serde(borrow)]
    pub source: Str<'a>,
    #[serde(borrow)]
    pub medium: Str<'a>,
    #[serde(borrow)]
    pub campaign: Str<'a>,
    pub credit: f64,
    pub value: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MergeRecordView<'a> {
    #[serde(borrow)]
    pub app_id: Str<'a>,
    #[serde(borrow)]
    pub from: Str<'a>,
    #[serde(borrow)]
    pub into: Str<'a>,
    pub merged_at_ms: i64,
    #[serde(default)]
    kind: Option<IgnoredAny>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NullPathRecordView<'a> {
    #[serde(borrow)]
    pub app_id: Str<'a>,
    #[serde(borrow)]
    pub journey: Str<'a>,
    #[serde(borrow)]
    pub path: Vec<Str<'a>>,
    pub touches: u32,
    pub first_touch_ms: i64,
    pub last_touch_ms: i64,
    #[serde(borrow)]
    pub last_touch_id: Str<'a>,
    pub closed_at_ms: i64,
    #[serde(default)]
    kind: Option<IgnoredAny>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SkanPostbackRecordView<'a> {
    #[serde(borrow)]
    pub app_id: Str<'a>,
    #[serde(borrow)]
    pub dedup_key: Str<'a>,
    #[serde(borrow)]
    pub protocol: Str<'a>,
    #[serde(borrow)]
    pub version: Str<'a>,
    #[serde(borrow)]
    pub ad_network_id: Str<'a>,
    #[serde(default, borrow)]
    pub source_identifier: Option<Str<'a>>,
    pub did_win: bool,
    pub postback_sequence_index: u8,
    #[serde(default)]
    pub fine_value: Option<u8>,
    #[serde(default, borrow)]
    pub coarse_value: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub decoded: Option<Str<'a>>,
    pub received_at_ms: i64,
    #[serde(default)]
    kind: Option<IgnoredAny>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SpendRecordView<'a> {
    #[serde(borrow)]
    pub app_id: Str<'a>,
    #[serde(borrow)]
    pub day: Str<'a>,
    #[serde(borrow)]
    pub source: Str<'a>,
    #[serde(borrow)]
    pub campaign: Str<'a>,
    #[serde(default, borrow)]
    pub ad_group: Str<'a>,
    pub spend: f64,
    #[serde(borrow)]
    pub currency: Str<'a>,
    #[serde(default)]
    pub impressions: Option<u64>,
    #[serde(default)]
    pub clicks: Option<u64>,
    pub uploaded_at_ms: i64,
    #[serde(default)]
    kind: Option<IgnoredAny>,
}

/// Why a record was not taken; the caller re-parses with the contract types for the message.
#[derive(Debug)]
pub struct Refused;

/// Parses one record's JSON. `kind` first (as the edge sends it) is one pass; elsewhere, the
/// tag is found first and the variant parsed in a second pass.
pub fn parse_record(json: &str) -> Result<RecordView<'_>, Refused> {
    match serde_json::from_str::<TagFirst>(json) {
        Ok(TagFirst(Some(record))) => Ok(record),
        Ok(TagFirst(None)) => parse_tag_anywhere(json),
        Err(_) => Err(Refused),
    }
}

fn parse_tag_anywhere(json: &str) -> Result<RecordView<'_>, Refused> {
    #[derive(Deserialize)]
    struct TagOnly {
        kind: Kind,
    }
    let tag: TagOnly = serde_json::from_str(json).map_err(|_| Refused)?;
    let view = match tag.kind {
        Kind::Event => RecordView::Event(serde_json::from_str(json).map_err(|_| Refused)?),
        Kind::Attribution => {
            RecordView::Attribution(serde_json::from_str(json).map_err(|_| Refused)?)
        }
        Kind::Merge => RecordView::Merge(serde_json::from_str(json).map_err(|_| Refused)?),
        Kind::NullPath => RecordView::NullPath(serde_json::from_str(json).map_err(|_| Refused)?),
        Kind::SkanPostback => {
            RecordView::SkanPostback(serde_json::from_str(json).map_err(|_| Refused)?)
        }
        Kind::Spend => RecordView::Spend(serde_json::from_str(json).map_err(|_| Refused)?),
    };
    Ok(view)
}

/// The one-pass form: `Some` when the first key is `kind`, `None` when it is not there (then
/// use [`parse_record`] on the record's text).
pub struct TagFirst<'a>(pub Option<RecordView<'a>>);

impl<'de> Deserialize<'de> for TagFirst<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagVisitor;
        impl<'de> Visitor<'de> for TagVisitor {
            type Value = TagFirst<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an outbox record")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let first: Option<Str<'de>> = map.next_key()?;
                if first.as_ref().map(Str::as_str) != Some("kind") {
                    // Drain so the deserializer ends cleanly; the caller parses again.
                    if first.is_some() {
                        map.next_value::<IgnoredAny>()?;
                    }
                    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    return Ok(TagFirst(None));
                }
                let kind: Kind = map.next_value()?;
                let rest = de::value::MapAccessDeserializer::new(map);
                // A second `kind` would be a duplicate field for the contract type.
                let duplicate = || de::Error::duplicate_field("kind");
                Ok(TagFirst(Some(match kind {
                    Kind::Event => {
                        let view = EventRecordView::deserialize(rest)?;
                        if view.kind.is_some() {
                            return Err(duplicate());
                        }
                        RecordView::Event(view)
                    }
                    Kind::Attribution => {
                        let view = AttributionRecordView::deserialize(rest)?;
                        if view.kind.is_some() {
                            return Err(duplicate());
                        }
                        RecordView::Attribution(view)
                    }
                    Kind::Merge => {
                        let view = MergeRecordView::deserialize(rest)?;
                        if view.kind.is_some() {
                            return Err(duplicate());
                        }
                        RecordView::Merge(view)
                    }
                    Kind::NullPath => {
                        let view = NullPathRecordView::deserialize(rest)?;
                        if view.kind.is_some() {
                            return Err(duplicate());
                        }
                        RecordView::NullPath(view)
                    }
                    Kind::SkanPostback => {
                        let view = SkanPostbackRecordView::deserialize(rest)?;
                        if view.kind.is_some() {
                            return Err(duplicate());
                        }
                        RecordView::SkanPostback(view)
                    }
                    Kind::Spend => {
                        let view = SpendRecordView::deserialize(rest)?;
                        if view.kind.is_some() {
                            return Err(duplicate());
                        }
                        RecordView::Spend(view)
                    }
                })))
            }
        }
        deserializer.deserialize_map(TagVisitor)
    }
}

impl RecordView<'_> {
    pub fn kind(&self) -> Kind {
        match self {
            RecordView::Event(_) => Kind::Event,
            RecordView::Attribution(_) => Kind::Attribution,
            RecordView::Merge(_) => Kind::Merge,
            RecordView::NullPath(_) => Kind::NullPath,
            RecordView::SkanPostback(_) => Kind::SkanPostback,
            RecordView::Spend(_) => Kind::Spend,
        }
    }

    pub fn app_id(&self) -> &str {
        match self {
            RecordView::Event(r) => r.app_id.as_str(),
            RecordView::Attribution(r) => r.app_id.as_str(),
            RecordView::Merge(r) => r.app_id.as_str(),
            RecordView::NullPath(r) => r.app_id.as_str(),
            RecordView::SkanPostback(r) => r.app_id.as_str(),
            RecordView::Spend(r) => r.app_id.as_str(),
        }
    }

    /// `OutboxRecord::id()`, written into `out` (cleared first): `{kind}:{app}:{key}`.
    pub fn write_id(&self, out: &mut String) {
        use std::fmt::Write;
        out.clear();
        let app = self.app_id();
        // Writing to a String cannot fail.
        let _ = match self {
            RecordView::Event(r) => write!(out, "event:{app}:{}", r.event.message_id.as_str()),
            RecordView::Attribution(r) => write!(
                out,
                "attribution:{app}:{}:{}",
                r.result.conversion.conversion_id.as_str(),
                r.result.revision
            ),
            RecordView::Merge(r) => {
                write!(out, "merge:{app}:{}:{}", r.from.as_str(), r.into.as_str())
            }
            RecordView::NullPath(r) => write!(
                out,
                "null_path:{app}:{}:{}",
                r.journey.as_str(),
                r.last_touch_id.as_str()
            ),
            RecordView::SkanPostback(r) => write!(out, "skan:{app}:{}", r.dedup_key.as_str()),
            RecordView::Spend(r) => {
                out.push_str(&attrib_core::outbox::spend_record_id(
                    app,
                    r.uploaded_at_ms,
                    r.day.as_str(),
                    [r.source.as_str(), r.campaign.as_str(), r.ad_group.as_str()],
                ));
                Ok(())
            }
        };
    }
}
