//! Issue 12, scope 3: events of a suppressed subject are dropped before anything is stored
//! (no journey, no outbox, nothing at the origin), counted per app and day in D1
//! (`suppressed_events`), and answered like stored ones (Segment's semantics).

use attrib_core::privacy::event_subject_hashes;
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
    // The count is bookkeeping: failing to write it must not let the events through or make
    // the SDK retry them.
    if let Err(err) = suppression::count_dropped(env, app_id, dropped).await {
        worker::console_error!("app {app_id}: {dropped} suppressed events not counted: {err}");
    }
    Ok((kept, dropped))
}
