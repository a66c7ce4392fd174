//! Flat rows of the outbox records, shared by the table-shaped sinks (ClickHouse, embedded).
//!
//! One row per event, attribution and merge, keyed by the record id; attributions also
//! give one credit row per (model, touch) so stores can group by source, campaign and model
//! without parsing JSON. Unattributed conversions credit `(organic)` / `(none)` under every
//! model, as `core::rollup` counts them. Every row keeps the record's JSON as received.

use attrib_core::attribution::{Basis, Model};
use attrib_core::outbox::OutboxRecord;
use attrib_core::rollup::{ORGANIC_CAMPAIGN, ORGANIC_SOURCE};
use attrib_core::time::day_of_millis;
use serde::Serialize;

use crate::spool::SpoolRecord;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    pub id: String,
    pub app_id: String,
    pub journey: String,
    pub message_id: String,
    pub event_type: String,
    pub user_id: String,
    pub anonymous_id: String,
    pub name: String,
    pub timestamp_ms: i64,
    pub received_at_ms: i64,
    pub day: String,
    pub is_conversion: u8,
    pub has_touch: u8,
    pub touch_id: String,
    pub touch_ts_ms: i64,
    pub touch_day: String,
    pub touch_kind: String,
    pub touch_channel: String,
    pub touch_source: String,
    pub touch_medium: String,
    pub touch_campaign: String,
    pub touch_rejected: String,
    pub record: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributionRow {
    pub id: String,
    pub app_id: String,
    pub journey: String,
    pub conversion_id: String,
    pub revision: u32,
    pub conversion_name: String,
    pub conversion_ts_ms: i64,
    pub day: String,
    pub revenue: f64,
    pub currency: String,
    pub basis: String,
    pub default_model: String,
    pub attributed_at_ms: i64,
    pub record: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreditRow {
    pub attribution_id: String,
    pub app_id: String,
    pub day: String,
    pub conversion_id: String,
    pub revision: u32,
    pub model: String,
    pub touch_id: String,
    pub touch_ts_ms: i64,
    pub channel: String,
    pub source: String,
    pub medium: String,
    pub campaign: String,
    pub currency: String,
    pub revenue: f64,
    pub credit: f64,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MergeRow {
    pub id: String,
    pub app_id: String,
    pub from_journey: String,
    pub into_journey: String,
    pub merged_at_ms: i64,
    pub day: String,
    pub record: String,
}

#[derive(Debug, Default)]
pub struct Rows {
    pub events: Vec<EventRow>,
    pub attributions: Vec<AttributionRow>,
    pub credits: Vec<CreditRow>,
    pub merges: Vec<MergeRow>,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.events.len() + self.attributions.len() + self.merges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds the rows of one spooled record.
    pub fn push(&mut self, spooled: &SpoolRecord) -> Result<(), serde_json::Error> {
        match spooled.parse()? {
            OutboxRecord::Event(r) => {
                let touch = r.touch.as_ref();
                let event = &r.event;
                self.events.push(EventRow {
                    id: spooled.id.clone(),
                    app_id: r.app_id.clone(),
                    journey: r.journey.clone(),
                    message_id: event.message_id.clone(),
                    event_type: event.event_type.as_str().to_owned(),
                    user_id: event.user_id.clone().unwrap_or_default(),
                    anonymous_id: event.anonymous_id.clone().unwrap_or_default(),
                    name: event.name.clone().unwrap_or_default(),
                    timestamp_ms: event.timestamp_ms,
                    received_at_ms: event.received_at_ms,
                    day: day_of_millis(event.timestamp_ms),
                    is_conversion: u8::from(r.is_conversion),
                    has_touch: u8::from(touch.is_some()),
                    touch_id: touch.map(|t| t.touch_id.clone()).unwrap_or_default(),
                    touch_ts_ms: touch.map_or(event.timestamp_ms, |t| t.ts_ms),
                    touch_day: day_of_millis(touch.map_or(event.timestamp_ms, |t| t.ts_ms)),
                    touch_kind: touch.map(|t| enum_str(&t.kind)).unwrap_or_default(),
                    touch_channel: touch.map(|t| enum_str(&t.channel)).unwrap_or_default(),
                    touch_source: touch.map(|t| t.source.clone()).unwrap_or_default(),
                    touch_medium: touch.map(|t| t.medium.clone()).unwrap_or_default(),
                    touch_campaign: touch.map(|t| t.campaign.clone()).unwrap_or_default(),
                    touch_rejected: touch.and_then(|t| t.rejected.clone()).unwrap_or_default(),
                    record: spooled.json.clone(),
                });
            }
            OutboxRecord::Attribution(r) => {
                let result = &r.result;
                let conversion = &result.conversion;
                let day = day_of_millis(conversion.ts_ms);
                for model in Model::ALL {
                    let credit_row = |touch_id: String, ts: i64, channel: String| CreditRow {
                        attribution_id: spooled.id.clone(),
                        app_id: r.app_id.clone(),
                        day: day.clone(),
                        conversion_id: conversion.conversion_id.clone(),
                        revision: result.revision,
                        model: model.as_str().to_owned(),
                        touch_id,
                        touch_ts_ms: ts,
                        channel,
                        source: String::new(),
                        medium: String::new(),
                        campaign: String::new(),
                        currency: conversion.currency.clone(),
                        revenue: conversion.revenue,
                        credit: 0.0,
                        value: 0.0,
                    };
                    if result.basis == Basis::Unattributed {
                        self.credits.push(CreditRow {
                            source: ORGANIC_SOURCE.to_owned(),
                            campaign: ORGANIC_CAMPAIGN.to_owned(),
                            credit: 1.0,
                            value: conversion.revenue,
                            ..credit_row(String::new(), conversion.ts_ms, String::new())
                        });
                    }
                    for credit in result.credits_of(model) {
                        self.credits.push(CreditRow {
                            source: credit.source.clone(),
                            medium: credit.medium.clone(),
                            campaign: credit.campaign.clone(),
                            credit: credit.credit,
                            value: credit.value,
                            ..credit_row(
                                credit.touch_id.clone(),
                                credit.ts_ms,
                                enum_str(&credit.channel),
                            )
                        });
                    }
                }
                self.attributions.push(AttributionRow {
                    id: spooled.id.clone(),
                    app_id: r.app_id.clone(),
                    journey: r.journey.clone(),
                    conversion_id: conversion.conversion_id.clone(),
                    revision: result.revision,
                    conversion_name: conversion.name.clone(),
                    conversion_ts_ms: conversion.ts_ms,
                    day,
                    revenue: conversion.revenue,
                    currency: conversion.currency.clone(),
                    basis: enum_str(&result.basis),
                    default_model: result.default_model.as_str().to_owned(),
                    attributed_at_ms: result.attributed_at_ms,
                    record: spooled.json.clone(),
                });
            }
            OutboxRecord::Merge(r) => self.merges.push(MergeRow {
                id: spooled.id.clone(),
                app_id: r.app_id.clone(),
                from_journey: r.from.clone(),
                into_journey: r.into.clone(),
                merged_at_ms: r.merged_at_ms,
                day: day_of_millis(r.merged_at_ms),
                record: spooled.json.clone(),
            }),
        }
        Ok(())
    }
}

/// The wire name of a serde enum (`paid_search`), as the contract spells it.
fn enum_str<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}
