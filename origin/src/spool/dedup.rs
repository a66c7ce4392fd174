//! The spool's memory of record ids it has accepted, so a batch sent twice is spooled once.
//!
//! Ids are kept as 128-bit fingerprints (SHA-256, truncated), grouped in generations by UTC
//! day of acceptance. Ids of live segments are rebuilt from the segments at start; when a
//! segment is trimmed its fingerprints move to `dedup/<day>.fp` so a retry that arrives after
//! the sinks took the data is still recognised. Generations older than the retention are
//! dropped from memory and disk: that retention bounds how late a Durable Object may retry.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::SpoolError;

pub type Fingerprint = u128;

pub fn fingerprint(id: &str) -> Fingerprint {
    let digest = Sha256::digest(id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(bytes)
}

/// Days since the Unix epoch: the generation key.
pub fn day_of_ms(ms: u64) -> u64 {
    ms / 86_400_000
}

pub struct DedupIndex {
    dir: PathBuf,
    retention_days: u64,
    generations: BTreeMap<u64, HashSet<Fingerprint>>,
}

impl DedupIndex {
    /// Loads the trimmed generations kept in `dir`, dropping expired ones.
    pub fn open(dir: &Path, retention_days: u64, now_ms: u64) -> Result<Self, SpoolError> {
        fs::create_dir_all(dir).map_err(|e| SpoolError::io("creating dedup dir", e))?;
        let mut index = DedupIndex {
            dir: dir.to_owned(),
            retention_days,
            generations: BTreeMap::new(),
        };
        for entry in fs::read_dir(dir).map_err(|e| SpoolError::io("listing dedup files", e))? {
            let entry = entry.map_err(|e| SpoolError::io("listing dedup files", e))?;
            let name = entry.file_name();
            let Some(day) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".fp"))
                .and_then(|d| d.parse::<u64>().ok())
            else {
                continue;
            };
            let bytes =
                fs::read(entry.path()).map_err(|e| SpoolError::io("reading dedup file", e))?;
            let generation = index.generations.entry(day).or_default();
            // A torn last fingerprint (crash while trimming) is ignored: its segment still
            // exists, because segments are deleted only after their fingerprints are synced.
            for chunk in bytes.chunks_exact(16) {
                let mut fp = [0u8; 16];
                fp.copy_from_slice(chunk);
                generation.insert(u128::from_le_bytes(fp));
            }
        }
        index.expire(now_ms)?;
        Ok(index)
    }

    pub fn contains(&self, fp: Fingerprint) -> bool {
        self.generations.values().any(|g| g.contains(&fp))
    }

    /// Records `fp` as accepted at `now_ms`; false when it was already known.
    pub fn insert(&mut self, fp: Fingerprint, now_ms: u64) -> bool {
        if self.contains(fp) {
            return false;
        }
        self.generations
            .entry(day_of_ms(now_ms))
            .or_default()
            .insert(fp)
    }

    /// Forgets `fp` (an append that failed to become durable).
    pub fn remove(&mut self, fp: Fingerprint) {
        for generation in self.generations.values_mut() {
            generation.remove(&fp);
        }
    }

    pub fn len(&self) -> usize {
        self.generations.values().map(HashSet::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops generations older than the retention, in memory and on disk.
    pub fn expire(&mut self, now_ms: u64) -> Result<(), SpoolError> {
        let oldest_kept = day_of_ms(now_ms).saturating_sub(self.retention_days);
        let expired: Vec<u64> = self
            .generations
            .range(..oldest_kept)
            .map(|(d, _)| *d)
            .collect();
        for day in expired {
            self.generations.remove(&day);
            let path = self.dir.join(format!("{day}.fp"));
            if path.exists() {
                fs::remove_file(&path).map_err(|e| SpoolError::io("removing dedup file", e))?;
            }
        }
        Ok(())
    }
}

/// Appends the fingerprints of a segment about to be trimmed, synced, to its day's file.
pub fn persist_trimmed(
    dir: &Path,
    appended_ms: u64,
    fingerprints: &[Fingerprint],
) -> Result<(), SpoolError> {
    let path = dir.join(format!("{}.fp", day_of_ms(appended_ms)));
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| SpoolError::io("opening dedup file", e))?;
    let mut bytes = Vec::with_capacity(fingerprints.len() * 16);
    for fp in fingerprints {
        bytes.extend_from_slice(&fp.to_le_bytes());
    }
    file.write_all(&bytes)
        .and_then(|()| file.sync_data())
        .map_err(|e| SpoolError::io("writing dedup file", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400_000;

    #[test]
    fn remembers_trimmed_ids_until_retention() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fp = fingerprint("event:m1");
        persist_trimmed(dir.path(), 10 * DAY, &[fp]).expect("persists");

        let index = DedupIndex::open(dir.path(), 7, 12 * DAY).expect("opens");
        assert!(index.contains(fp));
        assert!(!index.contains(fingerprint("event:m2")));

        let index = DedupIndex::open(dir.path(), 7, 18 * DAY).expect("opens");
        assert!(!index.contains(fp), "expired after the retention");
        assert!(!dir.path().join("10.fp").exists());
    }

    #[test]
    fn insert_reports_duplicates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut index = DedupIndex::open(dir.path(), 7, DAY).expect("opens");
        let fp = fingerprint("a");
        assert!(index.insert(fp, DAY));
        assert!(!index.insert(fp, 2 * DAY), "known in an older generation");
        index.remove(fp);
        assert!(index.insert(fp, 2 * DAY));
    }
}
