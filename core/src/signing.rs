//! Signed HTTP between the edge and the origin (issue 13, finding 9).
//!
//! Each direction has its own keys: the Journey objects sign outbox batches (edge → origin)
//! with the *outbox* keyring, the origin signs rollups (origin → edge) with the *rollups*
//! keyring, so a key that leaks from one side cannot forge the other direction. A keyring
//! holds up to [`MAX_KEYS`] keys by id (`id=secret,id=secret`): the first signs, all verify,
//! so a key is rotated by adding the new one first on the verifying side, then on the
//! signing side, then removing the old one.
//!
//! Header [`SIGNATURE_HEADER`]: `k=<key id>,t=<unix seconds>,v2=<hex HMAC-SHA256>` over
//! `"{direction}\n{t}\n{METHOD}\n{path}\n{body}"`: the method and path are signed, so a
//! signature for one endpoint is worth nothing at another, and the direction label makes the
//! two directions' signatures differ even under one secret. `t` must be within
//! `SIGNATURE_TOLERANCE_SECS` of the verifier's clock (checked without overflow). Replays
//! inside the tolerance are for the receiver to refuse: the origin deduplicates records by
//! id, the query Worker refuses a rollup older than the one it holds (`RollupUpsert::seq`).
//!
//! Deployments with only the old shared `EDGE_ORIGIN_SECRET` get one derived key per
//! direction ([`Keyring::derived`], id `shared`): separate directions without new secrets.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::outbox::{decode_hex, fresh};
pub use crate::outbox::{SignatureError, SIGNATURE_HEADER};

type HmacSha256 = Hmac<Sha256>;

/// Keys one keyring holds at most.
pub const MAX_KEYS: usize = 8;
/// Longest key id.
pub const MAX_KEY_ID_CHARS: usize = 32;
/// Shortest secret accepted in a keyring (bytes).
pub const MIN_SECRET_BYTES: usize = 16;
/// The key id of keys derived from the shared `EDGE_ORIGIN_SECRET`.
pub const DERIVED_KEY_ID: &str = "shared";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Journey objects → origin (`POST /v1/outbox`).
    Outbox,
    /// Origin → query Worker (`POST /internal/rollups`).
    Rollups,
}

impl Direction {
    pub fn label(self) -> &'static str {
        match self {
            Direction::Outbox => "outbox",
            Direction::Rollups => "rollups",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyringError {
    #[error("a keyring needs at least one `id=secret` entry")]
    Empty,
    #[error("entry {0} is not `id=secret`")]
    NotAPair(usize),
    #[error("key id {0:?} must be 1 to 32 characters of A-Z, a-z, 0-9, '.', '_' and '-'")]
    BadId(String),
    #[error("key id {0:?} appears twice")]
    Duplicate(String),
    #[error("the secret of key {0:?} is shorter than 16 bytes")]
    ShortSecret(String),
    #[error("at most {MAX_KEYS} keys")]
    TooMany,
}

#[derive(Clone, PartialEq, Eq)]
struct Key {
    id: String,
    secret: Vec<u8>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Keyring {
    direction: Direction,
    keys: Vec<Key>,
}

/// Never prints a secret.
impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keyring")
            .field("direction", &self.direction)
            .field("key_ids", &ids)
            .finish()
    }
}

impl Keyring {
    /// `id=secret[,id=secret...]`, the signing key first.
    pub fn parse(direction: Direction, text: &str) -> Result<Self, KeyringError> {
        let mut keys: Vec<Key> = Vec::new();
        for (i, part) in text.split(',').map(str::trim).enumerate() {
            if part.is_empty() {
                continue;
            }
            let (id, secret) = part.split_once('=').ok_or(KeyringError::NotAPair(i))?;
            let id = id.trim();
            let id_ok = (1..=MAX_KEY_ID_CHARS).contains(&id.len())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !id_ok {
                return Err(KeyringError::BadId(id.to_owned()));
            }
            if keys.iter().any(|k| k.id == id) {
                return Err(KeyringError::Duplicate(id.to_owned()));
            }
            if secret.len() < MIN_SECRET_BYTES {
                return Err(KeyringError::ShortSecret(id.to_owned()));
            }
            keys.push(Key {
                id: id.to_owned(),
                secret: secret.as_bytes().to_vec(),
            });
        }
        if keys.is_empty() {
            return Err(KeyringError::Empty);
        }
        if keys.len() > MAX_KEYS {
            return Err(KeyringError::TooMany);
        }
        Ok(Keyring { direction, keys })
    }

    /// One key for `direction`, derived from the shared secret: HMAC(shared, label).
    pub fn derived(direction: Direction, shared_secret: &[u8]) -> Self {
        let secret = HmacSha256::new_from_slice(shared_secret)
            .map(|mut mac| {
                mac.update(b"attrib-signing-v2/");
                mac.update(direction.label().as_bytes());
                mac.finalize().into_bytes().to_vec()
            })
            .unwrap_or_default();
        Keyring {
            direction,
            keys: vec![Key {
                id: DERIVED_KEY_ID.to_owned(),
                secret,
            }],
        }
    }

    /// The keyring of `direction` from its own setting (`explicit`), else derived from the
    /// shared secret; `None` when neither is set.
    pub fn from_settings(
        direction: Direction,
        explicit: Option<&str>,
        shared_secret: Option<&str>,
    ) -> Result<Option<Self>, KeyringError> {
        match (explicit.filter(|t| !t.trim().is_empty()), shared_secret) {
            (Some(text), _) => Keyring::parse(direction, text).map(Some),
            (None, Some(shared)) if !shared.is_empty() => {
                Ok(Some(Keyring::derived(direction, shared.as_bytes())))
            }
            _ => Ok(None),
        }
    }

    pub fn direction(&self) -> Direction {
        self.direction
    }

    pub fn signing_key_id(&self) -> &str {
        self.keys.first().map_or("", |k| k.id.as_str())
    }

    /// The header value for a request signed at `now_secs` with the first key.
    pub fn sign(&self, now_secs: i64, method: &str, path: &str, body: &[u8]) -> String {
        let Some(key) = self.keys.first() else {
            return String::new();
        };
        let digest = self
            .mac(key, now_secs, method, path, body)
            .map(|m| m.finalize().into_bytes().to_vec())
            .unwrap_or_default();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("k={},t={now_secs},v2={hex}", key.id)
    }

    /// Checks `header` for a request `method path` with `body`, in constant time.
    pub fn verify(
        &self,
        header: &str,
        method: &str,
        path: &str,
        body: &[u8],
        now_secs: i64,
    ) -> Result<(), SignatureError> {
        let parsed = SignedHeader::parse(header)?;
        fresh(parsed.timestamp, now_secs)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == parsed.key_id)
            .ok_or(SignatureError::UnknownKey)?;
        self.mac(key, parsed.timestamp, method, path, body)?
            .verify_slice(&parsed.signature)
            .map_err(|_| SignatureError::Mismatch)
    }

    fn mac(
        &self,
        key: &Key,
        t: i64,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<HmacSha256, SignatureError> {
        let mut mac =
            HmacSha256::new_from_slice(&key.secret).map_err(|_| SignatureError::InvalidKey)?;
        mac.update(self.direction.label().as_bytes());
        mac.update(b"\n");
        mac.update(t.to_string().as_bytes());
        mac.update(b"\n");
        mac.update(method.to_ascii_uppercase().as_bytes());
        mac.update(b"\n");
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(body);
        Ok(mac)
    }
}

/// The parts of a `k=..,t=..,v2=..` header.
struct SignedHeader {
    key_id: String,
    timestamp: i64,
    signature: Vec<u8>,
}

impl SignedHeader {
    fn parse(header: &str) -> Result<Self, SignatureError> {
        let (mut key_id, mut timestamp, mut signature) = (None, None, None);
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("k", v)) => key_id = Some(v.to_owned()),
                Some(("t", v)) => timestamp = v.parse::<i64>().ok(),
                Some(("v2", v)) => signature = decode_hex(v),
                _ => {}
            }
        }
        match (key_id, timestamp, signature) {
            (Some(key_id), Some(timestamp), Some(signature)) => Ok(SignedHeader {
                key_id,
                timestamp,
                signature,
            }),
            _ => Err(SignatureError::Malformed),
        }
    }
}

/// What can be checked before the body is read: the header is a v2 header and fresh. The
/// origin answers 401 to anything else without buffering the body.
pub fn precheck(header: &str, now_secs: i64) -> Result<(), SignatureError> {
    let parsed = SignedHeader::parse(header)?;
    fresh(parsed.timestamp, now_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;
    const BODY: &[u8] = b"{\"journey\":\"u:a:b\"}";

    fn ring(direction: Direction, text: &str) -> Keyring {
        Keyring::parse(direction, text).expect("keyring")
    }

    /// Issue 13, finding 9: one secret signed both directions, without method, path or key id.
    #[test]
    fn signing_directions_keys_method_and_path_are_bound() {
        let outbox = Keyring::derived(Direction::Outbox, b"one-shared-secret");
        let rollups = Keyring::derived(Direction::Rollups, b"one-shared-secret");
        let header = outbox.sign(NOW, "POST", "/v1/outbox", BODY);
        assert!(header.starts_with("k=shared,t=1700000000,v2="), "{header}");
        assert_eq!(
            outbox.verify(&header, "POST", "/v1/outbox", BODY, NOW),
            Ok(())
        );
        // The other direction, even from the same shared secret, does not accept it.
        assert_eq!(
            rollups.verify(&header, "POST", "/v1/outbox", BODY, NOW),
            Err(SignatureError::Mismatch)
        );
        // Nor another path or method, nor another body.
        for (method, path, body) in [
            ("POST", "/internal/rollups", BODY),
            ("PUT", "/v1/outbox", BODY),
            ("POST", "/v1/outbox", &b"{}"[..]),
        ] {
            assert_eq!(
                outbox.verify(&header, method, path, body, NOW),
                Err(SignatureError::Mismatch),
                "{method} {path}"
            );
        }
        // A v1 header (no key id, no method or path) is refused.
        let v1 = crate::outbox::sign(b"one-shared-secret", NOW, BODY).expect("v1");
        assert_eq!(
            outbox.verify(&v1, "POST", "/v1/outbox", BODY, NOW),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn signing_keys_rotate_through_a_keyring() {
        let old = ring(Direction::Outbox, "k1=0123456789abcdef-old");
        let verifier = ring(
            Direction::Outbox,
            "k2=0123456789abcdef-new, k1=0123456789abcdef-old",
        );
        let new = ring(Direction::Outbox, "k2=0123456789abcdef-new");
        for signer in [&old, &new] {
            let header = signer.sign(NOW, "POST", "/v1/outbox", BODY);
            assert_eq!(
                verifier.verify(&header, "POST", "/v1/outbox", BODY, NOW),
                Ok(())
            );
        }
        assert_eq!(verifier.signing_key_id(), "k2");
        let unknown = ring(Direction::Outbox, "k3=0123456789abcdef-xxx").sign(
            NOW,
            "POST",
            "/v1/outbox",
            BODY,
        );
        assert_eq!(
            verifier.verify(&unknown, "POST", "/v1/outbox", BODY, NOW),
            Err(SignatureError::UnknownKey)
        );
        assert_eq!(
            Keyring::parse(Direction::Outbox, "k=short"),
            Err(KeyringError::ShortSecret("k".into()))
        );
        assert_eq!(
            Keyring::parse(Direction::Outbox, " , "),
            Err(KeyringError::Empty)
        );
        assert!(
            !format!("{verifier:?}").contains("0123456789"),
            "secrets never print"
        );
    }

    #[test]
    fn signing_freshness_check_i64_overflow_is_refused() {
        let ring = Keyring::derived(Direction::Rollups, b"s");
        for t in [i64::MIN, i64::MAX, NOW - 301, NOW + 301] {
            let header = ring.sign(t, "POST", "/internal/rollups", BODY);
            assert_eq!(
                ring.verify(&header, "POST", "/internal/rollups", BODY, NOW),
                Err(SignatureError::Expired),
                "t={t}"
            );
            assert_eq!(precheck(&header, NOW), Err(SignatureError::Expired));
        }
    }
}
