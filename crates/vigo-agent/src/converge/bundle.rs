//! Trusting a bundle: the signature by the pinned key over its exact bytes, then its max
//! age, for a bundle just received and for the cached one (`vigo status` uses the same
//! check before showing it).

use std::path::PathBuf;

use ed25519_dalek::VerifyingKey;
use prost::Message;
use sha2::{Digest, Sha256};
use vigo_core::signing::{self, VerifyError};
use vigo_proto::v1::{PolicyBundle, SignedBundle};

/// Verifies a received or cached bundle: the signature by the pinned key over its exact
/// bytes, then its max age. Nothing of the payload is used before this succeeds.
pub fn accept_bundle(
    signed: &SignedBundle,
    pinned: &VerifyingKey,
    now_unix: i64,
) -> Result<PolicyBundle, VerifyError> {
    let bundle = signing::verify(signed, pinned)?;
    signing::check_age(&bundle, now_unix)?;
    Ok(bundle)
}

/// The fingerprint of the held bundle sent at check-in: hex SHA-256 of its signed payload
/// bytes ("" when none).
pub fn state_fingerprint(signed: Option<&SignedBundle>) -> String {
    signed.map_or_else(String::new, |s| hex::encode(Sha256::digest(&s.payload)))
}

/// Why a cached bundle cannot be applied, before its age is even looked at.
#[derive(Debug, thiserror::Error)]
pub enum CachedBundleError {
    /// The stored bytes are not a signed bundle.
    #[error("the cached bundle is unreadable: {0}")]
    Unreadable(#[source] prost::DecodeError),
    /// There is no pinned key to verify it with.
    #[error("no pinned server key ({}) to verify the cached bundle", .0.display())]
    NoPinnedKey(PathBuf),
    /// The signature does not verify with the pinned key.
    #[error("the cached bundle does not verify: {0}")]
    DoesNotVerify(#[source] VerifyError),
}

/// Verifies the cached signed bundle `bytes` with `pinned` (its path in the error when
/// there is none): the check the converge path applies before using it, and the one
/// `vigo status` applies before showing it. The age is checked separately
/// (`signing::check_age`).
pub fn verify_cached(
    bytes: &[u8],
    pinned: Option<&VerifyingKey>,
    pinned_path: &std::path::Path,
) -> Result<(SignedBundle, PolicyBundle), CachedBundleError> {
    let signed = SignedBundle::decode(bytes).map_err(CachedBundleError::Unreadable)?;
    let pinned = pinned.ok_or_else(|| CachedBundleError::NoPinnedKey(pinned_path.to_path_buf()))?;
    let bundle = signing::verify(&signed, pinned).map_err(CachedBundleError::DoesNotVerify)?;
    Ok((signed, bundle))
}
