//! `vigo register --token T [--force]`: enrollment over the gRPC `Register` RPC, and the
//! enrollment steps `vigo bootstrap` shares (keys, CSR, saving what the server returns).
//!
//! ```console
//! # vigo --server vigo.example.com:1530 register --token vgoe_4f2a…
//! registered as a1b2c3d4-e5f6-7890-abcd-ef1234567890 with vigo.example.com:1530
//! ```
//!
//! Steps: collect the hostname and addresses (the `network` collector) → generate a new
//! ed25519 agent key and a TLS client key (ECDSA P-256) with its CSR (CN = hostname) →
//! `Register` over TLS without a client certificate, trusting `--ca-file` (fetched from
//! `--api-addr` on first use when absent, printing its fingerprint) → check the returned
//! bundle-signing key against its key id → save `ca.pem`, `cert.pem`, `key.pem` (0600),
//! `agent.key` (0600), `server.pub` (the pinned key) and the config file (`server`,
//! `envoy_id`). Nothing is written before the server has accepted the enrollment, so a
//! refused registration leaves a previous enrollment intact.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::cli::RegisterArgs;
use crate::client::{Client, TlsMaterial};
use crate::enroll::{Enrollee, Enrollment, host_facts, keep_first_bundle, save};
use crate::settings::Settings;

/// Runs `vigo register`.
pub async fn run(settings: &Settings, args: &RegisterArgs) -> Result<ExitCode> {
    let ca_pem = match std::fs::read(&settings.ca_file) {
        Ok(pem) => pem,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // First contact: fetch the CA from the REST API (trust on first use).
            let url = crate::enroll::rest::ServerUrl::parse(&settings.api_addr)?;
            let ca = crate::enroll::rest::fetch_ca(&url, None).await?;
            tracing::warn!(
                "trusting the server CA fetched from {} on first use; SHA-256 fingerprint {}",
                settings.api_addr,
                crate::enroll::rest::ca_fingerprint(&ca)?
            );
            ca.into_bytes()
        }
        Err(e) => {
            return Err(e).with_context(|| format!("reading {}", settings.ca_file.display()));
        }
    };
    let (hostname, ips) = tokio::task::spawn_blocking(host_facts).await??;
    let enrollee = Enrollee::generate(&hostname, ips)?;
    let server = settings.primary_server().to_owned();
    let mut addresses = vec![server];
    addresses.extend(settings.fallback_servers.iter().cloned());
    // Register is signed by the new key itself (proof of possession), no envoy id yet.
    let mut client = Client::new(
        addresses,
        TlsMaterial::for_register(ca_pem.clone()),
        Arc::clone(&enrollee.identity),
        "",
    );
    let response = client
        .register(&enrollee.request(&args.token, args.force))
        .await?;
    let ca_answer = if response.ca_pem.is_empty() {
        String::from_utf8(ca_pem).context("the CA file is not UTF-8 PEM")?
    } else {
        response.ca_pem
    };
    let enrollment = Enrollment::from_parts(
        response.envoy_id,
        response.certificate_pem,
        ca_answer,
        &response.server_signing_key,
        &response.server_signing_key_id,
        client.current_address().to_owned(),
    )?;
    save(settings, &enrollee, &enrollment)?;
    if let Some(bundle) = &response.bundle {
        keep_first_bundle(
            &settings.state_dir,
            bundle,
            &enrollment.server_signing_key,
            crate::clock::now_unix(),
        );
    }
    println!(
        "registered as {} with {}",
        enrollment.envoy_id, enrollment.server
    );
    Ok(ExitCode::SUCCESS)
}
