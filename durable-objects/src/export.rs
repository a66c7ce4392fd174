//! `GET /export`: what one journey holds about its person, for a data-subject export (issue
//! 12). Read with the merge's bounds (`crate::bounded`): a flooded journey still exports its
//! newest facts, and says it was truncated.

use attrib_core::identity::JourneyKey;
use attrib_core::limits::{MAX_EXPORT_CONVERSIONS, MAX_EXPORT_POSTBACKS, MAX_EXPORT_TOUCHES};
use attrib_core::protocol::JourneyRawExport;

use crate::bounded;
use crate::meta::Meta;
use crate::postbacks;
use crate::store::{SqlJourneyStore, StoreError, Table};

pub fn export(store: &SqlJourneyStore) -> Result<JourneyRawExport, StoreError> {
    let meta = Meta::new(store);
    let key = meta.key()?;
    let newest = bounded::newest(store, true)?;
    let event_count = store.count(Table::Events)?;
    // One more than the bound: whether there were more is then known without a count.
    let mut postbacks = postbacks::newest_states(store, MAX_EXPORT_POSTBACKS + 1)?;
    let truncated = (newest.events.len() as u64) < event_count
        || newest.touches.len() >= MAX_EXPORT_TOUCHES
        || newest.attributions.len() >= MAX_EXPORT_CONVERSIONS
        || postbacks.len() > MAX_EXPORT_POSTBACKS;
    if postbacks.len() > MAX_EXPORT_POSTBACKS {
        postbacks.remove(0);
    }
    Ok(JourneyRawExport {
        journey: key
            .as_ref()
            .map(JourneyKey::object_name)
            .unwrap_or_default(),
        exists: key.is_some(),
        merged_into: meta.merged_into()?.as_ref().map(JourneyKey::object_name),
        merged_from: meta.merged_from()?,
        events: newest.events,
        event_count,
        touches: newest.touches,
        conversions: newest.attributions,
        postbacks,
        truncated,
    })
}
