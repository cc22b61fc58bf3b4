//! `vigo bootstrap --server https://HOST:8443 [--token T] [--install-service]
//! [--grpc-port P] [--force]`: full enrollment over the REST API.
//!
//! ```console
//! # vigo bootstrap --server https://vigo.example.com:8443 --token vgoe_4f2a… --install-service
//! vigo: server CA fetched on first use; SHA-256 fingerprint 3F:A1:…:9C
//! registered as a1b2c3d4-e5f6-7890-abcd-ef1234567890 with vigo.example.com:1530
//! ```
//!
//! 1. `GET /api/v1/ca.pem`. When `--ca-file` already exists the server is verified against
//!    it; otherwise this first contact trusts whatever certificate the server shows (trust
//!    on first use) and prints the downloaded CA's SHA-256 fingerprint for the operator to
//!    compare.
//! 2. `POST /api/v1/register` with the hostname, addresses, token, CSR and agent public key
//!    (hex), verifying the server against that CA. A refusal prints the server's `message`
//!    as is and exits 1.
//! 3. Save the files and the config (as `vigo register` does), with `server` =
//!    `HOST:grpc_port`.
//! 4. `--install-service`: write `vigo-envoy.service`, `systemctl daemon-reload`, enable and
//!    start it.
//!
//! The HTTP client is a small HTTP/1.1 client (hyper) over tokio-rustls with the ring
//! provider, so the one unverified fetch is explicit and nothing else skips verification.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::BootstrapArgs;
use crate::enroll::rest::{ServerUrl, ca_fingerprint, fetch_ca, register_rest};
use crate::enroll::{Enrollee, Enrollment, host_facts, save};
use crate::settings::Settings;
use vigo_api::register::RegisterBody;

/// Runs `vigo bootstrap`.
pub async fn run(settings: &Settings, args: &BootstrapArgs) -> Result<ExitCode> {
    let url = ServerUrl::parse(&args.server_url)?;
    let existing = match std::fs::read(&settings.ca_file) {
        Ok(pem) => Some(pem),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(e).with_context(|| format!("reading {}", settings.ca_file.display()));
        }
    };
    let ca = fetch_ca(&url, existing.as_deref()).await?;
    let fingerprint = ca_fingerprint(&ca)?;
    if existing.is_some() {
        tracing::info!(
            "server verified against {}; CA SHA-256 fingerprint {fingerprint}",
            settings.ca_file.display()
        );
    } else {
        tracing::warn!(
            "server CA fetched on first use; SHA-256 fingerprint {fingerprint} \
             (compare it with `vigocli server ca` on the server)"
        );
    }

    let (hostname, ips) = tokio::task::spawn_blocking(host_facts).await??;
    let enrollee = Enrollee::generate(&hostname, ips)?;
    let answer = register_rest(
        &url,
        ca.as_bytes(),
        &RegisterBody {
            hostname: enrollee.hostname.clone(),
            token: args.token.clone(),
            csr_pem: enrollee.csr_pem.clone(),
            agent_public_key: hex::encode(enrollee.identity.public_key()),
            // host_facts keeps only addresses that parse.
            ip_addresses: enrollee
                .ip_addresses
                .iter()
                .filter_map(|ip| ip.parse().ok())
                .collect(),
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            force: args.force,
            peer_addr: None,
        },
    )
    .await?;
    let key = hex::decode(answer.server_signing_key.trim())
        .context("the server signing key is not hex")?;
    let grpc = ServerUrl {
        host: url.host.clone(),
        port: args.grpc_port,
    }
    .authority();
    let enrollment = Enrollment::from_parts(
        answer.envoy_id,
        answer.certificate_pem,
        if answer.ca_pem.is_empty() {
            ca
        } else {
            answer.ca_pem
        },
        &key,
        &answer.server_signing_key_id,
        grpc,
    )?;
    save(settings, &enrollee, &enrollment)?;
    println!(
        "registered as {} with {}",
        enrollment.envoy_id, enrollment.server
    );
    if args.install_service {
        let exe = std::env::current_exe().context("locating the vigo binary")?;
        tokio::task::spawn_blocking(move || crate::service_unit::install(&exe)).await??;
        println!("installed and started {}", crate::service_unit::UNIT_NAME);
    }
    Ok(ExitCode::SUCCESS)
}
