//! What the table-shaped sinks (ClickHouse, embedded) derive from a record's columns, shared
//! so both stores agree: days, the per-model credit rows of an attribution, and a
//! conversion's contribution to daily stats.
//!
//! Unattributed conversions credit `(organic)` / `(none)` under every model, as
//! `core::rollup` counts them. Conversions rejected by a fraud rule credit nothing at all:
//! they are reported (fraud counts), not attributed.

use attrib_core::attribution::{Basis, Model};
use attrib_core::rollup::{ORGANIC_CAMPAIGN, ORGANIC_SOURCE};
use serde::Serialize;

use crate::contract::names::{channel_str, touch_kind_str};
use crate::spool::columns::{AttributionCols, CreditCols, EventCols};
use crate::spool::SpoolError;

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 (UTC) of a millisecond time, as `core::time::day_of_millis` counts.
pub fn day_number(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// One credit row of an attribution: a credited touch under one model, or the organic row
/// of an unattributed conversion (no touch: empty touch id and channel).
#[derive(Debug, Clone, PartialEq)]
pub struct CreditRow<'a> {
    pub model: Model,
    pub touch_id: &'a str,
    pub touch_ts_ms: i64,
    pub channel: &'static str,
    pub source: &'a str,
    pub medium: &'a str,
    pub campaign: &'a str,
    pub credit: f64,
    pub value: f64,
}

/// The credit rows of an attribution, model by model in `Model::ALL` order (the first
/// result of each model counts, as `AttributionResult::credits_of` reads it).
pub fn credit_rows<'a>(cols: &AttributionCols<'a>) -> Result<Vec<CreditRow<'a>>, SpoolError> {
    let models = cols.models()?;
    let mut rows = Vec::new();
    for model in Model::ALL {
        if cols.basis == Basis::Unattributed && cols.rejected.is_none() {
            rows.push(CreditRow {
                model,
                touch_id: "",
                touch_ts_ms: cols.ts_ms,
                channel: "",
                source: ORGANIC_SOURCE,
                medium: "",
                campaign: ORGANIC_CAMPAIGN,
                credit: 1.0,
                value: cols.revenue,
            });
        }
        let credits: &[CreditCols<'a>] = models
            .iter()
            .find(|(m, _)| *m == model)
            .map_or(&[], |(_, c)| c.as_slice());
        for credit in credits {
            rows.push(CreditRow {
                model,
                touch_id: credit.touch_id,
                touch_ts_ms: credit.ts_ms,
                channel: channel_str(credit.channel),
                source: credit.source,
                medium: credit.medium,
                campaign: credit.campaign,
                credit: credit.credit,
                value: credit.value,
            });
        }
    }
    Ok(rows)
}

/// A conversion's share of one daily-stats row: what `core::rollup::daily_stats` adds for it
/// under `model` to (source, campaign). Its revenue counts once per such row.
#[derive(Debug, Clone, PartialEq)]
pub struct Share<'a> {
    pub model: Model,
    pub source: &'a str,
    pub campaign: &'a str,
    /// Fractional conversions.
    pub conversions: f64,
    pub credited_value: f64,
}

/// Groups credit rows by (model, source, campaign), summing in record order exactly as
/// `daily_stats` does for one conversion.
pub fn shares<'a>(rows: &[CreditRow<'a>]) -> Vec<Share<'a>> {
    let mut out: Vec<Share<'a>> = Vec::new();
    for row in rows {
        let found = out
            .iter_mut()
            .find(|s| s.model == row.model && s.source == row.source && s.campaign == row.campaign);
        match found {
            Some(share) => {
                share.conversions += row.credit;
                share.credited_value += row.value;
            }
            None => out.push(Share {
                model: row.model,
                source: row.source,
                campaign: row.campaign,
                conversions: row.credit,
                credited_value: row.value,
            }),
        }
    }
    out
}

/// The `events` row as JSON (`JSONEachRow`): what the bench gives clickhouse-client, and
/// the same values the ClickHouse sink sends in binary.
#[derive(Debug, Serialize)]
pub struct EventJsonRow<'a> {
    pub id: &'a str,
    pub app_id: &'a str,
    pub journey: &'a str,
    pub message_id: &'a str,
    pub event_type: &'a str,
    pub user_id: &'a str,
    pub anonymous_id: &'a str,
    pub name: &'a str,
    pub timestamp_ms: i64,
    pub received_at_ms: i64,
    pub day: String,
    pub is_conversion: u8,
    pub has_touch: u8,
    pub touch_id: &'a str,
    pub touch_ts_ms: i64,
    pub touch_day: String,
    pub touch_kind: &'a str,
    pub touch_channel: &'a str,
    pub touch_source: &'a str,
    pub touch_medium: &'a str,
    pub touch_campaign: &'a str,
    pub touch_rejected: &'a str,
    pub record: &'a str,
}

impl<'a> EventJsonRow<'a> {
    pub fn new(
        id: &'a str,
        app_id: &'a str,
        journey: &'a str,
        json: &'a str,
        e: &EventCols<'a>,
    ) -> Self {
        let t = e.touch.as_ref();
        let touch_ts = t.map_or(e.timestamp_ms, |t| t.ts_ms);
        EventJsonRow {
            id,
            app_id,
            journey,
            message_id: e.message_id,
            event_type: e.event_type.as_str(),
            user_id: e.user_id,
            anonymous_id: e.anonymous_id,
            name: e.name,
            timestamp_ms: e.timestamp_ms,
            received_at_ms: e.received_at_ms,
            day: attrib_core::time::day_of_millis(e.timestamp_ms),
            is_conversion: u8::from(e.is_conversion),
            has_touch: u8::from(t.is_some()),
            touch_id: t.map_or("", |t| t.touch_id),
            touch_ts_ms: touch_ts,
            touch_day: attrib_core::time::day_of_millis(touch_ts),
            touch_kind: t.map_or("", |t| touch_kind_str(t.kind)),
            touch_channel: t.map_or("", |t| channel_str(t.channel)),
            touch_source: t.map_or("", |t| t.source),
            touch_medium: t.map_or("", |t| t.medium),
            touch_campaign: t.map_or("", |t| t.campaign),
            touch_rejected: t.and_then(|t| t.rejected).unwrap_or(""),
            record: json,
        }
    }
}
