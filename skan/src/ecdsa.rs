//! ECDSA P-256 / SHA-256 verification with precomputed fixed-base tables.
//!
//! Verification computes `u1·G + u2·Q`. The generic path (p256's `VerifyingKey::verify`) does
//! it with two constant-time window multiplications: about 670 point operations, over 1 ms of
//! CPU per postback in wasm. Here both points are fixed (the generator, and one of Apple's three
//! published keys), so each gets a table of `j·16^i·P` (64 windows of 15 points, built once per
//! isolate) and a multiplication is at most 64 additions. Only public data is involved (message,
//! signature, Apple's public key), so variable time is fine; that is also why nothing secret may
//! ever be multiplied with these tables.
//!
//! The equation is SEC 1 §4.1.4, exactly as the `ecdsa` crate's `verify_prehashed` writes it;
//! the tests check the tables against p256's own arithmetic and this verifier against p256's.

use p256::ecdsa::Signature;
use p256::elliptic_curve::group::Group as _;
use p256::elliptic_curve::ops::{Invert as _, Reduce};
use p256::elliptic_curve::point::AffineCoordinates as _;
use p256::{FieldBytes, ProjectivePoint, Scalar, U256};
use sha2::{Digest as _, Sha256};

const WINDOW_BITS: usize = 4;
const WINDOWS: usize = 256 / WINDOW_BITS;
const DIGITS: usize = (1 << WINDOW_BITS) - 1;

/// `rows[i][j - 1] = j · 16^i · P` for `j` in 1..=15.
pub(crate) struct FixedBase {
    rows: Vec<[ProjectivePoint; DIGITS]>,
}

impl FixedBase {
    pub(crate) fn new(point: ProjectivePoint) -> FixedBase {
        let mut rows = Vec::with_capacity(WINDOWS);
        let mut base = point;
        for _ in 0..WINDOWS {
            let mut row = [base; DIGITS];
            for j in 1..DIGITS {
                row[j] = row[j - 1] + base;
            }
            base = row[DIGITS - 1] + base;
            rows.push(row);
        }
        FixedBase { rows }
    }

    /// `k · P`, in variable time (public scalars only).
    pub(crate) fn mul(&self, k: &Scalar) -> ProjectivePoint {
        let bytes = k.to_bytes(); // big-endian
        let mut acc = ProjectivePoint::IDENTITY;
        for (i, row) in self.rows.iter().enumerate() {
            let byte = bytes[bytes.len() - 1 - i / 2];
            let digit = if i % 2 == 0 { byte & 0x0f } else { byte >> 4 };
            if digit != 0 {
                acc += row[usize::from(digit) - 1];
            }
        }
        acc
    }
}

/// Verifies `signature` over SHA-256(`message`) for the key whose table is `key`.
pub(crate) fn verify(
    generator: &FixedBase,
    key: &FixedBase,
    message: &[u8],
    signature: &Signature,
) -> bool {
    let digest = Sha256::digest(message);
    let z = <Scalar as Reduce<U256>>::reduce_bytes(&digest);
    // Signature guarantees 0 < r, s < n.
    let (r, s) = signature.split_scalars();
    let s_inv = *s.invert_vartime();
    let u1 = z * s_inv;
    let u2 = *r * s_inv;
    let point = generator.mul(&u1) + key.mul(&u2);
    if bool::from(point.is_identity()) {
        return false;
    }
    let x: FieldBytes = point.to_affine().x();
    <Scalar as Reduce<U256>>::reduce_bytes(&x) == *r
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::{Signer as _, Verifier as _};
    use p256::ecdsa::SigningKey;

    fn scalars() -> Vec<Scalar> {
        let mut out = vec![
            Scalar::ZERO,
            Scalar::ONE,
            Scalar::from(2u64),
            Scalar::from(15u64),
            Scalar::from(16u64),
            Scalar::from(255u64),
            Scalar::from(u64::MAX),
            -Scalar::ONE,
            -Scalar::from(16u64),
        ];
        for i in 0u8..24 {
            let digest = Sha256::digest([i]);
            out.push(<Scalar as Reduce<U256>>::reduce_bytes(&digest));
        }
        out
    }

    #[test]
    fn table_multiplication_matches_p256s_own() {
        let q = ProjectivePoint::GENERATOR * Scalar::from(0x5eed_u64);
        for point in [ProjectivePoint::GENERATOR, q] {
            let table = FixedBase::new(point);
            for k in scalars() {
                assert_eq!(table.mul(&k), point * k, "k = {k:?}");
            }
        }
    }

    /// SELF-GENERATED keys (fixed test scalars): this verifier and p256's agree on valid
    /// signatures, on other messages and on other keys.
    #[test]
    fn agrees_with_p256s_verifier() {
        let generator = FixedBase::new(ProjectivePoint::GENERATOR);
        for seed in 1u8..6 {
            let signing = SigningKey::from_slice(&[seed; 32]).expect("scalar");
            let verifying = signing.verifying_key();
            let table = FixedBase::new(ProjectivePoint::from(*verifying.as_affine()));
            let other =
                FixedBase::new(ProjectivePoint::GENERATOR * Scalar::from(u64::from(seed) + 100));
            for message in [&b""[..], b"a", b"4.0\xe2\x81\xa3com.example"] {
                let signature: Signature = signing.sign(message);
                assert!(verifying.verify(message, &signature).is_ok());
                assert!(verify(&generator, &table, message, &signature));
                assert!(!verify(&generator, &table, b"x", &signature));
                assert!(!verify(&generator, &other, message, &signature));
            }
        }
    }
}
