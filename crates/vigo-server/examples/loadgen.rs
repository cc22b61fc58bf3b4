//! `loadgen`: the server load benchmark's generator of simulated envoys (run by
//! `bench/server.sh`; see the "Server load" section of `docs/PERFORMANCE.md`).
//!
//! Three subcommands, all reading the server's own `server.yaml`:
//!
//! - `enroll` — **bench-only enrollment at scale**, run while the server is stopped:
//!   loads the server's PKI from its data dir ([`vigo_server::pki::Pki`], generating the
//!   CA on a fresh dir exactly as `vigosrv` would), opens its store ([`Store::open`], SQLite
//!   or PostgreSQL per `database:`), and for each simulated envoy generates an ed25519
//!   request key and a P-256 TLS key, has the CA sign its CSR (`CN=<envoy id>`, SAN = its
//!   hostname, the same [`Pki::sign_csr`] as `Register`) and stores it with
//!   [`Store::register_envoy`]. The server loads these envoys into its fleet index when it
//!   starts. This needs the CA key and database credentials, i.e. the operator's access to
//!   the server's data dir: nothing here is an endpoint, and the server binary has no
//!   path to it. The credentials (keys, certificates) go to a JSON-lines file.
//! - `run` — K simulated envoys, each with its own client certificate and so its own mTLS
//!   connection, HTTP/2 reused across all its requests, each looping as fast as the
//!   server answers (closed loop). Mode `no-change`: `CheckIn` with the live
//!   `policy_version` and `state_fingerprint` (learnt from each envoy's first check-in), so
//!   the server answers `no_change`. Mode `report`: one cycle is that `CheckIn` plus a
//!   `ReportResult` of 20 resource results under a fresh run id. Latencies are recorded
//!   over a fixed window after a warm-up; one summary line is printed.
//! - `sweep` — every enrolled envoy checks in once (its own connection, closed after),
//!   `--concurrency` at a time; then the server's resident memory is read from
//!   `/proc/<pid>/status` and printed per enrolled envoy.
//!
//! Latency percentiles are exact: every sample of the window is kept (a `u32` of
//! microseconds each) and sorted at the end, which at these rates is a few MB at most.
//!
//! A benchmark may abort with a message: errors end the process through `anyhow`.

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand, ValueEnum};
use ed25519_dalek::{Signer, SigningKey};
use prost::Message;
use serde::{Deserialize, Serialize};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use uuid::Uuid;
use vigo_proto::v1::agent_client::AgentClient;
use vigo_proto::v1::{
    Action, CheckInRequest, PolicyBundle, ReportResultRequest, ResourceResult, SignedRequest,
    check_in_response,
};
use vigo_server::config::ServerConfig;
use vigo_server::pki::{Pki, PkiOptions};
use vigo_server::publish::payload_fingerprint;
use vigo_server::serve::store_config;
use vigo_server::store::{NewEnvoy, Reenrollment, Store};

/// The server load generator (bench only).
#[derive(Debug, Parser)]
#[command(name = "loadgen")]
struct Cli {
    /// The server's `server.yaml` (data dir, store, gRPC port, CA).
    #[arg(long, global = true, default_value = "server.yaml")]
    config: PathBuf,
    /// Tokio worker threads of the generator.
    #[arg(long, global = true, default_value_t = 2)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Enrolls N simulated envoys directly in the store (server stopped).
    Enroll {
        /// How many envoys.
        #[arg(long)]
        count: usize,
        /// Where to write their credentials (JSON lines).
        #[arg(long)]
        out: PathBuf,
        /// Hostnames are `<prefix><index>.bench.example.net`.
        #[arg(long, default_value = "bench-")]
        prefix: String,
        /// Concurrent store writers.
        #[arg(long, default_value_t = 8)]
        writers: usize,
    },
    /// K envoys looping check-ins (and reports) for a fixed window.
    Run {
        /// The credentials written by `enroll`.
        #[arg(long)]
        creds: PathBuf,
        /// What each cycle sends.
        #[arg(long, value_enum, default_value_t = Mode::NoChange)]
        mode: Mode,
        /// Concurrent envoys (connections).
        #[arg(long, default_value_t = 64)]
        envoys: usize,
        /// Seconds of warm-up (not recorded).
        #[arg(long, default_value_t = 5)]
        warmup: u64,
        /// Seconds recorded.
        #[arg(long, default_value_t = 20)]
        duration: u64,
    },
    /// Every enrolled envoy checks in once; then the server's RSS per envoy.
    Sweep {
        /// The credentials written by `enroll`.
        #[arg(long)]
        creds: PathBuf,
        /// Envoys checking in at the same time.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// The server's PID, for `/proc/<pid>/status`.
        #[arg(long)]
        server_pid: u32,
    },
}

/// What one cycle of `run` sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// `CheckIn` answered `no_change`.
    NoChange,
    /// `CheckIn` (no change) + `ReportResult` with 20 resource results.
    Report,
}

/// One simulated envoy's credentials, as `enroll` writes them.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Creds {
    id: String,
    hostname: String,
    /// The ed25519 request key's seed (hex).
    seed: String,
    /// The TLS client key (PKCS#8 PEM).
    key_pem: String,
    /// The client certificate (PEM) signed by the server's CA.
    cert_pem: String,
}

/// Resource results per report.
const RESULTS_PER_REPORT: usize = 20;

fn main() -> Result<()> {
    let cli = Cli::parse();
    let config = ServerConfig::load(Some(&cli.config))
        .map_err(|e| anyhow!("{e}"))
        .context("loading the server config")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Enroll {
                count,
                out,
                prefix,
                writers,
            } => enroll(&config, count, &out, &prefix, writers).await,
            Command::Run {
                creds,
                mode,
                envoys,
                warmup,
                duration,
            } => {
                let creds = read_creds(&creds, Some(envoys))?;
                run(&config, creds, mode, warmup, duration).await
            }
            Command::Sweep {
                creds,
                concurrency,
                server_pid,
            } => {
                let creds = read_creds(&creds, None)?;
                sweep(&config, creds, concurrency, server_pid).await
            }
        }
    })
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

// ---------------------------------------------------------------------------------------
// enroll

/// Generates `count` envoys' keys and certificates, stores them, writes their credentials.
async fn enroll(
    config: &ServerConfig,
    count: usize,
    out: &Path,
    prefix: &str,
    writers: usize,
) -> Result<()> {
    let started = Instant::now();
    let pki =
        Arc::new(Pki::load_or_create(&PkiOptions::from_config(config)).context("loading the PKI")?);
    let store = Store::open(&store_config(config))
        .await
        .context("opening the store")?;
    let validity = config.enrollment.client_cert_validity.get();
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut file = BufWriter::new(file);
    const CHUNK: usize = 2000;
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let mut done = 0;
    while done < count {
        let n = CHUNK.min(count - done);
        // Keys, CSRs and certificates: CPU work, on every core.
        let per = n.div_ceil(cores);
        let mut handles = Vec::new();
        for part in 0..cores {
            let first = done + part * per;
            let last = (first + per).min(done + n);
            if first >= last {
                break;
            }
            let pki = Arc::clone(&pki);
            let prefix = prefix.to_owned();
            handles.push(tokio::task::spawn_blocking(move || {
                (first..last)
                    .map(|i| make_envoy(&pki, &format!("{prefix}{i}.bench.example.net"), validity))
                    .collect::<Result<Vec<_>>>()
            }));
        }
        let mut batch = Vec::with_capacity(n);
        for h in handles {
            batch.extend(h.await.context("a key generation task failed")??);
        }
        // Rows: `writers` transactions at a time (PostgreSQL runs them in parallel;
        // SQLite serializes them).
        let batch = Arc::new(batch);
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..writers.max(1) {
            let (batch, next, store) = (Arc::clone(&batch), Arc::clone(&next), store.clone());
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((new, _)) = batch.get(i) else {
                        return Ok::<_, anyhow::Error>(());
                    };
                    store
                        .register_envoy(new, Reenrollment::Refuse)
                        .await
                        .with_context(|| format!("storing envoy {}", new.hostname))?;
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.context("a store writer failed")??;
        }
        for (_, creds) in batch.iter() {
            serde_json::to_writer(&mut file, creds)?;
            file.write_all(b"\n")?;
        }
        done += n;
        if done % 20_000 == 0 || done == count {
            eprintln!(
                "enrolled {done}/{count} ({:.1} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    file.flush()?;
    store.close().await;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "enroll: {count} envoys in {secs:.1} s ({:.0}/s), store {:?}",
        count as f64 / secs,
        config.database.driver
    );
    Ok(())
}

/// One envoy: keys, CSR signed by the CA, its store row and credentials.
fn make_envoy(pki: &Pki, hostname: &str, validity: Duration) -> Result<(NewEnvoy, Creds)> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow!("randomness: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    let tls_key = rcgen::KeyPair::generate().context("generating a TLS key")?;
    let csr = rcgen::CertificateParams::new(vec![hostname.to_owned()])
        .context("CSR parameters")?
        .serialize_request(&tls_key)
        .context("serializing the CSR")?
        .pem()
        .context("CSR PEM")?;
    let id = Uuid::new_v4();
    let cert = pki
        .sign_csr(&csr, hostname, &id.to_string(), validity)
        .context("signing the CSR")?;
    let new = NewEnvoy {
        id,
        hostname: hostname.to_owned(),
        public_key: key.verifying_key().to_bytes(),
        cert_serial: cert.serial.clone(),
        cert_pem: cert.cert_pem.clone(),
        environment: None,
        address: Some("127.0.0.1".to_owned()),
        agent_version: Some("loadgen".to_owned()),
        enrolled_at: now_unix(),
    };
    let creds = Creds {
        id: id.to_string(),
        hostname: hostname.to_owned(),
        seed: hex::encode(seed),
        key_pem: tls_key.serialize_pem(),
        cert_pem: cert.cert_pem,
    };
    Ok((new, creds))
}

fn read_creds(path: &Path, limit: Option<usize>) -> Result<Vec<Creds>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut creds = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        if limit.is_some_and(|l| creds.len() >= l) {
            break;
        }
        creds.push(serde_json::from_str(&line?).context("a credentials line")?);
    }
    if let Some(l) = limit
        && creds.len() < l
    {
        bail!(
            "{} holds {} envoys, {l} wanted",
            path.display(),
            creds.len()
        );
    }
    Ok(creds)
}

// ---------------------------------------------------------------------------------------
// the simulated envoy

/// One simulated envoy: its request key and its own connection.
struct Envoy {
    id: String,
    key: SigningKey,
    client: AgentClient<Channel>,
    /// The live version and the fingerprint of its bundle, from its first check-in.
    version: String,
    fingerprint: String,
}

/// Where and how to connect.
struct Target {
    url: String,
    ca_pem: String,
}

impl Target {
    fn of(config: &ServerConfig) -> Result<Target> {
        let ca_file = &config.server.tls.ca_file;
        Ok(Target {
            url: format!("https://127.0.0.1:{}", config.server.grpc_listen.port),
            ca_pem: std::fs::read_to_string(ca_file)
                .with_context(|| format!("reading {}", ca_file.display()))?,
        })
    }
}

impl Envoy {
    /// Dials the server with the envoy's own client certificate.
    async fn connect(target: &Target, creds: &Creds) -> Result<Envoy> {
        let mut seed = [0u8; 32];
        hex::decode_to_slice(&creds.seed, &mut seed).context("a credentials seed")?;
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&target.ca_pem))
            .identity(Identity::from_pem(&creds.cert_pem, &creds.key_pem))
            .domain_name("localhost");
        let channel = Endpoint::from_shared(target.url.clone())?
            .tls_config(tls)?
            .connect_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("connecting as {}", creds.hostname))?;
        Ok(Envoy {
            id: creds.id.clone(),
            key: SigningKey::from_bytes(&seed),
            client: AgentClient::new(channel),
            version: String::new(),
            fingerprint: String::new(),
        })
    }

    /// A signed envelope for `method`, fresh timestamp and nonce.
    fn sign(&self, method: &str, body: Vec<u8>) -> Result<SignedRequest> {
        let mut nonce = vec![0u8; 16];
        getrandom::fill(&mut nonce).map_err(|e| anyhow!("randomness: {e}"))?;
        let ts = now_unix();
        let msg = vigo_core::signing::request_message(method, &self.id, ts, &nonce, &body);
        Ok(SignedRequest {
            envoy_id: self.id.clone(),
            timestamp_unix: ts,
            nonce,
            signature: self.key.sign(&msg).to_bytes().to_vec(),
            body,
        })
    }

    /// One check-in with what it holds; a bundle in the answer becomes what it holds.
    /// True when the server answered `no_change`.
    async fn check_in(&mut self) -> Result<bool> {
        let body = CheckInRequest {
            policy_version: self.version.clone(),
            state_fingerprint: self.fingerprint.clone(),
            ..Default::default()
        };
        let req = self.sign("CheckIn", body.encode_to_vec())?;
        let resp = self.client.check_in(req).await?.into_inner();
        match resp.outcome {
            Some(check_in_response::Outcome::NoChange(_)) => Ok(true),
            Some(check_in_response::Outcome::Bundle(signed)) => {
                let bundle = PolicyBundle::decode(signed.payload.as_slice())
                    .context("decoding the bundle payload")?;
                self.version = bundle.version;
                self.fingerprint = payload_fingerprint(&signed.payload);
                Ok(false)
            }
            None => bail!("a check-in answer with no outcome"),
        }
    }

    /// A report of 20 resources, all `none` but one `updated`, under a fresh run id.
    async fn report(&mut self) -> Result<()> {
        let results = (0..RESULTS_PER_REPORT)
            .map(|i| ResourceResult {
                configcrate: "bench".to_owned(),
                r#type: "file".to_owned(),
                name: format!("f{i:02}"),
                action: if i == 0 {
                    Action::Updated
                } else {
                    Action::None
                } as i32,
                duration_micros: 40 + i as u64,
                message: if i == 0 {
                    "content changed".to_owned()
                } else {
                    String::new()
                },
            })
            .collect();
        let body = ReportResultRequest {
            run_id: Uuid::now_v7().to_string(),
            policy_version: self.version.clone(),
            dry_run: false,
            started_at_unix: now_unix(),
            duration_micros: 12_000,
            results,
            ..Default::default()
        };
        let req = self.sign("ReportResult", body.encode_to_vec())?;
        self.client.report_result(req).await?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// run

/// What one envoy task measured.
#[derive(Default)]
struct Tally {
    /// Cycle latencies in the recorded window (µs).
    cycles: Vec<u32>,
    /// `ReportResult` latencies in the window (µs), report mode.
    reports: Vec<u32>,
    /// Check-ins in the window answered with a bundle instead of `no_change`.
    bundles: u64,
}

async fn run(
    config: &ServerConfig,
    creds: Vec<Creds>,
    mode: Mode,
    warmup: u64,
    duration: u64,
) -> Result<()> {
    let target = Target::of(config)?;
    let k = creds.len();
    // Connect every envoy and take its first bundle before the clock starts.
    let t0 = Instant::now();
    let mut joins = tokio::task::JoinSet::new();
    let target = Arc::new(target);
    for c in creds {
        let target = Arc::clone(&target);
        joins.spawn(async move {
            let mut envoy = Envoy::connect(&target, &c).await?;
            envoy.check_in().await?;
            if !envoy.check_in().await? {
                bail!(
                    "{}: the second check-in was not answered no_change",
                    c.hostname
                );
            }
            Ok(envoy)
        });
    }
    let mut envoys = Vec::with_capacity(k);
    while let Some(r) = joins.join_next().await {
        envoys.push(r.context("a connecting task failed")??);
    }
    eprintln!(
        "{k} envoys connected in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    let record_from = start + Duration::from_secs(warmup);
    let record_until = record_from + Duration::from_secs(duration);
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for mut envoy in envoys {
        let errors = Arc::clone(&errors);
        tasks.spawn(async move {
            let mut tally = Tally::default();
            loop {
                let began = Instant::now();
                if began >= record_until {
                    break;
                }
                let record = began >= record_from;
                let outcome = async {
                    let no_change = envoy.check_in().await?;
                    let mut report_us = None;
                    if mode == Mode::Report {
                        let r0 = Instant::now();
                        envoy.report().await?;
                        report_us = Some(micros(r0.elapsed()));
                    }
                    Ok::<_, anyhow::Error>((no_change, report_us))
                }
                .await;
                let took = micros(began.elapsed());
                match outcome {
                    Ok((no_change, report_us)) if record => {
                        tally.cycles.push(took);
                        tally.reports.extend(report_us);
                        tally.bundles += u64::from(!no_change);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("first error: {e:#}");
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            tally
        });
    }
    let mut cycles = Vec::new();
    let mut reports = Vec::new();
    let mut bundles = 0;
    while let Some(t) = tasks.join_next().await {
        let t = t.context("an envoy task failed")?;
        cycles.extend(t.cycles);
        reports.extend(t.reports);
        bundles += t.bundles;
    }
    let n = cycles.len();
    let rate = n as f64 / duration as f64;
    let (p50, p99, max) = percentiles(&mut cycles);
    let what = match mode {
        Mode::NoChange => "no-change check-ins",
        Mode::Report => "check-in + 20-resource report cycles",
    };
    let mut line = format!(
        "[{}] {what}: {rate:.0}/s ({n} in {duration} s after {warmup} s warm-up, {k} envoys), \
         latency p50 {p50} p99 {p99} max {max}, errors {}, bundles {bundles}",
        store_name(config),
        errors.load(Ordering::Relaxed),
    );
    if mode == Mode::Report {
        let (r50, r99, rmax) = percentiles(&mut reports);
        line.push_str(&format!(
            "; ReportResult alone p50 {r50} p99 {r99} max {rmax}"
        ));
    }
    println!("{line}");
    Ok(())
}

fn store_name(config: &ServerConfig) -> &'static str {
    match store_config(config) {
        vigo_server::store::StoreConfig::Sqlite { .. } => "SQLite",
        vigo_server::store::StoreConfig::Postgres { .. } => "PostgreSQL",
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// p50, p99 and max of the samples (µs), formatted in ms.
fn percentiles(samples: &mut [u32]) -> (String, String, String) {
    if samples.is_empty() {
        return ("-".into(), "-".into(), "-".into());
    }
    samples.sort_unstable();
    let at = |q: f64| {
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        ms(samples[i])
    };
    (at(0.50), at(0.99), ms(samples[samples.len() - 1]))
}

fn ms(us: u32) -> String {
    format!("{:.2} ms", f64::from(us) / 1000.0)
}

// ---------------------------------------------------------------------------------------
// sweep

async fn sweep(
    config: &ServerConfig,
    creds: Vec<Creds>,
    concurrency: usize,
    pid: u32,
) -> Result<()> {
    let target = Arc::new(Target::of(config)?);
    let before = rss_kib(pid)?;
    let n = creds.len();
    let creds = Arc::new(creds);
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (target, creds, next, errors) = (
            Arc::clone(&target),
            Arc::clone(&creds),
            Arc::clone(&next),
            Arc::clone(&errors),
        );
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(c) = creds.get(i) else { return };
                let once = async {
                    let mut envoy = Envoy::connect(&target, c).await?;
                    envoy.check_in().await?;
                    Ok::<_, anyhow::Error>(())
                };
                if let Err(e) = once.await
                    && errors.fetch_add(1, Ordering::Relaxed) == 0
                {
                    eprintln!("first error: {e:#}");
                }
                if (i + 1) % 20_000 == 0 {
                    eprintln!(
                        "swept {} envoys ({:.1} s)",
                        i + 1,
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.context("a sweep task failed")?;
    }
    let secs = started.elapsed().as_secs_f64();
    let errors = errors.load(Ordering::Relaxed);
    if errors > 0 {
        bail!("{errors} of {n} envoys could not check in");
    }
    // Let the fleet flush (every 5 s) run before reading the resident set.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let after = rss_kib(pid)?;
    println!(
        "[{}] {n} enrolled envoys all checked in once ({:.0} check-ins/s, each on a new mTLS \
         connection): server RSS {:.1} MB = {:.1} KB per envoy (before the sweep: {:.1} MB, \
         {:.1} KB per envoy)",
        store_name(config),
        n as f64 / secs,
        after as f64 / 1024.0,
        after as f64 / n as f64,
        before as f64 / 1024.0,
        before as f64 / n as f64,
    );
    Ok(())
}

/// `VmRSS` of `pid`, KiB.
fn rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS in {path}"))
}
