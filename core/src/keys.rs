//! API credentials: write keys (SDKs) and read tokens (dashboards, API clients).
//!
//! Only SHA-256 hashes are stored; a leaked table does not leak keys. Keys are random, long
//! and prefixed by kind so a key pasted in the wrong place is recognisable.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    Write,
    Read,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Write => "write",
            KeyKind::Read => "read",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            KeyKind::Write => "wk_",
            KeyKind::Read => "rt_",
        }
    }
}

/// Lower-case hex of SHA-256: the form stored in `api_keys.key_hash`.
pub fn hash_key(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new key of `kind` from 24 random bytes (192 bits).
pub fn generate_key(kind: KeyKind, random: [u8; 24]) -> String {
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}{hex}", kind.prefix())
}

/// The user name of an HTTP Basic `Authorization` header: where Segment SDKs put the write key.
pub fn basic_auth_user(header: &str) -> Option<String> {
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?
        .trim();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let user = text.split_once(':').map_or(text.as_str(), |(user, _)| user);
    Some(user.to_owned()).filter(|u| !u.is_empty())
}

/// The token of an `Authorization: Bearer ...` header.
pub fn bearer_token(header: &str) -> Option<&str> {
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_user_is_the_write_key() {
        // "wk_abc:" as analytics-node sends it.
        assert_eq!(
            basic_auth_user("Basic d2tfYWJjOg==").as_deref(),
            Some("wk_abc")
        );
        assert_eq!(basic_auth_user("Basic d2tfYWJj").as_deref(), Some("wk_abc"));
        assert_eq!(basic_auth_user("Basic !!!"), None);
        assert_eq!(basic_auth_user("Basic Og=="), None);
        assert_eq!(basic_auth_user("Bearer x"), None);
    }

    #[test]
    fn keys_are_prefixed_and_hashes_stable() {
        let key = generate_key(KeyKind::Read, [0xab; 24]);
        assert!(key.starts_with("rt_") && key.len() == 51);
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(bearer_token("Bearer rt_1"), Some("rt_1"));
        assert_eq!(bearer_token("Bearer "), None);
    }
}
