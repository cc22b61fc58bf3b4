//! The envoy's own ed25519 key (`/etc/vigo-envoy/agent.key`, PKCS#8 PEM, mode 0600).
//!
//! The agent signs every request with it; the server stores the public half at
//! registration and verifies each request against it. The key is generated once (by
//! `register`/`bootstrap`) from the OS's CSPRNG and never leaves the machine.

use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};
use ed25519_dalek::{Signature, Signer, SigningKey};
use vigo_exec::atomic::{FileMeta, write_file};

/// Errors loading or creating the agent key; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The key file could not be read.
    #[error("agent key {}", path.display())]
    Read {
        /// The key file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The key file does not hold an ed25519 PKCS#8 PEM key, or the key cannot be
    /// encoded as one.
    #[error("agent key {}: not an ed25519 PKCS#8 PEM key", path.display())]
    Pem {
        /// The key file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ed25519_dalek::pkcs8::Error,
    },
    /// The key file could not be written.
    #[error("agent key {}: writing", path.display())]
    Write {
        /// The key file.
        path: PathBuf,
        /// Why.
        #[source]
        source: vigo_exec::atomic::FileError,
    },
    /// The OS random generator failed.
    #[error("generating the agent key")]
    Random(#[source] getrandom::Error),
}

/// The agent's signing identity.
pub struct AgentIdentity {
    key: SigningKey,
}

impl std::fmt::Debug for AgentIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("AgentIdentity")
            .field("public_key", &hex::encode(self.public_key()))
            .finish()
    }
}

impl AgentIdentity {
    /// A fresh key from the OS CSPRNG.
    pub fn generate() -> Result<Self, IdentityError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(IdentityError::Random)?;
        let key = SigningKey::from_bytes(&secret);
        secret.fill(0);
        Ok(Self { key })
    }

    /// Loads the key from a PKCS#8 PEM file.
    pub fn load(path: &Path) -> Result<Self, IdentityError> {
        let pem = std::fs::read_to_string(path).map_err(|source| IdentityError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|source| IdentityError::Pem {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self { key })
    }

    /// Writes the key as PKCS#8 PEM, atomically, mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), IdentityError> {
        let pem = self
            .key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|source| IdentityError::Pem {
                path: path.to_path_buf(),
                source,
            })?;
        let meta = FileMeta {
            mode: Some(0o600),
            uid: None,
            gid: None,
        };
        write_file(path, pem.as_bytes(), &meta, None).map_err(|source| IdentityError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Loads the key at `path`, or generates and saves one when there is none.
    /// Returns the identity and whether it was just created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), IdentityError> {
        if path.exists() {
            return Ok((Self::load(path)?, false));
        }
        let id = Self::generate()?;
        id.save(path)?;
        Ok((id, true))
    }

    /// The raw 32-byte public key the server pins.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.key.sign(message)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn created_once_private_and_stable() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("agent.key");
        let (a, created) = AgentIdentity::load_or_create(&path).unwrap();
        assert!(created);
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let (b, created) = AgentIdentity::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(a.public_key(), b.public_key());
    }

    #[test]
    fn signatures_verify_with_the_public_key() {
        let id = AgentIdentity::generate().unwrap();
        let sig = id.sign(b"check-in");
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&id.public_key()).unwrap();
        vk.verify_strict(b"check-in", &sig).unwrap();
        assert!(vk.verify_strict(b"check-out", &sig).is_err());
    }

    #[test]
    fn garbage_key_file_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("agent.key");
        std::fs::write(&path, "not a key").unwrap();
        let err = AgentIdentity::load(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "agent key {}: not an ed25519 PKCS#8 PEM key",
                path.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let id = AgentIdentity::generate().unwrap();
        let dbg = format!("{id:?}");
        assert!(dbg.contains(&hex::encode(id.public_key())));
        assert!(!dbg.contains(&hex::encode(id.key.to_bytes())));
    }
}
