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
    conn.execute_batch(schema).await?;
    Ok((db, conn))
}
