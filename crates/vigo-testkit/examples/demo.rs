//! The main-job demo (`scripts/demo.sh`): the agent converging a disposable Debian root.
//!
//! Usage: `demo PATH_TO_VIGO`. Creates a sandbox, binds the agent in, runs a short
//! convergence story (packages, a file, drift, dry-run, repair, snapshots, a user, a cron
//! job), prints every command with its output, and tears the sandbox down, proving nothing
//! is left behind.

use std::process::ExitCode;

use vigo_testkit::SandboxRoot;

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
    for (title, cmd) in STEPS {
        println!("\n\x1b[1m== {title}\x1b[0m");
        match root.run(&format!("{{ {cmd}; }} 2>&1")) {
            Ok(out) => print!("{}", out.stdout),
            Err(e) => {
                eprintln!("demo: {e}");
                return ExitCode::FAILURE;
            }
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
