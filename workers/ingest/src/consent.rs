//! Issue 12, scope 5: Segment's `context.consent.categoryPreferences`, read through the app's
//! mapping (`attrib_core::privacy::consent`). Events without analytics consent are dropped
//! before anything is stored, counted per app and UTC day in D1 (`consent_dropped_events`) and
//! answered as taken (the SDK must not retry them); events without advertising consent travel
//! with a verdict that keeps them out of attribution and postbacks.

use attrib_core::fraud::Flag;
use attrib_core::privacy::consent::{consent_of, no_advertising_flag, Consent};
use attrib_core::segment::Decoded;
use attrib_core::settings::AppSettings;
use attrib_worker_common::apps::DB_BINDING;
use attrib_worker_common::EdgeError;
use wasm_bindgen::JsValue;
use worker::Env;

/// `events` without those whose consent refuses analytics, and how many were dropped.
pub async fn drop_refused(
    env: &Env,
    settings: &AppSettings,
    events: Vec<Decoded>,
) -> (Vec<Decoded>, usize) {
    let before = events.len();
    let kept: Vec<Decoded> = events
        .into_iter()
        .filter(|d| match &d.outcome {
            Ok(event) => consent_of(event, &settings.consent) != Consent::Refused,
            Err(_) => true,
        })
        .collect();
    let dropped = before - kept.len();
    if dropped > 0 {
        // Bookkeeping: failing to count must not let the events through or make the SDK retry.
        if let Err(err) = count_dropped(env, &settings.app_id, dropped).await {
            worker::console_error!(
                "app {}: {dropped} events without analytics consent not counted: {err}",
                settings.app_id
            );
        }
    }
    (kept, dropped)
}

/// The verdict for an event the app may keep for analytics only.
pub fn advertising_flag(event: &attrib_core::event::Event, settings: &AppSettings) -> Option<Flag> {
    (consent_of(event, &settings.consent) == Consent::AnalyticsOnly)
        .then(|| no_advertising_flag(&settings.consent))
}

async fn count_dropped(env: &Env, app_id: &str, events: usize) -> Result<(), EdgeError> {
    env.d1(DB_BINDING)?
        .prepare(
            "INSERT INTO consent_dropped_events (app_id, day, events) \
             VALUES (?1, strftime('%Y-%m-%d', 'now'), ?2) \
             ON CONFLICT (app_id, day) DO UPDATE SET events = events + excluded.events",
        )
        .bind(&[JsValue::from_str(app_id), JsValue::from_f64(events as f64)])?
        .run()
        .await?;
    Ok(())
}
