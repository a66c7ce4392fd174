//! How a journey's outbox goes to the origin, with no IO: which rows make one flush, how the
//! origin's answers are read, and how a refused batch is split until the record the origin
//! refuses is alone, so that it can be set aside (dead-lettered) while its neighbours go
//! through. The Durable Object (`durable-objects/src/flush.rs`) only reads rows, posts and
//! writes the outcome.
//!
//! Answers:
//! - 2xx: the records are durable at the origin;
//! - 413 (too large), 400 and 422 (refused as malformed): permanent for this content. A batch
//!   of several records is split in halves and each half sent on its own; a single record so
//!   refused is dead-lettered (kept in the journey, inspectable and replayable, never retried
//!   by itself). One bad record no longer blocks a journey's outbox (issue 13, finding 7);
//! - anything else (no answer, 401/403 while secrets rotate, 404 while an origin is
//!   misconfigured, 408, 429, 5xx): transient, the whole flush stops and is retried with
//!   backoff. Nothing is dropped for these.

use std::ops::Range;

use crate::limits::MAX_OUTBOX_RECORDS_PER_BATCH;
use crate::limits::{MAX_FLUSH_REQUESTS_PER_ALARM, MAX_OUTBOX_FLUSH_BYTES};

/// Bytes of a batch beyond its records: the envelope (`{"journey":..,"region":..,"records":[]}`)
/// with a journey name of at most a few hundred bytes.
pub const BATCH_ENVELOPE_BYTES: usize = 1_024;

/// What the origin's answer to one batch means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accepted,
    /// Refused for its content: split it, or dead-letter a single record.
    Refused(u16),
    /// Try again later.
    Transient,
}

pub fn answer_of(status: Option<u16>) -> Answer {
    match status {
        Some(200..=299) => Answer::Accepted,
        Some(status @ (400 | 413 | 422)) => Answer::Refused(status),
        _ => Answer::Transient,
    }
}

/// How many of the oldest rows (each `(records, bytes)`) one flush takes: at most
/// [`MAX_OUTBOX_RECORDS_PER_BATCH`] records and [`MAX_OUTBOX_FLUSH_BYTES`] of records, and
/// always the first row (a row larger than the bound alone is sent alone, and split or
/// dead-lettered by the origin's answer).
pub fn rows_per_flush(rows: impl IntoIterator<Item = (usize, usize)>) -> usize {
    let (mut records, mut bytes, mut taken) = (0usize, BATCH_ENVELOPE_BYTES, 0usize);
    for (row_records, row_bytes) in rows {
        let (next_records, next_bytes) = (records + row_records, bytes + row_bytes + row_records);
        if taken > 0
            && (next_records > MAX_OUTBOX_RECORDS_PER_BATCH || next_bytes > MAX_OUTBOX_FLUSH_BYTES)
        {
            break;
        }
        (records, bytes, taken) = (next_records, next_bytes, taken + 1);
    }
    taken
}

/// What became of one record in a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Not sent (the flush stopped first): stays in the outbox.
    Waiting,
    Delivered,
    /// Refused on its own with this status: moved to the dead letters.
    DeadLettered(u16),
}

/// One flush of `n` records: the batches to post, in order, and each record's fate.
#[derive(Debug, Clone)]
pub struct Delivery {
    fates: Vec<Fate>,
    /// Ranges still to send; the next one is last.
    to_send: Vec<Range<usize>>,
    requests: usize,
    stopped: bool,
}

impl Delivery {
    /// `sizes`: each record's JSON bytes, oldest first. The first batch holds as many as fit
    /// in [`MAX_OUTBOX_FLUSH_BYTES`] and [`MAX_OUTBOX_RECORDS_PER_BATCH`]; the rest follow.
    pub fn new(sizes: &[usize]) -> Self {
        let mut ranges = Vec::new();
        let mut start = 0;
        while start < sizes.len() {
            let mut end = start;
            let mut bytes = BATCH_ENVELOPE_BYTES;
            while end < sizes.len()
                && (end == start
                    || (end - start < MAX_OUTBOX_RECORDS_PER_BATCH
                        && bytes + sizes[end] < MAX_OUTBOX_FLUSH_BYTES))
            {
                bytes += sizes[end] + 1;
                end += 1;
            }
            ranges.push(start..end);
            start = end;
        }
        ranges.reverse();
        Delivery {
            fates: vec![Fate::Waiting; sizes.len()],
            to_send: ranges,
            requests: 0,
            stopped: false,
        }
    }

    /// The records of the next batch to post; `None` when done, stopped by a transient
    /// failure, or out of requests for this run ([`MAX_FLUSH_REQUESTS_PER_ALARM`]).
    pub fn next_batch(&self) -> Option<Range<usize>> {
        if self.stopped || self.requests >= MAX_FLUSH_REQUESTS_PER_ALARM {
            return None;
        }
        self.to_send.last().cloned()
    }

    /// The origin's answer to the batch [`Self::next_batch`] gave (`None`: no answer).
    pub fn answered(&mut self, status: Option<u16>) {
        let Some(range) = self.to_send.pop() else {
            return;
        };
        self.requests += 1;
        match answer_of(status) {
            Answer::Accepted => self.fates[range].fill(Fate::Delivered),
            Answer::Refused(status) if range.len() == 1 => {
                self.fates[range.start] = Fate::DeadLettered(status);
            }
            Answer::Refused(_) => {
                let middle = range.start + range.len() / 2;
                self.to_send.push(middle..range.end);
                self.to_send.push(range.start..middle);
            }
            Answer::Transient => {
                self.to_send.push(range);
                self.stopped = true;
            }
        }
    }

    pub fn fates(&self) -> &[Fate] {
        &self.fates
    }

    /// A transient failure stopped the flush: back off.
    pub fn failed(&self) -> bool {
        self.stopped
    }

    pub fn requests(&self) -> usize {
        self.requests
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a delivery against an origin that answers with `origin(batch)`.
    fn run(
        sizes: &[usize],
        origin: impl Fn(Range<usize>) -> Option<u16>,
    ) -> (Delivery, Vec<Range<usize>>) {
        let mut delivery = Delivery::new(sizes);
        let mut posted = Vec::new();
        while let Some(batch) = delivery.next_batch() {
            posted.push(batch.clone());
            delivery.answered(origin(batch));
        }
        (delivery, posted)
    }

    fn bytes_of(sizes: &[usize], range: &Range<usize>) -> usize {
        BATCH_ENVELOPE_BYTES + sizes[range.clone()].iter().map(|s| s + 1).sum::<usize>()
    }

    #[test]
    fn finding_7_flush_batches_are_bounded_in_records_and_bytes() {
        // 6 MiB of 30 KiB records: more than one byte-bounded batch.
        let sizes = vec![30 * 1024; 200];
        let (delivery, posted) = run(&sizes, |_| Some(200));
        assert!(posted.len() > 1);
        for batch in &posted {
            assert!(bytes_of(&sizes, batch) <= MAX_OUTBOX_FLUSH_BYTES);
            assert!(batch.len() <= MAX_OUTBOX_RECORDS_PER_BATCH);
        }
        assert!(delivery.fates().iter().all(|f| *f == Fate::Delivered));
        // Many small records: bounded by count.
        let small = vec![100; 1_200];
        let (_, posted) = run(&small, |_| Some(200));
        assert_eq!(
            posted.iter().map(|b| b.len()).max(),
            Some(MAX_OUTBOX_RECORDS_PER_BATCH)
        );
    }

    #[test]
    fn finding_7_the_flush_bound_is_below_the_origins_body_limit() {
        const {
            assert!(MAX_OUTBOX_FLUSH_BYTES <= 8 * 1024 * 1024);
            assert!(MAX_OUTBOX_FLUSH_BYTES <= crate::limits::MAX_OUTBOX_BATCH_BYTES);
        }
    }

    #[test]
    fn finding_7_a_413_splits_the_batch_until_it_fits() {
        let sizes = vec![1_000; 8];
        // The origin takes at most 2 records per batch.
        let (delivery, posted) = run(&sizes, |b| Some(if b.len() > 2 { 413 } else { 200 }));
        assert!(delivery.fates().iter().all(|f| *f == Fate::Delivered));
        assert_eq!(posted[0], 0..8);
        assert!(posted.iter().filter(|b| b.len() <= 2).count() == 4);
        assert!(!delivery.failed());
    }

    #[test]
    fn finding_7_a_permanently_refused_record_is_dead_lettered_and_its_neighbours_delivered() {
        let sizes = vec![500; 10];
        let bad = 6;
        let (delivery, _) = run(&sizes, |b| Some(if b.contains(&bad) { 400 } else { 200 }));
        for (i, fate) in delivery.fates().iter().enumerate() {
            let expected = if i == bad {
                Fate::DeadLettered(400)
            } else {
                Fate::Delivered
            };
            assert_eq!(*fate, expected, "record {i}");
        }
        // Halving finds one bad record among n in about 2·log2(n) requests.
        assert!(delivery.requests() <= 1 + 2 * 4);
    }

    #[test]
    fn finding_7_a_single_record_too_large_for_the_origin_is_dead_lettered() {
        let (delivery, posted) = run(&[9 * 1024 * 1024], |_| Some(413));
        assert_eq!(posted.len(), 1);
        assert_eq!(delivery.fates(), &[Fate::DeadLettered(413)]);
    }

    #[test]
    fn finding_7_transient_answers_are_retried_not_dead_lettered() {
        for status in [
            None,
            Some(401),
            Some(403),
            Some(404),
            Some(408),
            Some(429),
            Some(500),
            Some(503),
        ] {
            let (delivery, posted) = run(&[10, 10, 10], |_| status);
            assert_eq!(posted.len(), 1, "{status:?}");
            assert!(delivery.failed());
            assert!(
                delivery.fates().iter().all(|f| *f == Fate::Waiting),
                "{status:?}"
            );
        }
        // Delivered halves stay delivered when a later half meets an outage.
        let (delivery, _) = run(&[10; 4], |b| match (b.len(), b.start) {
            (4, _) => Some(413),
            (_, 0) => Some(200),
            _ => Some(503),
        });
        assert_eq!(
            delivery.fates(),
            &[
                Fate::Delivered,
                Fate::Delivered,
                Fate::Waiting,
                Fate::Waiting
            ]
        );
    }

    #[test]
    fn a_flush_makes_a_bounded_number_of_requests() {
        let sizes = vec![10; 400];
        let (delivery, posted) = run(&sizes, |_| Some(400));
        assert_eq!(posted.len(), MAX_FLUSH_REQUESTS_PER_ALARM);
        assert!(!delivery.failed());
        assert!(delivery.fates().contains(&Fate::Waiting));
    }

    #[test]
    fn rows_per_flush_takes_whole_rows_within_the_bounds() {
        assert_eq!(rows_per_flush([]), 0);
        assert_eq!(rows_per_flush([(1, 10 * 1024 * 1024)]), 1);
        assert_eq!(rows_per_flush([(1, 10), (1, 10 * 1024 * 1024)]), 1);
        assert_eq!(
            rows_per_flush(vec![(20, 2_000); 100]),
            MAX_OUTBOX_RECORDS_PER_BATCH / 20
        );
    }
}
