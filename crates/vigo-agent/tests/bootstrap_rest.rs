//! `vigo bootstrap`'s HTTPS client against a minimal in-process TLS responder: the CA
//! fetched on first use, verification against a pinned CA, the register exchange, and a
//! refusal printed as the server's message.

use std::sync::{Arc, Mutex};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vigo_agent::enroll::rest::{ServerUrl, ca_fingerprint, fetch_ca, register_rest};
use vigo_api::register::RegisterBody;

struct Responder {
    port: u16,
    ca_pem: String,
    bodies: Arc<Mutex<Vec<String>>>,
}

fn ca_and_server_cert() -> (String, String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "test CA");
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca_pem, cert.pem(), key.serialize_pem())
}

async fn respond(
    mut tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    ca_pem: String,
    bodies: Arc<Mutex<Vec<String>>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head, body) = loop {
        let n = tls.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if body.len() >= len {
                break (head.to_owned(), body.to_owned());
            }
        }
    };
    let (status, answer) = if head.starts_with("GET /api/v1/ca.pem ") {
        ("200 OK", ca_pem)
    } else if head.starts_with("POST /api/v1/register ") {
        bodies.lock().unwrap().push(body.clone());
        if body.contains("\"token\":\"bad\"") {
            (
                "403 Forbidden",
                r#"{"message":"enrollment token expired"}"#.to_owned(),
            )
        } else {
            (
                "200 OK",
                format!(
                    r#"{{"envoy_id":"e-1","certificate_pem":"c","ca_pem":{},"server_signing_key":"{}","server_signing_key_id":"k","grpc_address":"localhost:1530"}}"#,
                    serde_json::to_string(&ca_pem).unwrap(),
                    "ab".repeat(32)
                ),
            )
        }
    } else {
        ("404 Not Found", r#"{"message":"no such path"}"#.to_owned())
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
        answer.len()
    );
    let _ = tls.write_all(response.as_bytes()).await;
    let _ = tls.shutdown().await;
}

async fn start() -> Responder {
    let (ca_pem, cert, key) = ca_and_server_cert();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let (ca, b) = (ca_pem.clone(), Arc::clone(&bodies));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let (ca, b) = (ca.clone(), Arc::clone(&b));
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    respond(tls, ca, b).await;
                }
            });
        }
    });
    Responder {
        port,
        ca_pem,
        bodies,
    }
}

fn body(token: Option<&str>) -> RegisterBody {
    RegisterBody {
        hostname: "web-01".into(),
        token: token.map(str::to_owned),
        csr_pem: "csr".into(),
        agent_public_key: "00".repeat(32),
        ip_addresses: vec!["10.0.0.5".parse().unwrap()],
        agent_version: "0.1.0".into(),
        force: false,
        peer_addr: None,
    }
}

#[tokio::test]
async fn ca_on_first_use_then_register_against_it() {
    let r = start().await;
    let url = ServerUrl::parse(&format!("https://localhost:{}", r.port)).unwrap();
    let ca = fetch_ca(&url, None).await.unwrap();
    assert_eq!(ca, r.ca_pem);
    assert_eq!(
        ca_fingerprint(&ca).unwrap(),
        ca_fingerprint(&r.ca_pem).unwrap()
    );
    // With the CA pinned, the same server verifies.
    assert_eq!(fetch_ca(&url, Some(ca.as_bytes())).await.unwrap(), ca);

    let answer = register_rest(&url, ca.as_bytes(), &body(Some("good")))
        .await
        .unwrap();
    assert_eq!(answer.envoy_id, "e-1");
    assert_eq!(answer.server_signing_key, "ab".repeat(32));
    let sent: serde_json::Value = serde_json::from_str(&r.bodies.lock().unwrap()[0]).unwrap();
    assert_eq!(sent["hostname"], "web-01");
    assert_eq!(sent["token"], "good");
    assert_eq!(sent["agent_public_key"], "00".repeat(32));
    assert_eq!(sent["ip_addresses"][0], "10.0.0.5");
    assert_eq!(sent["force"], false);

    let refused = register_rest(&url, ca.as_bytes(), &body(Some("bad")))
        .await
        .unwrap_err();
    assert_eq!(refused.to_string(), "enrollment token expired");
}

#[tokio::test]
async fn a_server_that_does_not_match_the_pinned_ca_is_refused() {
    let r = start().await;
    let url = ServerUrl::parse(&format!("https://localhost:{}", r.port)).unwrap();
    let (other_ca, _, _) = ca_and_server_cert();
    let err = fetch_ca(&url, Some(other_ca.as_bytes())).await.unwrap_err();
    assert!(format!("{err:#}").contains("TLS handshake"), "{err:#}");
    let err = register_rest(&url, other_ca.as_bytes(), &body(None))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("TLS handshake"), "{err:#}");
    assert!(r.bodies.lock().unwrap().is_empty(), "nothing was sent");
}
