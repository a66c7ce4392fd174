//! Opens the origin's local libsql files (the embedded sink's database and the rollup fact
//! store) one way: the directory is created, writers wait on a busy database instead of failing,
//! and the caller's schema is applied before the connection is handed out.

use std::path::Path;
use std::time::Duration;

use libsql::{Connection, Database};

/// How long a statement waits for another connection's write lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens (creating if needed) the database at `path` and applies `schema`. The `Database` must
/// be kept alive as long as the connection is used.
pub async fn open(path: &Path, schema: &str) -> Result<(Database, Connection), libsql::Error> {
    if let Some(dir) = path.parent() {
        // A missing directory that cannot be created surfaces as the open error below.
        let _ = std::fs::create_dir_all(dir);
    }
    let db = libsql::Builder::new_local(path).build().await?;
    let conn = db.connect()?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Deleted and overwritten content is zeroed in the page, not left in its free space or on
    // the free list, so an erased person's bytes leave the file (issue 12).
    conn.execute_batch("PRAGMA secure_delete = ON;").await?;
    conn.execute_batch(schema).await?;
    Ok((db, conn))
}

/// Copies the write-ahead log into the database and empties it (`wal_checkpoint(TRUNCATE)`,
/// waiting on readers up to the busy timeout): an erasure calls it so the log's older copies
/// of the erased rows' pages are gone too. False if a reader kept the log from being emptied.
pub async fn checkpoint_truncate(conn: &Connection) -> Result<bool, libsql::Error> {
    let mut rows = conn.query("PRAGMA wal_checkpoint(TRUNCATE)", ()).await?;
    let busy = match rows.next().await? {
        Some(row) => row.get::<i64>(0)? != 0,
        None => false,
    };
    Ok(!busy)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 12): an erased row stayed readable in the file's free space and in the
    /// write-ahead log's older copies of its page.
    #[tokio::test]
    async fn erased_rows_leave_no_bytes_in_the_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("store.db");
        let schema = "PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS t (name TEXT);";
        let (_db, conn) = open(&path, schema).await.expect("open");
        for name in ["kept-person", "erased-person"] {
            conn.execute("INSERT INTO t (name) VALUES (?1)", [name])
                .await
                .expect("insert");
        }
        conn.execute("DELETE FROM t WHERE name = 'erased-person'", ())
            .await
            .expect("delete");
        assert!(checkpoint_truncate(&conn).await.expect("checkpoint"));
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(dir.path()).expect("dir") {
            bytes.extend(std::fs::read(entry.expect("entry").path()).expect("read"));
        }
        let holds = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        assert!(holds(b"kept-person"), "the check reads the rows");
        assert!(!holds(b"erased-person"), "the erased row is in a file");
    }
}
