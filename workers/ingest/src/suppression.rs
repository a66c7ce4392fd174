//! Issue 12, scope 3: events of a suppressed subject are dropped before anything is stored
//! (no journey, no outbox, nothing at the origin), counted per app and day in D1
//! (`suppressed_events`), and answered like stored ones (Segment's semantics). Tracking-link
//! clicks and impressions too: the visitor still gets the redirect or the pixel.

use attrib_core::event::Event;
use attrib_core::mobile::device::DeviceId;
use attrib_core::privacy::{event_subject_hashes, subject_hash, SubjectType};
use attrib_core::segment::Decoded;
use attrib_core::settings::AppSettings;
use attrib_worker_common::suppression;
use worker::Env;

use crate::error::IngestError;

/// `events` without those of suppressed subjects, and how many were dropped. Apps without
/// suppressions return at once (no hashing, no D1).
pub async fn drop_suppressed(
    env: &Env,
    settings: &AppSettings,
    events: Vec<Decoded>,
) -> Result<(Vec<Decoded>, usize), IngestError> {
    if !settings.has_suppressions {
        return Ok((events, 0));
    }
    let secret = suppression::secret(env)?;
    let app_id = settings.app_id.as_str();
    let per_event: Vec<Vec<String>> = events
        .iter()
        .map(|d| match &d.outcome {
            Ok(event) => event_subject_hashes(&secret, app_id, event),
            Err(_) => Vec::new(),
        })
        .collect();
    let mut all: Vec<String> = per_event.iter().flatten().cloned().collect();
    all.sort_unstable();
    all.dedup();
    let hits = suppression::suppressed(env, app_id, &all).await?;
    if hits.is_empty() {
        return Ok((events, 0));
    }
    let before = events.len();
    let kept: Vec<Decoded> = events
        .into_iter()
        .zip(per_event)
        .filter(|(_, hashes)| !hashes.iter().any(|h| hits.contains(h)))
        .map(|(event, _)| event)
        .collect();
    let dropped = before - kept.len();
    count(env, app_id, dropped).await;
    Ok((kept, dropped))
}

/// Counts `dropped` events of `app_id`. The count is bookkeeping: failing to write it must not
/// let the events through or make the SDK retry them.
async fn count(env: &Env, app_id: &str, dropped: usize) {
    if let Err(err) = suppression::count_dropped(env, app_id, dropped).await {
        worker::console_error!("app {app_id}: {dropped} suppressed events not counted: {err}");
    }
}

/// Whether a tracking-link click or impression names a suppressed subject: its visitor
/// (`user_id`, `anonymous_id`) or a device id the network filled in. A suppressed one is
/// counted like a dropped event and must not be recorded (no journey, no device touch).
pub async fn link_event_suppressed(
    env: &Env,
    settings: &AppSettings,
    event: &Event,
    device_ids: &[DeviceId],
) -> Result<bool, IngestError> {
    if !settings.has_suppressions {
        return Ok(false);
    }
    let secret = suppression::secret(env)?;
    let app_id = settings.app_id.as_str();
    let mut hashes = event_subject_hashes(&secret, app_id, event);
    hashes.extend(
        device_ids
            .iter()
            .filter_map(|id| subject_hash(&secret, app_id, SubjectType::DeviceId, &id.value)),
    );
    hashes.sort_unstable();
    hashes.dedup();
    if suppression::suppressed(env, app_id, &hashes)
        .await?
        .is_empty()
    {
        return Ok(false);
    }
    count(env, app_id, 1).await;
    Ok(true)
}
