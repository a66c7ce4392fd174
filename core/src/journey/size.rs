//! When a journey's storage is measured (issue 15). Reading the database's size costs as much
//! as a small statement, and the size only matters near [`MAX_JOURNEY_BYTES`]: the object
//! measures once, then adds an upper bound of what each statement can have added (its bound
//! values, times [`GROWTH_PER_BOUND_BYTE`], plus [`GROWTH_PER_STATEMENT`] for the pages a row
//! touches), and measures again only when that bound reaches the limit. Deletes make the real
//! size smaller than the bound, never larger, so no event is taken past the limit that a
//! measure before every call would have refused.

use crate::limits::MAX_JOURNEY_BYTES;

/// Stored bytes per byte of bound values, at most: a row's B-tree page is at worst half
/// full, and a row's key is copied into its index entries.
pub const GROWTH_PER_BOUND_BYTE: u64 = 3;
/// Stored bytes per statement, at most, for its rows' pages beyond their values.
pub const GROWTH_PER_STATEMENT: u64 = 4096;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StorageEstimate {
    measured: Option<u64>,
    added_since: u64,
}

impl StorageEstimate {
    /// The database measured `bytes` just now.
    pub fn measured(&mut self, bytes: u64) {
        self.measured = Some(bytes);
        self.added_since = 0;
    }

    /// Statements ran binding `bound_bytes` of values in all.
    pub fn ran(&mut self, statements: u64, bound_bytes: u64) {
        let added = bound_bytes
            .saturating_mul(GROWTH_PER_BOUND_BYTE)
            .saturating_add(statements.saturating_mul(GROWTH_PER_STATEMENT));
        self.added_since = self.added_since.saturating_add(added);
    }

    /// The most the journey can hold now, if it was ever measured.
    pub fn at_most(&self) -> Option<u64> {
        self.measured.map(|m| m.saturating_add(self.added_since))
    }

    /// Whether the size must be read before the limit can be checked: never read yet, or the
    /// bound reached the limit (the real size may still be below it).
    pub fn must_measure(&self) -> bool {
        self.at_most()
            .is_none_or(|bytes| bytes >= MAX_JOURNEY_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_object_measures_first() {
        assert!(StorageEstimate::default().must_measure());
    }

    #[test]
    fn small_writes_far_from_the_limit_need_no_measure() {
        let mut estimate = StorageEstimate::default();
        estimate.measured(1_000_000);
        for _ in 0..1_000 {
            estimate.ran(5, 2_000);
        }
        assert!(!estimate.must_measure());
        assert_eq!(
            estimate.at_most(),
            Some(1_000_000 + 1_000 * (5 * 4096 + 6_000))
        );
    }

    #[test]
    fn the_bound_reaching_the_limit_asks_for_a_measure_and_a_measure_resets_it() {
        let mut estimate = StorageEstimate::default();
        estimate.measured(MAX_JOURNEY_BYTES - 10_000);
        assert!(!estimate.must_measure());
        estimate.ran(1, 2_000);
        assert!(estimate.must_measure(), "{:?}", estimate.at_most());
        estimate.measured(MAX_JOURNEY_BYTES - 10_000);
        assert!(!estimate.must_measure());
        estimate.measured(MAX_JOURNEY_BYTES);
        assert!(estimate.must_measure());
    }

    #[test]
    fn huge_counts_saturate_instead_of_wrapping() {
        let mut estimate = StorageEstimate::default();
        estimate.measured(u64::MAX - 1);
        estimate.ran(u64::MAX, u64::MAX);
        assert_eq!(estimate.at_most(), Some(u64::MAX));
        assert!(estimate.must_measure());
    }
}
