//! The fields sinks need from a record, extracted once at intake and stored beside its JSON,
//! so no sink parses JSON again. Little-endian binary: strings are `u32 length, bytes`,
//! enums their one-byte code ([`crate::contract::names`]); absent optional strings are ''.
//!
//! Event: message_id, type, user_id, anonymous_id, name, timestamp_ms, received_at_ms,
//! is_conversion, has_touch, then (if it has one) touch_id, ts_ms, kind, channel, source,
//! medium, campaign, has_rejected, rejected.
//! Attribution: conversion_id, name, ts_ms, revenue, currency, basis, default_model,
//! revision, attributed_at_ms, has_rejected, rejected, model count, then per model: model, credit count, credits
//! (touch_id, ts_ms, kind, channel, source, medium, campaign, credit, value).
//! Merge: from, into, merged_at_ms.
//! Null path: last_touch_id, touches, first_touch_ms, last_touch_ms, closed_at_ms, step
//! count, steps.

use attrib_core::attribution::{Basis, Model};
use attrib_core::event::EventType;
use attrib_core::touch::{Channel, TouchKind};

use super::SpoolError;
use crate::contract::names::{
    code_of, from_code, BASES, CHANNELS, EVENT_TYPES, MODELS, TOUCH_KINDS,
};
use crate::contract::view::{
    AttributionRecordView, EventRecordView, MergeRecordView, NullPathRecordView,
};

pub fn put_str(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

fn put_i64(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_f64(out: &mut Vec<u8>, value: f64) {
    out.extend_from_slice(&value.to_le_bytes());
}

pub fn encode_event(r: &EventRecordView<'_>, out: &mut Vec<u8>) {
    let e = &r.event;
    put_str(out, e.message_id.as_str());
    out.push(code_of(&EVENT_TYPES, &e.event_type));
    for text in [&e.user_id, &e.anonymous_id, &e.name] {
        put_str(out, text.as_ref().map_or("", |s| s.as_str()));
    }
    put_i64(out, e.timestamp_ms);
    put_i64(out, e.received_at_ms);
    out.push(u8::from(r.is_conversion));
    let Some(t) = &r.touch else {
        out.push(0);
        return;
    };
    out.push(1);
    put_str(out, t.touch_id.as_str());
    put_i64(out, t.ts_ms);
    out.push(code_of(&TOUCH_KINDS, &t.kind));
    out.push(code_of(&CHANNELS, &t.channel));
    put_str(out, t.source.as_str());
    put_str(out, t.medium.as_str());
    put_str(out, t.campaign.as_str());
    out.push(u8::from(t.rejected.is_some()));
    put_str(out, t.rejected.as_ref().map_or("", |s| s.as_str()));
}

pub fn encode_attribution(r: &AttributionRecordView<'_>, out: &mut Vec<u8>) {
    let result = &r.result;
    let c = &result.conversion;
    put_str(out, c.conversion_id.as_str());
    put_str(out, c.name.as_str());
    put_i64(out, c.ts_ms);
    put_f64(out, c.revenue);
    put_str(out, c.currency.as_str());
    out.push(code_of(&BASES, &result.basis));
    out.push(code_of(&MODELS, &result.default_model));
    out.extend_from_slice(&result.revision.to_le_bytes());
    put_i64(out, result.attributed_at_ms);
    out.push(u8::from(result.rejected.is_some()));
    put_str(out, result.rejected.as_ref().map_or("", |s| s.as_str()));
    out.extend_from_slice(&(result.models.len() as u32).to_le_bytes());
    for model in &result.models {
        out.push(code_of(&MODELS, &model.model));
        out.extend_from_slice(&(model.credits.len() as u32).to_le_bytes());
        for credit in &model.credits {
            put_str(out, credit.touch_id.as_str());
            put_i64(out, credit.ts_ms);
            out.push(code_of(&TOUCH_KINDS, &credit.kind));
            out.push(code_of(&CHANNELS, &credit.channel));
            put_str(out, credit.source.as_str());
            put_str(out, credit.medium.as_str());
            put_str(out, credit.campaign.as_str());
            put_f64(out, credit.credit);
            put_f64(out, credit.value);
        }
    }
}

pub fn encode_merge(r: &MergeRecordView<'_>, out: &mut Vec<u8>) {
    put_str(out, r.from.as_str());
    put_str(out, r.into.as_str());
    put_i64(out, r.merged_at_ms);
}

pub fn encode_null_path(r: &NullPathRecordView<'_>, out: &mut Vec<u8>) {
    put_str(out, r.last_touch_id.as_str());
    out.extend_from_slice(&r.touches.to_le_bytes());
    put_i64(out, r.first_touch_ms);
    put_i64(out, r.last_touch_ms);
    put_i64(out, r.closed_at_ms);
    out.extend_from_slice(&(r.path.len() as u32).to_le_bytes());
    for step in &r.path {
        put_str(out, step.as_str());
    }
}

/// Reads the binary layout; every read is bounds- and UTF-8-checked.
#[derive(Clone)]
pub struct Dec<'a>(pub &'a [u8]);

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SpoolError> {
        if self.0.len() < n {
            return Err(SpoolError::Corrupt("record columns"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    pub fn u8(&mut self) -> Result<u8, SpoolError> {
        Ok(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> Result<u32, SpoolError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }

    pub fn i64(&mut self) -> Result<i64, SpoolError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(i64::from_le_bytes(b))
    }

    pub fn f64(&mut self) -> Result<f64, SpoolError> {
        Ok(f64::from_bits(self.i64()? as u64))
    }

    pub fn str(&mut self) -> Result<&'a str, SpoolError> {
        let len = self.u32()? as usize;
        std::str::from_utf8(self.take(len)?).map_err(|_| SpoolError::Corrupt("utf-8"))
    }

    fn code<T: Copy>(&mut self, all: &[T]) -> Result<T, SpoolError> {
        from_code(all, self.u8()?).ok_or(SpoolError::Corrupt("enum code"))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventCols<'a> {
    pub message_id: &'a str,
    pub event_type: EventType,
    pub user_id: &'a str,
    pub anonymous_id: &'a str,
    pub name: &'a str,
    pub timestamp_ms: i64,
    pub received_at_ms: i64,
    pub is_conversion: bool,
    pub touch: Option<TouchCols<'a>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TouchCols<'a> {
    pub touch_id: &'a str,
    pub ts_ms: i64,
    pub kind: TouchKind,
    pub channel: Channel,
    pub source: &'a str,
    pub medium: &'a str,
    pub campaign: &'a str,
    pub rejected: Option<&'a str>,
}

impl<'a> EventCols<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<Self, SpoolError> {
        let mut d = Dec(bytes);
        let message_id = d.str()?;
        let event_type = d.code(&EVENT_TYPES)?;
        let (user_id, anonymous_id, name) = (d.str()?, d.str()?, d.str()?);
        let (timestamp_ms, received_at_ms) = (d.i64()?, d.i64()?);
        let is_conversion = d.u8()? != 0;
        let touch = if d.u8()? == 0 {
            None
        } else {
            let touch_id = d.str()?;
            let ts_ms = d.i64()?;
            let kind = d.code(&TOUCH_KINDS)?;
            let channel = d.code(&CHANNELS)?;
            let (source, medium, campaign) = (d.str()?, d.str()?, d.str()?);
            let has_rejected = d.u8()? != 0;
            let rejected = d.str()?;
            Some(TouchCols {
                touch_id,
                ts_ms,
                kind,
                channel,
                source,
                medium,
                campaign,
                rejected: has_rejected.then_some(rejected),
            })
        };
        Ok(EventCols {
            message_id,
            event_type,
            user_id,
            anonymous_id,
            name,
            timestamp_ms,
            received_at_ms,
            is_conversion,
            touch,
        })
    }
}

#[derive(Debug, Clone)]
pub struct AttributionCols<'a> {
    pub conversion_id: &'a str,
    pub name: &'a str,
    pub ts_ms: i64,
    pub revenue: f64,
    pub currency: &'a str,
    pub basis: Basis,
    pub default_model: Model,
    pub revision: u32,
    pub attributed_at_ms: i64,
    /// The fraud rule that refused the conversion (then it has no credits, not even organic).
    pub rejected: Option<&'a str>,
    /// The models and their credits, still encoded: walk them with [`AttributionCols::models`].
    models: Dec<'a>,
    model_count: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreditCols<'a> {
    pub touch_id: &'a str,
    pub ts_ms: i64,
    pub kind: TouchKind,
    pub channel: Channel,
    pub source: &'a str,
    pub medium: &'a str,
    pub campaign: &'a str,
    pub credit: f64,
    pub value: f64,
}

impl std::fmt::Debug for Dec<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dec({} bytes)", self.0.len())
    }
}

impl<'a> AttributionCols<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<Self, SpoolError> {
        let mut d = Dec(bytes);
        let conversion_id = d.str()?;
        let name = d.str()?;
        let ts_ms = d.i64()?;
        let revenue = d.f64()?;
        let currency = d.str()?;
        let basis = d.code(&BASES)?;
        let default_model = d.code(&MODELS)?;
        let revision = d.u32()?;
        let attributed_at_ms = d.i64()?;
        let has_rejected = d.u8()? != 0;
        let rejected = d.str()?;
        let model_count = d.u32()?;
        Ok(AttributionCols {
            conversion_id,
            name,
            ts_ms,
            revenue,
            currency,
            basis,
            default_model,
            revision,
            attributed_at_ms,
            rejected: has_rejected.then_some(rejected),
            models: d,
            model_count,
        })
    }

    /// Every (model, credits) in record order.
    pub fn models(&self) -> Result<Vec<(Model, Vec<CreditCols<'a>>)>, SpoolError> {
        let mut d = self.models.clone();
        let mut out = Vec::with_capacity(self.model_count as usize);
        for _ in 0..self.model_count {
            let model = d.code(&MODELS)?;
            let count = d.u32()?;
            let mut credits = Vec::with_capacity(count.min(1024) as usize);
            for _ in 0..count {
                credits.push(CreditCols {
                    touch_id: d.str()?,
                    ts_ms: d.i64()?,
                    kind: d.code(&TOUCH_KINDS)?,
                    channel: d.code(&CHANNELS)?,
                    source: d.str()?,
                    medium: d.str()?,
                    campaign: d.str()?,
                    credit: d.f64()?,
                    value: d.f64()?,
                });
            }
            out.push((model, credits));
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MergeCols<'a> {
    pub from: &'a str,
    pub into: &'a str,
    pub merged_at_ms: i64,
}

impl<'a> MergeCols<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<Self, SpoolError> {
        let mut d = Dec(bytes);
        Ok(MergeCols {
            from: d.str()?,
            into: d.str()?,
            merged_at_ms: d.i64()?,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NullPathCols<'a> {
    pub last_touch_id: &'a str,
    pub touches: u32,
    pub first_touch_ms: i64,
    pub last_touch_ms: i64,
    pub closed_at_ms: i64,
    /// The steps as the journey sent them (see `attrib_core::rollup::null_path_of`).
    pub path: Vec<&'a str>,
}

impl<'a> NullPathCols<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<Self, SpoolError> {
        let mut d = Dec(bytes);
        let last_touch_id = d.str()?;
        let touches = d.u32()?;
        let (first_touch_ms, last_touch_ms, closed_at_ms) = (d.i64()?, d.i64()?, d.i64()?);
        let count = d.u32()?;
        // Bounded by the bytes present (each step costs at least its 4-byte length).
        let mut path = Vec::with_capacity((count as usize).min(d.0.len() / 4));
        for _ in 0..count {
            path.push(d.str()?);
        }
        Ok(NullPathCols {
            last_touch_id,
            touches,
            first_touch_ms,
            last_touch_ms,
            closed_at_ms,
            path,
        })
    }
}
