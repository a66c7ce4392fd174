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
//! SKAN postback: dedup_key, protocol, version, ad_network_id, source_identifier, did_win,
//! postback_sequence_index, has_fine, fine_value, coarse_value, decoded, received_at_ms.
//! Spend: day, day_ms (midnight UTC of day), source, campaign, ad_group, spend, currency,
//! has_impressions, impressions, has_clicks, clicks, uploaded_at_ms.

use attrib_core::attribution::{Basis, Model};
use attrib_core::event::EventType;
use attrib_core::touch::{Channel, TouchKind};

use super::SpoolError;
use crate::contract::names::{
    code_of, from_code, BASES, CHANNELS, EVENT_TYPES, MODELS, TOUCH_KINDS,
};
use crate::contract::view::{
    AttributionRecordView, EventRecordView, MergeRecordView, NullPathRecordView,
    SkanPostbackRecordView, SpendRecordView,
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

pub fn encode_skan_postback(r: &SkanPostbackRecordView<'_>, out: &mut Vec<u8>) {
    for text in [&r.dedup_key, &r.protocol, &r.version, &r.ad_network_id] {
        put_str(out, text.as_str());
    }
    put_str(out, r.source_identifier.as_ref().map_or("", |s| s.as_str()));
    out.push(u8::from(r.did_win));
    out.push(r.postback_sequence_index);
    out.push(u8::from(r.fine_value.is_some()));
    out.push(r.fine_value.unwrap_or(0));
    put_str(out, r.coarse_value.as_ref().map_or("", |s| s.as_str()));
    put_str(out, r.decoded.as_ref().map_or("", |s| s.as_str()));
    put_i64(out, r.received_at_ms);
}

/// Midnight UTC of a `YYYY-MM-DD` day, in ms; `None` when it is not such a day (intake
/// refuses the record then: `http::scan::missing_identity`).
pub fn day_ms(day: &str) -> Option<i64> {
    let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

pub fn encode_spend(r: &SpendRecordView<'_>, out: &mut Vec<u8>) {
    put_str(out, r.day.as_str());
    put_i64(out, day_ms(r.day.as_str()).unwrap_or(0));
    for text in [&r.source, &r.campaign, &r.ad_group] {
        put_str(out, text.as_str());
    }
    put_f64(out, r.spend);
    put_str(out, r.currency.as_str());
    for count in [r.impressions, r.clicks] {
        out.push(u8::from(count.is_some()));
        put_i64(out, count.unwrap_or(0) as i64);
    }
    put_i64(out, r.uploaded_at_ms);
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

#[derive(Debug, Clone, PartialEq)]
pub struct SkanPostbackCols<'a> {
    pub dedup_key: &'a str,
    pub protocol: &'a str,
    pub version: &'a str,
    pub ad_network_id: &'a str,
    /// '' when the postback had none (a non-winning or low-tier postback).
    pub source_identifier: &'a str,
    pub did_win: bool,
    pub postback_sequence_index: u8,
    pub fine_value: Option<u8>,
    /// '' when absent.
    pub coarse_value: &'a str,
    /// The decoded value's JSON, '' when the app's schema did not map it.
    pub decoded: &'a str,
    pub received_at_ms: i64,
}

impl<'a> SkanPostbackCols<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<Self, SpoolError> {
        let mut d = Dec(bytes);
        let (dedup_key, protocol, version, ad_network_id) =
            (d.str()?, d.str()?, d.str()?, d.str()?);
        let source_identifier = d.str()?;
        let did_win = d.u8()? != 0;
        let postback_sequence_index = d.u8()?;
        let has_fine = d.u8()? != 0;
        let fine = d.u8()?;
        Ok(SkanPostbackCols {
            dedup_key,
            protocol,
            version,
            ad_network_id,
            source_identifier,
            did_win,
            postback_sequence_index,
            fine_value: has_fine.then_some(fine),
            coarse_value: d.str()?,
            decoded: d.str()?,
            received_at_ms: d.i64()?,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpendCols<'a> {
    pub day: &'a str,
    pub day_ms: i64,
    pub source: &'a str,
    pub campaign: &'a str,
    pub ad_group: &'a str,
    pub spend: f64,
    pub currency: &'a str,
    pub impressions: Option<u64>,
    pub clicks: Option<u64>,
    pub uploaded_at_ms: i64,
}

impl<'a> SpendCols<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<Self, SpoolError> {
        let mut d = Dec(bytes);
        let (day, day_ms) = (d.str()?, d.i64()?);
        let (source, campaign, ad_group) = (d.str()?, d.str()?, d.str()?);
        let spend = d.f64()?;
        let currency = d.str()?;
        let mut count = || -> Result<Option<u64>, SpoolError> {
            let present = d.u8()? != 0;
            let value = d.i64()? as u64;
            Ok(present.then_some(value))
        };
        let (impressions, clicks) = (count()?, count()?);
        Ok(SpendCols {
            day,
            day_ms,
            source,
            campaign,
            ad_group,
            spend,
            currency,
            impressions,
            clicks,
            uploaded_at_ms: d.i64()?,
        })
    }
}
