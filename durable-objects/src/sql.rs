//! The object's SQL handle, optionally counting what Cloudflare bills: rows read and rows
//! written (each index entry is a row), from the cursors' own counters. Counting is on only
//! when the `BENCH_COUNTERS` variable is "1" (`scripts/bench-edge.sh` sets it): a cursor's
//! counters are final only once it is run out, so counted cursors are kept until
//! [`CountedSql::settle`] at the end of each request.
//!
//! It also keeps the upper bound of the database's size between measures
//! (`attrib_core::journey::size`), from what each statement binds.

use std::cell::{Cell, RefCell};

use attrib_core::journey::size::StorageEstimate;

use serde::Serialize;
use worker::{SqlCursor, SqlStorage, SqlStorageValue};

/// Cursors kept before their counts are added up, so a long request stays bounded.
const MAX_PENDING_CURSORS: usize = 256;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub rows_read: u64,
    pub rows_written: u64,
    pub statements: u64,
    /// Requests and alarm runs served by this instance.
    pub invocations: u64,
}

pub struct CountedSql {
    inner: SqlStorage,
    counting: bool,
    pending: RefCell<Vec<SqlCursor>>,
    totals: Cell<Counters>,
    size: Cell<StorageEstimate>,
}

impl CountedSql {
    pub fn new(inner: SqlStorage, counting: bool) -> Self {
        CountedSql {
            inner,
            counting,
            pending: RefCell::new(Vec::new()),
            totals: Cell::new(Counters::default()),
            size: Cell::new(StorageEstimate::default()),
        }
    }

    pub fn exec(
        &self,
        query: &str,
        bindings: impl Into<Option<Vec<SqlStorageValue>>>,
    ) -> worker::Result<SqlCursor> {
        let bindings = bindings.into();
        let bound_bytes: usize = bindings.iter().flatten().map(value_bytes).sum();
        let mut size = self.size.get();
        size.ran(1, bound_bytes as u64);
        self.size.set(size);
        let cursor = self.inner.exec(query, bindings)?;
        if self.counting {
            let full = {
                let mut pending = self.pending.borrow_mut();
                pending.push(cursor.clone());
                pending.len() >= MAX_PENDING_CURSORS
            };
            if full {
                self.settle();
            }
        }
        Ok(cursor)
    }

    /// Adds up the counts of the cursors run since the last call.
    pub fn settle(&self) {
        if !self.counting {
            return;
        }
        let mut totals = self.totals.get();
        for cursor in self.pending.borrow_mut().drain(..) {
            totals.rows_read += cursor.rows_read() as u64;
            totals.rows_written += cursor.rows_written() as u64;
            totals.statements += 1;
        }
        self.totals.set(totals);
    }

    pub fn invoked(&self) {
        if self.counting {
            let mut totals = self.totals.get();
            totals.invocations += 1;
            self.totals.set(totals);
        }
    }

    /// Totals since this instance started (`None` when not counting).
    pub fn counters(&self) -> Option<Counters> {
        self.settle();
        self.counting.then(|| self.totals.get())
    }

    pub fn database_size(&self) -> usize {
        self.inner.database_size()
    }

    /// The most the database can hold now: measured when the bound since the last measure
    /// reaches the journey limit, else that bound.
    pub fn database_bytes_at_most(&self) -> u64 {
        let mut size = self.size.get();
        if size.must_measure() {
            size.measured(self.inner.database_size() as u64);
            self.size.set(size);
        }
        size.at_most().unwrap_or(u64::MAX)
    }
}

fn value_bytes(value: &SqlStorageValue) -> usize {
    match value {
        SqlStorageValue::String(s) => s.len(),
        SqlStorageValue::Blob(b) => b.len(),
        _ => 8,
    }
}
