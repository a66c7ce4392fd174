//! The durable spool: every acknowledged batch is here, fsync'd, until every sink took it.
//!
//! Layout under the spool directory: `segments/` (the log, see [`segment`]), `cursors/` (one
//! file per sink: the next sequence number it has not delivered) and `dedup/` (fingerprints
//! of trimmed records, see [`dedup`]). Appends go through one writer thread ([`writer`]);
//! each sink reads with its own [`SpoolReader`] and commits its own cursor, so a sink that is
//! down falls behind without holding the others. A segment is deleted only when every
//! configured sink's cursor is past it.

pub mod columns;
pub mod dedup;
pub mod reader;
pub mod record;
pub mod repair;
pub mod segment;
mod writer;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::{oneshot, watch};

use dedup::{persist_trimmed, DedupIndex};
pub use reader::{BatchLimits, SpoolBatch, SpoolEntry, SpoolReader};
pub use record::{Columns, EncodedBatch, RecordKind, SpooledRecord};
use segment::{list_segments, scan_segment, segment_path};
use writer::{open_segment, AppendRequest, Writer};

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool I/O failed while {context}: {source}")]
    Io {
        context: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("spool data is corrupt ({0})")]
    Corrupt(&'static str),
    #[error("spool entry {0} is missing (trimmed or never written)")]
    Missing(u64),
    #[error("the spool refused writes after an I/O failure; restart the origin to recover")]
    Poisoned,
    #[error("the spool writer has {0} batches queued (its bound); retry shortly")]
    Busy(usize),
    #[error("{free} bytes free on the spool's disk, under the {min}-byte watermark")]
    DiskFull { free: u64, min: u64 },
    #[error("the spool is shut down")]
    Closed,
}

impl SpoolError {
    pub fn io(context: &'static str, source: io::Error) -> Self {
        SpoolError::Io { context, source }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendOutcome {
    pub accepted: usize,
    pub duplicates: usize,
}

#[derive(Debug, Clone)]
pub struct SpoolConfig {
    pub dir: PathBuf,
    /// A segment is closed and a new one started past this size.
    pub segment_bytes: u64,
    /// How long ids of trimmed records are remembered for dedup.
    pub dedup_retention_days: u64,
    /// Appends waiting for the writer at most; beyond, [`SpoolError::Busy`].
    pub max_queued_appends: usize,
    /// Free bytes the file system must keep; below, [`SpoolError::DiskFull`].
    pub min_free_disk_bytes: u64,
    /// Tests only: the free space to assume instead of asking the file system.
    pub free_space_override: Option<Arc<std::sync::atomic::AtomicU64>>,
}

/// Figures for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct SpoolStats {
    pub next_seq: u64,
    pub oldest_seq: u64,
    pub segments: usize,
    pub bytes: u64,
    pub cursors: BTreeMap<String, u64>,
}

#[derive(Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

struct Inner {
    segments_dir: PathBuf,
    cursors_dir: PathBuf,
    dedup_dir: PathBuf,
    sender: Mutex<Option<mpsc::SyncSender<AppendRequest>>>,
    max_queued_appends: usize,
    min_free_disk_bytes: u64,
    free_space_override: Option<Arc<std::sync::atomic::AtomicU64>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    durable: watch::Receiver<u64>,
    poisoned: Arc<AtomicBool>,
    cursors: Mutex<BTreeMap<String, u64>>,
    trim_lock: tokio::sync::Mutex<()>,
}

impl Spool {
    /// Opens (or creates) the spool, recovering from a crash: a torn tail of the last segment
    /// is cut off, the dedup index is rebuilt, and each of `sinks` resumes at its cursor.
    pub fn open(config: &SpoolConfig, sinks: &[&str]) -> Result<Spool, SpoolError> {
        let segments_dir = config.dir.join("segments");
        let cursors_dir = config.dir.join("cursors");
        let dedup_dir = config.dir.join("dedup");
        let quarantine_dir = config.dir.join("quarantine");
        for dir in [&segments_dir, &cursors_dir, &dedup_dir] {
            fs::create_dir_all(dir).map_err(|e| SpoolError::io("creating spool dirs", e))?;
        }
        let now = now_ms();
        let mut dedup = DedupIndex::open(&dedup_dir, config.dedup_retention_days, now)?;
        let segments = list_segments(&segments_dir)?;
        let mut next_seq = segments.first().map_or(1, |(first, _)| *first);
        let mut active_len = 0;
        for (index, (first_seq, path)) in segments.iter().enumerate() {
            let mut scan = scan_segment(path)?;
            let is_last = index + 1 == segments.len();
            if scan.valid_len < scan.file_len && !is_last {
                // Damage before the last segment is not a crash's torn tail: repair the
                // segment (the original is quarantined) instead of refusing to start.
                let next_first = segments[index + 1].0;
                repair::repair_segment(path, *first_seq, next_first, &quarantine_dir)?;
                scan = scan_segment(path)?;
            }
            if scan.valid_len < scan.file_len {
                tracing::warn!(
                    segment = %path.display(),
                    cut_bytes = scan.file_len - scan.valid_len,
                    "cutting a torn tail left by a crash (it was never acknowledged)"
                );
                let file = fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| SpoolError::io("opening a torn segment", e))?;
                file.set_len(scan.valid_len)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| SpoolError::io("cutting a torn segment", e))?;
            }
            next_seq = next_seq.max(*first_seq);
            for frame in &scan.frames {
                for fp in record::fingerprints(&frame.payload)? {
                    dedup.insert(fp, frame.appended_ms);
                }
                next_seq = frame.seq + 1;
            }
            active_len = scan.valid_len;
        }

        let oldest_seq = segments.first().map_or(next_seq, |(first, _)| *first);
        let mut cursors = BTreeMap::new();
        for sink in sinks {
            let cursor = read_cursor(&cursors_dir, sink)?.unwrap_or(oldest_seq);
            next_seq = next_seq.max(cursor);
            cursors.insert((*sink).to_owned(), cursor.max(oldest_seq));
        }

        let active_path = match segments.last() {
            Some((_, path)) if active_len < config.segment_bytes => path.clone(),
            _ => {
                active_len = 0;
                segment_path(&segments_dir, next_seq)
            }
        };
        let active = open_segment(&active_path)?;
        sync_dir(&segments_dir)?;

        let (durable_tx, durable_rx) = watch::channel(next_seq);
        let poisoned = Arc::new(AtomicBool::new(false));
        let writer = Writer {
            dir: segments_dir.clone(),
            segment_bytes: config.segment_bytes,
            active,
            active_len,
            next_seq,
            dedup,
            durable: durable_tx,
            poisoned: poisoned.clone(),
        };
        let (sender, requests) = mpsc::sync_channel(config.max_queued_appends);
        let thread = std::thread::Builder::new()
            .name("spool-writer".into())
            .spawn(move || writer.run(requests))
            .map_err(|e| SpoolError::io("starting the writer thread", e))?;
        tracing::info!(next_seq, oldest_seq, ?cursors, "spool opened");
        Ok(Spool {
            inner: Arc::new(Inner {
                segments_dir,
                cursors_dir,
                dedup_dir,
                sender: Mutex::new(Some(sender)),
                max_queued_appends: config.max_queued_appends,
                min_free_disk_bytes: config.min_free_disk_bytes,
                free_space_override: config.free_space_override.clone(),
                writer_thread: Mutex::new(Some(thread)),
                durable: durable_rx,
                poisoned,
                cursors: Mutex::new(cursors),
                trim_lock: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Spools the records not seen before; returns once they are fsync'd.
    /// Refused before anything is written when the disk is under its watermark
    /// ([`SpoolError::DiskFull`], checked per append, so intake resumes once space is freed)
    /// or the writer's queue is full ([`SpoolError::Busy`]).
    pub async fn append(&self, batch: EncodedBatch) -> Result<AppendOutcome, SpoolError> {
        self.append_with(batch, false).await
    }

    /// [`Spool::append`], then a new segment is started: the one holding `batch` and
    /// everything before it is deleted as soon as every sink has delivered it (an erasure:
    /// the person's records do not wait in a half-full segment).
    pub async fn append_then_roll(&self, batch: EncodedBatch) -> Result<AppendOutcome, SpoolError> {
        self.append_with(batch, true).await
    }

    async fn append_with(
        &self,
        batch: EncodedBatch,
        roll_after: bool,
    ) -> Result<AppendOutcome, SpoolError> {
        let free = self.free_disk_bytes()?;
        let min = self.inner.min_free_disk_bytes;
        if free < min {
            return Err(SpoolError::DiskFull { free, min });
        }
        let (reply, response) = oneshot::channel();
        {
            let sender = self.inner.sender.lock().map_err(|_| SpoolError::Closed)?;
            let sender = sender.as_ref().ok_or(SpoolError::Closed)?;
            sender
                .try_send(AppendRequest {
                    batch,
                    reply,
                    roll_after,
                })
                .map_err(|err| match err {
                    mpsc::TrySendError::Full(_) => SpoolError::Busy(self.inner.max_queued_appends),
                    mpsc::TrySendError::Disconnected(_) => SpoolError::Closed,
                })?;
        }
        response.await.map_err(|_| SpoolError::Closed)?
    }

    /// Free bytes on the spool's file system (for unprivileged users).
    pub fn free_disk_bytes(&self) -> Result<u64, SpoolError> {
        if let Some(free) = &self.inner.free_space_override {
            return Ok(free.load(Ordering::Acquire));
        }
        free_bytes(&self.inner.segments_dir)
            .map_err(|e| SpoolError::io("reading free disk space", e))
    }

    pub fn is_healthy(&self) -> bool {
        !self.inner.poisoned.load(Ordering::Acquire)
    }

    /// A reader for `sink`, starting at its committed cursor.
    pub fn reader(&self, sink: &str) -> SpoolReader {
        let start = self.cursor(sink).unwrap_or(1);
        SpoolReader::new(
            self.inner.segments_dir.clone(),
            start,
            self.inner.durable.clone(),
        )
    }

    pub fn cursor(&self, sink: &str) -> Option<u64> {
        self.inner.cursors.lock().ok()?.get(sink).copied()
    }

    /// Records that `sink` delivered every entry before `next_seq` (durably), then trims
    /// segments that every sink is past.
    pub async fn commit(&self, sink: &str, next_seq: u64) -> Result<(), SpoolError> {
        let dir = self.inner.cursors_dir.clone();
        let name = sink.to_owned();
        run_blocking(move || write_cursor(&dir, &name, next_seq)).await?;
        if let Ok(mut cursors) = self.inner.cursors.lock() {
            cursors.insert(sink.to_owned(), next_seq);
        }
        self.trim().await
    }

    /// Deletes segments whose entries every sink has delivered; their ids go to the dedup
    /// files first. The active (last) segment is never deleted.
    pub async fn trim(&self) -> Result<(), SpoolError> {
        let _guard = self.inner.trim_lock.lock().await;
        let Some(min_cursor) = self
            .inner
            .cursors
            .lock()
            .ok()
            .and_then(|c| c.values().copied().min())
        else {
            return Ok(());
        };
        let segments_dir = self.inner.segments_dir.clone();
        let dedup_dir = self.inner.dedup_dir.clone();
        run_blocking(move || trim_segments(&segments_dir, &dedup_dir, min_cursor)).await
    }

    pub fn stats(&self) -> SpoolStats {
        let segments = list_segments(&self.inner.segments_dir).unwrap_or_default();
        let bytes = segments
            .iter()
            .filter_map(|(_, p)| fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        let next_seq = *self.inner.durable.borrow();
        SpoolStats {
            next_seq,
            oldest_seq: segments.first().map_or(next_seq, |(s, _)| *s),
            segments: segments.len(),
            bytes,
            cursors: self
                .inner
                .cursors
                .lock()
                .map(|c| c.clone())
                .unwrap_or_default(),
        }
    }

    /// Stops the writer after the appends already queued; later appends fail with `Closed`.
    pub fn close(&self) {
        if let Ok(mut sender) = self.inner.sender.lock() {
            sender.take();
        }
        let thread = self
            .inner
            .writer_thread
            .lock()
            .ok()
            .and_then(|mut t| t.take());
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

fn trim_segments(segments_dir: &Path, dedup_dir: &Path, min_cursor: u64) -> Result<(), SpoolError> {
    let segments = list_segments(segments_dir)?;
    for pair in segments.windows(2) {
        let ((_, path), (next_first, _)) = (&pair[0], &pair[1]);
        if *next_first > min_cursor {
            break;
        }
        let scan = scan_segment(path)?;
        let mut by_day: BTreeMap<u64, Vec<u128>> = BTreeMap::new();
        for frame in &scan.frames {
            let day_key = frame.appended_ms - frame.appended_ms % 86_400_000;
            let ids = by_day.entry(day_key).or_default();
            ids.extend(record::fingerprints(&frame.payload)?);
        }
        for (appended_ms, fingerprints) in by_day {
            persist_trimmed(dedup_dir, appended_ms, &fingerprints)?;
        }
        fs::remove_file(path).map_err(|e| SpoolError::io("deleting a trimmed segment", e))?;
        tracing::debug!(segment = %path.display(), "trimmed");
    }
    Ok(())
}

fn cursor_path(dir: &Path, sink: &str) -> PathBuf {
    dir.join(format!("{sink}.pos"))
}

fn read_cursor(dir: &Path, sink: &str) -> Result<Option<u64>, SpoolError> {
    match fs::read_to_string(cursor_path(dir, sink)) {
        Ok(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| SpoolError::Corrupt("cursor file")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SpoolError::io("reading a cursor", e)),
    }
}

/// Atomic replace: write a temporary file, sync it, rename over the old one, sync the dir.
fn write_cursor(dir: &Path, sink: &str, next_seq: u64) -> Result<(), SpoolError> {
    let tmp = dir.join(format!("{sink}.pos.tmp"));
    fs::write(&tmp, next_seq.to_string())
        .and_then(|()| fs::File::open(&tmp)?.sync_all())
        .and_then(|()| fs::rename(&tmp, cursor_path(dir, sink)))
        .map_err(|e| SpoolError::io("writing a cursor", e))?;
    sync_dir(dir)
}

fn free_bytes(dir: &Path) -> io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `path` is a valid NUL-terminated string and `stat` a zeroed out-parameter that
    // statvfs fills; nothing is kept past the call.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Ok(stat.f_bavail as u64 * stat.f_frsize as u64)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SpoolError::io("syncing a directory", e))
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

async fn run_blocking<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, SpoolError> + Send + 'static,
) -> Result<T, SpoolError> {
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|_| SpoolError::Closed)?
}

#[cfg(test)]
mod tests;
