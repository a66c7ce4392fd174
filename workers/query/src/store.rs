//! The read-store seam: the SQL that reads and writes stats is written once, against
//! [`SqlStore`], and runs on D1 (the default) or on Turso (`READ_STORE=turso`).
//!
//! Both stores speak SQLite, take positional `?N` parameters and run a batch of statements as
//! one transaction, which is all the queries need. Apps and keys stay in D1 either way: only
//! the rollup tables (daily_stats, conversion_paths, fraud_counts, stats_versions) move.

pub mod d1;
pub mod hrana;
pub mod turso;

use serde::de::DeserializeOwned;
use worker::Env;

use crate::config::{self, StoreKind};
use attrib_worker_common::EdgeError;

/// A value bound to a `?N` parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
    Real(f64),
}

impl From<&str> for Param {
    fn from(s: &str) -> Self {
        Param::Text(s.to_owned())
    }
}

impl From<String> for Param {
    fn from(s: String) -> Self {
        Param::Text(s)
    }
}

/// One SQL statement and its parameters, in `?1..?N` order.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Param>,
}

impl Statement {
    pub fn new(sql: impl Into<String>, params: Vec<Param>) -> Self {
        Statement {
            sql: sql.into(),
            params,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("D1: {0}")]
    D1(String),
    #[error("Turso is unreachable: {0}")]
    TursoUnreachable(String),
    #[error("Turso answered HTTP {status}: {body}")]
    TursoHttp { status: u16, body: String },
    #[error("Turso statement failed ({code}): {message}")]
    TursoStatement { code: String, message: String },
    #[error("Turso reply is not understood: {0}")]
    TursoProtocol(String),
    #[error("row does not decode: {0}")]
    Decode(String),
    #[error(transparent)]
    Edge(#[from] EdgeError),
}

impl From<worker::Error> for StoreError {
    fn from(err: worker::Error) -> Self {
        StoreError::D1(err.to_string())
    }
}

/// What every read store can do.
#[allow(async_fn_in_trait)] // Workers are single-threaded: no Send bound is wanted.
pub trait SqlStore {
    /// The rows of a query, each decoded from a `{column: value}` object.
    async fn rows<T: DeserializeOwned>(&self, stmt: &Statement) -> Result<Vec<T>, StoreError>;
    /// Runs `stmts` in order as one transaction: all of them or none.
    async fn batch(&self, stmts: &[Statement]) -> Result<(), StoreError>;
}

/// The store chosen by configuration.
pub enum ReadStore {
    D1(d1::D1Store),
    Turso(turso::TursoStore),
}

impl ReadStore {
    pub fn from_env(env: &Env) -> Result<ReadStore, StoreError> {
        Ok(match config::store_kind(env)? {
            StoreKind::D1 => ReadStore::D1(d1::D1Store::new(env)?),
            StoreKind::Turso => ReadStore::Turso(turso::TursoStore::from_env(env)?),
        })
    }

    pub fn kind(&self) -> StoreKind {
        match self {
            ReadStore::D1(_) => StoreKind::D1,
            ReadStore::Turso(_) => StoreKind::Turso,
        }
    }
}

impl SqlStore for ReadStore {
    async fn rows<T: DeserializeOwned>(&self, stmt: &Statement) -> Result<Vec<T>, StoreError> {
        match self {
            ReadStore::D1(s) => s.rows(stmt).await,
            ReadStore::Turso(s) => s.rows(stmt).await,
        }
    }

    async fn batch(&self, stmts: &[Statement]) -> Result<(), StoreError> {
        match self {
            ReadStore::D1(s) => s.batch(stmts).await,
            ReadStore::Turso(s) => s.batch(stmts).await,
        }
    }
}
