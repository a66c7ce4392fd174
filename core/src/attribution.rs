//! Attribution windows and the heuristic models, applied to one conversion.
//!
//! Eligible touches: not rejected, not after the conversion, and inside the window of their
//! kind. Clicks beat views: when any click is inside the click window, views are ignored;
//! only when there is none do views inside the view-through window count. Touches are
//! ordered by (time, touch id), so the result never depends on the order touches arrived in.
//! A conversion with no eligible touch is unattributed (organic). A conversion rejected by a
//! fraud rule keeps its basis but has no credits under any model (`rejected` says why).

use serde::{Deserialize, Serialize};

use crate::conversion::Conversion;
use crate::limits::MAX_TOUCHES_PER_ATTRIBUTION;
use crate::settings::AppSettings;
use crate::touch::{Channel, Touch, TouchKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    LastClick,
    FirstClick,
    Linear,
    TimeDecay,
    PositionBased,
    LastNonDirect,
}

impl Model {
    pub const ALL: [Model; 6] = [
        Model::LastClick,
        Model::FirstClick,
        Model::Linear,
        Model::TimeDecay,
        Model::PositionBased,
        Model::LastNonDirect,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Model::LastClick => "last_click",
            Model::FirstClick => "first_click",
            Model::Linear => "linear",
            Model::TimeDecay => "time_decay",
            Model::PositionBased => "position_based",
            Model::LastNonDirect => "last_non_direct",
        }
    }

    pub fn parse(s: &str) -> Option<Model> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// Position-based weights: first and last touch, the rest shared by the middle.
pub const POSITION_FIRST_SHARE: f64 = 0.4;
pub const POSITION_LAST_SHARE: f64 = 0.4;

/// Which touches were eligible for a conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Clicks inside the click window.
    Click,
    /// No click: views inside the view-through window.
    View,
    /// Nothing eligible: an organic conversion.
    Unattributed,
}

/// The attribution windows of an app, in milliseconds. Serializable because the Journey
/// Durable Object keeps its app's windows for its alarm (null paths).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Windows {
    pub click_ms: i64,
    pub view_ms: i64,
}

impl Windows {
    pub fn of(settings: &AppSettings) -> Self {
        Windows {
            click_ms: i64::from(settings.click_window_secs) * 1000,
            view_ms: i64::from(settings.view_window_secs) * 1000,
        }
    }

    /// How long after it a touch of `kind` can be credited.
    pub fn of_kind(&self, kind: TouchKind) -> i64 {
        match kind {
            TouchKind::Click => self.click_ms,
            TouchKind::View => self.view_ms,
        }
    }

    /// The earliest touch time that can matter to a conversion at `conversion_ts`.
    pub fn lookback_start(&self, conversion_ts: i64) -> i64 {
        conversion_ts.saturating_sub(self.click_ms.max(self.view_ms))
    }
}

/// The touches eligible for a conversion at `conversion_ts`, oldest first.
pub fn eligible_touches<'a>(
    conversion_ts: i64,
    touches: &'a [Touch],
    windows: &Windows,
) -> (Basis, Vec<&'a Touch>) {
    let within = |t: &&Touch, kind: TouchKind, window: i64| {
        t.kind == kind
            && t.rejected.is_none()
            && t.ts_ms <= conversion_ts
            && conversion_ts - t.ts_ms <= window
    };
    let mut clicks: Vec<&Touch> = touches
        .iter()
        .filter(|t| within(t, TouchKind::Click, windows.click_ms))
        .collect();
    let (basis, mut chosen) = if !clicks.is_empty() {
        (Basis::Click, std::mem::take(&mut clicks))
    } else {
        let views: Vec<&Touch> = touches
            .iter()
            .filter(|t| within(t, TouchKind::View, windows.view_ms))
            .collect();
        if views.is_empty() {
            (Basis::Unattributed, views)
        } else {
            (Basis::View, views)
        }
    };
    chosen.sort_by(|a, b| {
        a.ts_ms
            .cmp(&b.ts_ms)
            .then_with(|| a.touch_id.cmp(&b.touch_id))
    });
    chosen.dedup_by(|a, b| a.touch_id == b.touch_id);
    if chosen.len() > MAX_TOUCHES_PER_ATTRIBUTION {
        chosen.drain(..chosen.len() - MAX_TOUCHES_PER_ATTRIBUTION);
    }
    (basis, chosen)
}

/// Credit shares of `touches` (oldest first) under `model`; they sum to 1 when `touches` is
/// not empty.
pub fn shares(model: Model, touches: &[&Touch], conversion_ts: i64, half_life_ms: f64) -> Vec<f64> {
    let n = touches.len();
    if n == 0 {
        return Vec::new();
    }
    let mut shares = vec![0.0; n];
    match model {
        Model::LastClick => shares[n - 1] = 1.0,
        Model::FirstClick => shares[0] = 1.0,
        Model::Linear => shares.iter_mut().for_each(|s| *s = 1.0 / n as f64),
        Model::TimeDecay => {
            // Weights relative to the youngest touch, so old touches cannot underflow the sum.
            let youngest_age = touches
                .iter()
                .map(|t| conversion_ts - t.ts_ms)
                .min()
                .unwrap_or(0);
            for (share, touch) in shares.iter_mut().zip(touches) {
                let extra_age = (conversion_ts - touch.ts_ms - youngest_age) as f64;
                *share = (-extra_age / half_life_ms).exp2();
            }
            let total: f64 = shares.iter().sum();
            shares.iter_mut().for_each(|s| *s /= total);
        }
        Model::PositionBased => match n {
            1 => shares[0] = 1.0,
            2 => shares.iter_mut().for_each(|s| *s = 0.5),
            _ => {
                let middle = (1.0 - POSITION_FIRST_SHARE - POSITION_LAST_SHARE) / (n - 2) as f64;
                shares.iter_mut().for_each(|s| *s = middle);
                shares[0] = POSITION_FIRST_SHARE;
                shares[n - 1] = POSITION_LAST_SHARE;
            }
        },
        Model::LastNonDirect => {
            let chosen = touches
                .iter()
                .rposition(|t| t.channel != Channel::Direct)
                .unwrap_or(n - 1);
            shares[chosen] = 1.0;
        }
    }
    shares
}

/// One touch's part of a conversion under one model, with what downstream needs to group by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreditedTouch {
    pub touch_id: String,
    pub ts_ms: i64,
    pub kind: TouchKind,
    pub channel: Channel,
    pub source: String,
    pub medium: String,
    pub campaign: String,
    /// The share of the conversion, in [0, 1].
    pub credit: f64,
    /// `credit` times the conversion's revenue.
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelResult {
    pub model: Model,
    /// Touches with a non-zero share, oldest first.
    pub credits: Vec<CreditedTouch>,
}

/// Everything decided about one conversion, stored with it and sent downstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributionResult {
    pub conversion: Conversion,
    pub basis: Basis,
    pub default_model: Model,
    /// Every model, in [`Model::ALL`] order; empty credits when unattributed.
    pub models: Vec<ModelResult>,
    /// 1 for the first attribution; re-runs with new settings count up.
    pub revision: u32,
    pub attributed_at_ms: i64,
    /// The fraud reason code (`crate::fraud::Reason`) when the conversion is rejected: it is
    /// reported, not attributed, so every model has empty credits. `basis` still says which
    /// touches were eligible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<String>,
    /// What the fraud rule saw, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_detail: Option<String>,
    /// A lifecycle conversion (install, sign-up) of a user who came back after the
    /// re-attribution window: a new attribution rather than a repeat (`crate::lifecycle`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub reattributed: bool,
    /// The re-engagement touch, credited with the whole conversion in addition to (not
    /// instead of) the models' credits (`crate::lifecycle::reengagement_touch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reengagement: Option<CreditedTouch>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl AttributionResult {
    pub fn credits_of(&self, model: Model) -> &[CreditedTouch] {
        self.models
            .iter()
            .find(|m| m.model == model)
            .map(|m| m.credits.as_slice())
            .unwrap_or(&[])
    }
}

/// Attributes `conversion` under every model at once.
pub fn attribute(
    conversion: &Conversion,
    touches: &[Touch],
    settings: &AppSettings,
    now_ms: i64,
) -> AttributionResult {
    let (basis, eligible) = eligible_touches(conversion.ts_ms, touches, &Windows::of(settings));
    credit(conversion, basis, &eligible, settings, now_ms)
}

/// The result that credits `eligible` (oldest first) under every model.
pub fn credit(
    conversion: &Conversion,
    basis: Basis,
    eligible: &[&Touch],
    settings: &AppSettings,
    now_ms: i64,
) -> AttributionResult {
    let half_life_ms = f64::from(settings.time_decay_half_life_secs) * 1000.0;
    let models = Model::ALL
        .into_iter()
        .map(|model| {
            let credits = shares(model, eligible, conversion.ts_ms, half_life_ms)
                .into_iter()
                .zip(eligible)
                .filter(|(share, _)| *share > 0.0)
                .map(|(share, touch)| credited(touch, share, conversion.revenue))
                .collect();
            ModelResult { model, credits }
        })
        .collect();
    AttributionResult {
        conversion: conversion.clone(),
        basis,
        default_model: settings.default_model,
        models,
        revision: 1,
        attributed_at_ms: now_ms,
        rejected: None,
        rejected_detail: None,
        reattributed: false,
        reengagement: None,
    }
}

/// A rejected conversion: reported with its reason, every model without credits.
pub fn rejected(
    conversion: &Conversion,
    basis: Basis,
    settings: &AppSettings,
    now_ms: i64,
    reason: &str,
    detail: &str,
) -> AttributionResult {
    let mut result = credit(conversion, basis, &[], settings, now_ms);
    result.rejected = Some(reason.to_owned());
    result.rejected_detail = Some(detail.to_owned());
    result
}

/// `touch` with `share` of a conversion worth `revenue`.
pub fn credited(touch: &Touch, share: f64, revenue: f64) -> CreditedTouch {
    CreditedTouch {
        touch_id: touch.touch_id.clone(),
        ts_ms: touch.ts_ms,
        kind: touch.kind,
        channel: touch.channel,
        source: touch.source.clone(),
        medium: touch.medium.clone(),
        campaign: touch.campaign.clone(),
        credit: share,
        value: share * revenue,
    }
}

#[cfg(test)]
mod tests;
