//! [`TokenHash`]: how a secret token (enrollment token or `vgot_…` API token) is known to
//! the store. The store's API takes only hashes, so a plaintext secret cannot reach the
//! database by mistake.
//!
//! SHA-256 rather than bcrypt/argon2: the server generates these secrets with 256 bits of
//! randomness, so a fast hash is not brute-forceable, and an unsalted hash can be looked
//! up by an index instead of checking every stored token on every request.

use std::fmt;

use sha2::{Digest, Sha256};

/// The SHA-256 of a secret token.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes the secret as the client presents it (e.g. the whole `vgot_…` string).
    pub fn of_secret(secret: &str) -> Self {
        TokenHash(Sha256::digest(secret.as_bytes()).into())
    }

    /// Wraps a digest computed elsewhere.
    pub fn from_bytes(digest: [u8; 32]) -> Self {
        TokenHash(digest)
    }

    /// Parses the 64-character hex form (as stored).
    pub fn from_hex(hex_digest: &str) -> Option<Self> {
        let mut digest = [0u8; 32];
        hex::decode_to_slice(hex_digest, &mut digest).ok()?;
        Some(TokenHash(digest))
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The lower-case hex form, as stored in the database.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Enough to tell hashes apart in logs.
        write!(f, "TokenHash({}…)", hex::encode(&self.0[..4]))
    }
}

#[cfg(test)]
mod tests {
    use super::TokenHash;

    #[test]
    fn hex_round_trips_and_matches_sha256() {
        let h = TokenHash::of_secret("abc");
        assert_eq!(
            h.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(TokenHash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(TokenHash::from_hex("zz"), None);
        assert_eq!(format!("{h:?}"), "TokenHash(ba7816bf…)");
    }
}
