//! Who a tracking link may name (issue 13, finding 5). `/c/{link}?user_id=X` puts the click
//! straight into X's journey, so an unsigned `user_id` would let anyone who sees a link's
//! URL add clicks to any known person's journey. A link names a user only with `user_sig`,
//! the keyed hash of the user id under the deployment's `LINK_SIGNING_SECRET` with the app
//! in the key: the app's backend gets it from the management API
//! (`POST /admin/v1/apps/{app}/links/{id}/user-url`), never computes it in a browser. A click
//! whose `user_id` is unsigned or wrongly signed still redirects, as an unknown visitor: its
//! click id merges it into whoever lands with it, the normal path.

use crate::mobile::device::keyed_hash;

/// The query parameter carrying the signature.
pub const USER_SIG_PARAM: &str = "user_sig";
/// The deployment secret (a Worker secret on both Workers) the signatures are keyed by.
pub const LINK_SIGNING_SECRET: &str = "LINK_SIGNING_SECRET";
const LABEL: &str = "link-user";

/// The `user_sig` for `user_id` on app `app_id`'s links (64 hex characters).
pub fn sign(secret: &[u8], app_id: &str, user_id: &str) -> String {
    keyed_hash(secret, app_id, LABEL, user_id)
}

/// Whether `sig` signs `user_id` for `app_id`; false without a secret or a signature.
/// Compared in constant time.
pub fn verify(secret: Option<&[u8]>, app_id: &str, user_id: &str, sig: Option<&str>) -> bool {
    let (Some(secret), Some(sig)) = (secret, sig) else {
        return false;
    };
    let expected = sign(secret, app_id, user_id);
    let sig = sig.trim().to_ascii_lowercase();
    sig.len() == expected.len()
        && sig
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finding_5_a_link_names_a_user_only_with_its_signature() {
        let sig = sign(b"secret", "shop", "victim");
        assert!(verify(Some(b"secret"), "shop", "victim", Some(&sig)));
        assert!(!verify(Some(b"secret"), "shop", "victim", None), "unsigned");
        assert!(
            !verify(Some(b"secret"), "shop", "someone-else", Some(&sig)),
            "a signature names one user"
        );
        assert!(
            !verify(Some(b"secret"), "other-app", "victim", Some(&sig)),
            "a signature is for one app"
        );
        assert!(!verify(Some(b"other"), "shop", "victim", Some(&sig)));
        assert!(
            !verify(None, "shop", "victim", Some(&sig)),
            "no secret, no user"
        );
        assert!(!verify(Some(b"secret"), "shop", "victim", Some(&sig[..63])));
        assert!(verify(
            Some(b"secret"),
            "shop",
            "victim",
            Some(&sig.to_ascii_uppercase())
        ));
    }
}
