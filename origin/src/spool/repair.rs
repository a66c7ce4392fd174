//! Repair of a damaged segment that is not the last one (issue 13, finding 8).
//!
//! A torn tail of the *last* segment is what a crash leaves and is simply cut (it was never
//! acknowledged). Damage anywhere else (a bad disk block, a stray write) used to stop the
//! start-up with no way forward. Now the segment is repaired instead:
//!
//! 1. the original file is copied to `quarantine/` (kept for inspection; nothing deletes it);
//! 2. every frame that still checks is kept, found by resynchronising past the damage (a
//!    candidate must have a sequence number inside the segment's range, after the last kept
//!    one, and a matching CRC);
//! 3. each sequence number of the segment's range with no surviving frame gets an empty frame
//!    (zero records), so readers see a contiguous log and the sinks move on;
//! 4. the repaired segment replaces the original atomically (temporary file, fsync, rename).
//!
//! Records of lost frames were acknowledged: they are gone from the sinks, and the log line
//! and `RepairReport` name their sequence numbers and the quarantined file.

use std::fs;
use std::path::{Path, PathBuf};

use super::record::payload_header;
use super::segment::{encode_frame, FRAME_HEADER_BYTES};
use super::{sync_dir, SpoolError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairReport {
    pub quarantined: PathBuf,
    pub kept_frames: usize,
    /// Sequence numbers whose frames were lost (now empty).
    pub lost_seqs: Vec<u64>,
}

/// Repairs the segment at `path`, which holds sequence numbers `first_seq..next_first`.
pub fn repair_segment(
    path: &Path,
    first_seq: u64,
    next_first: u64,
    quarantine_dir: &Path,
) -> Result<RepairReport, SpoolError> {
    let bytes = fs::read(path).map_err(|e| SpoolError::io("reading a damaged segment", e))?;
    fs::create_dir_all(quarantine_dir)
        .map_err(|e| SpoolError::io("creating the quarantine dir", e))?;
    let name = path
        .file_name()
        .map_or_else(|| "segment".into(), |n| n.to_string_lossy().into_owned());
    let quarantined = quarantine_dir.join(format!("{name}.{}.damaged", super::now_ms()));
    fs::write(&quarantined, &bytes)
        .and_then(|()| fs::File::open(&quarantined)?.sync_all())
        .map_err(|e| SpoolError::io("quarantining a damaged segment", e))?;
    sync_dir(quarantine_dir)?;

    let frames = salvage(&bytes, first_seq, next_first);
    let mut out = Vec::with_capacity(bytes.len());
    let mut lost_seqs = Vec::new();
    let mut frames = frames.into_iter().peekable();
    let mut last_ms = 0;
    for seq in first_seq..next_first {
        match frames.peek() {
            Some(frame) if frame.0 == seq => {
                let (seq, ms, payload) = frames.next().unwrap_or_default();
                last_ms = ms;
                encode_frame(seq, ms, payload, &mut out);
            }
            _ => {
                lost_seqs.push(seq);
                let mut empty = Vec::with_capacity(8);
                payload_header(0, &mut empty);
                encode_frame(seq, last_ms, &empty, &mut out);
            }
        }
    }
    let kept_frames = (next_first - first_seq) as usize - lost_seqs.len();
    let tmp = path.with_extension("seg.repair");
    fs::write(&tmp, &out)
        .and_then(|()| fs::File::open(&tmp)?.sync_all())
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(|e| SpoolError::io("writing a repaired segment", e))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    tracing::error!(
        segment = %path.display(),
        quarantined = %quarantined.display(),
        kept_frames,
        lost = lost_seqs.len(),
        lost_seqs = ?lost_seqs,
        "a damaged spool segment was repaired; the records of the lost entries are gone"
    );
    Ok(RepairReport {
        quarantined,
        kept_frames,
        lost_seqs,
    })
}

/// Every frame of `bytes` that checks, in order, with a sequence number in
/// `first_seq..next_first` greater than the one before: (seq, appended ms, payload).
pub fn salvage(bytes: &[u8], first_seq: u64, next_first: u64) -> Vec<(u64, u64, &[u8])> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    let mut min_seq = first_seq;
    while offset + FRAME_HEADER_BYTES <= bytes.len() {
        match frame_at(bytes, offset, min_seq, next_first) {
            Some((seq, ms, payload)) => {
                out.push((seq, ms, payload));
                min_seq = seq + 1;
                offset += FRAME_HEADER_BYTES + payload.len();
            }
            None => offset += 1,
        }
    }
    out
}

fn frame_at(bytes: &[u8], offset: usize, min_seq: u64, end_seq: u64) -> Option<(u64, u64, &[u8])> {
    let header = bytes.get(offset..offset + FRAME_HEADER_BYTES)?;
    let le = |range: std::ops::Range<usize>| {
        header[range]
            .iter()
            .rev()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    };
    let (len, crc, seq, ms) = (le(0..4) as usize, le(4..8) as u32, le(8..16), le(16..24));
    // Cheap checks first: most offsets inside damage fail here, before any CRC.
    if !(min_seq..end_seq).contains(&seq) {
        return None;
    }
    let start = offset + FRAME_HEADER_BYTES;
    let payload = bytes.get(start..start.checked_add(len)?)?;
    let mut check = crc32fast::Hasher::new();
    check.update(&header[8..24]);
    check.update(payload);
    (check.finalize() == crc).then_some((seq, ms, payload))
}
