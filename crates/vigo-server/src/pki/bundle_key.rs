//! The bundle-signing key and the chain of its rotations.
//!
//! The key (`server.signing_key_file`, default `tls/bundle_key`, ed25519 PKCS#8 PEM) is
//! persisted: agents pin it at enrollment. [`BundleKeys::rotate`] replaces it with a new
//! key and records the announcement, signed by the old key
//! ([`vigo_core::rotation`]), in the *chain file* beside it (`<key file>.rotations`,
//! JSON). The chain is kept for good, so an agent that was offline through any number
//! of rotations is led from the key it pinned to the current one at its next check-in
//! ([`BundleKeys::rotations_between`]).
//!
//! A rotation writes the chain first and the key second, each atomically: a crash in
//! between leaves a chain whose last step starts at the key still on disk, and the next
//! load drops that unfinished step (no agent can have seen it: the new key only goes
//! live after both writes). A chain whose signatures do not verify, or that does not
//! end at the key on disk (a key replaced by hand), stops the server.
//!
//! The key in use is shared: the publisher signs every bundle through [`BundleKeys`], so
//! a rotation reaches the next bundle signed without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, RwLock};

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use vigo_core::rotation::{sign_rotation, verify_rotation};
use vigo_core::signing::{self, key_id};
use vigo_proto::v1::{KeyRotation, PolicyBundle, SignedBundle};
use zeroize::Zeroizing;

use super::{PkiError, read_key_file, write_file};
use crate::publish::{read, write};

/// The bundle-signing key in use and the rotations that led to it. Shared (behind an
/// `Arc`) by the PKI, the publisher and the gRPC service.
pub struct BundleKeys {
    files: Option<KeyFiles>,
    state: RwLock<KeyState>,
    rotating: Mutex<()>,
}

impl std::fmt::Debug for BundleKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BundleKeys")
            .field("key_id", &self.key_id())
            .field("rotations", &read(&self.state).chain.len())
            .finish_non_exhaustive()
    }
}

/// Where the key and its chain live.
#[derive(Debug, Clone)]
struct KeyFiles {
    key: PathBuf,
    chain: PathBuf,
}

struct KeyState {
    key: SigningKey,
    key_id: String,
    chain: Vec<Step>,
}

/// One rotation: from `old` to the key in `announcement`.
#[derive(Clone)]
struct Step {
    old: VerifyingKey,
    old_key_id: String,
    announcement: KeyRotation,
    rotated_at: i64,
}

/// One rotation as the chain file stores it (keys and signature in hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepRecord {
    old_public_key: String,
    new_public_key: String,
    signature: String,
    rotated_at: i64,
}

/// The chain file.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainFile {
    rotations: Vec<StepRecord>,
}

/// One rotation, as the API shows it: the REST API's type.
pub use vigo_api::keys::Rotation as RotationInfo;

impl BundleKeys {
    /// Loads the key at `path` and its chain, generating a key (and no chain) when the
    /// file does not exist. Returns whether the key is new.
    pub(super) fn load_or_create(path: &Path) -> Result<(BundleKeys, bool), PkiError> {
        let files = KeyFiles {
            key: path.to_path_buf(),
            chain: chain_path(path),
        };
        let (key, created) = if path.exists() {
            let pem = read_key_file(path)?;
            let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| PkiError::Invalid {
                path: path.to_path_buf(),
                what: format!("not an ed25519 PKCS#8 PEM key: {e}"),
            })?;
            (key, false)
        } else if files.chain.exists() {
            return Err(PkiError::Incomplete {
                path: path.to_path_buf(),
                what: format!(
                    "missing, but its rotation chain {} exists: restore the key, or move \
                     the chain away to start with a new key (agents must then be enrolled \
                     again)",
                    files.chain.display()
                ),
            });
        } else {
            let key = generate()?;
            write_file(path, &encode(&key)?)?;
            (key, true)
        };
        let chain = load_chain(&files.chain, &key.verifying_key())?;
        Ok((
            BundleKeys {
                state: RwLock::new(KeyState::new(key, chain)),
                files: Some(files),
                rotating: Mutex::new(()),
            },
            created,
        ))
    }

    /// A key held in memory only (tests, benchmarks): rotations are not persisted.
    pub fn in_memory(key: SigningKey) -> BundleKeys {
        BundleKeys {
            files: None,
            state: RwLock::new(KeyState::new(key, Vec::new())),
            rotating: Mutex::new(()),
        }
    }

    /// The key in use.
    pub fn signing_key(&self) -> SigningKey {
        read(&self.state).key.clone()
    }

    /// The public half of the key in use.
    pub fn verifying_key(&self) -> VerifyingKey {
        read(&self.state).key.verifying_key()
    }

    /// The id of the key in use (`vigo_core::signing::key_id`).
    pub fn key_id(&self) -> String {
        read(&self.state).key_id.clone()
    }

    /// True when `key_id` is the key in use.
    pub fn is_current(&self, key_id: &str) -> bool {
        read(&self.state).key_id == key_id
    }

    /// Signs a bundle with the key in use.
    pub fn sign(&self, bundle: &PolicyBundle) -> SignedBundle {
        signing::sign(bundle, &read(&self.state).key)
    }

    /// The announcements that lead an agent holding key `from` to key `to`, oldest
    /// first: empty when they are the same key, or when the chain does not lead from
    /// `from` to `to` (an unknown or newer key: the agent then refuses the bundle and
    /// says which key signed it).
    pub fn rotations_between(&self, from: &str, to: &str) -> Vec<KeyRotation> {
        if from == to {
            return Vec::new();
        }
        let state = read(&self.state);
        let chain = &state.chain;
        let Some(start) = chain.iter().position(|s| s.old_key_id == from) else {
            return Vec::new();
        };
        match chain[start..]
            .iter()
            .position(|s| s.announcement.new_key_id == to)
        {
            Some(len) => chain[start..=start + len]
                .iter()
                .map(|s| s.announcement.clone())
                .collect(),
            None => Vec::new(),
        }
    }

    /// Every rotation made, oldest first.
    pub fn history(&self) -> Vec<RotationInfo> {
        read(&self.state)
            .chain
            .iter()
            .map(|s| RotationInfo {
                old_key_id: s.old_key_id.clone(),
                new_key_id: s.announcement.new_key_id.clone(),
                rotated_at: s.rotated_at,
            })
            .collect()
    }

    /// Replaces the key in use with a new one: the announcement (signed by the current
    /// key) is appended to the chain file, then the new key is written, then it is used
    /// for every bundle signed from now on. Rotations are serialized. Returns what was
    /// done.
    pub fn rotate(&self, now: i64) -> Result<RotationInfo, PkiError> {
        let _one_at_a_time = self.rotating.lock().unwrap_or_else(PoisonError::into_inner);
        let (old, mut chain) = {
            let state = read(&self.state);
            (state.key.clone(), state.chain.clone())
        };
        let new = generate()?;
        let step = Step {
            old: old.verifying_key(),
            old_key_id: key_id(&old.verifying_key()),
            announcement: sign_rotation(&old, &new.verifying_key()),
            rotated_at: now,
        };
        let info = RotationInfo {
            old_key_id: step.old_key_id.clone(),
            new_key_id: step.announcement.new_key_id.clone(),
            rotated_at: now,
        };
        chain.push(step);
        if let Some(files) = &self.files {
            write_chain(&files.chain, &chain)?;
            write_file(&files.key, &encode(&new)?)?;
        }
        *write(&self.state) = KeyState::new(new, chain);
        Ok(info)
    }
}

impl KeyState {
    fn new(key: SigningKey, chain: Vec<Step>) -> Self {
        KeyState {
            key_id: key_id(&key.verifying_key()),
            key,
            chain,
        }
    }
}

/// `<key file>.rotations`.
fn chain_path(key: &Path) -> PathBuf {
    let name = key
        .file_name()
        .map_or_else(|| "bundle_key".into(), |n| n.to_string_lossy().into_owned());
    key.with_file_name(format!("{name}.rotations"))
}

fn generate() -> Result<SigningKey, PkiError> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut seed[..]).map_err(PkiError::Random)?;
    Ok(SigningKey::from_bytes(&seed))
}

fn encode(key: &SigningKey) -> Result<Zeroizing<String>, PkiError> {
    key.to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map(|pem| Zeroizing::new(pem.to_string()))
        .map_err(|e| PkiError::generate(Some("encoding the signing key".to_owned()), e))
}

fn write_chain(path: &Path, chain: &[Step]) -> Result<(), PkiError> {
    let file = ChainFile {
        rotations: chain
            .iter()
            .map(|s| StepRecord {
                old_public_key: hex::encode(s.old.as_bytes()),
                new_public_key: hex::encode(&s.announcement.new_public_key),
                signature: hex::encode(&s.announcement.signature),
                rotated_at: s.rotated_at,
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&file)
        .map_err(|e| PkiError::generate(Some("encoding the rotation chain".to_owned()), e))?;
    text.push('\n');
    write_file(path, &text)
}

/// Reads and checks the chain file (absent = no rotation yet) against `current`, the
/// key on disk: every signature, every link, and the end (see the module docs).
fn load_chain(path: &Path, current: &VerifyingKey) -> Result<Vec<Step>, PkiError> {
    let invalid = |what: String| PkiError::Invalid {
        path: path.to_path_buf(),
        what,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(PkiError::Io {
                action: "reading",
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let file: ChainFile =
        serde_json::from_str(&text).map_err(|e| invalid(format!("not a rotation chain: {e}")))?;
    let mut chain: Vec<Step> = Vec::with_capacity(file.rotations.len());
    for (i, record) in file.rotations.iter().enumerate() {
        let step = Step::from_record(record)
            .map_err(|why| invalid(format!("rotation {}: {why}", i + 1)))?;
        if let Some(previous) = chain.last()
            && previous.announcement.new_public_key != step.old.as_bytes()
        {
            return Err(invalid(format!(
                "rotation {} starts at key {}, but rotation {i} ended at key {}",
                i + 1,
                step.old_key_id,
                previous.announcement.new_key_id
            )));
        }
        chain.push(step);
    }
    let current_id = key_id(current);
    match chain.last() {
        None => Ok(chain),
        Some(last) if last.announcement.new_public_key == current.as_bytes() => Ok(chain),
        Some(last) if last.old == *current => {
            // Written before a crash, before the new key was: no agent has seen it.
            tracing::warn!(
                chain = %path.display(),
                dropped = %last.announcement.new_key_id,
                "dropping the unfinished last rotation (its key was never written)"
            );
            chain.pop();
            write_chain(path, &chain)?;
            Ok(chain)
        }
        Some(last) => Err(invalid(format!(
            "the rotations end at key {}, but the bundle-signing key on disk is {current_id} \
             (replaced by hand?): restore the key, or move this file away to start a new \
             chain (agents pinned to an earlier key must then be enrolled again)",
            last.announcement.new_key_id
        ))),
    }
}

impl Step {
    /// A stored rotation, its signature checked.
    fn from_record(record: &StepRecord) -> Result<Step, String> {
        let bytes = |what: &str, text: &str| {
            hex::decode(text).map_err(|e| format!("{what} is not hex: {e}"))
        };
        let old: [u8; 32] = bytes("old_public_key", &record.old_public_key)?
            .try_into()
            .map_err(|_| "old_public_key is not 32 bytes".to_owned())?;
        let old = VerifyingKey::from_bytes(&old)
            .map_err(|_| "old_public_key is not an ed25519 key".to_owned())?;
        let mut announcement = KeyRotation {
            new_public_key: bytes("new_public_key", &record.new_public_key)?,
            new_key_id: String::new(),
            signature: bytes("signature", &record.signature)?,
        };
        let new = verify_rotation(&announcement, &old).map_err(|e| e.to_string())?;
        announcement.new_key_id = key_id(&new);
        Ok(Step {
            old_key_id: key_id(&old),
            old,
            announcement,
            rotated_at: record.rotated_at,
        })
    }
}
