//! Where complete daily stats are written: the query Worker's `/internal/rollups` (which
//! replaces the rows of the listed days in D1), Turso, and the embedded file. Each push
//! replaces whole (app, day) pairs, so repeating one after a failure is harmless.

use std::time::Duration;

use attrib_core::outbox::SIGNATURE_HEADER;
use attrib_core::rollup::{RollupUpsert, ROLLUP_PATH};
use attrib_core::signing::Keyring;
use libsql::{Connection, Database};

use super::{RollupError, TursoConfig};

/// The edge read store's table, created where the origin owns the database (Turso, embedded).
pub const DAILY_STATS_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS daily_stats (
    app_id TEXT NOT NULL, day TEXT NOT NULL, source TEXT NOT NULL, campaign TEXT NOT NULL,
    model TEXT NOT NULL, currency TEXT NOT NULL, touches INTEGER NOT NULL,
    conversions REAL NOT NULL, revenue REAL NOT NULL, credited_value REAL NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (app_id, day, source, campaign, model, currency))";

pub enum Target {
    QueryWorker {
        client: reqwest::Client,
        url: reqwest::Url,
        keys: Keyring,
    },
    /// Turso or the embedded file: both speak SQL through libsql.
    Sql {
        name: &'static str,
        _db: Database,
        conn: Connection,
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
        let url = config.url.replacen("libsql://", "https://", 1);
        let db = libsql::Builder::new_remote(url, config.auth_token.clone())
            .build()
            .await?;
        let conn = db.connect()?;
        conn.execute(DAILY_STATS_SCHEMA, ()).await?;
        Ok(Target::Sql {
            name: "turso",
            _db: db,
            conn,
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
                    crate::sinks::embedded::EmbeddedError::Spool(err) => {
                        libsql::Error::Misuse(err.to_string())
                    }
                },
            })?;
        Ok(Target::Sql {
            name: "embedded",
            _db: db,
            conn,
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
            Target::Sql { conn, .. } => replace_days(conn, upsert).await,
        }
    }
}

async fn replace_days(conn: &Connection, upsert: &RollupUpsert) -> Result<(), RollupError> {
    let updated_at = chrono::Utc::now().timestamp_millis();
    let tx = conn.transaction().await?;
    for day in &upsert.days {
        tx.execute(
            "DELETE FROM daily_stats WHERE app_id = ?1 AND day = ?2",
            (day.app_id.as_str(), day.day.as_str()),
        )
        .await?;
    }
    for row in &upsert.rows {
        let key = &row.key;
        let values = &row.values;
        tx.execute(
            "INSERT OR REPLACE INTO daily_stats (app_id, day, source, campaign, model, currency, \
             touches, conversions, revenue, credited_value, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            libsql::params![
                key.app_id.as_str(),
                key.day.as_str(),
                key.source.as_str(),
                key.campaign.as_str(),
                key.model.as_str(),
                key.currency.as_str(),
                values.touches as i64,
                values.conversions,
                values.revenue,
                values.credited_value,
                updated_at
            ],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
