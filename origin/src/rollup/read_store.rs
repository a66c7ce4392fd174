//! The read-store tables where the origin writes them itself (Turso through `TURSO_URL`, and
//! the embedded file): the same tables, keys and replacement rule as the query Worker's
//! `/internal/rollups` (`workers/query/src/contract.rs`, migrations 0003 and 0006), so a Turso
//! database is the same whichever of the two fills it.
//!
//! Issue 13, finding 3: these targets used to replace whole (app, day) pairs with no region,
//! so several regional origins writing one Turso database overwrote each other's stats (the
//! last pusher won). Now every row carries the pushing origin's region, a push replaces its
//! region's rows of its days only, and readers sum the regions (the query Worker does).

use attrib_core::rollup::RollupUpsert;
use libsql::{Connection, Database, Value};

use super::hrana::TursoHttp;
use super::RollupError;

/// Where the statements run: a local libsql file (the embedded target) or Turso over HTTP.
pub enum ReadStoreConn {
    Local {
        /// Kept alive as long as the connection is used.
        _db: Database,
        conn: Connection,
    },
    Turso(TursoHttp),
}

impl ReadStoreConn {
    async fn execute(&self, statement: &Statement) -> Result<(), RollupError> {
        match self {
            ReadStoreConn::Local { conn, .. } => {
                conn.execute(&statement.sql, statement.params.clone())
                    .await?;
                Ok(())
            }
            ReadStoreConn::Turso(turso) => turso.count_rows(statement).await.map(|_| ()),
        }
    }

    async fn has_rows(&self, statement: &Statement) -> Result<bool, RollupError> {
        match self {
            ReadStoreConn::Local { conn, .. } => {
                let mut rows = conn.query(&statement.sql, statement.params.clone()).await?;
                Ok(rows.next().await?.is_some())
            }
            ReadStoreConn::Turso(turso) => Ok(turso.count_rows(statement).await? > 0),
        }
    }

    /// All of `statements` or none.
    async fn transaction(&self, statements: &[Statement]) -> Result<(), RollupError> {
        match self {
            ReadStoreConn::Local { conn, .. } => {
                let tx = conn.transaction().await?;
                for statement in statements {
                    tx.execute(&statement.sql, statement.params.clone()).await?;
                }
                tx.commit().await?;
                Ok(())
            }
            ReadStoreConn::Turso(turso) => turso.transaction(statements).await,
        }
    }
}

/// Tables as migrations 0003, 0006 and 0017 leave them (`CREATE ... IF NOT EXISTS`: a database
/// migrated for the query Worker is used as it is). One statement each: Turso's HTTP API runs
/// one statement per request.
const SCHEMA: [&str; 9] = [
    "CREATE TABLE IF NOT EXISTS daily_stats (
        app_id TEXT NOT NULL, day TEXT NOT NULL, region TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL, campaign TEXT NOT NULL, model TEXT NOT NULL,
        currency TEXT NOT NULL, touches INTEGER NOT NULL DEFAULT 0,
        conversions REAL NOT NULL DEFAULT 0, revenue REAL NOT NULL DEFAULT 0,
        credited_value REAL NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (app_id, day, region, source, campaign, model, currency))",
    "CREATE INDEX IF NOT EXISTS daily_stats_by_app_model_day ON daily_stats (app_id, model, day)",
    "CREATE TABLE IF NOT EXISTS conversion_paths (
        app_id TEXT NOT NULL, day TEXT NOT NULL, region TEXT NOT NULL DEFAULT '',
        path TEXT NOT NULL, steps INTEGER NOT NULL CHECK (steps >= 1), currency TEXT NOT NULL,
        conversions REAL NOT NULL DEFAULT 0, nulls REAL NOT NULL DEFAULT 0,
        value REAL NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (app_id, day, region, path, currency))",
    "CREATE TABLE IF NOT EXISTS fraud_counts (
        app_id TEXT NOT NULL, day TEXT NOT NULL, region TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL, count INTEGER NOT NULL DEFAULT 0 CHECK (count >= 0),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (app_id, day, region, reason))",
    "CREATE TABLE IF NOT EXISTS rollup_generations (
        app_id TEXT NOT NULL, day TEXT NOT NULL, region TEXT NOT NULL,
        seq INTEGER NOT NULL CHECK (seq >= 0),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (app_id, day, region))",
    // Migration 0017: lifetime-value summaries and acquisition cohorts.
    "CREATE TABLE IF NOT EXISTS ltv_customers (
        app_id TEXT NOT NULL, day TEXT NOT NULL, source TEXT NOT NULL, currency TEXT NOT NULL,
        frequency INTEGER NOT NULL CHECK (frequency >= 0),
        recency REAL NOT NULL CHECK (recency >= 0), t REAL NOT NULL CHECK (t > 0),
        observed_on TEXT NOT NULL,
        monetary_value REAL NOT NULL DEFAULT 0 CHECK (monetary_value >= 0),
        region TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))",
    "CREATE INDEX IF NOT EXISTS ltv_customers_by_app_day ON ltv_customers (app_id, day, region)",
    "CREATE TABLE IF NOT EXISTS cohort_days (
        app_id TEXT NOT NULL, day TEXT NOT NULL, source TEXT NOT NULL, campaign TEXT NOT NULL,
        day_offset INTEGER NOT NULL CHECK (day_offset BETWEEN 0 AND 90),
        currency TEXT NOT NULL, users INTEGER NOT NULL DEFAULT 0 CHECK (users >= 0),
        active_users INTEGER NOT NULL DEFAULT 0 CHECK (active_users >= 0),
        revenue REAL NOT NULL DEFAULT 0, region TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (app_id, day, source, campaign, day_offset, currency, region))",
    "CREATE TABLE IF NOT EXISTS stats_versions (
        app_id TEXT PRIMARY KEY, version INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))",
];

/// `daily_stats` as older origins created it (no region, integer `updated_at`) is rebuilt in
/// the layout above; its rows become the unnamed region `''`, as migration 0006 does for D1.
const LEGACY_DAILY_STATS: [&str; 4] = [
    "CREATE TABLE daily_stats_regions (
        app_id TEXT NOT NULL, day TEXT NOT NULL, region TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL, campaign TEXT NOT NULL, model TEXT NOT NULL,
        currency TEXT NOT NULL, touches INTEGER NOT NULL DEFAULT 0,
        conversions REAL NOT NULL DEFAULT 0, revenue REAL NOT NULL DEFAULT 0,
        credited_value REAL NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (app_id, day, region, source, campaign, model, currency))",
    "INSERT INTO daily_stats_regions (app_id, day, region, source, campaign, model, currency,
        touches, conversions, revenue, credited_value)
        SELECT app_id, day, '', source, campaign, model, currency, touches, conversions,
               revenue, credited_value FROM daily_stats",
    "DROP TABLE daily_stats",
    "ALTER TABLE daily_stats_regions RENAME TO daily_stats",
];

/// Creates the tables that are missing and brings an older origin's `daily_stats` to the
/// regional layout.
pub async fn prepare(store: &ReadStoreConn) -> Result<(), RollupError> {
    let probe = Statement::new("SELECT region FROM daily_stats LIMIT 0", Vec::new());
    let has_region = match store.has_rows(&probe).await {
        Ok(_) => true,
        Err(err) if err.to_string().contains("no such column") => false,
        // No table yet: the schema below creates it with its region.
        Err(err) if err.to_string().contains("no such table") => true,
        Err(err) => return Err(err),
    };
    if !has_region {
        let rebuild: Vec<Statement> = LEGACY_DAILY_STATS
            .iter()
            .map(|sql| Statement::new(*sql, Vec::new()))
            .collect();
        store.transaction(&rebuild).await?;
        tracing::info!("daily_stats rebuilt with a region column; its rows are region ''");
    }
    for sql in SCHEMA {
        store.execute(&Statement::new(sql, Vec::new())).await?;
    }
    Ok(())
}

/// One statement with positional parameters.
pub struct Statement {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Statement {
    fn new(sql: impl Into<String>, params: Vec<Value>) -> Self {
        Statement {
            sql: sql.into(),
            params,
        }
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// Whether the read store already holds one of the upsert's days (in its region) from facts
/// newer than its `seq`: then the upsert is superseded and skipped, as the query Worker's
/// 409 `stale_rollup` is. No check without a seq.
pub fn stale_check(upsert: &RollupUpsert) -> Option<Statement> {
    let seq = upsert.seq?;
    if upsert.days.is_empty() {
        return None;
    }
    let mut params = vec![text(&upsert.region), Value::Integer(seq as i64)];
    let mut pairs = Vec::new();
    for d in &upsert.days {
        params.push(text(&d.app_id));
        params.push(text(&d.day));
        pairs.push(format!(
            "(app_id = ?{} AND day = ?{})",
            params.len() - 1,
            params.len()
        ));
    }
    Some(Statement::new(
        format!(
            "SELECT app_id FROM rollup_generations WHERE region = ?1 AND seq > ?2 AND ({}) LIMIT 1",
            pairs.join(" OR ")
        ),
        params,
    ))
}

/// The upsert as one transaction's statements: each day's seq recorded (never lowered), the
/// listed days' rows *of this region* deleted and the new ones inserted, each app's stats
/// version bumped (the query Worker's cache key). Same statements as the query Worker's.
pub fn statements(upsert: &RollupUpsert, now_iso: &str) -> Vec<Statement> {
    let region = upsert.region.as_str();
    let mut out = Vec::new();
    if let Some(seq) = upsert.seq {
        for d in &upsert.days {
            out.push(Statement::new(
                "INSERT INTO rollup_generations (app_id, day, region, seq, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (app_id, day, region) DO UPDATE SET \
                 seq = excluded.seq, updated_at = excluded.updated_at \
                 WHERE excluded.seq >= rollup_generations.seq",
                vec![
                    text(&d.app_id),
                    text(&d.day),
                    text(region),
                    Value::Integer(seq as i64),
                    text(now_iso),
                ],
            ));
        }
    }
    let sections = [
        (true, "daily_stats"),
        (upsert.paths.is_some(), "conversion_paths"),
        (upsert.fraud.is_some(), "fraud_counts"),
        (upsert.ltv_customers.is_some(), "ltv_customers"),
        (upsert.cohorts.is_some(), "cohort_days"),
    ];
    for (_, table) in sections.iter().filter(|(present, _)| *present) {
        for d in &upsert.days {
            out.push(Statement::new(
                format!("DELETE FROM {table} WHERE app_id = ?1 AND day = ?2 AND region = ?3"),
                vec![text(&d.app_id), text(&d.day), text(region)],
            ));
        }
    }
    for row in &upsert.rows {
        let (k, v) = (&row.key, &row.values);
        out.push(Statement::new(
            "INSERT INTO daily_stats (app_id, day, region, source, campaign, model, currency, \
             touches, conversions, revenue, credited_value, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            vec![
                text(&k.app_id),
                text(&k.day),
                text(region),
                text(&k.source),
                text(&k.campaign),
                text(k.model.as_str()),
                text(&k.currency),
                Value::Integer(v.touches as i64),
                Value::Real(v.conversions),
                Value::Real(v.revenue),
                Value::Real(v.credited_value),
                text(now_iso),
            ],
        ));
    }
    for p in upsert.paths.iter().flatten() {
        out.push(Statement::new(
            "INSERT INTO conversion_paths (app_id, day, region, path, steps, currency, \
             conversions, nulls, value, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            vec![
                text(&p.app_id),
                text(&p.day),
                text(region),
                // Canonical JSON: the form /v1/paths matches steps against.
                Value::Text(serde_json::to_string(&p.path).unwrap_or_default()),
                Value::Integer(p.path.len() as i64),
                text(&p.currency),
                Value::Real(p.conversions),
                Value::Real(p.nulls),
                Value::Real(p.value),
                text(now_iso),
            ],
        ));
    }
    for f in upsert.fraud.iter().flatten() {
        out.push(Statement::new(
            "INSERT INTO fraud_counts (app_id, day, region, reason, count, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            vec![
                text(&f.app_id),
                text(&f.day),
                text(region),
                text(&f.reason),
                Value::Integer(f.count as i64),
                text(now_iso),
            ],
        ));
    }
    for c in upsert.ltv_customers.iter().flatten() {
        out.push(Statement::new(
            "INSERT INTO ltv_customers (app_id, day, source, currency, frequency, recency, t, \
             observed_on, monetary_value, region, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            vec![
                text(&c.app_id),
                text(&c.day),
                text(&c.source),
                text(&c.currency),
                Value::Integer(i64::from(c.frequency)),
                Value::Real(c.recency),
                Value::Real(c.t),
                text(&c.observed_on),
                Value::Real(c.monetary_value),
                text(region),
                text(now_iso),
            ],
        ));
    }
    for c in upsert.cohorts.iter().flatten() {
        out.push(Statement::new(
            "INSERT INTO cohort_days (app_id, day, source, campaign, day_offset, currency, \
             users, active_users, revenue, region, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            vec![
                text(&c.app_id),
                text(&c.day),
                text(&c.source),
                text(&c.campaign),
                Value::Integer(i64::from(c.day_offset)),
                text(&c.currency),
                Value::Integer(c.users as i64),
                Value::Integer(c.active_users as i64),
                Value::Real(c.revenue),
                text(region),
                text(now_iso),
            ],
        ));
    }
    let apps: std::collections::BTreeSet<&str> =
        upsert.days.iter().map(|d| d.app_id.as_str()).collect();
    for app in apps {
        out.push(Statement::new(
            "INSERT INTO stats_versions (app_id, version, updated_at) VALUES (?1, 1, ?2) \
             ON CONFLICT (app_id) DO UPDATE SET version = stats_versions.version + 1, \
             updated_at = excluded.updated_at",
            vec![text(app), text(now_iso)],
        ));
    }
    out
}

/// Applies `upsert` to a read store the origin writes itself; a superseded one (see
/// [`stale_check`]) changes nothing.
pub async fn replace_days(store: &ReadStoreConn, upsert: &RollupUpsert) -> Result<(), RollupError> {
    if let Some(check) = stale_check(upsert) {
        if store.has_rows(&check).await? {
            tracing::info!(
                days = upsert.days.len(),
                region = %upsert.region,
                "rollup superseded: the read store holds newer facts of these days"
            );
            return Ok(());
        }
    }
    let now_iso = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    store.transaction(&statements(upsert, &now_iso)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use attrib_core::attribution::Model;
    use attrib_core::rollup::{AppDay, DailyStat, FraudCount, StatKey, StatValues};

    const DAY: &str = "2026-01-02";

    async fn store() -> (tempfile::TempDir, ReadStoreConn, Connection) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = libsql::Builder::new_local(dir.path().join("read.db"))
            .build()
            .await
            .expect("db");
        let conn = db.connect().expect("conn");
        let check = db.connect().expect("conn");
        (dir, ReadStoreConn::Local { _db: db, conn }, check)
    }

    fn upsert(region: &str, seq: u64, touches: &[(&str, u64)]) -> RollupUpsert {
        RollupUpsert {
            days: vec![AppDay {
                app_id: "app".into(),
                day: DAY.into(),
            }],
            rows: touches
                .iter()
                .map(|(source, n)| DailyStat {
                    key: StatKey {
                        app_id: "app".into(),
                        day: DAY.into(),
                        source: (*source).into(),
                        campaign: "c".into(),
                        model: Model::LastClick,
                        currency: String::new(),
                    },
                    values: StatValues {
                        touches: *n,
                        ..StatValues::default()
                    },
                })
                .collect(),
            paths: Some(Vec::new()),
            fraud: Some(vec![FraudCount {
                app_id: "app".into(),
                day: DAY.into(),
                reason: "bot_user_agent".into(),
                count: 1,
            }]),
            cohorts: None,
            ltv_customers: None,
            region: region.into(),
            seq: Some(seq),
        }
    }

    async fn sums(conn: &Connection) -> Vec<(String, i64, i64)> {
        let mut rows = conn
            .query(
                "SELECT s.region, sum(s.touches), \
                 (SELECT sum(count) FROM fraud_counts f WHERE f.region = s.region) \
                 FROM daily_stats s GROUP BY s.region ORDER BY s.region",
                (),
            )
            .await
            .expect("query");
        let mut out = Vec::new();
        while let Some(row) = rows.next().await.expect("row") {
            out.push((
                row.get::<String>(0).expect("region"),
                row.get::<i64>(1).expect("touches"),
                row.get::<i64>(2).expect("fraud"),
            ));
        }
        out
    }

    /// Issue 13, finding 3: two regional origins writing one read store (Turso, or a shared
    /// file) replaced each other's (app, day) rows: the last pusher won.
    #[tokio::test]
    async fn finding_3_regions_overwrite_each_other_in_a_read_store_the_origin_writes() {
        let (_dir, store, conn) = store().await;
        prepare(&store).await.expect("schema");
        replace_days(&store, &upsert("us", 5, &[("google", 2)]))
            .await
            .expect("us");
        replace_days(&store, &upsert("eu", 3, &[("google", 3), ("meta", 1)]))
            .await
            .expect("eu");
        assert_eq!(
            sums(&conn).await,
            [("eu".into(), 4, 1), ("us".into(), 2, 1)],
            "each region keeps its rows"
        );
        // The US pushes its day again: Europe's rows stay.
        replace_days(&store, &upsert("us", 6, &[("google", 3)]))
            .await
            .expect("us again");
        assert_eq!(
            sums(&conn).await,
            [("eu".into(), 4, 1), ("us".into(), 3, 1)]
        );
        // A late push of older facts (lower seq) changes nothing.
        replace_days(&store, &upsert("us", 4, &[("google", 100)]))
            .await
            .expect("stale push is skipped");
        assert_eq!(
            sums(&conn).await,
            [("eu".into(), 4, 1), ("us".into(), 3, 1)]
        );
        // Every push bumped the app's stats version (the query Worker's cache key).
        let mut rows = conn
            .query(
                "SELECT version FROM stats_versions WHERE app_id = 'app'",
                (),
            )
            .await
            .expect("query");
        let row = rows.next().await.expect("row").expect("a version");
        assert_eq!(row.get::<i64>(0).expect("version"), 3);
    }

    /// The cohort and lifetime-value tables (migration 0017) are filled and replaced per
    /// (app, day, region) like the stats; an upsert without those sections leaves them alone.
    #[tokio::test]
    async fn cohorts_and_ltv_customers_are_replaced_per_day_and_region() {
        use attrib_core::cohorts::{CohortRow, LtvSummary};
        let (_dir, store, conn) = store().await;
        prepare(&store).await.expect("schema");
        let cohort = |users: u64, revenue: f64, currency: &str| CohortRow {
            app_id: "app".into(),
            day: DAY.into(),
            source: "google".into(),
            campaign: "c".into(),
            day_offset: 0,
            currency: currency.into(),
            users,
            active_users: users,
            revenue,
        };
        let customer = |frequency: u32| LtvSummary {
            app_id: "app".into(),
            day: DAY.into(),
            source: "google".into(),
            currency: "USD".into(),
            frequency,
            recency: f64::from(frequency),
            t: 10.0,
            observed_on: "2026-01-12".into(),
            monetary_value: 5.0,
        };
        let with =
            |region: &str, seq, cohorts: Vec<CohortRow>, customers: Vec<LtvSummary>| RollupUpsert {
                cohorts: Some(cohorts),
                ltv_customers: Some(customers),
                ..upsert(region, seq, &[])
            };
        let totals = || async {
            let mut rows = conn
                .query(
                    "SELECT (SELECT sum(users) FROM cohort_days), \
                     (SELECT sum(revenue) FROM cohort_days), \
                     (SELECT sum(frequency) FROM ltv_customers)",
                    (),
                )
                .await
                .expect("query");
            let row = rows.next().await.expect("row").expect("row");
            (
                row.get::<Option<i64>>(0).expect("users"),
                row.get::<Option<f64>>(1).expect("revenue"),
                row.get::<Option<i64>>(2).expect("frequency"),
            )
        };
        let us = vec![cohort(3, 0.0, ""), cohort(0, 30.0, "USD")];
        replace_days(&store, &with("us", 1, us, vec![customer(1), customer(2)]))
            .await
            .expect("us");
        replace_days(
            &store,
            &with("eu", 1, vec![cohort(2, 0.0, "")], vec![customer(4)]),
        )
        .await
        .expect("eu");
        assert_eq!(totals().await, (Some(5), Some(30.0), Some(7)));
        replace_days(&store, &with("us", 2, vec![cohort(1, 0.0, "")], vec![]))
            .await
            .expect("us again");
        assert_eq!(
            totals().await,
            (Some(3), Some(0.0), Some(4)),
            "the US rows replaced, Europe's kept"
        );
        replace_days(&store, &upsert("us", 3, &[("google", 1)]))
            .await
            .expect("stats only");
        assert_eq!(totals().await, (Some(3), Some(0.0), Some(4)));
    }

    /// A file or database an older origin wrote (`daily_stats` without a region) is rebuilt:
    /// its rows become region `''` and are kept.
    #[tokio::test]
    async fn finding_3_an_older_region_less_daily_stats_is_rebuilt_keeping_its_rows() {
        let (_dir, store, conn) = store().await;
        conn.execute(
            "CREATE TABLE daily_stats (app_id TEXT NOT NULL, day TEXT NOT NULL, \
             source TEXT NOT NULL, campaign TEXT NOT NULL, model TEXT NOT NULL, \
             currency TEXT NOT NULL, touches INTEGER NOT NULL, conversions REAL NOT NULL, \
             revenue REAL NOT NULL, credited_value REAL NOT NULL, updated_at INTEGER NOT NULL, \
             PRIMARY KEY (app_id, day, source, campaign, model, currency))",
            (),
        )
        .await
        .expect("legacy table");
        conn.execute(
            "INSERT INTO daily_stats VALUES ('app', '2026-01-01', 'google', 'c', 'last_click', \
             '', 7, 0, 0, 0, 1)",
            (),
        )
        .await
        .expect("legacy row");
        prepare(&store).await.expect("migrated");
        prepare(&store)
            .await
            .expect("a second start changes nothing");
        replace_days(&store, &upsert("us", 1, &[("google", 2)]))
            .await
            .expect("us");
        let mut rows = conn
            .query(
                "SELECT region, day, touches FROM daily_stats ORDER BY region",
                (),
            )
            .await
            .expect("query");
        let mut got = Vec::new();
        while let Some(row) = rows.next().await.expect("row") {
            got.push((
                row.get::<String>(0).expect("region"),
                row.get::<String>(1).expect("day"),
                row.get::<i64>(2).expect("touches"),
            ));
        }
        assert_eq!(
            got,
            [
                ("".into(), "2026-01-01".into(), 7),
                ("us".into(), DAY.into(), 2)
            ]
        );
    }
}
