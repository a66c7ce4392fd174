//! Which stored events still owe the origin their records, when the records live in the
//! events' own rows (issue 15; the Journey object's schema version 7).
//!
//! Each such event gets a `seq` when it is written, from the clock and above every `seq`
//! given before; the journey keeps one mark, `sent_seq`, and an event is unsent exactly when
//! its `seq` is above the mark. The flush sends unsent events in `seq` order and moves the
//! mark to the last one of the prefix the origin took: one row written per flush, where an
//! outbox row cost one written and one deleted per call.
//!
//! The object remembers the unsent events it wrote; after a restart it looks for those of its
//! earlier life once, in storage ([`UnsentEvents::recovered`]), before its alarm flushes.
//! No event is ever under the mark unsent: a `seq` is above the mark when given, the mark
//! only moves over events sent, and events written while a flush is out get higher `seq`s
//! than the ones it sends. A flush that the origin took but whose mark was not written (the
//! object died in between) is sent again: the origin stores each record id once.

/// One stored event whose records wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingEvent {
    pub seq: i64,
    pub message_id: String,
    /// Its records (the event record, and its attribution if it made one).
    pub records: usize,
    /// Bytes of its body and records, for the flush's bounds.
    pub bytes: usize,
}

#[derive(Debug, Default)]
pub struct UnsentEvents {
    /// Committed and unsent, in `seq` order.
    waiting: Vec<WaitingEvent>,
    /// Written by the transaction under way: kept only if it commits.
    pending: Vec<WaitingEvent>,
    /// Events of the object's earlier life were looked for (or there can be none).
    recovered: bool,
    last_seq: i64,
}

impl UnsentEvents {
    /// The next event's `seq`: from the clock (µs-sized steps on the millisecond, so a restart
    /// on another machine starts above what came before unless clocks differ by more than the
    /// object's life), above the mark and above every `seq` this object gave.
    pub fn next_seq(&mut self, sent_seq: i64, now_ms: i64) -> i64 {
        let seq = now_ms
            .saturating_mul(1_000)
            .max(sent_seq.saturating_add(1))
            .max(self.last_seq.saturating_add(1));
        self.last_seq = seq;
        seq
    }

    pub fn written(&mut self, event: WaitingEvent, in_transaction: bool) {
        if in_transaction {
            self.pending.push(event);
        } else {
            self.waiting.push(event);
        }
    }

    /// The transaction ended: its events wait if it committed, are forgotten if not.
    pub fn transaction_ended(&mut self, committed: bool) {
        let pending = std::mem::take(&mut self.pending);
        if committed {
            self.waiting.extend(pending);
        }
    }

    pub fn any(&self) -> bool {
        !self.waiting.is_empty()
    }

    pub fn recovered(&self) -> bool {
        self.recovered
    }

    /// A new or emptied journey: nothing of an earlier life can wait.
    pub fn none_stored(&mut self) {
        self.waiting.clear();
        self.pending.clear();
        self.recovered = true;
    }

    /// What storage holds above the mark (a restarted object's first flush): added to what
    /// this life wrote, once each, in `seq` order.
    pub fn recover(&mut self, found: Vec<WaitingEvent>) {
        for event in found {
            if !self.waiting.iter().any(|w| w.seq == event.seq) {
                self.waiting.push(event);
            }
        }
        self.waiting.sort_by_key(|w| w.seq);
        if let Some(last) = self.waiting.last() {
            self.last_seq = self.last_seq.max(last.seq);
        }
        self.recovered = true;
    }

    /// The waiting events, oldest first.
    pub fn waiting(&self) -> &[WaitingEvent] {
        &self.waiting
    }

    /// The mark moved to `seq`: the events up to it were sent.
    pub fn sent_through(&mut self, seq: i64) {
        self.waiting.retain(|w| w.seq > seq);
    }
}

/// Where the mark goes after a flush of `events` (`seq`, and whether all its records were
/// settled: taken, or set aside as dead letters), in `seq` order: the last of the settled
/// prefix. `None` when the first was not settled.
pub fn settled_through(events: impl IntoIterator<Item = (i64, bool)>) -> Option<i64> {
    events
        .into_iter()
        .take_while(|(_, settled)| *settled)
        .last()
        .map(|(seq, _)| seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(seq: i64) -> WaitingEvent {
        WaitingEvent {
            seq,
            message_id: format!("m-{seq}"),
            records: 1,
            bytes: 10,
        }
    }

    #[test]
    fn seqs_rise_above_the_mark_and_each_other_whatever_the_clock_does() {
        let mut unsent = UnsentEvents::default();
        let first = unsent.next_seq(0, 5_000);
        assert_eq!(first, 5_000_000);
        let second = unsent.next_seq(0, 5_000);
        assert!(second > first);
        // The clock went back (another machine): still above everything given.
        assert!(unsent.next_seq(0, 4_000) > second);
        // A restarted object knows only the mark.
        let mut restarted = UnsentEvents::default();
        assert_eq!(restarted.next_seq(9_000_000, 1_000), 9_000_001);
    }

    #[test]
    fn only_committed_events_wait() {
        let mut unsent = UnsentEvents::default();
        unsent.written(waiting(1), true);
        unsent.transaction_ended(false);
        assert!(!unsent.any());
        unsent.written(waiting(2), true);
        unsent.transaction_ended(true);
        unsent.written(waiting(3), false);
        let seqs: Vec<i64> = unsent.waiting().iter().map(|w| w.seq).collect();
        assert_eq!(seqs, [2, 3]);
        unsent.sent_through(2);
        assert_eq!(unsent.waiting(), &[waiting(3)]);
    }

    #[test]
    fn recovery_adds_what_an_earlier_life_left_once_in_order() {
        let mut unsent = UnsentEvents::default();
        unsent.written(waiting(50), false);
        assert!(!unsent.recovered());
        unsent.recover(vec![waiting(10), waiting(50), waiting(20)]);
        assert!(unsent.recovered());
        let seqs: Vec<i64> = unsent.waiting().iter().map(|w| w.seq).collect();
        assert_eq!(seqs, [10, 20, 50]);
        assert_eq!(unsent.next_seq(0, 0), 51);
    }

    #[test]
    fn the_mark_stops_before_the_first_event_the_origin_did_not_take() {
        assert_eq!(
            settled_through([(1, true), (2, true), (3, false), (4, true)]),
            Some(2)
        );
        assert_eq!(settled_through([(1, false), (2, true)]), None);
        assert_eq!(settled_through([(1, true), (2, true)]), Some(2));
        assert_eq!(settled_through([]), None);
    }
}
