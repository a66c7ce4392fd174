//! Records a sink refused for good (issue 13, finding 7, origin side): kept, inspectable and
//! replayable instead of blocking the sink forever or being dropped.
//!
//! Layout under `{data_dir}/dead-letters/`: one directory per sink, one JSON file per record
//! (`{seq:020}-{index:05}.json`: where it sat in the spool, its id, app, kind, the reason,
//! the record's JSON and its spool encoding), and `{sink}/replay/` for the ones queued to be
//! sent again. Files are written atomically (temporary file, fsync, rename, directory fsync)
//! before the sink's cursor moves past them, so a crash loses none.
//!
//! Surfaces: `GET /admin/dead-letters` and `POST /admin/dead-letters/replay` on the origin
//! (bearer `ATTRIB_ORIGIN_ADMIN_TOKEN`), and `attrib-origin dead-letters list|replay`.
//! A replayed record is delivered to its sink alone (the other sinks have it already); if the
//! sink refuses it again it is a dead letter again, with the new reason.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::spool::{now_ms, SpoolEntry};

/// Dead letters returned by one listing at most.
pub const MAX_LISTED: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub sink: String,
    pub seq: u64,
    pub index: u32,
    pub id: String,
    pub app_id: String,
    pub kind: String,
    pub reason: String,
    pub dead_at_ms: u64,
    /// The record as the Durable Object sent it (an `OutboxRecord`).
    pub record: String,
    /// Its spool encoding (a one-record payload, hex), to deliver it again.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub payload_hex: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    #[error("dead letters: {context}: {source}")]
    Io {
        context: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("dead letter {0} is unreadable")]
    Unreadable(String),
    #[error("no sink named {0}")]
    UnknownSink(String),
}

fn io_err(context: &'static str) -> impl FnOnce(io::Error) -> DeadLetterError {
    move |source| DeadLetterError::Io { context, source }
}

#[derive(Clone)]
pub struct DeadLetters {
    root: PathBuf,
    sinks: Arc<Vec<String>>,
    /// One per sink, in `sinks` order: notified (a stored permit, so never missed) when
    /// letters are queued for that sink's replay; its delivery loop listens.
    wakes: Arc<Vec<Arc<Notify>>>,
}

impl DeadLetters {
    pub fn open(root: &Path, sinks: &[&str]) -> Result<Self, DeadLetterError> {
        for sink in sinks {
            fs::create_dir_all(root.join(sink).join("replay"))
                .map_err(io_err("creating directories"))?;
        }
        Ok(DeadLetters {
            root: root.to_owned(),
            sinks: Arc::new(sinks.iter().map(|s| (*s).to_owned()).collect()),
            wakes: Arc::new(sinks.iter().map(|_| Arc::new(Notify::new())).collect()),
        })
    }

    /// What `sink`'s delivery loop waits on for replays.
    pub fn wake_of(&self, sink: &str) -> Arc<Notify> {
        self.sinks
            .iter()
            .position(|s| s == sink)
            .and_then(|i| self.wakes.get(i).cloned())
            .unwrap_or_else(|| Arc::new(Notify::new()))
    }

    fn sink_dir(&self, sink: &str) -> Result<PathBuf, DeadLetterError> {
        if self.sinks.iter().any(|s| s == sink) {
            Ok(self.root.join(sink))
        } else {
            Err(DeadLetterError::UnknownSink(sink.to_owned()))
        }
    }

    /// Stores `letters` durably.
    pub fn store(&self, letters: &[DeadLetter]) -> Result<(), DeadLetterError> {
        for letter in letters {
            let dir = self.sink_dir(&letter.sink)?;
            let name = file_name(letter.seq, letter.index);
            let text = serde_json::to_vec_pretty(letter)
                .map_err(|e| DeadLetterError::Unreadable(e.to_string()))?;
            let tmp = dir.join(format!("{name}.tmp"));
            fs::write(&tmp, &text)
                .and_then(|()| fs::File::open(&tmp)?.sync_all())
                .and_then(|()| fs::rename(&tmp, dir.join(&name)))
                .map_err(io_err("writing a dead letter"))?;
            fs::File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err("syncing the dead-letter directory"))?;
        }
        Ok(())
    }

    /// Dead letters (without their encodings), oldest first; `sink` narrows to one sink.
    pub fn list(&self, sink: Option<&str>) -> Result<Vec<DeadLetter>, DeadLetterError> {
        let sinks: Vec<String> = match sink {
            Some(s) => {
                self.sink_dir(s)?;
                vec![s.to_owned()]
            }
            None => self.sinks.to_vec(),
        };
        let mut out = Vec::new();
        for sink in sinks {
            for path in json_files(&self.root.join(&sink))? {
                if out.len() >= MAX_LISTED {
                    return Ok(out);
                }
                let mut letter = read_letter(&path)?;
                letter.payload_hex.clear();
                out.push(letter);
            }
        }
        Ok(out)
    }

    /// Queues the dead letters of `sink` (all, or those with the given record ids) for
    /// replay; returns how many were queued.
    pub fn queue_replay(
        &self,
        sink: &str,
        ids: Option<&[String]>,
    ) -> Result<usize, DeadLetterError> {
        let dir = self.sink_dir(sink)?;
        let mut queued = 0;
        for path in json_files(&dir)? {
            let letter = read_letter(&path)?;
            if ids.is_some_and(|ids| !ids.contains(&letter.id)) {
                continue;
            }
            let Some(name) = path.file_name() else {
                continue;
            };
            fs::rename(&path, dir.join("replay").join(name))
                .map_err(io_err("queueing a replay"))?;
            queued += 1;
        }
        if queued > 0 {
            self.wake_of(sink).notify_one();
        }
        Ok(queued)
    }

    /// The letters of `sink` queued for replay, each as a spool entry to deliver, with the
    /// file to remove once it is delivered (or stored again as a dead letter).
    pub fn queued(
        &self,
        sink: &str,
    ) -> Result<Vec<(PathBuf, DeadLetter, SpoolEntry)>, DeadLetterError> {
        let dir = self.sink_dir(sink)?.join("replay");
        let mut out = Vec::new();
        for path in json_files(&dir)? {
            let letter = read_letter(&path)?;
            let payload = decode_hex(&letter.payload_hex)
                .ok_or_else(|| DeadLetterError::Unreadable(path.display().to_string()))?;
            let entry = SpoolEntry::new(letter.seq, now_ms(), payload)
                .map_err(|_| DeadLetterError::Unreadable(path.display().to_string()))?;
            out.push((path, letter, entry));
        }
        Ok(out)
    }

    /// Deletes every dead letter (kept or queued for replay, of every sink) of `journeys` in
    /// `app_id`: records of those journeys and merges from or into them (an erasure, issue
    /// 12); returns how many went.
    pub fn erase_journeys(
        &self,
        app_id: &str,
        journeys: &[String],
    ) -> Result<usize, DeadLetterError> {
        let mut erased = 0;
        for sink in self.sinks.iter() {
            let dir = self.root.join(sink);
            for path in json_files(&dir)?
                .into_iter()
                .chain(json_files(&dir.join("replay"))?)
            {
                let letter = read_letter(&path)?;
                if letter.app_id != app_id {
                    continue;
                }
                let record: serde_json::Value = serde_json::from_str(&letter.record)
                    .map_err(|_| DeadLetterError::Unreadable(path.display().to_string()))?;
                let names = ["journey", "from", "into"]
                    .iter()
                    .filter_map(|field| record.get(*field).and_then(|v| v.as_str()));
                if names.into_iter().any(|n| journeys.iter().any(|j| j == n)) {
                    fs::remove_file(&path).map_err(io_err("erasing a dead letter"))?;
                    erased += 1;
                }
            }
        }
        Ok(erased)
    }

    pub fn done(&self, path: &Path) -> Result<(), DeadLetterError> {
        fs::remove_file(path).map_err(io_err("removing a replayed letter"))
    }
}

fn file_name(seq: u64, index: u32) -> String {
    format!("{seq:020}-{index:05}.json")
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>, DeadLetterError> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io_err("listing dead letters"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Ok(files)
}

fn read_letter(path: &Path) -> Result<DeadLetter, DeadLetterError> {
    let text = fs::read(path).map_err(io_err("reading a dead letter"))?;
    serde_json::from_slice(&text)
        .map_err(|_| DeadLetterError::Unreadable(path.display().to_string()))
}

pub fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(sink: &str, seq: u64, app: &str, record: serde_json::Value) -> DeadLetter {
        DeadLetter {
            sink: sink.into(),
            seq,
            index: 0,
            id: format!("id{seq}"),
            app_id: app.into(),
            kind: "event".into(),
            reason: "too large".into(),
            dead_at_ms: 0,
            record: record.to_string(),
            payload_hex: String::new(),
        }
    }

    /// Issue 12: an erasure deletes the journeys' dead letters (kept and queued for replay,
    /// merges either way), in their app only.
    #[test]
    fn an_erasure_deletes_the_journeys_dead_letters_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dead = DeadLetters::open(dir.path(), &["kafka", "embedded"]).expect("opens");
        let gone = "u:app:ann";
        dead.store(&[
            letter("kafka", 1, "app", serde_json::json!({"journey": gone})),
            letter(
                "kafka",
                2,
                "app",
                serde_json::json!({"journey": "u:app:bob"}),
            ),
            letter(
                "kafka",
                3,
                "app",
                serde_json::json!({"from": "a:app:x", "into": gone}),
            ),
            letter("embedded", 4, "other", serde_json::json!({"journey": gone})),
            letter("embedded", 5, "app", serde_json::json!({"journey": gone})),
        ])
        .expect("stores");
        dead.queue_replay("embedded", Some(&["id5".to_owned()]))
            .expect("queues");
        let erased = dead
            .erase_journeys("app", &[gone.to_owned()])
            .expect("erases");
        assert_eq!(erased, 3);
        let left: Vec<String> = dead
            .list(None)
            .expect("lists")
            .into_iter()
            .map(|l| l.id)
            .collect();
        assert_eq!(left, ["id2", "id4"]);
        assert!(dead.queued("embedded").expect("queued").is_empty());
    }
}
