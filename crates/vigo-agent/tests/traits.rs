//! `vigo traits`: the command line, inside a sandbox whose facts differ from the host's,
//! and the cloud collector against a fake metadata service in a network namespace.

use assert_cmd::Command;
use predicates::str::contains;
use serde_json::Value;
use vigo_testkit::{Netns, SandboxRoot};

fn vigo() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin!("vigo"))
}

#[test]
fn selects_collectors_and_dot_paths() {
    let out = vigo().args(["traits", "os", "memory"]).output().unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, vec!["memory", "os"]);
    vigo()
        .args(["traits", "os.family"])
        .assert()
        .success()
        .stdout("debian\n");
    vigo()
        .args(["traits", "os.famly"])
        .assert()
        .failure()
        .code(1)
        .stderr(contains(
            "no trait at `os.famly`: `famly` not found under `os` (did you mean `family`?)",
        ));
    vigo()
        .args(["traits", "nosuch"])
        .assert()
        .failure()
        .code(1)
        .stderr(contains("unknown collector `nosuch`"));
    let timing: Value =
        serde_json::from_slice(&vigo().args(["traits", "--timing"]).output().unwrap().stdout)
            .unwrap();
    assert!(timing["_timing"]["os"].is_u64());
    assert_eq!(
        timing.as_object().unwrap().len(),
        21,
        "20 collectors and _timing"
    );
}

#[test]
fn inside_a_sandbox_the_facts_are_the_sandboxs() {
    let root = SandboxRoot::builder()
        .hostname("trait-box")
        .with_binary(env!("CARGO_BIN_EXE_vigo"), "/usr/local/sbin/vigo")
        .build()
        .unwrap();
    let out = root
        .run("useradd -m -s /bin/bash carol && vigo traits os users packages network")
        .unwrap();
    assert!(out.success(), "{}", out.stderr);
    let t: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(t["network"]["hostname"], "trait-box");
    assert!(
        t["users"]["human"]
            .as_array()
            .unwrap()
            .contains(&Value::from("carol"))
    );
    let inside = root
        .run("dpkg-query -W -f '${db:Status-Status}\\n' | grep -c '^installed$'")
        .unwrap()
        .stdout
        .trim()
        .parse::<u64>()
        .unwrap();
    assert_eq!(t["packages"]["count"], inside);
    let host: Value =
        serde_json::from_slice(&vigo().args(["traits", "packages"]).output().unwrap().stdout)
            .unwrap();
    assert_ne!(
        t["packages"]["count"], host["packages"]["count"],
        "sandbox and host differ"
    );
    assert_eq!(
        t["os"]["codename"],
        vigo_testkit::SUITE,
        "the sandbox's suite, not the host's"
    );
}

#[test]
fn cloud_reads_a_fake_metadata_service_in_a_network_namespace() {
    let ns = Netns::new("imds").unwrap();
    let setup = ns
        .run("ip addr add 169.254.169.254/32 dev lo && ip route add 169.254.0.0/16 dev lo")
        .unwrap();
    assert!(setup.success(), "{}", setup.stderr);
    let server = r#"
import http.server, json
class H(http.server.BaseHTTPRequestHandler):
    def reply(self, body):
        self.send_response(200); self.end_headers(); self.wfile.write(body.encode())
    def do_PUT(self):
        self.reply("token-123") if self.path == "/latest/api/token" else self.send_error(404)
    def do_GET(self):
        if self.headers.get("X-aws-ec2-metadata-token") != "token-123": return self.send_error(401)
        if self.path == "/latest/dynamic/instance-identity/document":
            self.reply(json.dumps({"instanceId": "i-0abc", "instanceType": "t3.micro", "region": "eu-west-1", "availabilityZone": "eu-west-1a", "accountId": "123456789012", "imageId": "ami-0def"}))
        elif self.path == "/latest/meta-data/public-ipv4": self.reply("203.0.113.7")
        else: self.send_error(404)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("169.254.169.254", 80), H)
print("up", flush=True)
s.serve_forever()
"#;
    let mut child = std::process::Command::new("ip")
        .args(["netns", "exec", ns.name(), "python3", "-c", server])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "up");
    let out = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            ns.name(),
            env!("CARGO_BIN_EXE_vigo"),
            "traits",
            "cloud",
        ])
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let t: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(t["cloud"]["provider"], "aws");
    assert_eq!(t["cloud"]["instance_id"], "i-0abc");
    assert_eq!(t["cloud"]["zone"], "eu-west-1a");
    assert_eq!(t["cloud"]["public_ip"], "203.0.113.7");
    // Off-cloud (the host): none, without any probe.
    let host: Value =
        serde_json::from_slice(&vigo().args(["traits", "cloud"]).output().unwrap().stdout).unwrap();
    assert_eq!(host["cloud"], serde_json::json!({"provider": "none"}));
    ns.close().unwrap();
}
