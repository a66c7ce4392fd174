//! Erasure (issue 12): a person's rows leave the embedded store in one transaction. The
//! read-store tables in the same file (`daily_stats`, `conversion_paths`, ...) hold counts, no
//! ids, and are kept (README, Privacy: erasure).

use std::path::Path;

use libsql::Value;

use super::{open_database, EmbeddedError};

/// Deletes every event, attribution, null path and merge of `journeys` in `app_id`.
pub async fn erase_journeys(
    path: &Path,
    app_id: &str,
    journeys: &[String],
) -> Result<(), EmbeddedError> {
    let (_db, conn) = open_database(path).await?;
    let marks: Vec<String> = (0..journeys.len()).map(|i| format!("?{}", i + 2)).collect();
    let list = marks.join(", ");
    let mut params = vec![Value::Text(app_id.to_owned())];
    params.extend(journeys.iter().map(|j| Value::Text(j.clone())));
    let tx = conn.transaction().await?;
    for table in ["events", "attributions", "null_paths"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE app_id = ?1 AND journey IN ({list})"),
            params.clone(),
        )
        .await?;
    }
    tx.execute(
        &format!(
            "DELETE FROM merges WHERE app_id = ?1 AND (from_journey IN ({list}) OR into_journey IN ({list}))"
        ),
        params,
    )
    .await?;
    tx.commit().await?;
    // The rows are zeroed in their pages (secure_delete); older copies of those pages stay in
    // the write-ahead log until it is emptied.
    if crate::local_db::checkpoint_truncate(&conn).await? {
        Ok(())
    } else {
        Err(EmbeddedError::LogBusy)
    }
}
