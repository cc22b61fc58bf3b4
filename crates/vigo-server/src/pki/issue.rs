//! Certificate issuance with rcgen and inspection with x509-parser: the CA, the server
//! certificate, envoy certificates from CSRs.

use std::collections::BTreeSet;
use std::path::Path;

use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{PkiError, San, read_key_file};
use crate::config::SanName;

/// The CA's lifetime.
const CA_VALIDITY: Duration = Duration::days(3650);
/// The server certificate's lifetime (the longest Apple platforms accept for TLS).
const SERVER_VALIDITY: Duration = Duration::days(825);
/// Certificates start an hour in the past, for clocks a little behind.
const BACKDATE: Duration = Duration::hours(1);
/// The largest CSR accepted (PEM).
const MAX_CSR_LEN: usize = 16 * 1024;
/// The shortest client certificate validity accepted.
const MIN_CLIENT_VALIDITY: std::time::Duration = std::time::Duration::from_secs(60);
/// The organisation in every certificate this server makes.
const ORGANISATION: &str = "Vigo";
/// The prefix of our CAs' common names.
const CA_CN_PREFIX: &str = "Vigo CA";

/// A certificate signed for an envoy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCert {
    /// The certificate (PEM).
    pub cert_pem: String,
    /// Its serial number, lowercase hex.
    pub serial: String,
    /// When it expires (Unix seconds).
    pub not_after_unix: i64,
}

/// A new CA: certificate and key (PEM).
pub(super) struct NewCa {
    pub cert_pem: String,
    pub key_pem: zeroize::Zeroizing<String>,
}

/// Generates the CA: ECDSA P-256, path length 0, 10 years, `CN=Vigo CA <tag> (<hostname>)`.
pub(super) fn new_ca(hostname: &str, now: OffsetDateTime) -> Result<NewCa, PkiError> {
    let key = KeyPair::generate().map_err(generate_err)?;
    let mut tag = [0u8; 4];
    getrandom::fill(&mut tag).map_err(PkiError::Random)?;
    let mut params = CertificateParams::default();
    // A random tag keeps two CAs of the same hostname apart in names and messages.
    params.distinguished_name = name(&format!("{CA_CN_PREFIX} {} ({hostname})", hex::encode(tag)));
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - BACKDATE;
    params.not_after = now + CA_VALIDITY;
    params.serial_number = Some(random_serial()?);
    let cert = params.self_signed(&key).map_err(generate_err)?;
    Ok(NewCa {
        cert_pem: cert.pem(),
        key_pem: zeroize::Zeroizing::new(key.serialize_pem()),
    })
}

/// The issuer for a CA certificate and its key file, checking that they belong together.
pub(super) fn load_issuer(
    ca_pem: &str,
    ca_file: &Path,
    key_file: &Path,
) -> Result<Issuer<'static, KeyPair>, PkiError> {
    let key_pem = read_key_file(key_file)?;
    let key = KeyPair::from_pem(&key_pem).map_err(|e| PkiError::Invalid {
        path: key_file.to_path_buf(),
        what: format!("not a PKCS#8 PEM key: {e}"),
    })?;
    let ca_der = rustls_pki_types::pem::PemObject::from_pem_slice(ca_pem.as_bytes()).map_err(
        |e: rustls_pki_types::pem::Error| PkiError::Invalid {
            path: ca_file.to_path_buf(),
            what: format!("not a PEM certificate: {e}"),
        },
    )?;
    let ca_der: CertificateDer<'static> = ca_der;
    let (_, ca) = X509Certificate::from_der(&ca_der).map_err(|e| PkiError::Invalid {
        path: ca_file.to_path_buf(),
        what: format!("not an X.509 certificate: {e}"),
    })?;
    if ca.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Err(PkiError::Invalid {
            path: key_file.to_path_buf(),
            what: format!("is not the key of the CA certificate {}", ca_file.display()),
        });
    }
    Issuer::from_ca_cert_der(&ca_der, key).map_err(|e| PkiError::Invalid {
        path: ca_file.to_path_buf(),
        what: format!("unusable CA certificate: {e}"),
    })
}

/// A server certificate for `key` naming `sans`, signed by `issuer`, valid from `now`
/// (PEM).
pub(super) fn server_cert(
    issuer: &Issuer<'static, KeyPair>,
    key: &KeyPair,
    hostname: &str,
    sans: &BTreeSet<San>,
    now: OffsetDateTime,
) -> Result<String, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(hostname);
    params.subject_alt_names = sans
        .iter()
        .map(|san| match san {
            San::Dns(dns) => Ia5String::try_from(dns.as_str())
                .map(SanType::DnsName)
                .map_err(|e| PkiError::generate(Some(format!("SAN {dns}")), e)),
            San::Ip(ip) => Ok(SanType::IpAddress(*ip)),
        })
        .collect::<Result<_, _>>()?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - BACKDATE;
    params.not_after = now + SERVER_VALIDITY;
    params.serial_number = Some(random_serial()?);
    let cert = params.signed_by(key, issuer).map_err(generate_err)?;
    Ok(cert.pem())
}

/// Signs an envoy CSR: the CSR's signature must verify, and none of its requested names
/// or extensions survive.
pub(super) fn sign_csr(
    issuer: &Issuer<'static, KeyPair>,
    ca_not_after: OffsetDateTime,
    csr_pem: &str,
    hostname: &str,
    envoy_id: &str,
    validity: std::time::Duration,
    now: OffsetDateTime,
) -> Result<IssuedCert, PkiError> {
    if csr_pem.len() > MAX_CSR_LEN {
        return Err(PkiError::BadCsr(format!("larger than {MAX_CSR_LEN} bytes")));
    }
    check_envoy_id(envoy_id)?;
    let san = hostname
        .parse::<SanName>()
        .map_err(|_| PkiError::BadName(format!("invalid hostname {hostname:?}")))?;
    if validity < MIN_CLIENT_VALIDITY {
        return Err(PkiError::BadName(
            "validity shorter than a minute".to_owned(),
        ));
    }
    let mut csr = CertificateSigningRequestParams::from_pem(csr_pem).map_err(|e| match e {
        rcgen::Error::InvalidCertificationRequestSignature => {
            PkiError::BadCsr("its signature does not verify".to_owned())
        }
        rcgen::Error::UnsupportedExtension => {
            PkiError::BadCsr("it requests an unsupported extension".to_owned())
        }
        rcgen::Error::UnsupportedSignatureAlgorithm => {
            PkiError::BadCsr("unsupported key or signature algorithm".to_owned())
        }
        other => PkiError::BadCsr(format!("not a valid PEM CSR: {other}")),
    })?;
    // Never trust a requested field: start from nothing and set ours.
    let wanted_end = Duration::try_from(validity)
        .ok()
        .and_then(|d| now.checked_add(d))
        .unwrap_or(ca_not_after);
    let mut params = CertificateParams::default();
    params.distinguished_name = name_cn_only(envoy_id);
    params.subject_alt_names = vec![match san.ip() {
        Some(ip) => SanType::IpAddress(ip),
        None => SanType::DnsName(
            Ia5String::try_from(san.as_str())
                .map_err(|e| PkiError::BadName(format!("hostname {hostname:?}: {e}")))?,
        ),
    }];
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - BACKDATE;
    params.not_after = wanted_end.min(ca_not_after);
    let serial = random_serial()?;
    params.serial_number = Some(serial.clone());
    csr.params = params;
    let cert = csr.signed_by(issuer).map_err(generate_err)?;
    Ok(IssuedCert {
        cert_pem: cert.pem(),
        serial: hex::encode(serial.to_bytes()),
        not_after_unix: csr.params.not_after.unix_timestamp(),
    })
}

/// An envoy id: 1-128 letters, digits, `-`, `_` or `.` (UUIDs and host-derived ids).
fn check_envoy_id(envoy_id: &str) -> Result<(), PkiError> {
    let ok = !envoy_id.is_empty()
        && envoy_id.len() <= 128
        && envoy_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(PkiError::BadName(format!("invalid envoy id {envoy_id:?}")))
    }
}

/// When a certificate expires (Unix time).
pub(super) fn not_after(der: &CertificateDer<'_>) -> Result<OffsetDateTime, String> {
    validity(der).map(|(_, not_after)| not_after)
}

/// When a certificate becomes valid and when it expires.
pub(super) fn validity(
    der: &CertificateDer<'_>,
) -> Result<(OffsetDateTime, OffsetDateTime), String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| format!("not X.509: {e}"))?;
    let at = |t: x509_parser::time::ASN1Time| {
        OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(|e| format!("bad validity: {e}"))
    };
    Ok((
        at(cert.validity().not_before)?,
        at(cert.validity().not_after)?,
    ))
}

/// The DNS and IP SANs of a certificate.
pub(super) fn sans_of(der: &CertificateDer<'_>) -> Result<BTreeSet<San>, String> {
    let (_, cert) = X509Certificate::from_der(der).map_err(|e| format!("not X.509: {e}"))?;
    let Some(ext) = cert
        .subject_alternative_name()
        .map_err(|e| format!("bad subject alternative names: {e}"))?
    else {
        return Ok(BTreeSet::new());
    };
    let mut sans = BTreeSet::new();
    for name in &ext.value.general_names {
        match name {
            GeneralName::DNSName(dns) => {
                sans.insert(San::Dns(dns.to_ascii_lowercase()));
            }
            GeneralName::IPAddress(bytes) => {
                if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                    sans.insert(San::Ip(v4.into()));
                } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                    sans.insert(San::Ip(v6.into()));
                }
            }
            _ => {}
        }
    }
    Ok(sans)
}

/// True when `leaf` carries a valid signature by the CA certificate `ca`.
pub(super) fn issued_by(leaf: &CertificateDer<'_>, ca: &CertificateDer<'_>) -> bool {
    let (Ok((_, leaf)), Ok((_, ca))) = (
        X509Certificate::from_der(leaf),
        X509Certificate::from_der(ca),
    ) else {
        return false;
    };
    leaf.issuer() == ca.subject() && leaf.verify_signature(Some(ca.public_key())).is_ok()
}

/// True when `leaf` names one of our CAs as its issuer (whether or not it still exists).
pub(super) fn issued_by_a_vigo_ca(leaf: &CertificateDer<'_>) -> bool {
    let Ok((_, leaf)) = X509Certificate::from_der(leaf) else {
        return false;
    };
    leaf.issuer()
        .iter_common_name()
        .filter_map(|cn| cn.as_str().ok())
        .any(|cn| cn.starts_with(CA_CN_PREFIX))
}

/// Why a server certificate of ours must be reissued at `now`, if it must: its SANs
/// changed, or a third of its lifetime or less remains ([`vigo_core::renewal`]).
pub(super) fn reissue_reason(
    leaf: &CertificateDer<'_>,
    wanted: &BTreeSet<San>,
    now: OffsetDateTime,
) -> Result<Option<String>, String> {
    let have = sans_of(leaf)?;
    if &have != wanted {
        let added: Vec<String> = wanted.difference(&have).map(San::to_string).collect();
        let removed: Vec<String> = have.difference(wanted).map(San::to_string).collect();
        return Ok(Some(format!(
            "SANs changed (added: [{}], removed: [{}])",
            added.join(", "),
            removed.join(", ")
        )));
    }
    let (not_before, not_after) = validity(leaf)?;
    if vigo_core::renewal::renewal_due(
        not_before.unix_timestamp(),
        not_after.unix_timestamp(),
        now.unix_timestamp(),
    ) {
        return Ok(Some(format!(
            "a third of its lifetime or less remains (it expires {})",
            crate::rest::format_time(not_after.unix_timestamp())
        )));
    }
    Ok(None)
}

/// `CN=<cn>, O=Vigo` (CN cut to the 64 characters X.509 allows).
fn name(cn: &str) -> DistinguishedName {
    let mut dn = name_cn_only(cn);
    dn.push(DnType::OrganizationName, ORGANISATION);
    dn
}

fn name_cn_only(cn: &str) -> DistinguishedName {
    let cn: String = cn.chars().take(64).collect();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

/// A random positive 128-bit serial number.
fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(PkiError::Random)?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

fn generate_err(e: rcgen::Error) -> PkiError {
    PkiError::generate(None, e)
}
