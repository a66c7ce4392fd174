//! Turns a spool batch into one `JSONEachRow` body per table.

use serde::Serialize;

use crate::sinks::rows::Rows;
use crate::spool::SpoolBatch;

use super::ClickHouseError;

/// An `INSERT` for one table: the body holds one JSON object per line.
pub struct Insert {
    pub table: &'static str,
    pub rows: usize,
    pub body: Vec<u8>,
}

pub fn build(batch: &SpoolBatch) -> Result<Vec<Insert>, ClickHouseError> {
    let mut rows = Rows::default();
    for record in batch.records() {
        rows.push(record)?;
    }
    let mut inserts = Vec::new();
    push_insert(&mut inserts, "events", &rows.events)?;
    push_insert(&mut inserts, "attributions", &rows.attributions)?;
    push_insert(&mut inserts, "attribution_credits", &rows.credits)?;
    push_insert(&mut inserts, "merges", &rows.merges)?;
    Ok(inserts)
}

fn push_insert<T: Serialize>(
    inserts: &mut Vec<Insert>,
    table: &'static str,
    rows: &[T],
) -> Result<(), ClickHouseError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut body = Vec::with_capacity(rows.len() * 512);
    for row in rows {
        serde_json::to_writer(&mut body, row)?;
        body.push(b'\n');
    }
    inserts.push(Insert {
        table,
        rows: rows.len(),
        body,
    });
    Ok(())
}
