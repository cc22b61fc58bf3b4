//! The `local` secrets backend: one AES-256-GCM file per secret under the secrets
//! directory, keyed by a master key file.
//!
//! A secret's path is its name (`vigo/db/dsn` → `<secrets_dir>/vigo/db/dsn`); paths
//! are checked before they touch the filesystem, so `..`, absolute paths and hidden
//! names are refused. Each file is `VGS1` ‖ a fresh random 96-bit nonce ‖ ciphertext
//! and tag; the secret's path is the associated data, so a file copied under another
//! name does not decrypt. The master key is 32 random bytes, stored as hex in a 0600
//! file (`<secrets_dir>/.master.key` by default), created on first use; a key file
//! readable by group or others is refused.
//!
//! Values live in [`zeroize::Zeroizing`] buffers and print as `<redacted>`: a secret
//! is never logged or shown by `Debug`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::{Zeroize, Zeroizing};

use crate::config::{SecretsBackend, SecretsSection};
use crate::pki::files;

/// The first bytes of every secret file (format version 1).
const MAGIC: &[u8; 4] = b"VGS1";
/// Nonce length (96 bits).
const NONCE_LEN: usize = 12;
/// AES-GCM tag length.
const TAG_LEN: usize = 16;
/// Associated-data prefix; the secret's path follows it.
const AAD_PREFIX: &[u8] = b"vigo-secret-v1\0";
/// The longest secret path accepted.
const MAX_PATH_LEN: usize = 512;
/// The largest secret file read (1 MiB).
const MAX_FILE_LEN: u64 = 1 << 20;

/// Why a secrets operation failed. Messages name paths, never values.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The configured backend is not available in this build.
    #[error("secrets backend `{0}` is not supported by this server (use `backend: local`)")]
    UnsupportedBackend(&'static str),
    /// The secret path is not acceptable.
    #[error("invalid secret path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No such secret.
    #[error("secret '{0}' not found")]
    NotFound(String),
    /// The master key file may be read by group or others.
    #[error(
        "{}: master key mode {mode:04o} is wider than 0600; refusing to use it \
         (run `chmod 600 {}`)",
        file.display(),
        file.display()
    )]
    MasterKeyMode {
        /// The key file.
        file: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The master key file does not hold a key.
    #[error("{}: invalid master key: {reason}", file.display())]
    MasterKeyInvalid {
        /// The key file.
        file: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// A secret file is not in the expected format.
    #[error("secret '{path}': corrupt file: {reason}")]
    Corrupt {
        /// The secret's path.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Authentication failed: the file was altered or the master key is another one.
    #[error("secret '{0}': cannot decrypt: the file was altered or the master key is wrong")]
    Decrypt(String),
    /// The operating system refused.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done ("reading", "writing", …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// No randomness available for a key or nonce.
    #[error("no randomness from the OS: {0}")]
    Random(#[source] getrandom::Error),
}

/// A secret value. `Debug` and `Display` print `<redacted>`; the buffer is zeroed when
/// dropped. Use [`expose`](Self::expose) at the one place the value is needed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Zeroizing<String>);

impl SecretValue {
    /// Wraps a value.
    pub fn new(value: String) -> Self {
        SecretValue(Zeroizing::new(value))
    }

    /// The value itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The local secrets store: a directory of encrypted files and the master key.
pub struct LocalSecrets {
    dir: PathBuf,
    cipher: Aes256Gcm,
}

impl fmt::Debug for LocalSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSecrets")
            .field("dir", &self.dir)
            .field("master_key", &"<redacted>")
            .finish()
    }
}

impl LocalSecrets {
    /// Opens the store the `secrets:` section describes; `isopass` is refused.
    pub fn from_config(section: &SecretsSection) -> Result<Self, SecretsError> {
        match section.backend {
            SecretsBackend::Local => Self::open(&section.secrets_dir, &section.master_key_file()),
            SecretsBackend::Isopass => Err(SecretsError::UnsupportedBackend("isopass")),
        }
    }

    /// Opens the store at `dir` (created 0700 when missing) with the master key in
    /// `key_file`, which is created with 32 random bytes (0600) on first use. A key file
    /// whose mode is wider than 0600 is refused.
    pub fn open(dir: &Path, key_file: &Path) -> Result<Self, SecretsError> {
        files::ensure_private_dir(dir).map_err(|source| SecretsError::Io {
            action: "creating",
            path: dir.to_path_buf(),
            source,
        })?;
        let key = load_or_create_master_key(key_file)?;
        let cipher =
            Aes256Gcm::new_from_slice(&key[..]).map_err(|_| SecretsError::MasterKeyInvalid {
                file: key_file.to_path_buf(),
                reason: "expected 32 bytes",
            })?;
        Ok(LocalSecrets {
            dir: dir.to_path_buf(),
            cipher,
        })
    }

    /// The secrets directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores `value` under `path`, replacing an old value, with a fresh nonce.
    pub fn set(&self, path: &str, value: &str) -> Result<(), SecretsError> {
        let file = self.file_of(path)?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(SecretsError::Random)?;
        let aad = aad(path);
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: value.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| SecretsError::Corrupt {
                path: path.to_owned(),
                reason: "value too large to encrypt",
            })?;
        let mut bytes = Vec::with_capacity(MAGIC.len() + NONCE_LEN + sealed.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        files::write_private(&file, &bytes).map_err(|source| SecretsError::Io {
            action: "writing",
            path: file,
            source,
        })
    }

    /// The value stored under `path`.
    pub fn get(&self, path: &str) -> Result<SecretValue, SecretsError> {
        let file = self.file_of(path)?;
        let bytes = read_limited(&file).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => SecretsError::NotFound(path.to_owned()),
            _ => SecretsError::Io {
                action: "reading",
                path: file.clone(),
                source,
            },
        })?;
        let corrupt = |reason| SecretsError::Corrupt {
            path: path.to_owned(),
            reason,
        };
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| corrupt("unknown format"))?;
        if rest.len() < NONCE_LEN + TAG_LEN {
            return Err(corrupt("too short"));
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| corrupt("too short"))?;
        let aad = aad(path);
        let plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| SecretsError::Decrypt(path.to_owned()))?;
        match String::from_utf8(plain) {
            Ok(value) => Ok(SecretValue::new(value)),
            Err(e) => {
                e.into_bytes().zeroize();
                Err(corrupt("the value is not UTF-8"))
            }
        }
    }

    /// True when a secret is stored under `path` (a bad path is simply absent).
    pub fn contains(&self, path: &str) -> bool {
        self.file_of(path).is_ok_and(|f| f.is_file())
    }

    /// Every stored secret's path, sorted.
    pub fn list(&self) -> Result<Vec<String>, SecretsError> {
        let mut out = Vec::new();
        walk(&self.dir, "", &mut out)?;
        out.sort();
        Ok(out)
    }

    /// Removes the secret under `path` and the directories it leaves empty.
    pub fn delete(&self, path: &str) -> Result<(), SecretsError> {
        let file = self.file_of(path)?;
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(SecretsError::NotFound(path.to_owned()));
            }
            Err(source) => {
                return Err(SecretsError::Io {
                    action: "removing",
                    path: file,
                    source,
                });
            }
        }
        let mut dir = file.parent();
        while let Some(d) = dir.filter(|d| *d != self.dir && d.starts_with(&self.dir)) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }

    /// The file of a checked secret path.
    fn file_of(&self, path: &str) -> Result<PathBuf, SecretsError> {
        check_path(path)?;
        Ok(self.dir.join(path))
    }
}

/// Checks a secret path: relative, `/`-separated, each part made of letters, digits,
/// `.`, `_` and `-`, never empty, `.`, `..` or hidden (starting with a dot).
pub fn check_path(path: &str) -> Result<(), SecretsError> {
    let bad = |reason| {
        Err(SecretsError::InvalidPath {
            path: path.to_owned(),
            reason,
        })
    };
    if path.is_empty() {
        return bad("empty");
    }
    if path.len() > MAX_PATH_LEN {
        return bad("longer than 512 bytes");
    }
    if path.starts_with('/') {
        return bad("absolute paths are not allowed");
    }
    for part in path.split('/') {
        if part.is_empty() {
            return bad("empty path component");
        }
        if part == "." || part == ".." {
            return bad("`.` and `..` are not allowed");
        }
        if part.starts_with('.') {
            return bad("components must not start with a dot");
        }
        if !part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return bad("only letters, digits, '.', '_', '-' and '/' are allowed");
        }
    }
    Ok(())
}

fn aad(path: &str) -> Vec<u8> {
    [AAD_PREFIX, path.as_bytes()].concat()
}

fn read_limited(file: &Path) -> io::Result<Vec<u8>> {
    let meta = std::fs::metadata(file)?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "not a file"));
    }
    if meta.len() > MAX_FILE_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "larger than 1 MiB",
        ));
    }
    std::fs::read(file)
}

/// Collects secret paths under `dir` (hidden names, temporary files and symlinks are
/// skipped).
fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<(), SecretsError> {
    let io_err = |source| SecretsError::Io {
        action: "listing",
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let kind = entry.file_type().map_err(io_err)?;
        if kind.is_dir() {
            walk(&entry.path(), &path, out)?;
        } else if kind.is_file() && check_path(&path).is_ok() {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads the master key (hex, or 32 raw bytes), creating it on first use.
fn load_or_create_master_key(file: &Path) -> Result<Zeroizing<[u8; 32]>, SecretsError> {
    let io_err = |action, source| SecretsError::Io {
        action,
        path: file.to_path_buf(),
        source,
    };
    if !file.exists() {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut key[..]).map_err(SecretsError::Random)?;
        let mut text = Zeroizing::new(hex::encode(&key[..]));
        text.push('\n');
        // A concurrent first start may win the race; its key is then read below.
        files::create_private(file, text.as_bytes())
            .map_err(|source| io_err("creating", source))?;
    }
    if let Some(mode) = files::wider_than_owner(file).map_err(|source| io_err("reading", source))? {
        return Err(SecretsError::MasterKeyMode {
            file: file.to_path_buf(),
            mode,
        });
    }
    let raw = Zeroizing::new(std::fs::read(file).map_err(|source| io_err("reading", source))?);
    let invalid = |reason| SecretsError::MasterKeyInvalid {
        file: file.to_path_buf(),
        reason,
    };
    let mut key = Zeroizing::new([0u8; 32]);
    if raw.len() == 32 {
        key.copy_from_slice(&raw);
        return Ok(key);
    }
    let text = std::str::from_utf8(&raw).map_err(|_| invalid("expected 64 hex digits"))?;
    hex::decode_to_slice(text.trim(), &mut key[..])
        .map_err(|_| invalid("expected 64 hex digits"))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn store(dir: &Path) -> LocalSecrets {
        LocalSecrets::open(&dir.join("secrets"), &dir.join("secrets/.master.key")).unwrap()
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn round_trip_and_listing() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        s.set("vigo/db/dsn", "postgres://u:p@db/vigo").unwrap();
        s.set("vigo/smtp/password", "hunter2hunter2").unwrap();
        s.set("top", "").unwrap();
        assert_eq!(
            s.get("vigo/db/dsn").unwrap().expose(),
            "postgres://u:p@db/vigo"
        );
        assert_eq!(s.get("top").unwrap().expose(), "");
        assert_eq!(
            s.list().unwrap(),
            ["top", "vigo/db/dsn", "vigo/smtp/password"]
        );
        assert!(s.contains("top"));
        // Overwrite, and reopen with the same key file.
        s.set("top", "new").unwrap();
        let again = store(tmp.path());
        assert_eq!(again.get("top").unwrap().expose(), "new");
        // The file holds no plaintext, and a second write used another nonce.
        let file = tmp.path().join("secrets/vigo/db/dsn");
        let raw = std::fs::read(&file).unwrap();
        assert!(!raw.windows(8).any(|w| w == b"postgres"));
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&tmp.path().join("secrets/vigo/db")), 0o700);
        s.set("vigo/db/dsn", "postgres://u:p@db/vigo").unwrap();
        assert_ne!(std::fs::read(&file).unwrap(), raw);
        // Delete removes the file and the directories it empties.
        s.delete("vigo/db/dsn").unwrap();
        assert!(!tmp.path().join("secrets/vigo/db").exists());
        assert!(matches!(
            s.get("vigo/db/dsn"),
            Err(SecretsError::NotFound(_))
        ));
        assert!(matches!(
            s.delete("vigo/db/dsn"),
            Err(SecretsError::NotFound(_))
        ));
        assert_eq!(s.list().unwrap(), ["top", "vigo/smtp/password"]);
    }

    #[test]
    fn master_key_is_created_private_and_hex() {
        let tmp = tempfile::tempdir().unwrap();
        let _ = store(tmp.path());
        let key = tmp.path().join("secrets/.master.key");
        assert_eq!(mode(&key), 0o600);
        assert_eq!(mode(&tmp.path().join("secrets")), 0o700);
        let text = std::fs::read_to_string(&key).unwrap();
        assert_eq!(text.trim().len(), 64);
        assert!(text.trim().bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn tampering_is_detected() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        s.set("a/b", "value").unwrap();
        let file = tmp.path().join("secrets/a/b");
        let mut raw = std::fs::read(&file).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        std::fs::write(&file, &raw).unwrap();
        assert!(matches!(s.get("a/b"), Err(SecretsError::Decrypt(_))));
        // A valid file moved under another name does not decrypt either.
        s.set("a/b", "value").unwrap();
        std::fs::copy(&file, tmp.path().join("secrets/a/c")).unwrap();
        assert!(matches!(s.get("a/c"), Err(SecretsError::Decrypt(_))));
        std::fs::write(&file, b"garbage").unwrap();
        assert!(matches!(s.get("a/b"), Err(SecretsError::Corrupt { .. })));
    }

    #[test]
    fn another_master_key_cannot_read() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        s.set("x", "value").unwrap();
        let other =
            LocalSecrets::open(&tmp.path().join("secrets"), &tmp.path().join("other.key")).unwrap();
        let e = other.get("x").unwrap_err();
        assert!(matches!(e, SecretsError::Decrypt(_)), "{e}");
        assert!(e.to_string().contains("master key is wrong"), "{e}");
    }

    #[test]
    fn a_wide_master_key_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let _ = store(tmp.path());
        let key = tmp.path().join("secrets/.master.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = LocalSecrets::open(&tmp.path().join("secrets"), &key).unwrap_err();
        assert!(
            matches!(e, SecretsError::MasterKeyMode { mode: 0o644, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("wider than 0600"), "{e}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(LocalSecrets::open(&tmp.path().join("secrets"), &key).is_ok());
    }

    #[test]
    fn a_malformed_master_key_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let key = tmp.path().join("k");
        files::write_private(&key, b"not hex at all").unwrap();
        let e = LocalSecrets::open(&tmp.path().join("s"), &key).unwrap_err();
        assert!(matches!(e, SecretsError::MasterKeyInvalid { .. }), "{e}");
    }

    #[test]
    fn path_traversal_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        for bad in [
            "",
            "/etc/passwd",
            "../outside",
            "a/../../outside",
            "a/./b",
            "a//b",
            "a/",
            ".master.key",
            "a/.hidden",
            "a\\b",
            "a b",
            "a\0b",
        ] {
            assert!(
                matches!(s.set(bad, "v"), Err(SecretsError::InvalidPath { .. })),
                "{bad:?}"
            );
            assert!(
                matches!(s.get(bad), Err(SecretsError::InvalidPath { .. })),
                "{bad:?}"
            );
            assert!(!s.contains(bad));
        }
        assert!(!tmp.path().join("outside").exists());
        assert!(check_path(&"a".repeat(513)).is_err());
        assert!(check_path("vigo/grafana/admin-password").is_ok());
        assert!(check_path("v1.2_x-y").is_ok());
    }

    #[test]
    fn values_never_print() {
        let v = SecretValue::new("hunter2".into());
        assert_eq!(format!("{v:?} {v}"), "<redacted> <redacted>");
        let tmp = tempfile::tempdir().unwrap();
        let s = store(tmp.path());
        assert!(format!("{s:?}").contains("<redacted>"));
    }

    #[test]
    fn isopass_is_not_supported() {
        let section = SecretsSection {
            backend: SecretsBackend::Isopass,
            url: Some("https://isopass.example".into()),
            ..SecretsSection::default()
        };
        assert!(matches!(
            LocalSecrets::from_config(&section),
            Err(SecretsError::UnsupportedBackend("isopass"))
        ));
    }
}
