//! The D1 read store: the binding shared with the ingest Worker (apps, keys and rollups live in
//! one database, migrated from migrations/).
//!
//! Reads go through a D1 session opened `first-unconstrained`, so that with read replication
//! enabled they are answered by the nearest replica (a replica may lag the primary by a
//! moment: a new stats version then shows a moment later). Writes go to the primary.

use attrib_worker_common::apps::DB_BINDING;
use serde::de::DeserializeOwned;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1DatabaseSession, D1PreparedStatement, Env};

use super::{Param, SqlStore, Statement, StoreError};

/// D1 sessions constraint: any replica may answer the first query.
const READ_SESSION: &str = "first-unconstrained";

pub struct D1Store {
    db: D1Database,
    /// `None` where the runtime offers no sessions: reads then go to the database itself.
    reads: Option<D1DatabaseSession>,
}

impl D1Store {
    pub fn new(env: &Env) -> Result<D1Store, StoreError> {
        let db = env.d1(DB_BINDING)?;
        let reads = db.with_session(Some(READ_SESSION)).ok();
        Ok(D1Store { db, reads })
    }

    fn prepare(&self, stmt: &Statement, read: bool) -> Result<D1PreparedStatement, StoreError> {
        let values: Vec<JsValue> = stmt.params.iter().map(js_value).collect();
        let prepared = match (&self.reads, read) {
            (Some(session), true) => session.prepare(stmt.sql.as_str()),
            _ => self.db.prepare(stmt.sql.as_str()),
        };
        Ok(prepared.bind(&values)?)
    }
}

fn js_value(param: &Param) -> JsValue {
    match param {
        Param::Text(s) => JsValue::from_str(s),
        // Values bound here are counts and limits, far below 2^53.
        Param::Int(n) => JsValue::from_f64(*n as f64),
        Param::Real(x) => JsValue::from_f64(*x),
    }
}

impl SqlStore for D1Store {
    async fn rows<T: DeserializeOwned>(&self, stmt: &Statement) -> Result<Vec<T>, StoreError> {
        let result = self.prepare(stmt, true)?.all().await?;
        if let Some(error) = result.error() {
            return Err(StoreError::D1(error));
        }
        result
            .results::<T>()
            .map_err(|e| StoreError::Decode(e.to_string()))
    }

    async fn batch(&self, stmts: &[Statement]) -> Result<(), StoreError> {
        if stmts.is_empty() {
            return Ok(());
        }
        let prepared = stmts
            .iter()
            .map(|s| self.prepare(s, false))
            .collect::<Result<Vec<_>, _>>()?;
        // D1 runs a batch as one SQL transaction: a failing statement rolls back all of them.
        for result in self.db.batch(prepared).await? {
            if let Some(error) = result.error() {
                return Err(StoreError::D1(error));
            }
        }
        Ok(())
    }
}
