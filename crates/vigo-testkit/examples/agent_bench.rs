//! The agent's lifecycle benchmark (`bench/agent.sh`): a real `vigosrv` on loopback with
//! the example stack, and the agent enrolled inside a disposable Debian root.
//!
//! Usage: `agent_bench PATH_TO_VIGO PATH_TO_VIGOSRV STACKS_DIR`. Measures
//! 1. the agent CPU (user + system) of `vigo run` once everything has converged: one
//!    no-change check-in plus a no-op convergence of the example stack;
//! 2. the resident memory of `vigo daemon` idling between check-ins.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use vigo_testkit::SandboxRoot;

#[path = "support/server.rs"]
mod server;
use server::Server;

const RUNS: usize = 20;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, vigo, vigosrv, stacks] = args.as_slice() else {
        eprintln!("usage: agent_bench PATH_TO_VIGO PATH_TO_VIGOSRV STACKS_DIR");
        return ExitCode::from(2);
    };
    match bench(vigo, vigosrv, Path::new(stacks)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agent_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn bench(vigo: &str, vigosrv: &str, stacks: &Path) -> Result<(), String> {
    let server = Server::start(vigosrv, stacks)?;
    let root = SandboxRoot::builder()
        .hostname("bench-envoy")
        .with_binary(vigo, "/usr/local/sbin/vigo")
        .build()
        .map_err(|e| e.to_string())?;
    let sh = |cmd: &str| -> Result<String, String> {
        let out = root
            .run_timeout(&format!("{{ {cmd}; }} 2>&1"), Duration::from_secs(900))
            .map_err(|e| e.to_string())?;
        Ok(out.stdout)
    };
    let ok = |code: u16, what: &str| {
        if (200..300).contains(&code) {
            Ok(())
        } else {
            Err(format!("{what}: HTTP {code}"))
        }
    };
    let (code, _) = server.curl(
        "POST",
        "/api/v1/patterns",
        Some(r#"{"pattern": "bench-*"}"#),
    );
    ok(code, "approving bench-*")?;
    let (code, text) = server.curl("POST", "/api/v1/tokens", Some(r#"{"expires_in": "1h"}"#));
    ok(code, "making a token")?;
    let token = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["token"].as_str().map(str::to_owned))
        .ok_or("no token in the answer")?;
    print!(
        "{}",
        sh(&format!(
            "vigo bootstrap --server {} --token {token} --grpc-port {}",
            server.url(),
            server.grpc
        ))?
    );
    println!("== first convergence of the example stack (installs packages)");
    print!("{}", sh("vigo run | tail -3")?);
    sh("vigo run >/dev/null")?;

    println!("== {RUNS} runs: no-change check-in + no-op convergence, agent CPU (user+sys)");
    let mut cpu_ms = Vec::new();
    for _ in 0..RUNS {
        // bash's `times`: the second line is the children's user and system time.
        let out = sh("bash -c 'vigo run >/dev/null 2>&1; times' | tail -1")?;
        cpu_ms.push(parse_times(&out).ok_or_else(|| format!("cannot read `times`: {out}"))?);
    }
    cpu_ms.sort_by(f64::total_cmp);
    let mean = cpu_ms.iter().sum::<f64>() / cpu_ms.len() as f64;
    println!(
        "agent CPU per run: mean {mean:.1} ms, median {:.1} ms, min {:.1} ms, max {:.1} ms",
        cpu_ms[cpu_ms.len() / 2],
        cpu_ms[0],
        cpu_ms[cpu_ms.len() - 1]
    );
    print!("{}", sh("vigo run 2>&1 | tail -1")?);

    println!("== the daemon, idle between check-ins");
    let pid = sh("vigo daemon >/dev/null 2>&1 & echo $!")?;
    let pid = pid.trim();
    std::thread::sleep(Duration::from_secs(10));
    print!(
        "{}",
        sh(&format!("grep -E 'VmRSS|VmHWM|Threads' /proc/{pid}/status"))?
    );
    sh(&format!("kill {pid}"))?;
    root.close().map_err(|e| e.to_string())?;
    Ok(())
}

/// `0m0.012s 0m0.008s` → 20.0 (milliseconds, user + system).
fn parse_times(line: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut n = 0;
    for part in line.split_whitespace() {
        let (m, s) = part.trim_end_matches('s').split_once('m')?;
        total += m.parse::<f64>().ok()? * 60_000.0 + s.parse::<f64>().ok()? * 1_000.0;
        n += 1;
    }
    (n == 2).then_some(total)
}
