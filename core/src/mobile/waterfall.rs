//! The install-matching waterfall (the order MMPs use). For an install or first open:
//!
//! 1. **click id**: our click id in the event (`context.click_id`, the Play install referrer)
//!    wins over everything else;
//! 2. **device click**: the most recent tracking-link click by the same device (advertising or
//!    vendor id, see [`crate::mobile::device`]) within the app's click window before the
//!    install;
//! 3. **view-through**: the most recent impression by the same device within the view window;
//! 4. otherwise **organic**.
//!
//! Touches after the install never match. The deferred deep link uses the same function with
//! the lookback as its click window and no view-through (a view carries no link to open).

use serde::{Deserialize, Serialize};

use crate::mobile::device::{DeviceTouch, TouchKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum InstallMatch {
    ClickId { touch_id: String },
    DeviceClick { touch: DeviceTouch },
    ViewThrough { touch: DeviceTouch },
    Organic,
}

impl InstallMatch {
    pub fn touch_id(&self) -> Option<&str> {
        match self {
            InstallMatch::ClickId { touch_id } => Some(touch_id),
            InstallMatch::DeviceClick { touch } | InstallMatch::ViewThrough { touch } => {
                Some(&touch.touch_id)
            }
            InstallMatch::Organic => None,
        }
    }

    pub fn method(&self) -> &'static str {
        match self {
            InstallMatch::ClickId { .. } => "click_id",
            InstallMatch::DeviceClick { .. } => "device_id",
            InstallMatch::ViewThrough { .. } => "view_through",
            InstallMatch::Organic => "organic",
        }
    }
}

pub fn match_install(
    click_id: Option<&str>,
    touches: &[DeviceTouch],
    install_ms: i64,
    click_window_secs: u32,
    view_window_secs: u32,
) -> InstallMatch {
    if let Some(id) = click_id {
        return InstallMatch::ClickId {
            touch_id: id.to_owned(),
        };
    }
    let latest = |kind: TouchKind, window_secs: u32| {
        let since = install_ms - i64::from(window_secs) * 1000;
        touches
            .iter()
            .filter(|t| t.kind == kind && t.at_ms <= install_ms && t.at_ms >= since)
            // Latest first; equal times by id so the answer never depends on storage order.
            .max_by(|a, b| a.at_ms.cmp(&b.at_ms).then(b.touch_id.cmp(&a.touch_id)))
            .cloned()
    };
    if let Some(touch) = latest(TouchKind::Click, click_window_secs) {
        return InstallMatch::DeviceClick { touch };
    }
    if view_window_secs > 0 {
        if let Some(touch) = latest(TouchKind::Impression, view_window_secs) {
            return InstallMatch::ViewThrough { touch };
        }
    }
    InstallMatch::Organic
}
