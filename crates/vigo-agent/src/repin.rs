//! Re-pinning the server's bundle-signing key from the rotations a check-in announces.
//!
//! The agent reports the key it pinned (`CheckInRequest.pinned_key_id`); after a rotation
//! the server answers with every rotation from that key to the one signing its bundle
//! (`key_rotation_chain`, or only `key_rotation` from a server that sends one). The agent
//! walks the chain from its pinned key ([`vigo_core::rotation::verify_chain`]): only when
//! every step verifies does it pin the last key (`server.pub`, atomically) and verify the
//! bundle of the same answer with it. A chain that does not verify — a forged rotation —
//! changes nothing: the old pin stays, and a bundle signed by the announced key is
//! refused.

use std::path::Path;

use ed25519_dalek::VerifyingKey;
use vigo_core::rotation::{RotationError, verify_chain};
use vigo_core::signing::key_id;
use vigo_proto::v1::{CheckInResponse, KeyRotation};

use crate::enroll::{EnrollError, pin_server_key};

/// What the rotations of one check-in answer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repin {
    /// Nothing was announced, or it leads to the key already pinned.
    Unchanged,
    /// The chain verified: this key is pinned now.
    Pinned(VerifyingKey),
    /// The chain did not verify: the old pin stays.
    Refused(RotationError),
    /// A rotation came, but no key is pinned to verify it with.
    NoPin,
}

/// The announced rotations, oldest first.
pub fn announcements(response: &CheckInResponse) -> Vec<KeyRotation> {
    if response.key_rotation_chain.is_empty() {
        response
            .key_rotation
            .iter()
            .filter(|r| !r.new_public_key.is_empty())
            .cloned()
            .collect()
    } else {
        response.key_rotation_chain.clone()
    }
}

/// Follows the rotations `response` announces from `pinned` and, when they all verify,
/// pins the last key in `pin_file`. Only a failure to write the pin is an error.
pub fn repin(
    response: &CheckInResponse,
    pinned: Option<&VerifyingKey>,
    pin_file: &Path,
) -> Result<Repin, EnrollError> {
    let chain = announcements(response);
    let Some(last) = chain.last() else {
        return Ok(Repin::Unchanged);
    };
    let Some(pinned) = pinned else {
        return Ok(Repin::NoPin);
    };
    if last.new_public_key == pinned.as_bytes() {
        return Ok(Repin::Unchanged);
    }
    match verify_chain(&chain, pinned) {
        Ok(new) => {
            pin_server_key(pin_file, &new)?;
            Ok(Repin::Pinned(new))
        }
        Err(why) => Ok(Repin::Refused(why)),
    }
}

/// [`repin`] for the convergence cycle: says what happened on stderr. Returns the key to
/// verify bundles with from now on, when it changed.
pub fn repin_on_check_in(
    response: &CheckInResponse,
    pinned: Option<&VerifyingKey>,
    pin_file: &Path,
) -> Result<Option<VerifyingKey>, EnrollError> {
    Ok(match repin(response, pinned, pin_file)? {
        Repin::Unchanged => None,
        Repin::Pinned(new) => {
            eprintln!(
                "vigo: server bundle-signing key rotated to {}",
                key_id(&new)
            );
            Some(new)
        }
        Repin::Refused(why) => {
            eprintln!("vigo: warning: key rotation refused, the pinned key stays: {why}");
            None
        }
        Repin::NoPin => {
            eprintln!("vigo: warning: key rotation ignored: no key is pinned");
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use vigo_core::rotation::sign_rotation;

    use super::*;
    use crate::enroll::load_pinned_key;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn answer(chain: Vec<KeyRotation>) -> CheckInResponse {
        CheckInResponse {
            key_rotation: chain.first().cloned(),
            key_rotation_chain: chain,
            ..Default::default()
        }
    }

    #[test]
    fn a_verified_chain_is_pinned_and_a_forged_one_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let pin = dir.path().join("server.pub");
        let (a, b, c) = (key(1), key(2), key(3));
        pin_server_key(&pin, &a.verifying_key()).unwrap();

        let forged = answer(vec![sign_rotation(&key(9), &c.verifying_key())]);
        let got = repin(&forged, Some(&a.verifying_key()), &pin).unwrap();
        assert!(matches!(got, Repin::Refused(_)), "{got:?}");
        assert_eq!(load_pinned_key(&pin).unwrap(), Some(a.verifying_key()));

        let chain = answer(vec![
            sign_rotation(&a, &b.verifying_key()),
            sign_rotation(&b, &c.verifying_key()),
        ]);
        assert_eq!(
            repin(&chain, Some(&a.verifying_key()), &pin).unwrap(),
            Repin::Pinned(c.verifying_key())
        );
        assert_eq!(load_pinned_key(&pin).unwrap(), Some(c.verifying_key()));
        // The same answer again (already pinned), or none at all: nothing to do.
        assert_eq!(
            repin(&chain, Some(&c.verifying_key()), &pin).unwrap(),
            Repin::Unchanged
        );
        assert_eq!(
            repin(&answer(vec![]), Some(&c.verifying_key()), &pin).unwrap(),
            Repin::Unchanged
        );
        assert_eq!(repin(&chain, None, &pin).unwrap(), Repin::NoPin);
    }

    #[test]
    fn a_server_that_sends_only_the_single_field_is_followed() {
        let (a, b) = (key(1), key(2));
        let single = CheckInResponse {
            key_rotation: Some(sign_rotation(&a, &b.verifying_key())),
            ..Default::default()
        };
        assert_eq!(announcements(&single).len(), 1);
        let dir = tempfile::tempdir().unwrap();
        let pin = dir.path().join("server.pub");
        assert_eq!(
            repin(&single, Some(&a.verifying_key()), &pin).unwrap(),
            Repin::Pinned(b.verifying_key())
        );
    }
}
