//! Channel-name interning for [`super::paths::PathSetBuilder`]: the hot loop
//! of parsing, since every touchpoint of every row is a name lookup.

use std::collections::HashMap;

use super::paths::{ChannelId, PathError};
use super::rng::FxBuildHasher;

/// Channel name -> id, with a direct-mapped cache in front of the hash map:
/// inputs have few distinct channels repeated millions of times. A cache
/// entry holds the name's first 8 bytes packed in a word plus its length, so
/// names of up to 8 bytes are recognised without touching the string heap
/// (one compare instead of a hash, a probe and a `memcmp` call).
#[derive(Debug)]
pub(super) struct ChannelInterner {
    map: HashMap<Box<str>, ChannelId, FxBuildHasher>,
    cache: Vec<CacheEntry>,
}

#[derive(Debug, Clone, Copy)]
struct CacheEntry {
    head: u64,
    len: usize,
    id: ChannelId,
}

const EMPTY_ENTRY: CacheEntry = CacheEntry {
    head: 0,
    len: usize::MAX,
    id: ChannelId::MAX,
};

const INTERN_CACHE_BITS: u32 = 10;

impl Default for ChannelInterner {
    fn default() -> Self {
        Self {
            map: HashMap::default(),
            cache: vec![EMPTY_ENTRY; 1 << INTERN_CACHE_BITS],
        }
    }
}

/// First 8 bytes packed big-end first (byte loop: a memcpy into a word
/// buffer stalls on store forwarding in this hot path).
#[inline]
fn head_word(bytes: &[u8]) -> u64 {
    bytes[..bytes.len().min(8)]
        .iter()
        .fold(0u64, |w, &b| (w << 8) | u64::from(b))
}

impl ChannelInterner {
    #[inline]
    fn slot(head: u64, bytes: &[u8]) -> usize {
        let mut word = head ^ (bytes.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        if bytes.len() > 8 {
            word ^= head_word(&bytes[bytes.len() - 8..]).rotate_left(29);
        }
        (word.wrapping_mul(0x51_7C_C1_B7_27_22_0A_95) >> (64 - INTERN_CACHE_BITS)) as usize
    }

    #[inline]
    pub fn get(&mut self, name: &str, names: &[String]) -> Option<ChannelId> {
        let bytes = name.as_bytes();
        let head = head_word(bytes);
        let slot = Self::slot(head, bytes);
        let entry = self.cache[slot];
        if entry.len == bytes.len()
            && entry.head == head
            && (bytes.len() <= 8 || names.get(entry.id as usize).is_some_and(|n| n == name))
        {
            return Some(entry.id);
        }
        let id = *self.map.get(name)?;
        self.cache[slot] = CacheEntry {
            head,
            len: bytes.len(),
            id,
        };
        Some(id)
    }

    pub fn intern(&mut self, names: &mut Vec<String>, name: &str) -> Result<ChannelId, PathError> {
        let id = ChannelId::try_from(names.len())
            .ok()
            .filter(|&id| id < ChannelId::MAX)
            .ok_or(PathError::TooManyChannels {
                max: ChannelId::MAX as usize - 1,
            })?;
        self.map.insert(name.into(), id);
        let head = head_word(name.as_bytes());
        self.cache[Self::slot(head, name.as_bytes())] = CacheEntry {
            head,
            len: name.len(),
            id,
        };
        names.push(name.to_owned());
        Ok(id)
    }

    pub fn forget(&mut self, name: &str) {
        self.map.remove(name);
        let head = head_word(name.as_bytes());
        self.cache[Self::slot(head, name.as_bytes())] = EMPTY_ENTRY;
    }
}
