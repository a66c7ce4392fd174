//! The fact store's cohort half: which user each kept conversion belongs to, each user's
//! cohort (the day of their first unrejected conversion), the days each user was active, and
//! the cohort days whose lifetime-value rows must be pushed again the next day.
//!
//! A cohort day's rows (`core::cohorts`) depend on every conversion and every active day of
//! its users, up to 90 days later. So when a user converts, is active, or receives a merged
//! journey's activity, the day of their cohort (before and after the change) is marked dirty
//! with the day stats, in the same transaction as the facts; the pusher recomputes it from
//! these tables and replaces it everywhere, as it does a day's stats.

use std::collections::BTreeSet;

use libsql::{Connection, Transaction};

use super::RollupError;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS conversion_users (
    app_id TEXT NOT NULL, conversion_id TEXT NOT NULL, user TEXT NOT NULL, day TEXT NOT NULL,
    counted INTEGER NOT NULL,
    PRIMARY KEY (app_id, conversion_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS conversion_users_by_user ON conversion_users (app_id, user);
CREATE TABLE IF NOT EXISTS user_cohorts (
    app_id TEXT NOT NULL, user TEXT NOT NULL, day TEXT NOT NULL,
    PRIMARY KEY (app_id, user)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS user_cohorts_by_day ON user_cohorts (app_id, day);
CREATE TABLE IF NOT EXISTS user_activity (
    app_id TEXT NOT NULL, user TEXT NOT NULL, day INTEGER NOT NULL,
    PRIMARY KEY (app_id, user, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS erased_users (
    id INTEGER PRIMARY KEY AUTOINCREMENT, erased_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ltv_pending (
    app_id TEXT NOT NULL, day TEXT NOT NULL,
    PRIMARY KEY (app_id, day)
) WITHOUT ROWID;
";

/// (app, cohort day) pairs to mark dirty.
pub type Days = BTreeSet<(String, String)>;

async fn optional_text(
    tx: &Transaction,
    sql: &str,
    params: impl libsql::params::IntoParams,
) -> Result<Option<String>, RollupError> {
    let mut rows = tx.query(sql, params).await?;
    Ok(match rows.next().await? {
        Some(row) => row.get::<Option<String>>(0)?,
        None => None,
    })
}

/// A fact store written before cohorts existed: every kept conversion gets its user (the
/// record's journey) and every user its cohort, and each cohort day is marked dirty once, so
/// the first push after the upgrade fills the cohort tables. Runs only while
/// `conversion_users` is empty and `conversions` is not.
pub async fn backfill(conn: &Connection) -> Result<(), RollupError> {
    let mut rows = conn
        .query(
            "SELECT (SELECT count(*) FROM conversion_users), (SELECT count(*) FROM conversions)",
            (),
        )
        .await?;
    let (users, conversions) = match rows.next().await? {
        Some(row) => (row.get::<i64>(0)?, row.get::<i64>(1)?),
        None => (0, 0),
    };
    drop(rows);
    if users > 0 || conversions == 0 {
        return Ok(());
    }
    let tx = conn.transaction().await?;
    tx.execute(
        "INSERT OR IGNORE INTO conversion_users (app_id, conversion_id, user, day, counted) \
         SELECT app_id, conversion_id, json_extract(record, '$.journey'), day, \
         json_extract(record, '$.result.rejected') IS NULL FROM conversions \
         WHERE json_extract(record, '$.journey') IS NOT NULL",
        (),
    )
    .await?;
    tx.execute(
        "INSERT OR REPLACE INTO user_cohorts (app_id, user, day) \
         SELECT app_id, user, min(day) FROM conversion_users WHERE counted = 1 \
         GROUP BY app_id, user",
        (),
    )
    .await?;
    tx.execute(
        "INSERT INTO dirty_days (app_id, day, generation) \
         SELECT DISTINCT app_id, day, (SELECT COALESCE(MAX(generation), 0) + 1 FROM dirty_days) \
         FROM user_cohorts WHERE true \
         ON CONFLICT (app_id, day) DO NOTHING",
        (),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(conversions, "cohort facts filled from the kept conversions");
    Ok(())
}

/// Records the user of a conversion whose attribution was just kept (a newer revision);
/// adds that user, and the one the conversion belonged to before, to `users`.
pub async fn note_conversion(
    tx: &Transaction,
    (app_id, conversion_id): (&str, &str),
    (user, day, counted): (&str, &str, bool),
    users: &mut BTreeSet<(String, String)>,
) -> Result<(), RollupError> {
    if let Some(old) = optional_text(
        tx,
        "SELECT user FROM conversion_users WHERE app_id = ?1 AND conversion_id = ?2",
        (app_id, conversion_id),
    )
    .await?
    {
        users.insert((app_id.to_owned(), old));
    }
    tx.execute(
        "INSERT INTO conversion_users (app_id, conversion_id, user, day, counted) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (app_id, conversion_id) DO UPDATE SET \
         user = excluded.user, day = excluded.day, counted = excluded.counted",
        (app_id, conversion_id, user, day, i64::from(counted)),
    )
    .await?;
    users.insert((app_id.to_owned(), user.to_owned()));
    Ok(())
}

/// Brings the cohorts of `users` up to date with their conversions; returns their cohort
/// days before and after (both change: a user's rows move, or their values do).
pub async fn settle_users(
    tx: &Transaction,
    users: &BTreeSet<(String, String)>,
) -> Result<Days, RollupError> {
    let mut days = Days::new();
    for (app_id, user) in users {
        let key = (app_id.as_str(), user.as_str());
        let old = optional_text(
            tx,
            "SELECT day FROM user_cohorts WHERE app_id = ?1 AND user = ?2",
            key,
        )
        .await?;
        let new = optional_text(
            tx,
            "SELECT min(day) FROM conversion_users WHERE app_id = ?1 AND user = ?2 AND counted = 1",
            key,
        )
        .await?;
        match &new {
            Some(day) => {
                tx.execute(
                    "INSERT INTO user_cohorts (app_id, user, day) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (app_id, user) DO UPDATE SET day = excluded.day",
                    (key.0, key.1, day.as_str()),
                )
                .await?;
            }
            None => {
                tx.execute(
                    "DELETE FROM user_cohorts WHERE app_id = ?1 AND user = ?2",
                    key,
                )
                .await?;
            }
        }
        for day in old.into_iter().chain(new) {
            days.insert((app_id.clone(), day));
        }
    }
    Ok(days)
}

/// Keeps the active days (app, user, day number) and returns the cohort days a new one
/// changes: that of its user, when the day is within the cohort's 90 days.
pub async fn note_activity(
    tx: &Transaction,
    activity: &BTreeSet<(&str, &str, i64)>,
) -> Result<Days, RollupError> {
    let mut days = Days::new();
    let insert = tx
        .prepare("INSERT OR IGNORE INTO user_activity (app_id, user, day) VALUES (?1, ?2, ?3)")
        .await?;
    for (app_id, user, day) in activity {
        let added = insert.execute((*app_id, *user, *day)).await?;
        insert.reset();
        if added == 0 {
            continue;
        }
        if let Some(cohort) = cohort_of(tx, app_id, user).await? {
            if within_cohort(&cohort, *day) {
                days.insert(((*app_id).to_owned(), cohort));
            }
        }
    }
    Ok(days)
}

/// A journey merged into another: its active days become the surviving journey's too (its
/// conversions move with their next revision, which names the surviving journey).
pub async fn note_merge(
    tx: &Transaction,
    app_id: &str,
    from: &str,
    into: &str,
) -> Result<Days, RollupError> {
    let copied = tx
        .execute(
            "INSERT OR IGNORE INTO user_activity (app_id, user, day) \
             SELECT app_id, ?3, day FROM user_activity WHERE app_id = ?1 AND user = ?2",
            (app_id, from, into),
        )
        .await?;
    let mut days = Days::new();
    if copied > 0 {
        if let Some(cohort) = cohort_of(tx, app_id, into).await? {
            days.insert((app_id.to_owned(), cohort));
        }
    }
    Ok(days)
}

async fn cohort_of(
    tx: &Transaction,
    app_id: &str,
    user: &str,
) -> Result<Option<String>, RollupError> {
    optional_text(
        tx,
        "SELECT day FROM user_cohorts WHERE app_id = ?1 AND user = ?2",
        (app_id, user),
    )
    .await
}

fn within_cohort(cohort_day: &str, day: i64) -> bool {
    day_number(cohort_day).is_some_and(|start| {
        let offset = day - start;
        (0..=i64::from(attrib_core::cohorts::MAX_COHORT_DAY)).contains(&offset)
    })
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` day.
pub fn day_number(day: &str) -> Option<i64> {
    let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    Some((date - chrono::NaiveDate::default()).num_days())
}

/// What a cohort day is computed from: every kept attribution record of its users (the user
/// as this store knows it, and the record's JSON) and their active days.
#[derive(Debug, Default)]
pub struct CohortInputs {
    /// (user, record). The user comes from `conversion_users`, not from the record: an
    /// erasure may have anonymised the record's journey.
    pub records: Vec<(String, String)>,
    /// (user, day number).
    pub activity: Vec<(String, i64)>,
}

pub async fn inputs_of(
    conn: &Connection,
    app_id: &str,
    day: &str,
) -> Result<CohortInputs, RollupError> {
    let mut out = CohortInputs::default();
    let mut rows = conn
        .query(
            "SELECT cu.user, c.record FROM user_cohorts u \
             JOIN conversion_users cu ON cu.app_id = u.app_id AND cu.user = u.user \
             JOIN conversions c ON c.app_id = cu.app_id AND c.conversion_id = cu.conversion_id \
             WHERE u.app_id = ?1 AND u.day = ?2",
            (app_id, day),
        )
        .await?;
    while let Some(row) = rows.next().await? {
        out.records.push((row.get(0)?, row.get(1)?));
    }
    drop(rows);
    let mut rows = conn
        .query(
            "SELECT a.user, a.day FROM user_cohorts u \
             JOIN user_activity a ON a.app_id = u.app_id AND a.user = u.user \
             WHERE u.app_id = ?1 AND u.day = ?2",
            (app_id, day),
        )
        .await?;
    while let Some(row) = rows.next().await? {
        out.activity.push((row.get(0)?, row.get(1)?));
    }
    Ok(out)
}

/// Erasure (issue 12): the journey's user id is replaced, in every cohort table, by a
/// pseudonym that nothing links to the person (`erased:{n}`, `n` counting erasures in this
/// store), so the cohort counts and customer summaries stay exactly as they were, as the
/// other aggregates do, while the store no longer holds the journey. Returns how many rows
/// were rewritten. Nothing needs pushing again: the rows computed are the same.
pub async fn anonymise_user(
    tx: &Transaction,
    app_id: &str,
    journey: &str,
) -> Result<u64, RollupError> {
    tx.execute(
        "INSERT INTO erased_users (erased_at) VALUES (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
        (),
    )
    .await?;
    let pseudonym = format!("erased:{}", tx.last_insert_rowid());
    let mut rewritten = 0;
    for table in ["conversion_users", "user_cohorts", "user_activity"] {
        rewritten += tx
            .execute(
                &format!("UPDATE {table} SET user = ?3 WHERE app_id = ?1 AND user = ?2"),
                (app_id, journey, pseudonym.as_str()),
            )
            .await?;
    }
    Ok(rewritten)
}

/// Cohort days pushed on their own day: their customers are not in `ltv_customers` yet
/// (`core::cohorts::ltv_summaries` leaves out customers of age 0), so they are pushed again
/// once the day is over.
pub async fn defer_ltv(tx: &Transaction, days: &[(String, String)]) -> Result<(), RollupError> {
    for (app_id, day) in days {
        tx.execute(
            "INSERT OR IGNORE INTO ltv_pending (app_id, day) VALUES (?1, ?2)",
            (app_id.as_str(), day.as_str()),
        )
        .await?;
    }
    Ok(())
}

/// Marks the deferred cohort days before `today` dirty (with `generation`); returns how many.
pub async fn promote_ltv(
    conn: &Connection,
    today: &str,
    generation: i64,
) -> Result<u64, RollupError> {
    let tx = conn.transaction().await?;
    let moved = tx
        .execute(
            "INSERT INTO dirty_days (app_id, day, generation) \
             SELECT app_id, day, ?2 FROM ltv_pending WHERE day < ?1 \
             ON CONFLICT (app_id, day) DO UPDATE SET generation = excluded.generation",
            (today, generation),
        )
        .await?;
    tx.execute("DELETE FROM ltv_pending WHERE day < ?1", [today])
        .await?;
    tx.commit().await?;
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use attrib_core::attribution::attribute;
    use attrib_core::conversion::Conversion;
    use attrib_core::outbox::{AttributionRecord, OutboxRecord};
    use attrib_core::rollup::AppDay;
    use attrib_core::settings::AppSettings;

    use super::super::facts::FactStore;
    use super::anonymise_user;

    const DAY_MS: i64 = 86_400_000;
    /// 2026-03-01T10:00:00Z.
    const T0: i64 = 1_772_359_200_000;

    fn day(d: &str) -> AppDay {
        AppDay {
            app_id: "shop".into(),
            day: d.into(),
        }
    }

    fn attribution(user: &str, id: &str, ts_ms: i64, revenue: f64) -> String {
        let conversion = Conversion {
            conversion_id: id.into(),
            name: "Order Completed".into(),
            ts_ms,
            revenue,
            currency: "USD".into(),
            order_id: None,
        };
        let result = attribute(&conversion, &[], &AppSettings::with_defaults("shop"), ts_ms);
        serde_json::to_string(&OutboxRecord::Attribution(Box::new(AttributionRecord {
            app_id: "shop".into(),
            journey: format!("u:shop:{user}"),
            result,
        })))
        .expect("json")
    }

    /// A fact store an origin without cohorts wrote (conversions kept, no cohort facts) gets
    /// them on open, and every cohort day is marked dirty so the next push fills them.
    #[tokio::test]
    async fn an_older_fact_store_gets_its_cohorts_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("facts.db");
        drop(FactStore::open(&path).await.expect("create"));
        {
            let db = libsql::Builder::new_local(&path).build().await.expect("db");
            let conn = db.connect().expect("conn");
            for (user, id, ts, revenue) in [
                ("ann", "c1", T0, 10.0),
                ("ann", "c2", T0 + 2 * DAY_MS, 20.0),
                ("bob", "c3", T0 + DAY_MS, 5.0),
            ] {
                conn.execute(
                    "INSERT INTO conversions (app_id, conversion_id, day, revision, record) \
                     VALUES ('shop', ?1, ?2, 1, ?3)",
                    (
                        id,
                        attrib_core::time::day_of_millis(ts),
                        attribution(user, id, ts, revenue),
                    ),
                )
                .await
                .expect("insert");
            }
            conn.execute("DELETE FROM dirty_days", ())
                .await
                .expect("clean");
        }
        let facts = FactStore::open(&path).await.expect("reopen");
        let dirty: Vec<AppDay> = facts
            .dirty(10)
            .await
            .expect("dirty")
            .into_iter()
            .map(|d| d.day)
            .collect();
        assert_eq!(dirty, [day("2026-03-01"), day("2026-03-02")]);
        let rollup = facts
            .rollup_of(&dirty, T0 + 10 * DAY_MS)
            .await
            .expect("rollup");
        let cells: Vec<(&str, u32, &str, u64, f64)> = rollup
            .cohorts
            .iter()
            .map(|r| {
                (
                    r.day.as_str(),
                    r.day_offset,
                    r.currency.as_str(),
                    r.active_users,
                    r.revenue,
                )
            })
            .collect();
        assert_eq!(
            cells,
            [
                ("2026-03-01", 0, "", 1, 0.0),
                ("2026-03-01", 0, "USD", 0, 10.0),
                ("2026-03-01", 2, "", 1, 0.0),
                ("2026-03-01", 2, "USD", 0, 20.0),
                ("2026-03-02", 0, "", 1, 0.0),
                ("2026-03-02", 0, "USD", 0, 5.0),
            ]
        );
        assert_eq!(rollup.ltv_customers.len(), 2);
        assert!(rollup.young_cohorts.is_empty());
        drop(facts);
        let facts = FactStore::open(&path).await.expect("a third open");
        let again = facts
            .rollup_of(&dirty, T0 + 10 * DAY_MS)
            .await
            .expect("rollup");
        assert_eq!(again.cohorts, rollup.cohorts, "filled once, not twice");
        // Observed on bob's first day: his cohort is young, without a customer yet.
        let young = facts
            .rollup_of(&[day("2026-03-02")], T0 + DAY_MS + 3_600_000)
            .await
            .expect("rollup");
        assert_eq!(young.young_cohorts, [day("2026-03-02")]);
        assert!(young.ltv_customers.iter().all(|c| c.day != "2026-03-02"));
        assert_eq!(young.cohorts.len(), 2, "its cohort rows go at once");
    }

    /// Erasure: the person's journey leaves the cohort tables (and, as the erasure of the
    /// kept attributions does, their records), and the pushed rows stay exactly the same.
    #[tokio::test]
    async fn an_erased_journey_leaves_the_cohort_facts_and_the_rows_stay_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("facts.db");
        drop(FactStore::open(&path).await.expect("create"));
        let db = libsql::Builder::new_local(&path).build().await.expect("db");
        let conn = db.connect().expect("conn");
        for (user, id, ts) in [
            ("ann", "c1", T0),
            ("ann", "c2", T0 + 2 * DAY_MS),
            ("bob", "c3", T0 + 3_600_000),
            ("cy", "c4", T0 + 7_200_000),
        ] {
            conn.execute(
                "INSERT INTO conversions (app_id, conversion_id, day, revision, record) \
                 VALUES ('shop', ?1, ?2, 1, ?3)",
                (
                    id,
                    attrib_core::time::day_of_millis(ts),
                    attribution(user, id, ts, 5.0),
                ),
            )
            .await
            .expect("insert");
        }
        conn.execute(
            "INSERT INTO user_activity (app_id, user, day) VALUES ('shop', 'u:shop:bob', ?1)",
            [T0.div_euclid(DAY_MS) + 4],
        )
        .await
        .expect("activity");
        let facts = FactStore::open(&path)
            .await
            .expect("reopen: cohort facts filled");
        let days = [day("2026-03-01")];
        let before = facts
            .rollup_of(&days, T0 + 10 * DAY_MS)
            .await
            .expect("rollup");
        assert_eq!(before.cohorts.iter().map(|r| r.users).max(), Some(3));
        for journey in ["u:shop:ann", "u:shop:bob"] {
            let tx = conn.transaction().await.expect("tx");
            assert!(
                anonymise_user(&tx, "shop", journey)
                    .await
                    .expect("anonymise")
                    > 0
            );
            // What the erasure does to the kept records (`anonymise_attribution`).
            tx.execute(
                "UPDATE conversions SET record = json_set(record, '$.journey', 'erased') \
                 WHERE json_extract(record, '$.journey') = ?1",
                [journey],
            )
            .await
            .expect("records");
            tx.commit().await.expect("commit");
        }
        let after = facts
            .rollup_of(&days, T0 + 10 * DAY_MS)
            .await
            .expect("rollup");
        assert_eq!(
            after.cohorts, before.cohorts,
            "the same users, activity and revenue"
        );
        assert_eq!(after.ltv_customers, before.ltv_customers);
        for table in ["conversion_users", "user_cohorts", "user_activity"] {
            let mut rows = conn
                .query(
                    &format!(
                        "SELECT count(*) FROM {table} WHERE user IN ('u:shop:ann', 'u:shop:bob')"
                    ),
                    (),
                )
                .await
                .expect("query");
            let row = rows.next().await.expect("row").expect("a count");
            assert_eq!(row.get::<i64>(0).expect("n"), 0, "{table} still names them");
        }
    }

    /// A cohort day pushed on its own day has no lifetime-value customers yet (age 0): it is
    /// kept with the pushed marks and marked dirty again once the day is over, across a
    /// restart.
    #[tokio::test]
    async fn a_cohort_pushed_on_its_own_day_is_pushed_again_the_next_day() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("facts.db");
        let facts = FactStore::open(&path).await.expect("open");
        facts
            .clear(&[], &[day("2026-03-01")])
            .await
            .expect("clear with a young cohort");
        assert_eq!(
            facts
                .promote_young_cohorts("2026-03-01")
                .await
                .expect("same day"),
            0
        );
        assert!(facts.dirty(10).await.expect("dirty").is_empty());
        drop(facts);
        let facts = FactStore::open(&path).await.expect("reopen");
        assert_eq!(
            facts
                .promote_young_cohorts("2026-03-02")
                .await
                .expect("next day"),
            1
        );
        let dirty: Vec<AppDay> = facts
            .dirty(10)
            .await
            .expect("dirty")
            .into_iter()
            .map(|d| d.day)
            .collect();
        assert_eq!(dirty, [day("2026-03-01")]);
        assert_eq!(
            facts
                .promote_young_cohorts("2026-03-03")
                .await
                .expect("once"),
            0
        );
    }
}
