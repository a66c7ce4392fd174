//! The suppression list at the edge (issue 12, scope 3): which of an event's subject hashes
//! an app has suppressed, and the per-app, per-day count of events dropped for it.
//!
//! Only apps whose settings say they have suppressions (`AppSettings::has_suppressions`,
//! loaded with the app) are looked up, so other apps pay nothing per request. A lookup is one
//! D1 batch of `hash IN (...)` queries for the hashes this isolate has not seen within the
//! settings cache time; answers (suppressed or not) are cached in an LRU like keys, so a
//! `SUPPRESS_ONLY` or `UNSUPPRESS` reaches every isolate within 60 s.

use std::cell::RefCell;
use std::collections::HashSet;

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{Date, Env};

use crate::apps::{positive_ttl_ms, AUTH_CACHE_MAX_ENTRIES, DB_BINDING};
use crate::lru::Lru;
use crate::EdgeError;

/// The key of the suppression hashes (`wrangler secret put SUPPRESSION_SECRET`): both Workers
/// need the same one; changing it forgets every suppression.
pub const SUPPRESSION_SECRET: &str = "SUPPRESSION_SECRET";
/// Hashes per D1 query (D1 binds at most 100 parameters; one is the app id).
pub const SUPPRESSION_HASHES_PER_QUERY: usize = 99;

/// The deployment's suppression secret; a configuration error without it (suppressions can
/// be neither written nor honoured, and neither may be faked).
pub fn secret(env: &Env) -> Result<Vec<u8>, EdgeError> {
    crate::config::secret(env, SUPPRESSION_SECRET)
        .map(String::into_bytes)
        .ok_or_else(|| EdgeError::Config {
            name: SUPPRESSION_SECRET,
            reason: "is not set".into(),
        })
}

type Entry = (u64, bool);

thread_local! {
    static CACHE: RefCell<Lru<(String, String), Entry>> =
        RefCell::new(Lru::new(AUTH_CACHE_MAX_ENTRIES));
}

#[derive(Deserialize)]
struct HashRow {
    hash: String,
}

/// Which of `hashes` app `app_id` has suppressed.
pub async fn suppressed(
    env: &Env,
    app_id: &str,
    hashes: &[String],
) -> Result<HashSet<String>, EdgeError> {
    let now = Date::now().as_millis();
    let mut found = HashSet::new();
    let mut unknown: Vec<&String> = Vec::new();
    for hash in hashes {
        let key = (app_id.to_owned(), hash.clone());
        match CACHE.with(|c| c.borrow_mut().get(&key)) {
            Some((expires, true)) if expires > now => {
                found.insert(hash.clone());
            }
            Some((expires, false)) if expires > now => {}
            // The caller passes each hash once.
            _ => unknown.push(hash),
        }
    }
    if unknown.is_empty() {
        return Ok(found);
    }
    let db = env.d1(DB_BINDING)?;
    let mut statements = Vec::new();
    for chunk in unknown.chunks(SUPPRESSION_HASHES_PER_QUERY) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("?{}", i + 2)).collect();
        let mut binds = vec![JsValue::from_str(app_id)];
        binds.extend(chunk.iter().map(|h| JsValue::from_str(h)));
        statements.push(
            db.prepare(format!(
                "SELECT hash FROM suppressions WHERE app_id = ?1 AND hash IN ({})",
                marks.join(", ")
            ))
            .bind(&binds)?,
        );
    }
    let mut hits = HashSet::new();
    for result in db.batch(statements).await? {
        for row in result.results::<HashRow>()? {
            hits.insert(row.hash);
        }
    }
    let expires = now + positive_ttl_ms(env);
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        for hash in unknown {
            let hit = hits.contains(hash);
            cache.insert((app_id.to_owned(), hash.clone()), (expires, hit));
        }
    });
    found.extend(hits);
    Ok(found)
}

/// Adds `events` to today's count of dropped events of `app_id` (UTC day).
pub async fn count_dropped(env: &Env, app_id: &str, events: usize) -> Result<(), EdgeError> {
    env.d1(DB_BINDING)?
        .prepare(
            "INSERT INTO suppressed_events (app_id, day, events) \
             VALUES (?1, strftime('%Y-%m-%d', 'now'), ?2) \
             ON CONFLICT (app_id, day) DO UPDATE SET events = events + excluded.events",
        )
        .bind(&[JsValue::from_str(app_id), JsValue::from_f64(events as f64)])?
        .run()
        .await?;
    Ok(())
}
