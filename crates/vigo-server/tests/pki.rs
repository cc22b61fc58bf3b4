//! The server PKI end to end: first start creates the CA, server certificate and
//! bundle-signing key with private modes; later starts reuse them; an envoy's CSR signed
//! by the CA completes an mTLS handshake over a real loopback socket, and certificates
//! from another CA, missing client certificates and tampered CSRs are refused. The life
//! cycle with the clock moved: the server certificate renewed at start and while
//! serving (the new one served without a restart), and the bundle-signing key rotated
//! with its chain of announcements persisted, checked and repaired at load.

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use vigo_server::pki::{
    ClientIdentity, Pki, PkiError, PkiOptions, San, ServerCertRenewal, ServerCertStatus,
    client_config,
};
use x509_parser::prelude::{FromDer, X509Certificate};

const DEADLINE: Duration = Duration::from_secs(10);

fn options(dir: &Path) -> PkiOptions {
    PkiOptions {
        ca_file: dir.join("tls/ca"),
        ca_key_file: Some(dir.join("tls/ca_key")),
        cert_file: dir.join("tls/cert"),
        key_file: dir.join("tls/key"),
        signing_key_file: dir.join("tls/bundle_key"),
        hostname: "cfg.lab.example.net".to_owned(),
        extra_sans: vec![
            "vigo.example.org".parse().unwrap(),
            "10.20.0.5".parse().unwrap(),
        ],
        interface_ips: vec![
            "192.0.2.7".parse().unwrap(),
            "2001:db8::7".parse().unwrap(),
            "fe80::1".parse().unwrap(),
        ],
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn ip(text: &str) -> San {
    San::Ip(text.parse::<IpAddr>().unwrap())
}

/// An envoy's key and a CSR asking for far more than it will get.
fn envoy_csr() -> (KeyPair, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["evil.example".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "envoy-aaaa-requested");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    (key, csr)
}

#[test]
fn first_start_creates_everything_with_private_modes() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    let pki = Pki::load_or_create(&opts).unwrap();
    let report = pki.report();
    assert!(
        report.created_ca && report.created_signing_key,
        "{report:?}"
    );
    assert_eq!(report.server_cert, ServerCertStatus::Created);

    assert_eq!(mode(&dir.path().join("tls")), 0o700);
    for f in ["ca", "ca_key", "cert", "key", "bundle_key"] {
        assert_eq!(mode(&dir.path().join("tls").join(f)), 0o600, "{f}");
    }
    let listing: Vec<_> = std::fs::read_dir(dir.path().join("tls"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(listing.len(), 5, "no temporary files left: {listing:?}");
    let bundle_key = std::fs::read_to_string(dir.path().join("tls/bundle_key")).unwrap();
    assert!(bundle_key.starts_with("-----BEGIN PRIVATE KEY-----"));

    // The server certificate names everything it should, and no link-local address.
    let sans = pki.server_sans();
    for want in [
        San::Dns("localhost".into()),
        San::Dns("cfg.lab.example.net".into()),
        San::Dns("vigo.example.org".into()),
        ip("127.0.0.1"),
        ip("::1"),
        ip("10.20.0.5"),
        ip("192.0.2.7"),
        ip("2001:db8::7"),
    ] {
        assert!(sans.contains(&want), "{want} missing from {sans:?}");
    }
    assert!(!sans.contains(&ip("fe80::1")));
    assert_eq!(sans, opts.wanted_sans());

    // The CA is a CA limited to end-entity certificates; the server cert is not.
    let (_, ca) = X509Certificate::from_der(pki.ca_der()).unwrap();
    let bc = ca.basic_constraints().unwrap().unwrap().value;
    assert!(bc.ca);
    assert_eq!(bc.path_len_constraint, Some(0));
    let leaf = CertificateDer::from_pem_slice(pki.server_cert_pem().as_bytes()).unwrap();
    let (_, leaf) = X509Certificate::from_der(&leaf).unwrap();
    assert!(!leaf.is_ca());
    assert!(leaf.verify_signature(Some(ca.public_key())).is_ok());
    assert!(
        leaf.extended_key_usage()
            .unwrap()
            .unwrap()
            .value
            .server_auth
    );
    assert!(format!("{pki:?}").contains("signing_key_id"));
}

#[test]
fn server_yaml_paths_and_the_host_interfaces_drive_the_pki() {
    let dir = tempfile::tempdir().unwrap();
    let config = vigo_server::config::ServerConfig::parse(
        "server:\n  hostname: cfg.example.net\n  tls_sans: [\"203.0.113.4\"]\n",
        &dir.path().join("server.yaml"),
        dir.path(),
    )
    .unwrap();
    let opts = PkiOptions::from_config(&config);
    assert_eq!(opts.cert_file, dir.path().join("tls/cert"));
    assert_eq!(opts.interface_ips, vigo_server::pki::local_interface_ips());
    let pki = Pki::load_or_create(&opts).unwrap();
    assert!(dir.path().join("tls/bundle_key").is_file());
    let sans = pki.server_sans();
    assert!(sans.contains(&San::Dns("cfg.example.net".into())));
    assert!(sans.contains(&ip("203.0.113.4")));
    for addr in &opts.interface_ips {
        let link_local = matches!(addr, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80);
        assert_eq!(sans.contains(&San::Ip(*addr)), !link_local, "{addr}");
    }
    // The same host and file: nothing to reissue.
    let again = Pki::load_or_create(&PkiOptions::from_config(&config)).unwrap();
    assert_eq!(again.report().server_cert, ServerCertStatus::Loaded);
}

#[test]
fn a_second_start_reuses_the_ca_and_the_signing_key() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    let first = Pki::load_or_create(&opts).unwrap();
    let key_before = std::fs::read(dir.path().join("tls/key")).unwrap();
    let second = Pki::load_or_create(&opts).unwrap();
    let report = second.report();
    assert!(
        !report.created_ca && !report.created_signing_key,
        "{report:?}"
    );
    assert_eq!(report.server_cert, ServerCertStatus::Loaded);
    assert_eq!(second.ca_pem(), first.ca_pem());
    assert_eq!(second.signing_key_id(), first.signing_key_id());
    assert_eq!(
        second.signing_key().to_bytes(),
        first.signing_key().to_bytes()
    );
    assert_eq!(second.server_cert_pem(), first.server_cert_pem());
    assert!(second.can_sign());

    // New SANs: only the server certificate is reissued, with the same key and CA.
    let mut moved = opts;
    moved.interface_ips = vec!["198.51.100.9".parse().unwrap()];
    let third = Pki::load_or_create(&moved).unwrap();
    match &third.report().server_cert {
        ServerCertStatus::Reissued(reason) => {
            assert!(reason.contains("198.51.100.9"), "{reason}");
            assert!(reason.contains("192.0.2.7"), "{reason}");
        }
        other => panic!("expected a reissue, got {other:?}"),
    }
    assert!(!third.report().created_ca);
    assert_eq!(third.ca_pem(), first.ca_pem());
    assert_eq!(third.signing_key_id(), first.signing_key_id());
    assert_eq!(
        std::fs::read(dir.path().join("tls/key")).unwrap(),
        key_before
    );
    assert!(third.server_sans().contains(&ip("198.51.100.9")));
    assert!(!third.server_sans().contains(&ip("192.0.2.7")));
    assert_eq!(mode(&dir.path().join("tls/cert")), 0o600);
}

#[test]
fn key_files_readable_by_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    Pki::load_or_create(&opts).unwrap();
    for f in ["key", "ca_key", "bundle_key"] {
        let path = dir.path().join("tls").join(f);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Pki::load_or_create(&opts).unwrap_err();
        assert!(
            matches!(e, PkiError::KeyMode { mode: 0o644, .. }),
            "{f}: {e}"
        );
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    Pki::load_or_create(&opts).unwrap();
}

#[test]
fn half_present_material_is_an_error_not_a_silent_regeneration() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    Pki::load_or_create(&opts).unwrap();
    std::fs::remove_file(dir.path().join("tls/key")).unwrap();
    let e = Pki::load_or_create(&opts).unwrap_err();
    assert!(matches!(e, PkiError::Incomplete { .. }), "{e}");
    std::fs::remove_file(dir.path().join("tls/cert")).unwrap();
    std::fs::remove_file(dir.path().join("tls/ca")).unwrap();
    let e = Pki::load_or_create(&opts).unwrap_err();
    assert!(e.to_string().contains("the CA key"), "{e}");
}

#[test]
fn a_new_ca_reissues_our_orphaned_server_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    let first = Pki::load_or_create(&opts).unwrap();
    std::fs::remove_file(dir.path().join("tls/ca")).unwrap();
    std::fs::remove_file(dir.path().join("tls/ca_key")).unwrap();
    let second = Pki::load_or_create(&opts).unwrap();
    assert!(second.report().created_ca);
    assert_eq!(
        second.report().server_cert,
        ServerCertStatus::Reissued("the CA was regenerated".into())
    );
    assert_ne!(second.ca_pem(), first.ca_pem());
    assert_eq!(second.signing_key_id(), first.signing_key_id());
}

#[test]
fn an_operator_certificate_is_used_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    Pki::load_or_create(&opts).unwrap();
    // A certificate from elsewhere (say, a public CA), with only one name.
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    std::fs::write(dir.path().join("tls/cert"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("tls/key"), key.serialize_pem()).unwrap();
    let pki = Pki::load_or_create(&opts).unwrap();
    assert_eq!(pki.report().server_cert, ServerCertStatus::External);
    assert_eq!(pki.server_cert_pem(), cert.pem());
    assert_eq!(pki.server_sans().len(), 1);
    pki.grpc_server_config().unwrap();
    // Never reissued, however close to expiry.
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(5000);
    assert!(matches!(
        pki.renew_server_cert(later).unwrap(),
        ServerCertRenewal::External { .. }
    ));
    assert_eq!(pki.server_cert_pem(), cert.pem());
}

#[test]
fn a_signed_csr_gets_our_names_not_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(&options(dir.path())).unwrap();
    let (_, csr) = envoy_csr();
    let issued = pki
        .sign_csr(
            &csr,
            "web01.lab.example.net",
            "envoy-0001",
            Duration::from_secs(86_400),
        )
        .unwrap();
    let der = CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    let cn: Vec<_> = cert
        .subject()
        .iter_common_name()
        .map(|cn| cn.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(cn, ["envoy-0001"]);
    let sans = &cert
        .subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names;
    assert_eq!(sans.len(), 1);
    assert_eq!(
        format!("{:?}", sans[0]),
        "DNSName(\"web01.lab.example.net\")"
    );
    assert!(!cert.is_ca());
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth);
    assert_eq!(cert.raw_serial_as_string().replace(':', ""), issued.serial);
    let lifetime = cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp();
    assert_eq!(lifetime, 86_400 + 3600, "a day, backdated an hour");
    assert_eq!(issued.not_after_unix, cert.validity().not_after.timestamp());

    for (hostname, envoy_id) in [
        ("bad host", "envoy-1"),
        ("ok.example", ""),
        ("ok.example", "a/b"),
    ] {
        let e = pki
            .sign_csr(&csr, hostname, envoy_id, Duration::from_secs(3600))
            .unwrap_err();
        assert!(matches!(e, PkiError::BadName(_)), "{e}");
    }
}

#[test]
fn a_tampered_csr_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(&options(dir.path())).unwrap();
    let (_, csr) = envoy_csr();
    let mut der = CertificateSigningRequestDer::from_pem_slice(csr.as_bytes())
        .unwrap()
        .as_ref()
        .to_vec();
    let at = der
        .windows(4)
        .position(|w| w == b"aaaa")
        .expect("the requested CN is in the CSR");
    der[at..at + 4].copy_from_slice(b"bbbb");
    let tampered = pem("CERTIFICATE REQUEST", &der);
    let e = pki
        .sign_csr(
            &tampered,
            "web01.example",
            "envoy-1",
            Duration::from_secs(3600),
        )
        .unwrap_err();
    assert!(matches!(e, PkiError::BadCsr(_)), "{e}");
    assert!(e.to_string().contains("signature does not verify"), "{e}");

    for junk in ["", "not a csr", &csr[..csr.len() / 2]] {
        let e = pki
            .sign_csr(junk, "web01.example", "envoy-1", Duration::from_secs(3600))
            .unwrap_err();
        assert!(matches!(e, PkiError::BadCsr(_)), "{e}");
    }
}

#[test]
fn without_the_ca_key_nothing_is_signed() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    Pki::load_or_create(&opts).unwrap();
    let without = PkiOptions {
        ca_key_file: None,
        ..opts
    };
    let pki = Pki::load_or_create(&without).unwrap();
    assert!(!pki.can_sign());
    let (_, csr) = envoy_csr();
    let e = pki
        .sign_csr(&csr, "web01.example", "envoy-1", Duration::from_secs(3600))
        .unwrap_err();
    assert!(matches!(e, PkiError::NoCaKey), "{e}");
}

/// A client for `pki`'s CA, presenting an envoy certificate from `issuer` if any.
fn envoy_client(pki: &Pki, issuer: Option<&Pki>) -> Arc<rustls::ClientConfig> {
    let Some(issuer) = issuer else {
        return client_config(pki.ca_pem(), None).unwrap();
    };
    let (key, csr) = envoy_csr();
    let issued = issuer
        .sign_csr(
            &csr,
            "web01.lab.example.net",
            "envoy-0001",
            Duration::from_secs(3600),
        )
        .unwrap();
    let key_pem = key.serialize_pem();
    let identity = ClientIdentity {
        cert_pem: &issued.cert_pem,
        key_pem: &key_pem,
    };
    client_config(pki.ca_pem(), Some(identity)).unwrap()
}

/// What the server saw of one connection.
#[derive(Debug)]
enum Served {
    /// The handshake completed; the client certificate's CN, if any.
    Accepted(Option<String>),
    /// The handshake failed.
    Refused(String),
}

/// One TLS connection over loopback: the server echoes a line; returns what the server
/// saw and what the client read back.
async fn handshake(
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
) -> (Served, Result<Vec<u8>, String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(server);
    let served = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        match acceptor.accept(tcp).await {
            Err(e) => Served::Refused(e.to_string()),
            Ok(mut tls) => {
                let cn = tls.get_ref().1.peer_certificates().and_then(|chain| {
                    let (_, cert) = X509Certificate::from_der(&chain[0]).ok()?;
                    let cn = cert.subject().iter_common_name().next()?;
                    cn.as_str().ok().map(str::to_owned)
                });
                let mut buf = [0u8; 5];
                if tls.read_exact(&mut buf).await.is_ok() {
                    let _ = tls.write_all(&buf).await;
                    let _ = tls.shutdown().await;
                }
                Served::Accepted(cn)
            }
        }
    });
    let connector = TlsConnector::from(client);
    let talked = async {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
        let mut tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        tls.write_all(b"hello").await.map_err(|e| e.to_string())?;
        let mut back = Vec::new();
        tls.read_to_end(&mut back)
            .await
            .map_err(|e| e.to_string())?;
        Ok(back)
    };
    let talked = tokio::time::timeout(DEADLINE, talked)
        .await
        .unwrap_or_else(|_| Err("client timed out".to_owned()));
    let served = tokio::time::timeout(DEADLINE, served)
        .await
        .expect("server finished")
        .unwrap();
    (served, talked)
}

#[tokio::test]
async fn an_envoy_certificate_completes_mtls_over_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(&options(dir.path())).unwrap();
    let (served, talked) = handshake(
        pki.grpc_server_config().unwrap(),
        envoy_client(&pki, Some(&pki)),
    )
    .await;
    match served {
        Served::Accepted(cn) => assert_eq!(cn.as_deref(), Some("envoy-0001")),
        Served::Refused(e) => panic!("refused: {e}"),
    }
    assert_eq!(talked.unwrap(), b"hello");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(&options(dir.path())).unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let other = Pki::load_or_create(&options(other_dir.path())).unwrap();
    assert_ne!(other.ca_pem(), pki.ca_pem());

    let (served, talked) = handshake(
        pki.grpc_server_config().unwrap(),
        envoy_client(&pki, Some(&other)),
    )
    .await;
    assert!(matches!(served, Served::Refused(_)), "{served:?}");
    assert!(talked.is_err(), "the client got {talked:?}");

    // The REST listener verifies a presented certificate just the same.
    let (served, _) = handshake(
        pki.rest_server_config().unwrap(),
        envoy_client(&pki, Some(&other)),
    )
    .await;
    assert!(matches!(served, Served::Refused(_)), "{served:?}");
}

/// Neither listener requires a client certificate at the TLS layer: gRPC `Register`
/// comes from hosts that have none yet (every other RPC refuses such a request, see
/// tests/grpc.rs), and REST serves operators and `/bootstrap`.
#[tokio::test]
async fn no_client_certificate_is_required_at_the_tls_layer() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(&options(dir.path())).unwrap();
    let (served, talked) =
        handshake(pki.grpc_server_config().unwrap(), envoy_client(&pki, None)).await;
    assert!(matches!(served, Served::Accepted(None)), "{served:?}");
    assert_eq!(talked.unwrap(), b"hello");

    let (served, talked) =
        handshake(pki.rest_server_config().unwrap(), envoy_client(&pki, None)).await;
    assert!(matches!(served, Served::Accepted(None)), "{served:?}");
    assert_eq!(talked.unwrap(), b"hello");
}

#[tokio::test]
async fn a_client_trusting_another_ca_refuses_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(&options(dir.path())).unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let other = Pki::load_or_create(&options(other_dir.path())).unwrap();
    let (_, talked) = handshake(
        pki.rest_server_config().unwrap(),
        envoy_client(&other, None),
    )
    .await;
    let e = talked.unwrap_err();
    assert!(e.contains("invalid peer certificate"), "{e}");
}

fn days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

/// The certificate a TLS client is shown by `server`.
async fn served_leaf(
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
) -> CertificateDer<'static> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(server);
    let served = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let _ = acceptor.accept(tcp).await;
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = tokio::time::timeout(DEADLINE, TlsConnector::from(client).connect(name, tcp))
        .await
        .expect("handshake in time")
        .expect("the client accepts the served certificate");
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    drop(tls);
    served.await.unwrap();
    leaf
}

fn validity(pem: &str) -> (i64, i64) {
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    (
        cert.validity().not_before.timestamp(),
        cert.validity().not_after.timestamp(),
    )
}

#[test]
fn a_server_cert_in_the_last_third_of_its_life_is_reissued_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    let now = time::OffsetDateTime::now_utc();
    // First started 600 of its 825 days ago: 225 days left, more than 30, less than 275.
    let old = Pki::load_or_create_at(&opts, now - days(600)).unwrap();
    let pki = Pki::load_or_create_at(&opts, now).unwrap();
    match &pki.report().server_cert {
        ServerCertStatus::Reissued(reason) => {
            assert!(reason.contains("a third of its lifetime"), "{reason}");
        }
        other => panic!("expected a reissue, got {other:?}"),
    }
    assert_eq!(pki.server_sans(), old.server_sans());
    assert_eq!(pki.ca_pem(), old.ca_pem());
    let (not_before, _) = validity(&pki.server_cert_pem());
    assert!(not_before > now.unix_timestamp() - 2 * 3600, "issued now");
    // Reissued once: the next start keeps it.
    let again = Pki::load_or_create_at(&opts, now + days(1)).unwrap();
    assert_eq!(again.report().server_cert, ServerCertStatus::Loaded);
}

#[tokio::test]
async fn a_running_server_renews_its_cert_and_serves_the_new_one_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    let now = time::OffsetDateTime::now_utc();
    let pki = Pki::load_or_create_at(&opts, now - days(600)).unwrap();
    let grpc = pki.grpc_server_config().unwrap();
    let rest = pki.rest_server_config().unwrap();
    let client = envoy_client(&pki, None);
    let before = pki.server_cert_pem();
    let sans = pki.server_sans();
    assert_eq!(
        served_leaf(Arc::clone(&grpc), Arc::clone(&client)).await,
        CertificateDer::from_pem_slice(before.as_bytes()).unwrap()
    );

    // Day 200 of 825: not due yet, nothing changes.
    match pki.renew_server_cert(now - days(400)).unwrap() {
        ServerCertRenewal::NotDue { renew_at } => {
            assert!(renew_at > (now - days(400)).unix_timestamp());
        }
        other => panic!("expected not due, got {other:?}"),
    }
    assert_eq!(pki.server_cert_pem(), before);

    // Day 600: renewed, with the same SANs and key, written and served at once.
    let ServerCertRenewal::Renewed { not_after } = pki.renew_server_cert(now).unwrap() else {
        panic!("expected a renewal");
    };
    let after = pki.server_cert_pem();
    assert_ne!(after, before);
    assert_eq!(pki.server_sans(), sans, "SANs preserved");
    assert_eq!(validity(&after).1, not_after);
    assert!(not_after > (now + days(800)).unix_timestamp());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("tls/cert")).unwrap(),
        after
    );
    assert_eq!(mode(&dir.path().join("tls/cert")), 0o600);
    let new_leaf = CertificateDer::from_pem_slice(after.as_bytes()).unwrap();
    assert_eq!(served_leaf(grpc, Arc::clone(&client)).await, new_leaf);
    assert_eq!(served_leaf(rest, client).await, new_leaf);
    // And the next start loads it as it is.
    let restarted = Pki::load_or_create(&opts).unwrap();
    assert_eq!(restarted.report().server_cert, ServerCertStatus::Loaded);
    assert_eq!(restarted.server_cert_pem(), after);
}

#[test]
fn a_rotated_bundle_key_and_its_chain_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    let pki = Pki::load_or_create(&opts).unwrap();
    let k0 = pki.signing_key();
    let first = pki.bundle_keys().rotate(1_000).unwrap();
    let second = pki.bundle_keys().rotate(2_000).unwrap();
    assert_eq!(
        first.old_key_id,
        vigo_core::signing::key_id(&k0.verifying_key())
    );
    assert_eq!(second.old_key_id, first.new_key_id);
    assert_eq!(pki.signing_key_id(), second.new_key_id);
    assert_eq!(mode(&dir.path().join("tls/bundle_key")), 0o600);
    assert_eq!(mode(&dir.path().join("tls/bundle_key.rotations")), 0o600);

    let restarted = Pki::load_or_create(&opts).unwrap();
    assert!(!restarted.report().created_signing_key);
    assert_eq!(restarted.signing_key_id(), second.new_key_id);
    let keys = restarted.bundle_keys();
    assert_eq!(keys.history(), [first.clone(), second.clone()]);
    // An agent that pinned the first key is led through both rotations...
    let chain = keys.rotations_between(&first.old_key_id, &second.new_key_id);
    assert_eq!(chain.len(), 2);
    let reached = vigo_core::rotation::verify_chain(&chain, &k0.verifying_key()).unwrap();
    assert_eq!(reached, restarted.signing_key().verifying_key());
    // ...one that pinned the middle key through the last, one up to date through none.
    assert_eq!(
        keys.rotations_between(&second.old_key_id, &second.new_key_id)
            .len(),
        1
    );
    assert!(
        keys.rotations_between(&second.new_key_id, &second.new_key_id)
            .is_empty()
    );
    assert!(
        keys.rotations_between("0000000000000000", &second.new_key_id)
            .is_empty()
    );
}

#[test]
fn an_unfinished_rotation_is_dropped_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    let pki = Pki::load_or_create(&opts).unwrap();
    let kept = pki.signing_key_id();
    let key_file = dir.path().join("tls/bundle_key");
    let before = std::fs::read(&key_file).unwrap();
    pki.bundle_keys().rotate(1_000).unwrap();
    // As if the process died after writing the chain, before writing the new key.
    std::fs::write(&key_file, &before).unwrap();
    let restarted = Pki::load_or_create(&opts).unwrap();
    assert_eq!(restarted.signing_key_id(), kept);
    assert!(restarted.bundle_keys().history().is_empty());
    let chain = std::fs::read_to_string(dir.path().join("tls/bundle_key.rotations")).unwrap();
    assert!(!chain.contains("\"old_public_key\""), "rewritten: {chain}");
}

#[test]
fn a_tampered_or_disconnected_rotation_chain_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(dir.path());
    let pki = Pki::load_or_create(&opts).unwrap();
    pki.bundle_keys().rotate(1_000).unwrap();
    let chain_file = dir.path().join("tls/bundle_key.rotations");
    let good = std::fs::read_to_string(&chain_file).unwrap();

    // A signature changed by one digit.
    let file: serde_json::Value = serde_json::from_str(&good).unwrap();
    let signature = file["rotations"][0]["signature"].as_str().unwrap();
    let flipped = format!(
        "{}{}",
        if signature.starts_with('0') { '1' } else { '0' },
        &signature[1..]
    );
    std::fs::write(&chain_file, good.replace(signature, &flipped)).unwrap();
    let e = Pki::load_or_create(&opts).unwrap_err();
    assert!(matches!(e, PkiError::Invalid { .. }), "{e}");
    assert!(e.to_string().contains("rotation 1: "), "{e}");
    assert!(e.to_string().contains("not signed by"), "{e}");

    // A key replaced by hand: the chain no longer leads to it.
    std::fs::write(&chain_file, &good).unwrap();
    let key_file = dir.path().join("tls/bundle_key");
    let other = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_pem(
        &ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
        ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF,
    )
    .unwrap();
    std::fs::write(&key_file, other.as_bytes()).unwrap();
    let e = Pki::load_or_create(&opts).unwrap_err();
    assert!(e.to_string().contains("replaced by hand"), "{e}");
    assert!(e.to_string().contains("bundle_key.rotations"), "{e}");

    // A key deleted: not silently replaced by a new one the chain cannot lead to.
    std::fs::remove_file(&key_file).unwrap();
    let e = Pki::load_or_create(&opts).unwrap_err();
    assert!(matches!(e, PkiError::Incomplete { .. }), "{e}");
    assert!(!key_file.exists());
}

/// PEM-encodes `der` (standard base64, 64-column lines).
fn pem(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
    }
    let body: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        body.join("\n")
    )
}
