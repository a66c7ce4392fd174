//! Retention in ClickHouse (issue 12): raw events older than the origin's retention are
//! removed by a mutation, `ALTER TABLE ... DELETE WHERE` (ClickHouse 18.16 has mutations but
//! no TTL; current releases run the same statement). Attribution tables are kept, as in the
//! journeys.

use super::sink::ClickHouseSink;
use super::ClickHouseError;

/// The mutation removing `database.events` rows before `cutoff_ms` (an integer literal: no
/// query parameters on 18.16).
pub fn delete_statement(database: &str, cutoff_ms: i64) -> String {
    format!("ALTER TABLE {database}.events DELETE WHERE timestamp_ms < {cutoff_ms}")
}

impl ClickHouseSink {
    /// Starts the mutation; ClickHouse applies it in the background, part by part.
    pub async fn remove_expired(&self, cutoff_ms: i64) -> Result<(), ClickHouseError> {
        let statement = delete_statement(self.database(), cutoff_ms);
        self.execute(None, None, statement.into_bytes())
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mutation_names_the_raw_table_and_a_literal_cutoff() {
        assert_eq!(
            delete_statement("attrib", 1_700_000_000_000),
            "ALTER TABLE attrib.events DELETE WHERE timestamp_ms < 1700000000000"
        );
    }
}
