//! Rotation of the server's bundle-signing key, announced to agents.
//!
//! A rotation from key `A` to key `B` is a [`KeyRotation`]: `B`'s 32 raw bytes, its key
//! id, and an ed25519 signature by `A` over [`rotation_message`]
//! (`"vigo.v1.rotate\0" ‖ B`). An agent that pinned `A` accepts `B` only when that
//! signature verifies with `A`, so whoever does not hold `A`'s private key cannot move an
//! agent to a key of theirs.
//!
//! The server keeps every rotation it made, in order: a *chain* `A→B, B→C, …`. An agent
//! that was offline through several rotations gets the part of the chain that starts at
//! the key it pinned, and [`verify_chain`] walks it one step at a time, each step
//! verified by the key the previous step introduced.
//!
//! ```
//! use ed25519_dalek::SigningKey;
//! use vigo_core::rotation::{sign_rotation, verify_chain};
//!
//! let (a, b, c) = (SigningKey::from_bytes(&[1; 32]), SigningKey::from_bytes(&[2; 32]),
//!                  SigningKey::from_bytes(&[3; 32]));
//! let chain = [sign_rotation(&a, &b.verifying_key()), sign_rotation(&b, &c.verifying_key())];
//! assert_eq!(verify_chain(&chain, &a.verifying_key()).unwrap(), c.verifying_key());
//! // Starting from another key, nothing is accepted.
//! assert!(verify_chain(&chain, &b.verifying_key()).is_err());
//! ```

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use vigo_proto::v1::KeyRotation;

use crate::signing::key_id;

/// Domain separation for rotation signatures (never a bundle payload or a request).
pub const ROTATION_DOMAIN: &[u8] = b"vigo.v1.rotate\0";

/// The longest chain an agent walks in one check-in; a longer one is refused (a server
/// that rotated that often sends the agent back to enrollment, not into a long loop).
pub const MAX_CHAIN: usize = 64;

/// Why a rotation announcement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationError {
    /// The announced key is not 32 bytes of a valid ed25519 public key.
    #[error("the announced key is not an ed25519 public key ({0} bytes)")]
    NotAKey(usize),
    /// The signature is not 64 bytes.
    #[error("malformed rotation signature ({0} bytes)")]
    MalformedSignature(usize),
    /// The signature does not verify with the key the agent holds.
    #[error("the rotation to key {new_key_id} is not signed by the pinned key {pinned_key_id}")]
    NotSignedByPinned {
        /// The key the announcement introduces.
        new_key_id: String,
        /// The key it should have been signed with.
        pinned_key_id: String,
    },
    /// The key id sent does not belong to the announced key.
    #[error("the announced key id {claimed} does not match the announced key ({actual})")]
    KeyIdMismatch {
        /// The id in the announcement.
        claimed: String,
        /// The id of the key it carries.
        actual: String,
    },
    /// A chain longer than [`MAX_CHAIN`].
    #[error("a chain of {0} rotations is longer than the {MAX_CHAIN} accepted")]
    TooLong(usize),
    /// One step of a chain was refused.
    #[error("rotation {step} of {len}: {source}")]
    Step {
        /// 1-based position in the chain.
        step: usize,
        /// The chain's length.
        len: usize,
        /// Why that step was refused.
        #[source]
        source: Box<RotationError>,
    },
}

/// The exact bytes a rotation signature covers: `"vigo.v1.rotate\0" ‖ new public key`.
pub fn rotation_message(new_public_key: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(ROTATION_DOMAIN.len() + new_public_key.len());
    m.extend_from_slice(ROTATION_DOMAIN);
    m.extend_from_slice(new_public_key);
    m
}

/// The announcement of a rotation from `current` to `new`, signed by `current`.
pub fn sign_rotation(current: &SigningKey, new: &VerifyingKey) -> KeyRotation {
    KeyRotation {
        new_public_key: new.to_bytes().to_vec(),
        new_key_id: key_id(new),
        signature: current
            .sign(&rotation_message(new.as_bytes()))
            .to_bytes()
            .to_vec(),
    }
}

/// Checks one rotation against the key held now: signed by `pinned` over
/// [`rotation_message`], and its key id (when sent) that of the new key. Returns the new
/// key.
pub fn verify_rotation(
    rotation: &KeyRotation,
    pinned: &VerifyingKey,
) -> Result<VerifyingKey, RotationError> {
    let bytes: [u8; 32] = rotation
        .new_public_key
        .as_slice()
        .try_into()
        .map_err(|_| RotationError::NotAKey(rotation.new_public_key.len()))?;
    let new = VerifyingKey::from_bytes(&bytes).map_err(|_| RotationError::NotAKey(32))?;
    let signature: [u8; 64] = rotation
        .signature
        .as_slice()
        .try_into()
        .map_err(|_| RotationError::MalformedSignature(rotation.signature.len()))?;
    let actual = key_id(&new);
    pinned
        .verify_strict(
            &rotation_message(&bytes),
            &Signature::from_bytes(&signature),
        )
        .map_err(|_| RotationError::NotSignedByPinned {
            new_key_id: actual.clone(),
            pinned_key_id: key_id(pinned),
        })?;
    if !rotation.new_key_id.is_empty() && rotation.new_key_id != actual {
        return Err(RotationError::KeyIdMismatch {
            claimed: rotation.new_key_id.clone(),
            actual,
        });
    }
    Ok(new)
}

/// Walks a chain of rotations from `pinned`, each step verified by the key the step
/// before introduced. Returns the last key; an empty chain returns `pinned`. Nothing is
/// accepted unless every step verifies.
pub fn verify_chain(
    chain: &[KeyRotation],
    pinned: &VerifyingKey,
) -> Result<VerifyingKey, RotationError> {
    if chain.len() > MAX_CHAIN {
        return Err(RotationError::TooLong(chain.len()));
    }
    let mut key = *pinned;
    for (i, rotation) in chain.iter().enumerate() {
        key = verify_rotation(rotation, &key).map_err(|e| RotationError::Step {
            step: i + 1,
            len: chain.len(),
            source: Box::new(e),
        })?;
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn a_rotation_verifies_only_with_the_old_key() {
        let (old, new) = (key(1), key(2));
        let good = sign_rotation(&old, &new.verifying_key());
        assert_eq!(
            verify_rotation(&good, &old.verifying_key()).unwrap(),
            new.verifying_key()
        );
        // Signed by the new key itself (a forgery by whoever holds only the new key).
        let forged = sign_rotation(&new, &new.verifying_key());
        assert!(matches!(
            verify_rotation(&forged, &old.verifying_key()),
            Err(RotationError::NotSignedByPinned { .. })
        ));
        let wrong_id = KeyRotation {
            new_key_id: "00".into(),
            ..good.clone()
        };
        assert!(matches!(
            verify_rotation(&wrong_id, &old.verifying_key()),
            Err(RotationError::KeyIdMismatch { .. })
        ));
        let short = KeyRotation {
            new_public_key: vec![1; 31],
            ..good.clone()
        };
        assert_eq!(
            verify_rotation(&short, &old.verifying_key()),
            Err(RotationError::NotAKey(31))
        );
        let bad_sig = KeyRotation {
            signature: vec![0; 10],
            ..good
        };
        assert_eq!(
            verify_rotation(&bad_sig, &old.verifying_key()),
            Err(RotationError::MalformedSignature(10))
        );
    }

    #[test]
    fn the_message_is_domain_separated() {
        assert_eq!(rotation_message(b"k"), b"vigo.v1.rotate\0k");
    }

    #[test]
    fn a_chain_is_walked_step_by_step_and_a_broken_step_refuses_all() {
        let keys: Vec<SigningKey> = (1..=4).map(key).collect();
        let chain: Vec<KeyRotation> = keys
            .windows(2)
            .map(|w| sign_rotation(&w[0], &w[1].verifying_key()))
            .collect();
        assert_eq!(
            verify_chain(&chain, &keys[0].verifying_key()).unwrap(),
            keys[3].verifying_key()
        );
        assert_eq!(
            verify_chain(&chain[1..], &keys[1].verifying_key()).unwrap(),
            keys[3].verifying_key()
        );
        assert_eq!(
            verify_chain(&[], &keys[0].verifying_key()).unwrap(),
            keys[0].verifying_key()
        );
        let mut broken = chain.clone();
        broken[1] = sign_rotation(&key(9), &keys[2].verifying_key());
        let err = verify_chain(&broken, &keys[0].verifying_key()).unwrap_err();
        assert!(err.to_string().starts_with("rotation 2 of 3: "), "{err}");
        let long = vec![chain[0].clone(); MAX_CHAIN + 1];
        assert_eq!(
            verify_chain(&long, &keys[0].verifying_key()),
            Err(RotationError::TooLong(MAX_CHAIN + 1))
        );
    }
}
