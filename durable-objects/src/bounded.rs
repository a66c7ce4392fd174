//! Bounded reads of a journey's facts for merges and the journey view (issue 13, finding 4):
//! the newest of each kind, within [`MAX_EXPORT_BYTES`] in all, so a flooded journey can still
//! be merged and shown. Re-runs and null paths read through `JourneyStore`, not through here.

use attrib_core::attribution::AttributionResult;
use attrib_core::event::Event;
use attrib_core::limits::{
    MAX_EXPORT_BYTES, MAX_EXPORT_CONVERSIONS, MAX_EXPORT_EVENTS, MAX_EXPORT_TOUCHES,
};
use attrib_core::touch::Touch;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::extras::Extra;
use crate::store::{int, SqlJourneyStore, StoreError};

#[derive(Deserialize)]
struct Body {
    body: String,
}

/// The newest facts, oldest first.
pub struct Newest {
    pub events: Vec<Event>,
    pub touches: Vec<Touch>,
    pub attributions: Vec<AttributionResult>,
}

/// Conversions first (they carry the credit), then touches, then events, until the byte
/// budget is spent.
pub fn newest(store: &SqlJourneyStore, with_events: bool) -> Result<Newest, StoreError> {
    let mut budget = MAX_EXPORT_BYTES;
    let attributions = store.reading(Extra::Attributions, || {
        read(
            store,
            "SELECT body FROM attributions ORDER BY ts_ms DESC, conversion_id DESC LIMIT ?",
            MAX_EXPORT_CONVERSIONS,
            &mut budget,
        )
    })?;
    let touches = store.reading(Extra::Touches, || {
        read(
            store,
            "SELECT body FROM touches ORDER BY ts_ms DESC, touch_id DESC LIMIT ?",
            MAX_EXPORT_TOUCHES,
            &mut budget,
        )
    })?;
    let events = if with_events {
        read(
            store,
            "SELECT body FROM events ORDER BY ts_ms DESC, message_id DESC LIMIT ?",
            MAX_EXPORT_EVENTS,
            &mut budget,
        )?
    } else {
        Vec::new()
    };
    Ok(Newest {
        events,
        touches,
        attributions,
    })
}

fn read<T: DeserializeOwned>(
    store: &SqlJourneyStore,
    query: &str,
    limit: usize,
    budget: &mut usize,
) -> Result<Vec<T>, StoreError> {
    let mut facts = Vec::new();
    for row in store
        .sql
        .exec(query, vec![int(limit as i64)])?
        .next::<Body>()
    {
        let row = row?;
        if row.body.len() > *budget {
            break;
        }
        *budget -= row.body.len();
        facts.push(serde_json::from_str(&row.body)?);
    }
    facts.reverse();
    Ok(facts)
}
