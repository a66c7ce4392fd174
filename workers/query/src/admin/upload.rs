//! Data uploads into the read store (exchange rates, ad spend): the rows, a stats-version bump
//! (so cached stats reads of the app turn into misses at once) and the audit entry, in one
//! transaction when the read store is D1 (it is then the app database that holds audit_log).
//! With Turso as the read store the audit entry goes to D1 right after the rows commit. The
//! app's version does not move: uploads are data, not configuration, and must not make a
//! concurrent settings edit fail with 409.

use chrono::DateTime;
use serde_json::Value;
use worker::Date;

use super::Cx;
use crate::config::StoreKind;
use crate::error::QueryError;
use crate::store::d1::D1Store;
use crate::store::{ReadStore, SqlStore, Statement};
use crate::versions;

/// Writes `rows` for `app_id`, bumps its stats version and records `action` on `resource`
/// with `after` in the audit log.
pub async fn commit(
    cx: &Cx<'_>,
    app_id: &str,
    mut rows: Vec<Statement>,
    action: &str,
    resource: String,
    after: &Value,
) -> Result<(), QueryError> {
    let now_iso = DateTime::from_timestamp_millis(Date::now().as_millis() as i64)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default();
    rows.push(versions::bump(app_id, &now_iso));
    let audit = Statement::new(
        "INSERT INTO audit_log (app_id, actor, action, resource, before, after, version) \
         VALUES (?1, ?2, ?3, ?4, NULL, ?5, NULL)",
        vec![
            app_id.into(),
            cx.who.actor().into(),
            action.into(),
            resource.into(),
            after.to_string().into(),
        ],
    );
    let store = ReadStore::from_env(cx.env)?;
    if store.kind() == StoreKind::D1 {
        rows.push(audit);
        store.batch(&rows).await?;
    } else {
        store.batch(&rows).await?;
        D1Store::new(cx.env)?.batch(&[audit]).await?;
    }
    versions::forget(app_id);
    Ok(())
}
