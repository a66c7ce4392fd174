//! Kafka message keys (issue 12 item 7): a keyed hash of the journey, never the user id in it.
//!
//! Key = `{app}:{hex}` with hex = `attrib_core::mobile::device::keyed_hash(secret, app,
//! "journey", journey)` (HMAC-SHA256 under HMAC(secret, app id)): one journey always has one
//! key, so one person's records still share a partition and stay in order, and nobody without
//! the secret can test a guessed user id against a key. The app id stays readable (it is not
//! personal, and consumers split by app).
//!
//! The secret is `KAFKA_KEY_SECRET`, or else one the origin creates once (32 random bytes)
//! in `{data_dir}/kafka-key-secret` and keeps: changing it moves every journey to a new key
//! and partition (README, Upgrading).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The label of journey keys in [`attrib_core::mobile::device::keyed_hash`].
pub const KEY_LABEL: &str = "journey";
/// Where the generated secret is kept, under the data dir.
pub const SECRET_FILE: &str = "kafka-key-secret";

/// Computes keys; remembers each app's derived HMAC key.
pub struct KeyHasher {
    secret: Vec<u8>,
    apps: HashMap<String, Hmac<Sha256>>,
}

impl KeyHasher {
    pub fn new(secret: Vec<u8>) -> Self {
        KeyHasher {
            secret,
            apps: HashMap::new(),
        }
    }

    /// The key of `journey` in `app_id`.
    pub fn key(&mut self, app_id: &str, journey: &str) -> String {
        let mac = match self.apps.get(app_id) {
            Some(mac) => mac.clone(),
            None => {
                let mac = app_mac(&self.secret, app_id);
                self.apps.insert(app_id.to_owned(), mac.clone());
                mac
            }
        };
        let mut mac = mac;
        mac.update(KEY_LABEL.as_bytes());
        mac.update(b":");
        mac.update(journey.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut key = String::with_capacity(app_id.len() + 1 + 64);
        key.push_str(app_id);
        key.push(':');
        for byte in digest {
            key.push(char::from(HEX[usize::from(byte >> 4)]));
            key.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        key
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn app_mac(secret: &[u8], app_id: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length: neither call can fail.
    let mut app_key = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    app_key.update(app_id.as_bytes());
    let key = app_key.finalize().into_bytes();
    <Hmac<Sha256> as Mac>::new_from_slice(&key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key"))
}

/// The key secret: the configured one, else the one kept under `data_dir` (created on first
/// use, readable by the origin's user only).
pub fn secret(configured: Option<&str>, data_dir: &Path) -> Result<Vec<u8>, std::io::Error> {
    if let Some(secret) = configured {
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().as_bytes().to_vec()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    let text: String = bytes
        .iter()
        .flat_map(|b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])
        .map(char::from)
        .collect();
    std::fs::create_dir_all(data_dir)?;
    let tmp = data_dir.join(format!("{SECRET_FILE}.tmp"));
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    tracing::info!(path = %path.display(), "created the Kafka key secret (set KAFKA_KEY_SECRET to choose one)");
    Ok(text.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_core_keyed_hash_with_the_app_and_hide_the_user_id() {
        let mut hasher = KeyHasher::new(b"s3cret".to_vec());
        let key = hasher.key("shop", "u:shop:alice@example.com");
        let expected = attrib_core::mobile::device::keyed_hash(
            b"s3cret",
            "shop",
            KEY_LABEL,
            "u:shop:alice@example.com",
        );
        assert_eq!(key, format!("shop:{expected}"));
        assert!(!key.contains("alice"));
        // The app's derived key is cached: a second call gives the same key.
        assert_eq!(hasher.key("shop", "u:shop:alice@example.com"), key);
        assert_ne!(hasher.key("shop", "u:shop:bob"), key);
        assert_ne!(
            KeyHasher::new(b"other".to_vec()).key("shop", "u:shop:alice@example.com"),
            key
        );
    }

    #[test]
    fn the_generated_secret_is_kept_and_a_configured_one_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = secret(None, dir.path()).expect("created");
        assert_eq!(first.len(), 64);
        assert_eq!(secret(None, dir.path()).expect("read"), first);
        assert_eq!(
            secret(Some("mine"), dir.path()).expect("configured"),
            b"mine"
        );
    }
}
