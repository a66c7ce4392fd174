//! Segment files: the spool's on-disk log, one file per range of entries.
//!
//! A segment is named after the sequence number of its first entry (`00000000000000000042.seg`)
//! and holds frames back to back: `u32 payload length, u32 CRC-32, u64 seq, u64 appended at
//! (ms), payload`. The CRC covers seq, time and payload, so a frame torn by a crash is found
//! and cut off at recovery instead of being delivered.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::SpoolError;

pub const FRAME_HEADER_BYTES: usize = 24;
/// Frames larger than this are corruption, not data (a batch is far smaller).
const MAX_FRAME_PAYLOAD: usize = 256 * 1024 * 1024;
const SEGMENT_SUFFIX: &str = ".seg";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub seq: u64,
    pub appended_ms: u64,
    pub payload: Vec<u8>,
}

pub fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}{SEGMENT_SUFFIX}"))
}

/// The segments in `dir`, oldest first, with the sequence number each starts at.
pub fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, SpoolError> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| SpoolError::io("listing segments", e))? {
        let entry = entry.map_err(|e| SpoolError::io("listing segments", e))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(SEGMENT_SUFFIX)) else {
            continue;
        };
        if let Ok(first_seq) = stem.parse::<u64>() {
            segments.push((first_seq, entry.path()));
        }
    }
    segments.sort();
    Ok(segments)
}

pub fn encode_frame(seq: u64, appended_ms: u64, payload: &[u8], out: &mut Vec<u8>) {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&seq.to_le_bytes());
    crc.update(&appended_ms.to_le_bytes());
    crc.update(payload);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&appended_ms.to_le_bytes());
    out.extend_from_slice(payload);
}

/// Why a frame could not be read where one was expected.
#[derive(Debug)]
pub enum FrameEnd {
    /// The file ends cleanly before the frame.
    Eof,
    /// A partial or damaged frame: what a crash mid-write leaves.
    Torn,
    Io(io::Error),
}

pub fn read_frame(reader: &mut impl Read) -> Result<Frame, FrameEnd> {
    let mut header = [0u8; FRAME_HEADER_BYTES];
    let got = read_full(reader, &mut header).map_err(FrameEnd::Io)?;
    if got == 0 {
        return Err(FrameEnd::Eof);
    }
    if got < FRAME_HEADER_BYTES {
        return Err(FrameEnd::Torn);
    }
    let field = |range: std::ops::Range<usize>| -> u64 {
        header[range]
            .iter()
            .rev()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    };
    let len = field(0..4) as usize;
    let crc = field(4..8) as u32;
    let seq = field(8..16);
    let appended_ms = field(16..24);
    if len > MAX_FRAME_PAYLOAD {
        return Err(FrameEnd::Torn);
    }
    let mut payload = vec![0u8; len];
    if read_full(reader, &mut payload).map_err(FrameEnd::Io)? < len {
        return Err(FrameEnd::Torn);
    }
    let mut check = crc32fast::Hasher::new();
    check.update(&header[8..24]);
    check.update(&payload);
    if check.finalize() != crc {
        return Err(FrameEnd::Torn);
    }
    Ok(Frame {
        seq,
        appended_ms,
        payload,
    })
}

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// What recovery found in one segment.
pub struct Scan {
    pub frames: Vec<Frame>,
    /// Bytes of whole, valid frames; anything after is a torn tail.
    pub valid_len: u64,
    pub file_len: u64,
}

pub fn scan_segment(path: &Path) -> Result<Scan, SpoolError> {
    let file = File::open(path).map_err(|e| SpoolError::io("opening a segment", e))?;
    let file_len = file
        .metadata()
        .map_err(|e| SpoolError::io("reading segment size", e))?
        .len();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut frames = Vec::new();
    let mut valid_len = 0u64;
    loop {
        match read_frame(&mut reader) {
            Ok(frame) => {
                valid_len += (FRAME_HEADER_BYTES + frame.payload.len()) as u64;
                frames.push(frame);
            }
            Err(FrameEnd::Eof | FrameEnd::Torn) => break,
            Err(FrameEnd::Io(e)) => return Err(SpoolError::io("scanning a segment", e)),
        }
    }
    Ok(Scan {
        frames,
        valid_len,
        file_len,
    })
}

/// Sequential reads through the segments, for one sink.
pub struct SegmentCursor {
    dir: PathBuf,
    reader: Option<BufReader<File>>,
}

impl SegmentCursor {
    pub fn new(dir: PathBuf) -> Self {
        SegmentCursor { dir, reader: None }
    }

    /// Reads the frame with sequence number `seq`, which must be durable. Frames are read in
    /// order; the first read (or a jump) finds its segment and skips to it.
    pub fn read(&mut self, seq: u64) -> Result<Frame, SpoolError> {
        if let Some(reader) = self.reader.as_mut() {
            match read_frame(reader) {
                Ok(frame) if frame.seq == seq => return Ok(frame),
                // End of this segment: the entry starts the next one.
                Err(FrameEnd::Eof) => {}
                Ok(_) | Err(FrameEnd::Torn) => {}
                Err(FrameEnd::Io(e)) => return Err(SpoolError::io("reading the spool", e)),
            }
        }
        self.seek_to(seq)
    }

    fn seek_to(&mut self, seq: u64) -> Result<Frame, SpoolError> {
        self.reader = None;
        let segment = list_segments(&self.dir)?
            .into_iter()
            .rev()
            .find(|(first, _)| *first <= seq)
            .ok_or(SpoolError::Missing(seq))?;
        let file = File::open(&segment.1).map_err(|e| SpoolError::io("opening a segment", e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        reader
            .seek(SeekFrom::Start(0))
            .map_err(|e| SpoolError::io("seeking a segment", e))?;
        loop {
            match read_frame(&mut reader) {
                Ok(frame) if frame.seq == seq => {
                    self.reader = Some(reader);
                    return Ok(frame);
                }
                Ok(frame) if frame.seq < seq => continue,
                Ok(_) | Err(FrameEnd::Eof) | Err(FrameEnd::Torn) => {
                    return Err(SpoolError::Missing(seq))
                }
                Err(FrameEnd::Io(e)) => return Err(SpoolError::io("reading the spool", e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trip_and_torn_detection() {
        let mut bytes = Vec::new();
        encode_frame(7, 1_000, b"hello", &mut bytes);
        let frame = read_frame(&mut bytes.as_slice()).expect("reads");
        assert_eq!((frame.seq, frame.appended_ms), (7, 1_000));
        assert_eq!(frame.payload, b"hello");

        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(
            read_frame(&mut flipped.as_slice()),
            Err(FrameEnd::Torn)
        ));
        assert!(matches!(read_frame(&mut &bytes[..10]), Err(FrameEnd::Torn)));
        assert!(matches!(read_frame(&mut &b""[..]), Err(FrameEnd::Eof)));
    }
}
