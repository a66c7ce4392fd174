//! Where complete daily stats are written: the query Worker's `/internal/rollups` (which
//! replaces the rows of the listed days in D1 or Turso), Turso directly, and the embedded file
//! (both through [`read_store`], the same tables and rule). Each push replaces whole (app, day)
//! pairs of the origin's region, so repeating one after a failure is harmless.

use std::time::Duration;

use super::hrana::TursoHttp;
use super::read_store::{self, ReadStoreConn};
use super::{RollupError, TursoConfig};
use attrib_core::outbox::SIGNATURE_HEADER;
use attrib_core::rollup::{RollupUpsert, ROLLUP_PATH};
use attrib_core::signing::Keyring;

pub enum Target {
    QueryWorker {
        client: reqwest::Client,
        url: reqwest::Url,
        keys: Keyring,
    },
    /// Turso (over HTTP) or the embedded file (libsql): the same tables and statements.
    Sql {
        name: &'static str,
        store: ReadStoreConn,
    },
}

impl Target {
    pub fn query_worker(base: &reqwest::Url, keys: &Keyring) -> Result<Self, RollupError> {
        let url = base.join(ROLLUP_PATH).map_err(|e| RollupError::Rejected {
            status: 0,
            body: format!("bad QUERY_WORKER_URL: {e}"),
        })?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        Ok(Target::QueryWorker {
            client,
            url,
            keys: keys.clone(),
        })
    }

    pub async fn turso(config: &TursoConfig) -> Result<Self, RollupError> {
        let store = ReadStoreConn::Turso(TursoHttp::new(&config.url, &config.auth_token)?);
        read_store::prepare(&store).await?;
        Ok(Target::Sql {
            name: "turso",
            store,
        })
    }

    pub async fn embedded(path: &std::path::Path) -> Result<Self, RollupError> {
        let (db, conn) = crate::sinks::embedded::open_database(path)
            .await
            .map_err(|e| RollupError::Open {
                path: path.display().to_string(),
                source: match e {
                    crate::sinks::embedded::EmbeddedError::Open { source, .. }
                    | crate::sinks::embedded::EmbeddedError::Write(source) => source,
                    err @ (crate::sinks::embedded::EmbeddedError::Spool(_)
                    | crate::sinks::embedded::EmbeddedError::LogBusy) => {
                        libsql::Error::Misuse(err.to_string())
                    }
                },
            })?;
        let store = ReadStoreConn::Local { _db: db, conn };
        read_store::prepare(&store).await?;
        Ok(Target::Sql {
            name: "embedded",
            store,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Target::QueryWorker { .. } => "query_worker",
            Target::Sql { name, .. } => name,
        }
    }

    pub async fn push(&self, upsert: &RollupUpsert) -> Result<(), RollupError> {
        match self {
            Target::QueryWorker { client, url, keys } => {
                let body = serde_json::to_vec(upsert)?;
                let signature =
                    keys.sign(chrono::Utc::now().timestamp(), "POST", ROLLUP_PATH, &body);
                let response = client
                    .post(url.clone())
                    .header(SIGNATURE_HEADER, signature)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .send()
                    .await?;
                let status = response.status();
                if status.is_success() {
                    Ok(())
                } else if status == reqwest::StatusCode::CONFLICT {
                    // `stale_rollup`: the read store already holds these days from facts at
                    // least as new (an earlier attempt landed and its answer was lost).
                    tracing::info!(days = upsert.days.len(), "rollup superseded (409)");
                    Ok(())
                } else {
                    let body = response.text().await.unwrap_or_default();
                    Err(RollupError::Rejected {
                        status: status.as_u16(),
                        body: body.chars().take(500).collect(),
                    })
                }
            }
            Target::Sql { store, .. } => read_store::replace_days(store, upsert).await,
        }
    }
}
