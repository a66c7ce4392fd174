//! Request bodies sent with `Content-Encoding: gzip` or `deflate`, inflated with a hard bound.
//!
//! SDKs that compress (analytics-kotlin, classic analytics-ios/-android, rudder-sdk-node) send
//! small bodies that expand; an attacker sends small bodies that expand without end. So the
//! output is inflated in fixed chunks and the limit is checked after every chunk: a bomb stops
//! at `limit` bytes of output (plus one chunk), whatever it would have grown to. Memory is the
//! compressed input, the output up to the limit, and the inflater's own 32 KB window.

use std::borrow::Cow;

use miniz_oxide::inflate::stream::{inflate, InflateState};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

/// Inflated bytes are produced this many at a time, and the limit is checked between chunks.
const CHUNK_BYTES: usize = 32 * 1024;

/// The `Content-Encoding` of a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    Identity,
    Gzip,
    /// HTTP's `deflate` is the zlib format (RFC 9110); raw deflate streams are accepted too,
    /// because some clients send them under this name.
    Deflate,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecompressError {
    #[error("content-encoding {0:?} is not supported; use gzip, deflate or none")]
    Unsupported(String),
    #[error("decompressed body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("compressed body is corrupt: {0}")]
    Corrupt(&'static str),
    #[error("compressed body ends before its stream does")]
    Truncated,
}

impl ContentEncoding {
    /// Parses a `Content-Encoding` header value (absent means identity). One coding only:
    /// no SDK stacks them, and refusing stacks keeps the bound simple.
    pub fn parse(header: Option<&str>) -> Result<ContentEncoding, DecompressError> {
        let Some(value) = header.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(ContentEncoding::Identity);
        };
        match value.to_ascii_lowercase().as_str() {
            "identity" => Ok(ContentEncoding::Identity),
            "gzip" | "x-gzip" => Ok(ContentEncoding::Gzip),
            "deflate" => Ok(ContentEncoding::Deflate),
            _ => Err(DecompressError::Unsupported(
                value.chars().take(64).collect(),
            )),
        }
    }
}

/// The body as sent, decoded: never more than `limit` bytes, or `TooLarge` as soon as the
/// output passes it.
pub fn decompress(
    encoding: ContentEncoding,
    body: &[u8],
    limit: usize,
) -> Result<Cow<'_, [u8]>, DecompressError> {
    match encoding {
        ContentEncoding::Identity if body.len() > limit => Err(DecompressError::TooLarge { limit }),
        ContentEncoding::Identity => Ok(Cow::Borrowed(body)),
        ContentEncoding::Gzip => gunzip(body, limit).map(Cow::Owned),
        ContentEncoding::Deflate => {
            let format = if is_zlib_header(body) {
                DataFormat::Zlib
            } else {
                DataFormat::Raw
            };
            let mut out = Vec::new();
            let used = inflate_into(format, body, limit, &mut out)?;
            if body[used..].iter().any(|b| *b != 0) {
                return Err(DecompressError::Corrupt("data after the end of the stream"));
            }
            Ok(Cow::Owned(out))
        }
    }
}

/// RFC 1950: compression method 8 and a header checksum divisible by 31.
fn is_zlib_header(body: &[u8]) -> bool {
    match body {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

/// RFC 1952, including concatenated members (each is checked against its own CRC and size).
fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let start = out.len();
        let header = gzip_header_len(rest)?;
        let used = inflate_into(DataFormat::Raw, &rest[header..], limit, &mut out)?;
        let trailer = rest
            .get(header + used..header + used + 8)
            .ok_or(DecompressError::Truncated)?;
        let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
        if crc32fast::hash(&out[start..]) != crc {
            return Err(DecompressError::Corrupt("CRC-32 does not match"));
        }
        if (out.len() - start) as u32 != size {
            return Err(DecompressError::Corrupt("length does not match"));
        }
        rest = &rest[header + used + 8..];
        // Padding zeros after the last member are tolerated, as gzip(1) does.
        if rest.iter().all(|b| *b == 0) {
            return Ok(out);
        }
    }
}

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

fn gzip_header_len(data: &[u8]) -> Result<usize, DecompressError> {
    if data.len() < 10 {
        return Err(if data.starts_with(&[0x1f, 0x8b][..data.len().min(2)]) {
            DecompressError::Truncated
        } else {
            DecompressError::Corrupt("not a gzip stream")
        });
    }
    if data[0] != 0x1f || data[1] != 0x8b {
        return Err(DecompressError::Corrupt("not a gzip stream"));
    }
    if data[2] != 8 {
        return Err(DecompressError::Corrupt("unknown gzip compression method"));
    }
    let flags = data[3];
    if flags & 0xe0 != 0 {
        return Err(DecompressError::Corrupt("reserved gzip flags set"));
    }
    let mut pos = 10;
    if flags & FEXTRA != 0 {
        let len = data.get(pos..pos + 2).ok_or(DecompressError::Truncated)?;
        pos += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let end = data
                .get(pos..)
                .and_then(|rest| rest.iter().position(|b| *b == 0))
                .ok_or(DecompressError::Truncated)?;
            pos += end + 1;
        }
    }
    if flags & FHCRC != 0 {
        pos += 2;
    }
    if pos > data.len() {
        return Err(DecompressError::Truncated);
    }
    Ok(pos)
}

/// Inflates one stream from `input` onto `out`; returns how many input bytes it used.
fn inflate_into(
    format: DataFormat,
    input: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<usize, DecompressError> {
    let mut state = InflateState::new_boxed(format);
    let mut chunk = vec![0u8; CHUNK_BYTES];
    let mut pos = 0;
    loop {
        let result = inflate(&mut state, &input[pos..], &mut chunk, MZFlush::None);
        pos += result.bytes_consumed;
        if out.len() + result.bytes_written > limit {
            return Err(DecompressError::TooLarge { limit });
        }
        out.extend_from_slice(&chunk[..result.bytes_written]);
        let progressed = result.bytes_consumed > 0 || result.bytes_written > 0;
        match result.status {
            Ok(MZStatus::StreamEnd) => return Ok(pos),
            Ok(MZStatus::Ok) if progressed => {}
            Ok(MZStatus::Ok) | Err(MZError::Buf) if pos >= input.len() => {
                return Err(DecompressError::Truncated)
            }
            Ok(MZStatus::NeedDict) => {
                return Err(DecompressError::Corrupt("stream needs a preset dictionary"))
            }
            Err(MZError::Data) => return Err(DecompressError::Corrupt("invalid deflate data")),
            _ => return Err(DecompressError::Corrupt("invalid deflate stream")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use miniz_oxide::deflate::{compress_to_vec, compress_to_vec_zlib};

    const LIMIT: usize = 500 * 1024;

    /// A gzip member as gzip(1) writes it, with a file name to exercise the header parser.
    pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
        let mut out = vec![0x1f, 0x8b, 8, FNAME, 0, 0, 0, 0, 0, 3];
        out.extend_from_slice(b"batch.json\0");
        out.extend_from_slice(&compress_to_vec(data, 6));
        out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out
    }

    fn sample() -> Vec<u8> {
        br#"{"batch":[{"type":"track","event":"Signed Up","userId":"u1"}]}"#.repeat(50)
    }

    #[test]
    fn encodings_parse_case_insensitively_and_refuse_unknown_ones() {
        assert_eq!(ContentEncoding::parse(None), Ok(ContentEncoding::Identity));
        assert_eq!(
            ContentEncoding::parse(Some(" GZIP ")),
            Ok(ContentEncoding::Gzip)
        );
        assert_eq!(
            ContentEncoding::parse(Some("x-gzip")),
            Ok(ContentEncoding::Gzip)
        );
        assert_eq!(
            ContentEncoding::parse(Some("deflate")),
            Ok(ContentEncoding::Deflate)
        );
        assert!(matches!(
            ContentEncoding::parse(Some("br")),
            Err(DecompressError::Unsupported(_))
        ));
    }

    #[test]
    fn gzip_zlib_and_raw_deflate_round_trip() {
        let data = sample();
        let gz = gzip(&data);
        assert_eq!(
            decompress(ContentEncoding::Gzip, &gz, LIMIT).unwrap(),
            &data[..]
        );
        let zlib = compress_to_vec_zlib(&data, 6);
        assert_eq!(
            decompress(ContentEncoding::Deflate, &zlib, LIMIT).unwrap(),
            &data[..]
        );
        let raw = compress_to_vec(&data, 6);
        assert_eq!(
            decompress(ContentEncoding::Deflate, &raw, LIMIT).unwrap(),
            &data[..]
        );
    }

    #[test]
    fn concatenated_gzip_members_are_one_body() {
        let mut gz = gzip(b"{\"a\":");
        gz.extend(gzip(b"1}"));
        assert_eq!(
            decompress(ContentEncoding::Gzip, &gz, LIMIT).unwrap(),
            &b"{\"a\":1}"[..]
        );
    }

    #[test]
    fn every_truncation_is_refused() {
        let gz = gzip(&sample());
        for cut in 0..gz.len() {
            let err = decompress(ContentEncoding::Gzip, &gz[..cut], LIMIT).unwrap_err();
            assert!(
                matches!(
                    err,
                    DecompressError::Truncated | DecompressError::Corrupt(_)
                ),
                "cut at {cut}: {err:?}"
            );
        }
    }

    #[test]
    fn a_flipped_bit_never_yields_other_bytes() {
        let data = sample();
        let gz = gzip(&data);
        // From the end of the header (10 bytes and the name): the name has no checksum.
        for i in 21..gz.len() {
            let mut bad = gz.clone();
            bad[i] ^= 0x10;
            // Unused padding bits of the last deflate byte may flip harmlessly; nothing else may.
            if let Ok(out) = decompress(ContentEncoding::Gzip, &bad, LIMIT) {
                assert_eq!(out, &data[..], "byte {i} flipped and other bytes accepted");
            }
        }
    }

    #[test]
    fn plain_json_sent_as_gzip_is_corrupt() {
        assert_eq!(
            decompress(ContentEncoding::Gzip, br#"{"batch":[]}"#, LIMIT),
            Err(DecompressError::Corrupt("not a gzip stream"))
        );
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        // 20 MB of zeros compresses to ~20 KB; inflating stops one chunk past the limit.
        let zeros = vec![0u8; 20 * 1024 * 1024];
        let bomb = gzip(&zeros);
        assert!(bomb.len() < 64 * 1024);
        assert_eq!(
            decompress(ContentEncoding::Gzip, &bomb, LIMIT),
            Err(DecompressError::TooLarge { limit: LIMIT })
        );
        let zlib = compress_to_vec_zlib(&zeros, 6);
        assert_eq!(
            decompress(ContentEncoding::Deflate, &zlib, LIMIT),
            Err(DecompressError::TooLarge { limit: LIMIT })
        );
    }

    #[test]
    fn identity_bodies_are_borrowed_and_bounded() {
        assert!(matches!(
            decompress(ContentEncoding::Identity, b"{}", 2),
            Ok(Cow::Borrowed(_))
        ));
        assert_eq!(
            decompress(ContentEncoding::Identity, b"{}", 1),
            Err(DecompressError::TooLarge { limit: 1 })
        );
    }
}

/// The gzip front end takes bytes from anyone: whatever they are, it never panics, never
/// returns more than the limit, and accepts a stream only if it is exactly what was compressed.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod properties {
    use super::*;
    use proptest::prelude::*;

    const LIMIT: usize = 64 * 1024;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bytes_never_panic_and_stay_bounded(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            for encoding in [ContentEncoding::Gzip, ContentEncoding::Deflate, ContentEncoding::Identity] {
                if let Ok(out) = decompress(encoding, &bytes, LIMIT) {
                    prop_assert!(out.len() <= LIMIT);
                }
            }
        }

        #[test]
        fn mutated_gzip_never_yields_other_bytes(
            data in proptest::collection::vec(any::<u8>(), 0..2048),
            at in any::<prop::sample::Index>(),
            mask in 1u8..=255,
        ) {
            let mut gz = tests::gzip(&data);
            let i = 21 + at.index(gz.len() - 21);
            gz[i] ^= mask;
            if let Ok(out) = decompress(ContentEncoding::Gzip, &gz, LIMIT) {
                prop_assert_eq!(&out[..], &data[..]);
            }
        }
    }
}
