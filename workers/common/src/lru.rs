//! A bounded least-recently-used map for per-isolate caches (issue 13, finding 10: the auth
//! cache used to be cleared whole once it held 10,000 keys, so a flood of unknown keys evicted
//! every live one at once; now only the least recently used entry makes room).

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

pub struct Lru<K, V> {
    capacity: usize,
    tick: u64,
    entries: HashMap<K, (V, u64)>,
    /// Last use → key, oldest first.
    order: BTreeMap<u64, K>,
}

impl<K: Clone + Eq + Hash, V: Clone> Lru<K, V> {
    pub fn new(capacity: usize) -> Self {
        Lru {
            capacity: capacity.max(1),
            tick: 0,
            entries: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// The value for `key`, marking it used.
    pub fn get(&mut self, key: &K) -> Option<V> {
        let tick = self.next_tick();
        let (value, used) = self.entries.get_mut(key)?;
        self.order.remove(used);
        *used = tick;
        self.order.insert(tick, key.clone());
        Some(value.clone())
    }

    /// Inserts or replaces; evicts the least recently used entry when full.
    pub fn insert(&mut self, key: K, value: V) {
        let tick = self.next_tick();
        if let Some((_, used)) = self.entries.remove(&key) {
            self.order.remove(&used);
        } else if self.entries.len() >= self.capacity {
            if let Some((_, oldest)) = self.order.pop_first() {
                self.entries.remove(&oldest);
            }
        }
        self.order.insert(tick, key.clone());
        self.entries.insert(key, (value, tick));
    }

    pub fn remove(&mut self, key: &K) {
        if let Some((_, used)) = self.entries.remove(key) {
            self.order.remove(&used);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13, finding 10: a flood of unknown keys must not evict a key in use.
    #[test]
    fn finding_10_auth_cache_evicts_least_recently_used_not_everything() {
        let mut cache = Lru::new(3);
        cache.insert("live", 1);
        for i in 0..1_000 {
            assert_eq!(
                cache.get(&"live"),
                Some(1),
                "evicted after {i} unknown keys"
            );
            cache.insert(if i % 2 == 0 { "unknown-a" } else { "unknown-b" }, 0);
            cache.insert("unknown-c", i);
        }
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn the_oldest_entry_goes_first_and_replacing_does_not_grow() {
        let mut cache = Lru::new(2);
        cache.insert(1, "a");
        cache.insert(2, "b");
        cache.get(&1);
        cache.insert(3, "c");
        assert_eq!(cache.get(&2), None);
        assert_eq!(cache.get(&1), Some("a"));
        cache.insert(1, "z");
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(&1), Some("z"));
        cache.remove(&1);
        assert_eq!(cache.len(), 1);
        assert!(!cache.is_empty());
    }
}
