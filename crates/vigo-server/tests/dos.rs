//! Unauthenticated denial of service, against the real `vigosrv` on loopback: thousands
//! of connections that never become clients, from eight source addresses
//! (127.0.0.2–9), held on both listeners while a real agent (`vigo` in a disposable
//! Debian root, enrolled with `vigo bootstrap`) checks in and the REST API answers.
//!
//! The server is started with the usual soft open-file limit of 1024 (about a
//! thousand idle connections used to exhaust it and stop every accept): it must raise
//! the limit itself. Then, per listener:
//!
//! | kind | what the client does | closed by |
//! |---|---|---|
//! | raw idle | TCP connect, nothing | `tls_handshake_timeout` |
//! | handshake trickle | a TLS record header, one byte every 500 ms | `tls_handshake_timeout` |
//! | TLS idle | a full TLS handshake, then nothing | `first_request_timeout` |
//! | request trickle | TLS, then an HTTP/2 preface or HTTP/1.1 headers one byte every 500 ms (slowloris) | `first_request_timeout` |
//! | body trickle (REST) | TLS, the headers of `POST /api/v1/register`, then its body one byte every 500 ms | `request_body_timeout` |
//! | idle after a request | TLS, one HTTP/2 request and its answer, then nothing | `idle_timeout` |
//!
//! Each connection is timed from its connect (or its answer) to the server's close, and
//! must close no earlier than its deadline and soon after it. A ninth source opens more
//! gRPC connections than `max_per_source`: exactly the excess is closed at once.
//! Everything is bounded: counts, and a deadline on every wait.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsConnector;
use vigo_testkit::SandboxRoot;

use common::{admin, listeners, start};

const VIGO: &str = "/usr/local/sbin/vigo";
const HANDSHAKE: Duration = Duration::from_secs(20);
const FIRST_REQUEST: Duration = Duration::from_secs(30);
const IDLE: Duration = Duration::from_secs(35);
const REQUEST_BODY: Duration = Duration::from_secs(15);
/// How late after its deadline a connection may close (accept backlog, timers, load).
const LATE: Duration = Duration::from_secs(10);
/// The attackers; 127.0.0.1 is the agent's and curl's.
const SOURCES: [&str; 8] = [
    "127.0.0.2",
    "127.0.0.3",
    "127.0.0.4",
    "127.0.0.5",
    "127.0.0.6",
    "127.0.0.7",
    "127.0.0.8",
    "127.0.0.9",
];
const GRPC_PER_SOURCE: u32 = 500;
const API_PER_SOURCE: u32 = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    RawIdle,
    HandshakeTrickle,
    TlsIdle,
    RequestTrickle,
    BodyTrickle,
    IdleAfterRequest,
}

impl Kind {
    /// The deadline that must close it.
    fn deadline(self) -> Duration {
        match self {
            Kind::RawIdle | Kind::HandshakeTrickle => HANDSHAKE,
            Kind::TlsIdle | Kind::RequestTrickle => FIRST_REQUEST,
            Kind::BodyTrickle => REQUEST_BODY,
            Kind::IdleAfterRequest => IDLE,
        }
    }
}

/// Connections per source: (kind, gRPC, REST).
const PLAN: [(Kind, usize, usize); 6] = [
    (Kind::RawIdle, 250, 100),
    (Kind::HandshakeTrickle, 15, 15),
    (Kind::TlsIdle, 100, 40),
    (Kind::RequestTrickle, 10, 10),
    (Kind::BodyTrickle, 0, 10),
    (Kind::IdleAfterRequest, 10, 10),
];

/// What happened to one attacking connection.
#[derive(Debug)]
struct Outcome {
    kind: Kind,
    listener: &'static str,
    /// When the client was connected (for `IdleAfterRequest`: had its answer).
    opened: Instant,
    /// When the server closed it.
    closed: Option<Instant>,
    /// Why it could not be set up.
    error: Option<String>,
}

/// The attacker's side: where to connect, how to speak TLS, what it saw.
struct Attack {
    tls: TlsConnector,
    handshakes: Semaphore,
    established: AtomicUsize,
    outcomes: Mutex<Vec<Outcome>>,
}

impl Attack {
    /// One connection of `kind` from `source` to `to`, held until the server closes it.
    async fn run(&self, kind: Kind, listener: &'static str, source: &str, to: SocketAddr) {
        let started = tokio::time::timeout(
            Duration::from_secs(60),
            self.open(kind, listener, source, to),
        );
        let (opened, stream) = match started.await {
            Ok(Ok(ok)) => ok,
            Ok(Err(e)) => return self.failed(kind, listener, e),
            Err(_) => return self.failed(kind, listener, "set-up timed out".to_owned()),
        };
        self.established.fetch_add(1, Ordering::Relaxed);
        let held =
            tokio::time::timeout(kind.deadline() + LATE + LATE, hold(kind, listener, stream));
        let closed = held.await.ok().map(|()| Instant::now());
        self.outcomes.lock().unwrap().push(Outcome {
            kind,
            listener,
            opened,
            closed,
            error: None,
        });
    }

    fn failed(&self, kind: Kind, listener: &'static str, error: String) {
        self.established.fetch_add(1, Ordering::Relaxed);
        self.outcomes.lock().unwrap().push(Outcome {
            kind,
            listener,
            opened: Instant::now(),
            closed: None,
            error: Some(error),
        });
    }

    async fn open(
        &self,
        kind: Kind,
        listener: &'static str,
        source: &str,
        to: SocketAddr,
    ) -> Result<(Instant, Conn), String> {
        let raw = matches!(kind, Kind::RawIdle | Kind::HandshakeTrickle);
        // Handshakes take turns, from the connect on: the server's deadlines run from
        // its accept, and the test's own CPU is no part of them.
        let _turn = if raw {
            None
        } else {
            Some(self.handshakes.acquire().await.map_err(|e| e.to_string())?)
        };
        let tcp = connect_from(source, to)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let connected = Instant::now();
        if raw {
            return Ok((connected, Conn::Raw(tcp)));
        }
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let tls = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake: {e}"))?;
        if kind == Kind::BodyTrickle {
            let mut tls = Box::new(tls);
            tls.write_all(
                b"POST /api/v1/register HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                  Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
            )
            .await
            .map_err(|e| format!("headers: {e}"))?;
            return Ok((connected, Conn::Tls(tls)));
        }
        if kind != Kind::IdleAfterRequest {
            return Ok((connected, Conn::Tls(Box::new(tls))));
        }
        // A real HTTP/2 client: one request, its whole answer, then silence (it answers
        // the server's pings, as any client does).
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .map_err(|e| format!("HTTP/2 handshake: {e}"))?;
        let driver = tokio::spawn(connection);
        let path = if listener == "grpc" {
            "/vigo.v1.Agent/Nothing"
        } else {
            "/api/v1/health"
        };
        let request = hyper::Request::get(format!("https://127.0.0.1{path}"))
            .header("content-type", "application/grpc")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let answer = sender
            .send_request(request)
            .await
            .map_err(|e| format!("request: {e}"))?;
        answer
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("answer: {e}"))?;
        Ok((Instant::now(), Conn::H2(driver, sender)))
    }
}

enum Conn {
    Raw(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// The HTTP/2 connection's task (ends when the server closes it) and its sender
    /// (kept, or the client would close the connection itself).
    H2(
        tokio::task::JoinHandle<hyper::Result<()>>,
        hyper::client::conn::http2::SendRequest<Empty<Bytes>>,
    ),
}

/// Keeps the connection as `kind` does until the server closes it.
async fn hold(kind: Kind, listener: &'static str, conn: Conn) {
    let trickle: &[u8] = match (kind, listener) {
        // A TLS record header of a ClientHello that never ends.
        (Kind::HandshakeTrickle, _) => &[0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x3f, 0xfc, 0x03, 0x03],
        (Kind::RequestTrickle, "grpc") => b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        (Kind::BodyTrickle, _) => &[b' '; 400],
        (Kind::RequestTrickle, _) => b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        _ => b"",
    };
    match conn {
        Conn::Raw(s) => held_until_closed(s, trickle).await,
        Conn::Tls(s) => held_until_closed(*s, trickle).await,
        Conn::H2(driver, _sender) => {
            let _ = driver.await;
        }
    }
}

/// Reads until EOF or error, writing `trickle` one byte every 500 ms meanwhile.
async fn held_until_closed<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    trickle: &[u8],
) {
    let mut buf = [0u8; 1024];
    let mut next = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            r = s.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            _ = tick.tick(), if next < trickle.len() => {
                if s.write_all(&trickle[next..=next]).await.is_err() || s.flush().await.is_err() {
                    return;
                }
                next += 1;
            }
        }
    }
}

/// Our CA trusted, HTTP/2 offered by ALPN.
fn h2_client_config(ca: &str) -> rustls::ClientConfig {
    let mut config = (*vigo_server::pki::client_config(ca, None).unwrap()).clone();
    config.alpn_protocols = vec![b"h2".to_vec()];
    config
}

async fn connect_from(source: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse().unwrap())?;
    socket.connect(to).await
}

/// `text` without ANSI colour sequences (`ESC [ … m`).
fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The agent binary, built beside `vigosrv` by the workspace build.
fn vigo_binary() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_vigosrv")).with_file_name("vigo");
    assert!(
        p.is_file(),
        "{} is missing: build the whole workspace (cargo build --workspace) first",
        p.display()
    );
    p
}

fn data_dir(dir: &Path, api: u16, grpc: u16) {
    std::fs::write(
        dir.join("server.yaml"),
        format!(
            "server:\n  grpc_listen: \"127.0.0.1:{grpc}\"\n  api_listen: \"127.0.0.1:{api}\"\n  hostname: \"127.0.0.1\"\n\
             \x20 connections:\n\
             \x20   tls_handshake_timeout: {}s\n\
             \x20   first_request_timeout: {}s\n\
             \x20   idle_timeout: {}s\n\
             \x20   request_body_timeout: {}s\n\
             \x20   grpc: {{ max_connections: 8000, max_per_source: {GRPC_PER_SOURCE} }}\n\
             \x20   api: {{ max_connections: 3000, max_per_source: {API_PER_SOURCE} }}\n\
             checkin:\n  interval: 30s\n",
            HANDSHAKE.as_secs(),
            FIRST_REQUEST.as_secs(),
            IDLE.as_secs(),
            REQUEST_BODY.as_secs()
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("stacks/configcrates")).unwrap();
    std::fs::write(
        dir.join("stacks/envoys.vgo"),
        "envoys:\n  - match: \"envoy-*\"\n    configcrates: [motd]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("stacks/configcrates/motd.vgo"),
        "configcrate: motd\nresources:\n  - name: motd\n    type: file\n    target_path: /etc/motd\n    content: \"checked in under attack\\n\"\n    state: present\n",
    )
    .unwrap();
}

#[test]
fn thousands_of_idle_and_slowloris_connections_neither_stop_check_ins_nor_rest_and_are_closed_on_time()
 {
    // The server starts with the usual soft limit; this process then takes its hard one
    // for the attacking sockets.
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    assert!(
        hard >= 8192,
        "this test needs an open-file hard limit of 8192, have {hard}"
    );
    setrlimit(Resource::RLIMIT_NOFILE, 1024, hard).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let listeners = listeners();
    let (api, grpc) = (listeners.api_port(), listeners.grpc_port());
    data_dir(dir, api, grpc);
    let server = start(dir, listeners);
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    let log = without_colours(&server.log());
    assert!(
        log.contains("open-file limit (RLIMIT_NOFILE) raised") && log.contains("before=1024"),
        "{log}"
    );

    // Enrolled before the attack; it checks in during it.
    let (code, _) = admin(
        &server,
        "POST",
        "/api/v1/patterns",
        Some(r#"{"pattern": "envoy-*", "trusted": false}"#),
    );
    assert!((200..300).contains(&code));
    let (_, token) = admin(
        &server,
        "POST",
        "/api/v1/tokens",
        Some(r#"{"expires_in": "1h"}"#),
    );
    let token = token["token"].as_str().unwrap().to_owned();
    let root = SandboxRoot::builder()
        .hostname("envoy-dos")
        .with_binary(vigo_binary(), VIGO)
        .build()
        .expect("sandbox root");
    let sh = |cmd: &str| {
        root.run_timeout(&format!("{{ {cmd}; }} 2>&1"), Duration::from_secs(120))
            .expect("run in sandbox")
    };
    let out = sh(&format!(
        "{VIGO} bootstrap --server {} --token {token} --grpc-port {grpc}",
        server.url()
    ));
    assert_eq!(out.code, Some(0), "bootstrap: {}", out.stdout);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let ca = std::fs::read_to_string(dir.join("tls/ca")).unwrap();
    let attack = Arc::new(Attack {
        tls: TlsConnector::from(Arc::new(h2_client_config(&ca))),
        handshakes: Semaphore::new(32),
        established: AtomicUsize::new(0),
        outcomes: Mutex::new(Vec::new()),
    });
    let targets = [
        ("grpc", SocketAddr::from(([127, 0, 0, 1], grpc))),
        ("rest", SocketAddr::from(([127, 0, 0, 1], api))),
    ];
    // The slow part first (TLS handshakes take turns), then the connections that cost
    // the client nothing, so that all are open together for a while.
    let mut total = 0;
    let mut tasks = Vec::new();
    let attack_started = Instant::now();
    for tls_phase in [true, false] {
        for (kind, grpc_n, rest_n) in PLAN {
            if matches!(kind, Kind::RawIdle | Kind::HandshakeTrickle) == tls_phase {
                continue;
            }
            for (listener, to) in targets {
                let n = if listener == "grpc" { grpc_n } else { rest_n };
                for source in SOURCES {
                    for _ in 0..n {
                        total += 1;
                        let attack = Arc::clone(&attack);
                        tasks.push(runtime.spawn(async move {
                            attack.run(kind, listener, source, to).await;
                        }));
                    }
                }
            }
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while attack.established.load(Ordering::Relaxed) < total {
            assert!(Instant::now() < deadline, "connections not set up in time");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let all_open = Instant::now();
    assert!(total > 4000, "{total} connections");

    // A source over its share: exactly the excess is closed at once.
    let extra = 20;
    let over: Vec<_> = (0..GRPC_PER_SOURCE as usize + extra)
        .map(|_| {
            runtime.spawn(async move {
                let mut s = connect_from("127.0.0.10", targets[0].1).await.unwrap();
                let mut byte = [0u8; 1];
                tokio::time::timeout(Duration::from_secs(3), s.read(&mut byte))
                    .await
                    .is_ok()
            })
        })
        .collect();

    // Meanwhile: the agent checks in and converges, the REST API answers.
    let run_started = Instant::now();
    let out = sh(&format!("{VIGO} run"));
    assert_eq!(out.code, Some(0), "check-in under attack: {}", out.stdout);
    assert_eq!(
        root.read_file("/etc/motd").unwrap(),
        "checked in under attack\n"
    );
    let (code, body) = server.curl("GET", "/api/v1/health", None, None);
    assert_eq!(code, 200, "REST under attack: {body}");
    let run_done = Instant::now();
    let closed_at_once = over
        .into_iter()
        .map(|t| runtime.block_on(t).unwrap())
        .filter(|closed| *closed)
        .count();
    assert_eq!(
        closed_at_once, extra,
        "the connections over max_per_source are closed at accept"
    );

    for t in tasks {
        runtime.block_on(t).unwrap();
    }
    let outcomes = std::mem::take(&mut *attack.outcomes.lock().unwrap());
    assert_eq!(outcomes.len(), total);
    let failed: Vec<_> = outcomes.iter().filter(|o| o.error.is_some()).collect();
    assert!(
        failed.is_empty(),
        "{} could not be set up, e.g. {:?}",
        failed.len(),
        failed.first()
    );
    // Held while the agent checked in: opened before, closed after.
    let held = outcomes
        .iter()
        .filter(|o| o.opened <= run_started && o.closed.is_none_or(|c| c >= run_done))
        .count();
    assert!(
        held * 10 >= total * 9,
        "{held} of {total} held during the check-in ({:?} after all were open)",
        run_started - all_open
    );
    // And each closed by the server at its deadline: not before, not long after.
    let open: Vec<_> = outcomes.iter().filter(|o| o.closed.is_none()).collect();
    assert!(
        open.is_empty(),
        "{} never closed, e.g. {:?}",
        open.len(),
        open.first()
    );
    eprintln!(
        "{total} connections open {:?} after the first; check-in {:?}; {held} held",
        all_open - attack_started,
        run_done - run_started
    );
    for o in &outcomes {
        let closed = o.closed.unwrap_or_else(|| panic!("never closed: {o:?}"));
        let lived = closed - o.opened;
        let deadline = o.kind.deadline();
        assert!(
            lived + Duration::from_millis(500) >= deadline && lived <= deadline + LATE,
            "{} {:?} closed after {lived:?}, deadline {deadline:?}",
            o.listener,
            o.kind
        );
    }
    drop(runtime);
    server.stop().unwrap();
}
