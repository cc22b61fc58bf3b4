//! The main-job demo (`scripts/demo.sh`): the agent converging a disposable Debian root.
//!
//! Usage: `demo PATH_TO_VIGO [STACKS_DIR [PATH_TO_VIGOSRV]]`. Creates a sandbox, binds the
//! agent in, runs a short convergence story (packages, a file, drift, dry-run, repair,
//! snapshots, a user, a cron job), then — given a stacks tree — copies it in and converges
//! it masterless with `vigo apply`, and — given the server — starts `vigosrv` on loopback
//! with embedded SQLite and that tree, enrolls the sandbox with `vigo bootstrap` and a
//! one-time token, converges it with `vigo run`, and shows the results through the REST
//! API. Prints every command with its output, and tears everything down, proving nothing
//! is left behind.

use std::path::Path;
use std::process::ExitCode;

use vigo_testkit::SandboxRoot;

#[path = "support/server.rs"]
mod server;
use server::Server;

const STEPS: &[(&str, &str)] = &[
    (
        "The agent inside a fresh Debian root",
        "vigo version && vigo status",
    ),
    (
        "Preview: install tree and less (dry-run changes nothing)",
        "vigo resource package web-tools --attrs '{\"package\": \"tree, less\", \"state\": \"present\", \"flags\": \"--no-install-recommends\"}' --dry-run; dpkg-query -W tree 2>&1 | tail -1",
    ),
    (
        "Converge: one apt-get call for both packages",
        "vigo resource package web-tools --attrs '{\"package\": \"tree, less\", \"state\": \"present\", \"flags\": \"--no-install-recommends\"}' && tree --version",
    ),
    (
        "A managed file: created, then a second run is a no-op",
        "A='{\"target_path\": \"/etc/motd\", \"content\": \"Managed by Vigo.\\n\", \"mode\": \"0644\", \"state\": \"present\"}'; vigo resource file motd --attrs \"$A\"; vigo resource file motd --attrs \"$A\"; cat /etc/motd",
    ),
    (
        "Drift: someone edits it; dry-run reports, the real run repairs",
        "A='{\"target_path\": \"/etc/motd\", \"content\": \"Managed by Vigo.\\n\", \"mode\": \"0644\", \"state\": \"present\"}'; echo 'hand edit' > /etc/motd; vigo resource file motd --attrs \"$A\" --dry-run; cat /etc/motd; vigo resource file motd --attrs \"$A\"; cat /etc/motd",
    ),
    (
        "The overwritten content was snapshotted first",
        "vigo snapshots list /etc/motd",
    ),
    (
        "A user with a SHA-512-crypt password and a cron job",
        "vigo resource user alice --attrs '{\"username\": \"alice\", \"shell\": \"/bin/bash\", \"password\": \"s3cret\", \"groups\": \"adm\", \"state\": \"present\"}' && getent passwd alice && id alice; vigo resource cron backup --attrs '{\"command\": \"/usr/local/bin/backup\", \"schedule\": \"@daily\", \"state\": \"present\"}' && cat /etc/cron.d/backup",
    ),
    (
        "Guardrails: the agent refuses to remove itself",
        "vigo resource file self --attrs '{\"target_path\": \"/usr/local/sbin/vigo\", \"state\": \"absent\"}'; echo \"exit code $?\"",
    ),
];

/// The masterless part, on the example stack copied to /srv/stacks.
const STACK_STEPS: &[(&str, &str)] = &[
    (
        "Masterless: the example stack, previewed for a production web server",
        "vigo apply /srv/stacks --hostname web-01.prod.example.net --dry-run",
    ),
    (
        "Converge its baseline configcrate (packages, /etc/motd from a template)",
        "vigo apply /srv/stacks --hostname web-01.prod.example.net --configcrate baseline; cat /etc/motd",
    ),
    (
        "Again: nothing to do",
        "vigo apply /srv/stacks --hostname web-01.prod.example.net --configcrate baseline",
    ),
];

/// Pretty JSON, or the text as it is.
fn pretty(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| text.to_owned())
}

/// The server part of the story: enroll the sandbox, converge it, read the results.
fn server_story(root: &SandboxRoot, server: &Server) -> Result<(), String> {
    let title = |t: &str| println!("\n\x1b[1m== {t}\x1b[0m");
    let run = |cmd: &str| -> Result<(), String> {
        println!("$ {cmd}");
        let out = root
            .run(&format!("{{ {cmd}; }} 2>&1"))
            .map_err(|e| e.to_string())?;
        print!("{}", out.stdout);
        Ok(())
    };
    let rest = |method: &str, path: &str, body: Option<&str>| -> Result<String, String> {
        println!("$ curl -X {method} {}{path}", server.url());
        let (code, text) = server.curl(method, path, body);
        println!("{code} {}", pretty(&text));
        if (200..300).contains(&code) {
            Ok(text)
        } else {
            Err(format!("{method} {path} answered {code}"))
        }
    };
    title("vigosrv: embedded SQLite, its own CA, the example stack published at start");
    rest("GET", "/api/v1/config/version", None)?;
    title("The operator approves demo-* hostnames and makes a one-time enrollment token");
    rest("POST", "/api/v1/patterns", Some(r#"{"pattern": "demo-*"}"#))?;
    let token = rest("POST", "/api/v1/tokens", Some(r#"{"expires_in": "1h"}"#))?;
    let token = serde_json::from_str::<serde_json::Value>(&token)
        .ok()
        .and_then(|v| v["token"].as_str().map(str::to_owned))
        .ok_or("no token in the answer")?;
    title("The envoy bootstraps: keys, CSR, registration; the server signs its certificate");
    run(&format!(
        "vigo bootstrap --server {} --token {token} --grpc-port {}",
        server.url(),
        server.grpc
    ))?;
    title("A reused token is refused");
    run(&format!(
        "vigo bootstrap --server {} --token {token} --grpc-port {} --force; echo \"exit code $?\"",
        server.url(),
        server.grpc
    ))?;
    title("vigo run: check in over gRPC/mTLS, verify the signed bundle, converge (ops users)");
    run("vigo run --configcrate ops-users; getent passwd alice bob")?;
    title("Again: nothing to do");
    run("vigo run --configcrate ops-users")?;
    run("vigo status")?;
    title("The results, through the REST API");
    let runs = rest("GET", "/api/v1/envoys/demo-envoy/runs?limit=2", None)?;
    if let Some(id) = serde_json::from_str::<serde_json::Value>(&runs)
        .ok()
        .and_then(|v| v[1]["id"].as_str().map(str::to_owned))
    {
        rest("GET", &format!("/api/v1/runs/{id}"), None)?;
    }
    Ok(())
}

/// Copies the files under `from` into the sandbox at `to`.
fn copy_tree(root: &SandboxRoot, from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(root.host_path(&target))?;
            copy_tree(root, &entry.path(), &target)?;
        } else {
            root.write_file(&target, std::fs::read(entry.path())?)
                .map_err(std::io::Error::other)?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let Some(vigo) = std::env::args().nth(1) else {
        eprintln!("usage: demo PATH_TO_VIGO");
        return ExitCode::from(2);
    };
    let root = match SandboxRoot::builder()
        .hostname("demo-envoy")
        .with_binary(&vigo, "/usr/local/sbin/vigo")
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("demo: cannot create the sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut steps: Vec<(&str, &str)> = STEPS.to_vec();
    if let Some(stacks) = std::env::args().nth(2) {
        let copied = std::fs::create_dir_all(root.host_path("/srv/stacks"))
            .and_then(|()| copy_tree(&root, Path::new(&stacks), Path::new("/srv/stacks")));
        if let Err(e) = copied {
            eprintln!("demo: cannot copy {stacks} into the sandbox: {e}");
            return ExitCode::FAILURE;
        }
        steps.extend_from_slice(STACK_STEPS);
    }
    for (title, cmd) in steps {
        println!("\n\x1b[1m== {title}\x1b[0m");
        match root.run(&format!("{{ {cmd}; }} 2>&1")) {
            Ok(out) => print!("{}", out.stdout),
            Err(e) => {
                eprintln!("demo: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let (Some(stacks), Some(vigosrv)) = (std::env::args().nth(2), std::env::args().nth(3)) {
        let story = Server::start(&vigosrv, Path::new(&stacks))
            .and_then(|server| server_story(&root, &server));
        if let Err(e) = story {
            eprintln!("demo: {e}");
            return ExitCode::FAILURE;
        }
    }
    let footprint = root.footprint().clone();
    println!("\n\x1b[1m== Tearing the sandbox down\x1b[0m");
    if let Err(e) = root.close() {
        eprintln!("demo: teardown: {e}");
        return ExitCode::FAILURE;
    }
    let left = footprint.leftovers();
    if left.is_empty() {
        println!("nothing left behind on the host");
        ExitCode::SUCCESS
    } else {
        eprintln!("demo: left behind: {left:?}");
        ExitCode::FAILURE
    }
}
