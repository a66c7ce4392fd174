//! API credentials: write keys (SDKs), read tokens (dashboards, API clients), manage keys (one
//! app's settings, keys, links, postbacks and re-runs) and the deployment's admin tokens
//! (every app; their hashes live in the `ADMIN_TOKEN_HASHES` secret, not in D1).
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
    Manage,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Write => "write",
            KeyKind::Read => "read",
            KeyKind::Manage => "manage",
        }
    }

    pub fn parse(s: &str) -> Option<KeyKind> {
        match s {
            "write" => Some(KeyKind::Write),
            "read" => Some(KeyKind::Read),
            "manage" => Some(KeyKind::Manage),
            _ => None,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            KeyKind::Write => "wk_",
            KeyKind::Read => "rt_",
            KeyKind::Manage => "mk_",
        }
    }
}

/// Where a write key is used, which decides what its events may merge (issue 13, finding 5).
///
/// A `client` key ships in browsers and apps, so anyone can hold it: its `alias` merges only
/// anonymous journeys never seen with another user id ([`crate::identity::check_hand_over`]).
/// A `server` key stays on the app's backend and keeps Segment's semantics (`alias` merges
/// any `previousId`). Keys issued without a class, and every key issued before classes
/// existed, are `client`: a key that might be public is treated as public.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteKeyClass {
    #[default]
    Client,
    Server,
}

impl WriteKeyClass {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteKeyClass::Client => "client",
            WriteKeyClass::Server => "server",
        }
    }

    pub fn parse(s: &str) -> Option<WriteKeyClass> {
        match s {
            "client" => Some(WriteKeyClass::Client),
            "server" => Some(WriteKeyClass::Server),
            _ => None,
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

/// The prefix of a deployment admin token.
pub const ADMIN_TOKEN_PREFIX: &str = "at_";

/// A new deployment admin token from 24 random bytes.
pub fn generate_admin_token(random: [u8; 24]) -> String {
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("{ADMIN_TOKEN_PREFIX}{hex}")
}

/// Whether `token` is one of the admin tokens whose SHA-256 hex hashes are listed in `hashes`
/// (comma or whitespace separated). Compared in constant time per hash.
pub fn is_admin_token(token: &str, hashes: &str) -> bool {
    if !token.starts_with(ADMIN_TOKEN_PREFIX) {
        return false;
    }
    let hash = hash_key(token);
    hashes
        .split([',', ' ', '\n', '\t'])
        .map(str::trim)
        .filter(|h| h.len() == 64)
        .fold(false, |found, h| {
            let diff = h
                .to_ascii_lowercase()
                .bytes()
                .zip(hash.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            found | (diff == 0)
        })
}

/// A public id for a key (`key_` + 16 hex): how the API names a key without its secret.
pub fn key_id(random: [u8; 8]) -> String {
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!("key_{hex}")
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
        assert!(generate_key(KeyKind::Manage, [1; 24]).starts_with("mk_"));
        assert_eq!(KeyKind::parse("manage"), Some(KeyKind::Manage));
        assert_eq!(WriteKeyClass::parse("server"), Some(WriteKeyClass::Server));
        assert_eq!(WriteKeyClass::parse("Server"), None);
        assert_eq!(WriteKeyClass::default(), WriteKeyClass::Client);
    }

    #[test]
    fn admin_tokens_match_their_listed_hashes_only() {
        let token = generate_admin_token([7; 24]);
        let other = generate_admin_token([8; 24]);
        let hashes = format!("{}, {}", "0".repeat(64), hash_key(&token).to_uppercase());
        assert!(is_admin_token(&token, &hashes));
        assert!(!is_admin_token(&other, &hashes));
        assert!(!is_admin_token(&token, ""));
        // A manage key whose hash is listed by mistake is still not an admin token.
        let mk = generate_key(KeyKind::Manage, [7; 24]);
        assert!(!is_admin_token(&mk, &hash_key(&mk)));
    }
}
