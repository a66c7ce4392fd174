//! Which embedded-store failures refuse the data for good (Vector's `RetryLogic`): a row that
//! breaks a constraint or a size limit. Busy, locked, I/O and full-disk errors are retried.

use super::EmbeddedError;

pub fn is_permanent(err: &EmbeddedError) -> bool {
    match err {
        EmbeddedError::Write(source) => {
            let text = source.to_string().to_ascii_lowercase();
            [
                "constraint failed",
                "too big",
                "datatype mismatch",
                "malformed json",
            ]
            .iter()
            .any(|needle| text.contains(needle))
        }
        EmbeddedError::Open { .. } | EmbeddedError::Spool(_) | EmbeddedError::LogBusy => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraint_and_size_errors_are_permanent_busy_is_not() {
        let err = |m: &str| EmbeddedError::Write(libsql::Error::SqliteFailure(1, m.into()));
        assert!(is_permanent(&err("CHECK constraint failed: events")));
        assert!(is_permanent(&err("string or blob too big")));
        assert!(!is_permanent(&err("database is locked")));
        assert!(!is_permanent(&err("disk I/O error")));
    }
}
