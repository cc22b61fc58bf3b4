//! Renewal of the agent's mTLS client certificate, over the channel it authenticates.
//!
//! At every cycle that reached the server, [`renew_if_due`] looks at `--cert-file`: once a
//! third of its lifetime or less remains ([`vigo_core::renewal`]), it makes a new TLS key
//! (ECDSA P-256) and a CSR, calls `RenewCertificate` (authenticated by the current
//! certificate and the request signature), checks that the answer certifies the new key
//! for this envoy, and installs the pair. The client presents it from the next
//! connection on; the old certificate is no longer used.
//!
//! Installing never leaves a certificate without its key: the new key and certificate
//! are first written beside the old ones (`key.pem.new` 0600, `cert.pem.new` 0644, each
//! atomically), then renamed over them, key first. A crash before the first rename
//! leaves the old pair in place (the `.new` files are removed at the next start); a
//! crash between the renames leaves the new key with `cert.pem.new`, which
//! [`finish_interrupted`] moves into place at the next start.
//!
//! An expired certificate cannot be renewed: the server's TLS handshake refuses it
//! before any request is read. Such an envoy enrolls again (`vigo bootstrap --force`).

use std::fs::File;
use std::path::{Path, PathBuf};

use vigo_exec::atomic::{FileMeta, write_file};
use vigo_proto::v1::RenewCertificateRequest;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::client::{Client, ClientError, TlsMaterial};
use crate::settings::Settings;

/// Why the client certificate could not be read or renewed.
#[derive(Debug, thiserror::Error)]
pub enum RenewError {
    /// A file could not be read, written or renamed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The certificate file does not hold a certificate.
    #[error("{path}: not a PEM certificate: {message}")]
    NotACertificate {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// The certificate has expired; the server refuses it, so it cannot be renewed.
    #[error(
        "the client certificate expired at {at}: the server refuses it, so it cannot be \
         renewed; enroll this envoy again with `vigo bootstrap --force`"
    )]
    Expired {
        /// When it expired, readable.
        at: String,
    },
    /// Generating the new key or the CSR failed.
    #[error("generating the new TLS key and CSR: {0}")]
    Keys(String),
    /// The call failed; the current certificate stays in use.
    #[error(transparent)]
    Call(#[from] ClientError),
    /// The server's answer does not certify the new key for this envoy.
    #[error("the renewed certificate is unusable: {0}")]
    BadAnswer(String),
}

/// A certificate's validity, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertValidity {
    /// Valid from.
    pub not_before: i64,
    /// Valid until.
    pub not_after: i64,
}

impl CertValidity {
    /// The validity of the first certificate in `pem`.
    pub fn from_pem(pem: &[u8], path: &Path) -> Result<Self, RenewError> {
        let parsed = parse_leaf(pem, path)?;
        Ok(parsed.validity)
    }

    /// The validity of the certificate in `path`; `None` when there is no file (not
    /// enrolled).
    pub fn read(path: &Path) -> Result<Option<Self>, RenewError> {
        match std::fs::read(path) {
            Ok(pem) => Self::from_pem(&pem, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(file_err(path, e)),
        }
    }

    /// When renewal becomes due: a third of the lifetime before expiry.
    pub fn renew_at(&self) -> i64 {
        vigo_core::renewal::renew_at(self.not_before, self.not_after)
    }

    /// True when the certificate should be renewed at `now`.
    pub fn renewal_due(&self, now: i64) -> bool {
        vigo_core::renewal::renewal_due(self.not_before, self.not_after, now)
    }

    /// True when the certificate is no longer valid at `now`.
    pub fn expired(&self, now: i64) -> bool {
        now > self.not_after
    }
}

/// What the agent needs from a certificate.
struct Leaf {
    validity: CertValidity,
    common_name: Option<String>,
    public_key: Vec<u8>,
}

fn parse_leaf(pem: &[u8], path: &Path) -> Result<Leaf, RenewError> {
    let not_a_cert = |message: String| RenewError::NotACertificate {
        path: path.to_path_buf(),
        message,
    };
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).map_err(|e| not_a_cert(e.to_string()))?;
    let (_, cert) =
        X509Certificate::from_der(&pem.contents).map_err(|e| not_a_cert(e.to_string()))?;
    Ok(Leaf {
        validity: CertValidity {
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
        },
        common_name: cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned),
        public_key: cert.public_key().subject_public_key.data.to_vec(),
    })
}

/// `path` with `.new` appended: where the next certificate or key is written first.
fn pending(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".new");
    PathBuf::from(name)
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> RenewError {
    RenewError::File {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Finishes or rolls back a renewal a crash interrupted (see the module docs). Returns
/// what it did, for a message; `None` when nothing was pending.
pub fn finish_interrupted(
    cert_file: &Path,
    key_file: &Path,
) -> Result<Option<&'static str>, RenewError> {
    let (cert_new, key_new) = (pending(cert_file), pending(key_file));
    if key_new.exists() {
        // Before the first rename: the old pair is intact.
        for p in [&key_new, &cert_new] {
            remove_if_present(p)?;
        }
        return Ok(Some("discarded an unfinished certificate renewal"));
    }
    if !cert_new.exists() {
        return Ok(None);
    }
    // Between the renames: the key is the new one; its certificate waits beside.
    let cert = std::fs::read(&cert_new).map_err(|e| file_err(&cert_new, e))?;
    let key = std::fs::read_to_string(key_file).map_err(|e| file_err(key_file, e))?;
    let matches = rcgen::KeyPair::from_pem(&key).ok().is_some_and(|k| {
        parse_leaf(&cert, &cert_new).is_ok_and(|leaf| leaf.public_key == k.public_key_raw())
    });
    if !matches {
        remove_if_present(&cert_new)?;
        return Ok(Some(
            "removed a pending certificate that does not match the key",
        ));
    }
    rename(&cert_new, cert_file)?;
    Ok(Some("finished an interrupted certificate renewal"))
}

fn remove_if_present(path: &Path) -> Result<(), RenewError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(file_err(path, e)),
    }
}

/// Renames `from` over `to` and makes the rename durable.
fn rename(from: &Path, to: &Path) -> Result<(), RenewError> {
    std::fs::rename(from, to).map_err(|e| file_err(to, e))?;
    let dir = match to.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| file_err(dir, e))
}

fn write_pending(path: &Path, content: &[u8], mode: u32) -> Result<PathBuf, RenewError> {
    let target = pending(path);
    let meta = FileMeta {
        mode: Some(mode),
        uid: None,
        gid: None,
    };
    write_file(&target, content, &meta, None).map_err(|e| file_err(&target, e))?;
    Ok(target)
}

/// Renews the client certificate when it is due at `now` (see the module docs) and makes
/// `client` present the new one from its next connection. Returns the new validity, or
/// `None` when there was nothing to do (not due, or no certificate file).
pub async fn renew_if_due(
    client: &mut Client,
    settings: &Settings,
    now: i64,
) -> Result<Option<CertValidity>, RenewError> {
    let Some(current) = CertValidity::read(&settings.cert_file)? else {
        return Ok(None);
    };
    if !current.renewal_due(now) {
        return Ok(None);
    }
    if current.expired(now) {
        return Err(RenewError::Expired {
            at: readable_time(current.not_after),
        });
    }
    let envoy_id = settings.envoy_id.clone().unwrap_or_default();
    let keys = |e: rcgen::Error| RenewError::Keys(e.to_string());
    let key = rcgen::KeyPair::generate().map_err(keys)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(keys)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, envoy_id.as_str());
    let csr_pem = params
        .serialize_request(&key)
        .map_err(keys)?
        .pem()
        .map_err(keys)?;
    let answer = client
        .renew_certificate(&RenewCertificateRequest { csr_pem })
        .await?;
    let leaf = parse_leaf(answer.certificate_pem.as_bytes(), &settings.cert_file)
        .map_err(|e| RenewError::BadAnswer(e.to_string()))?;
    if leaf.public_key != key.public_key_raw() {
        return Err(RenewError::BadAnswer(
            "it does not certify the key of the request".into(),
        ));
    }
    if leaf.common_name.as_deref() != Some(envoy_id.as_str()) {
        return Err(RenewError::BadAnswer(format!(
            "it names {:?}, not this envoy {envoy_id}",
            leaf.common_name.unwrap_or_default()
        )));
    }
    if leaf.validity.not_after <= current.not_after {
        return Err(RenewError::BadAnswer(
            "it expires no later than the current one".into(),
        ));
    }
    let key_pem = key.serialize_pem();
    let key_new = write_pending(&settings.key_file, key_pem.as_bytes(), 0o600)?;
    let cert_new = write_pending(
        &settings.cert_file,
        answer.certificate_pem.as_bytes(),
        0o644,
    )?;
    rename(&key_new, &settings.key_file)?;
    rename(&cert_new, &settings.cert_file)?;
    let tls = TlsMaterial::load(&settings.ca_file, &settings.cert_file, &settings.key_file)?;
    client.set_tls(tls);
    Ok(Some(leaf.validity))
}

/// [`renew_if_due`] for the convergence cycle: says what happened on stderr and never
/// fails the cycle (the current certificate stays in use until it is renewed).
pub async fn renew_on_check_in(client: &mut Client, settings: &Settings, now: i64) {
    match renew_if_due(client, settings, now).await {
        Ok(None) => {}
        Ok(Some(renewed)) => eprintln!(
            "vigo: client certificate renewed; the new one expires {}",
            readable_time(renewed.not_after)
        ),
        Err(e) => eprintln!("vigo: warning: client certificate not renewed: {e}"),
    }
}

/// When the server could not be reached: says so when the reason may be an expired
/// client certificate, which the server's handshake refuses.
pub fn explain_unreachable(settings: &Settings, now: i64) {
    if let Ok(Some(cert)) = CertValidity::read(&settings.cert_file)
        && cert.expired(now)
    {
        eprintln!(
            "vigo: warning: {}",
            RenewError::Expired {
                at: readable_time(cert.not_after)
            }
        );
    }
}

/// `2027-03-16 14:00:00 UTC`.
pub fn readable_time(unix: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| format!("@{unix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    /// A certificate for `key` valid from `not_before` to `not_after`, CN `cn`.
    fn cert(key: &rcgen::KeyPair, cn: &str, not_before: i64, not_after: i64) -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.not_before = time::OffsetDateTime::from_unix_timestamp(not_before).unwrap();
        params.not_after = time::OffsetDateTime::from_unix_timestamp(not_after).unwrap();
        params.self_signed(key).unwrap().pem()
    }

    #[test]
    fn renewal_is_due_in_the_last_third_and_expiry_is_told_apart() {
        let key = rcgen::KeyPair::generate().unwrap();
        let start = 1_800_000_000;
        let pem = cert(&key, "e", start, start + 365 * DAY);
        let v = CertValidity::from_pem(pem.as_bytes(), Path::new("cert.pem")).unwrap();
        assert_eq!(v.not_before, start);
        assert!(!v.renewal_due(start + 200 * DAY), "day 200 of 365");
        assert!(v.renewal_due(start + 250 * DAY), "day 250 of 365");
        assert!(!v.expired(start + 250 * DAY));
        assert!(v.expired(start + 366 * DAY));
        assert_eq!(
            readable_time(v.renew_at()),
            readable_time(start + 365 * DAY - 365 * DAY / 3)
        );
        let e = CertValidity::from_pem(b"junk", Path::new("/etc/vigo-envoy/cert.pem")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/etc/vigo-envoy/cert.pem: not a PEM certificate"),
            "{e}"
        );
        assert_eq!(
            CertValidity::read(Path::new("/nonexistent/cert.pem")).unwrap(),
            None
        );
        assert_eq!(readable_time(0), "1970-01-01 00:00:00 UTC");
    }

    struct Files {
        _dir: tempfile::TempDir,
        cert: PathBuf,
        key: PathBuf,
    }

    /// An installed pair (old), and a new pair.
    fn files() -> (Files, (String, String), (String, String)) {
        let dir = tempfile::tempdir().unwrap();
        let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let pair = || {
            let k = rcgen::KeyPair::generate().unwrap();
            (cert(&k, "e", 0, 10 * DAY), k.serialize_pem())
        };
        let (old, new) = (pair(), pair());
        std::fs::write(&cert_file, &old.0).unwrap();
        std::fs::write(&key_file, &old.1).unwrap();
        (
            Files {
                _dir: dir,
                cert: cert_file,
                key: key_file,
            },
            old,
            new,
        )
    }

    #[test]
    fn a_renewal_interrupted_before_the_key_moved_keeps_the_old_pair() {
        let (f, old, new) = files();
        std::fs::write(pending(&f.key), &new.1).unwrap();
        std::fs::write(pending(&f.cert), &new.0).unwrap();
        assert!(finish_interrupted(&f.cert, &f.key).unwrap().is_some());
        assert_eq!(std::fs::read_to_string(&f.cert).unwrap(), old.0);
        assert_eq!(std::fs::read_to_string(&f.key).unwrap(), old.1);
        assert!(!pending(&f.key).exists() && !pending(&f.cert).exists());
        assert_eq!(finish_interrupted(&f.cert, &f.key).unwrap(), None);
    }

    #[test]
    fn a_renewal_interrupted_between_the_renames_is_finished() {
        let (f, _, new) = files();
        std::fs::write(&f.key, &new.1).unwrap();
        std::fs::write(pending(&f.cert), &new.0).unwrap();
        assert_eq!(
            finish_interrupted(&f.cert, &f.key).unwrap(),
            Some("finished an interrupted certificate renewal")
        );
        assert_eq!(std::fs::read_to_string(&f.cert).unwrap(), new.0);
        assert!(!pending(&f.cert).exists());
    }

    #[test]
    fn a_pending_certificate_of_another_key_is_removed() {
        let (f, old, new) = files();
        std::fs::write(pending(&f.cert), &new.0).unwrap();
        assert_eq!(
            finish_interrupted(&f.cert, &f.key).unwrap(),
            Some("removed a pending certificate that does not match the key")
        );
        assert_eq!(std::fs::read_to_string(&f.cert).unwrap(), old.0);
        assert!(!pending(&f.cert).exists());
    }
}
