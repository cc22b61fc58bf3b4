//! Signed policy bundles: the server signs exactly the encoded payload bytes with its
//! ed25519 key; the agent verifies them against the key it pinned at registration before
//! it stores or applies anything. Signed requests: the agent signs every request with its
//! own key over [`request_message`], the one layout both sides use.
//!
//! Encoding is canonical: prost writes fields in number order and the generated maps are
//! `BTreeMap`s, so the same bundle always encodes to the same bytes.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use prost::Message;
use sha2::{Digest, Sha256};
use vigo_proto::v1::{PolicyBundle, SignedBundle};

/// Domain separation for request signatures (never a valid bundle payload prefix).
pub const REQUEST_DOMAIN: &[u8] = b"vigo.v1.req\0";

/// The exact bytes an agent request's signature covers (see `SignedRequest` in the proto):
/// `"vigo.v1.req\0" ‖ method ‖ "\0" ‖ envoy_id ‖ "\0" ‖ timestamp (i64 big-endian) ‖
/// nonce ‖ body`. The method name binds the signature to one RPC, so a signed CheckIn
/// cannot be replayed as another call.
pub fn request_message(
    method: &str,
    envoy_id: &str,
    timestamp_unix: i64,
    nonce: &[u8],
    body: &[u8],
) -> Vec<u8> {
    let mut m = Vec::with_capacity(
        REQUEST_DOMAIN.len() + method.len() + envoy_id.len() + 10 + nonce.len() + body.len(),
    );
    m.extend_from_slice(REQUEST_DOMAIN);
    m.extend_from_slice(method.as_bytes());
    m.push(0);
    m.extend_from_slice(envoy_id.as_bytes());
    m.push(0);
    m.extend_from_slice(&timestamp_unix.to_be_bytes());
    m.extend_from_slice(nonce);
    m.extend_from_slice(body);
    m
}

/// Why a signed bundle was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The bundle names another signing key than the pinned one.
    #[error("bundle signed by key {got}, but the pinned server key is {pinned}")]
    WrongKey {
        /// The key id in the bundle.
        got: String,
        /// The pinned key's id.
        pinned: String,
    },
    /// The signature is not 64 bytes.
    #[error("malformed signature ({0} bytes)")]
    MalformedSignature(usize),
    /// The signature does not match the payload.
    #[error("bad signature: the bundle was altered or not signed by the pinned key")]
    BadSignature,
    /// The payload is not a policy bundle.
    #[error("undecodable bundle payload: {0}")]
    Undecodable(String),
    /// The bundle is older than its max age.
    #[error("bundle expired: issued {age_secs}s ago, max age {max_age_secs}s")]
    Expired {
        /// Seconds since it was issued.
        age_secs: i64,
        /// Its max age.
        max_age_secs: u64,
    },
}

/// The id of a verifying key: hex of the first 8 bytes of the SHA-256 of its 32 bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// The canonical bytes of a bundle.
pub fn encode(bundle: &PolicyBundle) -> Vec<u8> {
    bundle.encode_to_vec()
}

/// Signs a bundle: exactly its canonical bytes.
pub fn sign(bundle: &PolicyBundle, key: &SigningKey) -> SignedBundle {
    let payload = encode(bundle);
    let signature = key.sign(&payload).to_bytes().to_vec();
    SignedBundle {
        payload,
        signature,
        key_id: key_id(&key.verifying_key()),
    }
}

/// Verifies `signed` against the pinned key and decodes it. Nothing of the payload is
/// trusted before the signature over its exact bytes checks out.
pub fn verify(signed: &SignedBundle, pinned: &VerifyingKey) -> Result<PolicyBundle, VerifyError> {
    let pinned_id = key_id(pinned);
    if signed.key_id != pinned_id {
        return Err(VerifyError::WrongKey {
            got: signed.key_id.clone(),
            pinned: pinned_id,
        });
    }
    let bytes: [u8; 64] = signed
        .signature
        .as_slice()
        .try_into()
        .map_err(|_| VerifyError::MalformedSignature(signed.signature.len()))?;
    pinned
        .verify_strict(&signed.payload, &Signature::from_bytes(&bytes))
        .map_err(|_| VerifyError::BadSignature)?;
    PolicyBundle::decode(signed.payload.as_slice())
        .map_err(|e| VerifyError::Undecodable(e.to_string()))
}

/// Refuses a verified bundle older than its max age (0 = never expires).
pub fn check_age(bundle: &PolicyBundle, now_unix: i64) -> Result<(), VerifyError> {
    let age_secs = now_unix.saturating_sub(bundle.issued_at_unix);
    if bundle.max_age_secs > 0 && age_secs > i64::try_from(bundle.max_age_secs).unwrap_or(i64::MAX)
    {
        return Err(VerifyError::Expired {
            age_secs,
            max_age_secs: bundle.max_age_secs,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use vigo_proto::v1::{Configcrate, Resource};

    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn bundle(
        version: String,
        names: Vec<String>,
        templates: Vec<(String, String)>,
    ) -> PolicyBundle {
        PolicyBundle {
            version,
            configcrates: vec![Configcrate {
                name: "base".into(),
                resources: names
                    .into_iter()
                    .map(|n| Resource {
                        r#type: "file".into(),
                        name: n,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            templates: templates.into_iter().collect(),
            max_age_secs: 86_400,
            issued_at_unix: 1_000,
            ..Default::default()
        }
    }

    proptest! {
        #[test]
        fn round_trip_and_every_bit_flip_fails(
            version in "[0-9TZ]{0,16}",
            names in proptest::collection::vec("[a-z/._-]{1,20}", 0..6),
            templates in proptest::collection::vec(("[a-z.]{1,10}", ".{0,40}"), 0..4),
            flip in any::<proptest::sample::Index>(),
            in_signature in any::<bool>(),
        ) {
            let b = bundle(version, names, templates);
            let k = key(7);
            let signed = sign(&b, &k);
            prop_assert_eq!(&encode(&b), &signed.payload, "canonical bytes are what is signed");
            prop_assert_eq!(verify(&signed, &k.verifying_key()).unwrap(), b);

            let mut tampered = signed;
            let target = if in_signature || tampered.payload.is_empty() { &mut tampered.signature } else { &mut tampered.payload };
            let bit = flip.index(target.len() * 8);
            target[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(verify(&tampered, &k.verifying_key()).is_err());
        }
    }

    #[test]
    fn same_content_same_bytes() {
        let a = bundle(
            "v1".into(),
            vec!["x".into()],
            vec![("b".into(), "2".into()), ("a".into(), "1".into())],
        );
        let b = bundle(
            "v1".into(),
            vec!["x".into()],
            vec![("a".into(), "1".into()), ("b".into(), "2".into())],
        );
        assert_eq!(
            encode(&a),
            encode(&b),
            "map order does not change the bytes"
        );
    }

    #[test]
    fn refusals_say_why() {
        let b = bundle("v1".into(), vec![], vec![]);
        let signed = sign(&b, &key(1));
        let other = key(2).verifying_key();
        assert!(matches!(
            verify(&signed, &other),
            Err(VerifyError::WrongKey { .. })
        ));
        let mut short = signed;
        short.signature.truncate(10);
        assert_eq!(
            verify(&short, &key(1).verifying_key()),
            Err(VerifyError::MalformedSignature(10))
        );
        assert_eq!(check_age(&b, 1_000 + 86_400), Ok(()));
        assert_eq!(
            check_age(&b, 1_000 + 86_401).unwrap_err().to_string(),
            "bundle expired: issued 86401s ago, max age 86400s"
        );
        let forever = PolicyBundle {
            max_age_secs: 0,
            ..b
        };
        assert_eq!(check_age(&forever, i64::MAX), Ok(()));
    }
}
