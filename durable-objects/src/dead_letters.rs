//! Records the origin refused for good (a 400, 413 or 422 to the record sent alone), kept
//! in the journey so one bad record does not block its outbox (issue 13, finding 7). Bounded
//! at [`MAX_DEAD_LETTERS_PER_JOURNEY`]: when it is full nothing is dropped; further refused
//! records stay in the outbox and the flush backs off (a refusal of everything is more likely
//! a fault at the origin than bad records). Listed and replayed through the object's routes
//! (`attrib_core::protocol::DEAD_LETTERS_PATH`), which the admin API reaches.

use attrib_core::limits::{MAX_DEAD_LETTERS_PER_JOURNEY, MAX_DEAD_LETTERS_PER_REQUEST};
use attrib_core::protocol::{DeadLetter, DeadLettersView, ReplayReply, ReplayRequest};
use serde::Deserialize;

use crate::extras::Extra;
use crate::store::{int, text, SqlJourneyStore, StoreError};

#[derive(Deserialize)]
struct Row {
    seq: f64,
    at_ms: f64,
    status: f64,
    body: String,
}

#[derive(Deserialize)]
struct Count {
    n: f64,
}

/// Sets `refused` records aside (inside the caller's transaction); the caller keeps within
/// [`room`].
pub fn add(
    store: &SqlJourneyStore,
    refused: &[(&str, u16)],
    now_ms: i64,
) -> Result<(), StoreError> {
    if !refused.is_empty() {
        store.ensure(Extra::DeadLetters)?;
    }
    for (record, status) in refused {
        worker::console_error!(
            "outbox: the origin refused a record for good ({status}); dead-lettered"
        );
        store.sql.exec(
            "INSERT INTO dead_letters (at_ms, status, body) VALUES (?, ?, ?)",
            vec![int(now_ms), int(i64::from(*status)), text(record)],
        )?;
    }
    Ok(())
}

/// Dead letters that may still be added.
pub fn room(store: &SqlJourneyStore) -> Result<usize, StoreError> {
    Ok(MAX_DEAD_LETTERS_PER_JOURNEY.saturating_sub(count(store)? as usize))
}

pub fn count(store: &SqlJourneyStore) -> Result<u64, StoreError> {
    store.reading(Extra::DeadLetters, || {
        let rows: Vec<Count> = store
            .sql
            .exec("SELECT count(*) AS n FROM dead_letters", None)?
            .to_array()?;
        Ok(rows.first().map_or(0, |c| c.n as u64))
    })
}

fn oldest(store: &SqlJourneyStore) -> Result<Vec<Row>, StoreError> {
    store.reading(Extra::DeadLetters, || {
        Ok(store
            .sql
            .exec(
                "SELECT seq, at_ms, status, body FROM dead_letters ORDER BY seq LIMIT ?",
                vec![int(MAX_DEAD_LETTERS_PER_REQUEST as i64)],
            )?
            .to_array()?)
    })
}

pub fn view(store: &SqlJourneyStore, journey: String) -> Result<DeadLettersView, StoreError> {
    let dead_letters = oldest(store)?
        .into_iter()
        .map(|r| {
            Ok(DeadLetter {
                seq: r.seq as i64,
                at_ms: r.at_ms as i64,
                status: r.status as u16,
                record: serde_json::from_str(&r.body)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(DeadLettersView {
        journey,
        total: count(store)?,
        dead_letters,
    })
}

/// Moves the chosen dead letters back into the outbox (one row), in one transaction; the
/// caller schedules the alarm.
pub fn replay(store: &SqlJourneyStore, request: &ReplayRequest) -> Result<ReplayReply, StoreError> {
    if !store.has(Extra::DeadLetters)? {
        return Ok(ReplayReply {
            replayed: 0,
            left: 0,
        });
    }
    crate::tx::atomically(
        &store.storage,
        || {
            let chosen: Vec<Row> = if request.seqs.is_empty() {
                oldest(store)?
            } else {
                let mut rows = Vec::new();
                for seq in request.seqs.iter().take(MAX_DEAD_LETTERS_PER_REQUEST) {
                    rows.extend(
                        store
                            .sql
                            .exec(
                                "SELECT seq, at_ms, status, body FROM dead_letters WHERE seq = ?",
                                vec![int(*seq)],
                            )?
                            .to_array::<Row>()?,
                    );
                }
                rows
            };
            let bodies: Vec<String> = chosen.iter().map(|r| r.body.clone()).collect();
            store.insert_outbox_rows(&bodies)?;
            for row in &chosen {
                store.sql.exec(
                    "DELETE FROM dead_letters WHERE seq = ?",
                    vec![int(row.seq as i64)],
                )?;
            }
            Ok(ReplayReply {
                replayed: chosen.len(),
                left: count(store)?,
            })
        },
        StoreError::Transaction,
    )
    // Rolled back: the outbox made for the replay may be gone again.
    .inspect_err(|_| store.forget_meta())
}
