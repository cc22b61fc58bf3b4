use std::time::Duration;

use super::*;

const FILE: &str = "/srv/vigo/server.yaml";

fn parse(text: &str) -> Result<ServerConfig, ConfigError> {
    ServerConfig::parse(text, Path::new(FILE), Path::new("/srv/vigo"))
}

/// The error of a bad file, with its parts.
fn invalid(text: &str) -> Invalid {
    match parse(text) {
        Err(ConfigError::Invalid(i)) => *i,
        Err(e) => panic!("not an Invalid error: {e}"),
        Ok(_) => panic!("accepted: {text}"),
    }
}

#[test]
fn no_file_means_every_default() {
    let cwd = tempfile::tempdir().unwrap();
    let location = locate(None, None, cwd.path());
    assert_eq!(location.path, cwd.path().join("server.yaml"));
    let c = ServerConfig::load_from(&location, cwd.path()).unwrap();
    assert_eq!(c.source, None);
    assert_eq!(c, ServerConfig::defaults(cwd.path()));

    assert_eq!(c.server.grpc_listen, ListenAddr::any(1530));
    assert_eq!(c.server.api_listen, ListenAddr::any(8443));
    assert_eq!(c.server.hostname, None);
    assert!(c.server.tls_sans.is_empty());
    let dir = cwd.path();
    assert_eq!(c.server.data_dir, dir);
    assert_eq!(c.server.tls.cert_file, dir.join("tls/cert"));
    assert_eq!(c.server.tls.key_file, dir.join("tls/key"));
    assert_eq!(c.server.tls.ca_file, dir.join("tls/ca"));
    assert_eq!(c.server.tls.ca_key_file, Some(dir.join("tls/ca_key")));
    assert_eq!(c.server.signing_key_file, dir.join("tls/bundle_key"));

    assert_eq!(c.database.driver, DatabaseDriver::Sqlite);
    assert_eq!(c.database.url, None);
    assert_eq!(c.database.max_connections, None);
    assert_eq!(c.database.postgres_pool_size(), 8);
    assert_eq!(
        c.database_url(),
        format!("sqlite://{}/db/vigo.db?mode=rwc", dir.display())
    );

    assert_eq!(c.secrets.backend, SecretsBackend::Local);
    assert_eq!(c.secrets.secrets_dir, dir.join("secrets"));
    assert_eq!(c.secrets.master_key_file(), dir.join("secrets/.master.key"));

    assert_eq!(c.auth.method, AuthMethod::Basic);
    assert_eq!(c.auth.session_idle_timeout.get(), Duration::from_secs(900));
    assert_eq!(c.auth.min_password_length, 12);
    assert_eq!(c.auth.local_admin_token_file, dir.join("local-admin.token"));

    assert_eq!(c.checkin.interval.get(), Duration::from_secs(300));
    assert_eq!(c.checkin.bundle_max_age.get(), Duration::from_secs(86_400));
    assert!(!c.checkin.observe_only);
    assert_eq!(c.enrollment.token_ttl.get(), Duration::from_secs(86_400));
    assert_eq!(
        c.enrollment.client_cert_validity.get(),
        Duration::from_secs(365 * 86_400)
    );
    assert_eq!(c.logging.level, LogLevel::Info);
    assert_eq!(c.logging.format, LogFormat::Text);
    assert!(c.metrics.enabled && !c.metrics.require_auth);

    let n = &c.server.connections;
    assert_eq!(n.tls_handshake_timeout.get(), Duration::from_secs(10));
    assert_eq!(n.first_request_timeout.get(), Duration::from_secs(10));
    assert_eq!(n.request_body_timeout.get(), Duration::from_secs(30));
    assert_eq!(n.idle_timeout.get(), Duration::from_secs(300));
    assert_eq!(n.http2_keepalive_interval.get(), Duration::from_secs(60));
    assert_eq!(n.http2_keepalive_timeout.get(), Duration::from_secs(20));
    assert_eq!(
        (n.grpc.max_connections, n.grpc.max_per_source),
        (16_384, 512)
    );
    assert_eq!((n.api.max_connections, n.api.max_per_source), (1024, 64));

    // Tier 3: parsed, refused when switched on.
    assert!(!c.scrier.enabled);
    assert_eq!(c.scrier.allowed_ports, [22, 3389, 5900]);
    assert_eq!(c.swarm.port, 1531);
    assert_eq!(c.swarm.max_bandwidth_percent, 50);
    assert_eq!(c.swarm.curator.max_bytes, 2_147_483_648);
    assert_eq!(c.spanner.mode, SpannerMode::Standalone);
    assert_eq!(c.backup.retention.get(), Duration::from_secs(720 * 3600));
    assert_eq!(c.backup.sync_interval.get(), Duration::from_secs(1));
    assert_eq!(c.smtp.port, 587);
    assert!(!c.ai.enabled);
    assert!(!c.publish.retraction.enabled);
}

#[test]
fn an_empty_file_is_every_default() {
    for text in ["", "\n", "# nothing yet\n"] {
        assert_eq!(
            parse(text).unwrap(),
            ServerConfig::defaults(Path::new("/srv/vigo"))
        );
    }
    // An empty section is its defaults too.
    let c = parse("checkin:\nserver:\n  hostname:\n").unwrap();
    assert_eq!(c.checkin, CheckinSection::default());
    assert_eq!(c.server.hostname, None);
}

#[test]
fn the_lookup_order_is_flag_env_working_directory() {
    let cwd = Path::new("/work");
    let flag = locate(
        Some(Path::new("a.yaml")),
        Some(Path::new("/etc/b.yaml")),
        cwd,
    );
    assert_eq!(flag.path, Path::new("/work/a.yaml"));
    assert_eq!(flag.named_by, Some("--config"));
    let env = locate(None, Some(Path::new("/etc/b.yaml")), cwd);
    assert_eq!(env.path, Path::new("/etc/b.yaml"));
    assert_eq!(env.named_by, Some("$VIGO_CONFIG_FILE"));
    let empty_env = locate(None, Some(Path::new("")), cwd);
    assert_eq!(empty_env.path, Path::new("/work/server.yaml"));
    assert_eq!(empty_env.named_by, None);
}

#[test]
fn a_named_file_must_exist() {
    let cwd = tempfile::tempdir().unwrap();
    let location = locate(Some(Path::new("missing.yaml")), None, cwd.path());
    let e = ServerConfig::load_from(&location, cwd.path()).unwrap_err();
    assert!(
        matches!(e, ConfigError::NotFound { by: "--config", .. }),
        "{e}"
    );
    assert!(e.to_string().contains("missing.yaml"), "{e}");
}

#[test]
fn paths_are_relative_to_the_file_or_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.yaml");
    std::fs::write(
        &file,
        "server:\n  tls: { cert_file: certs/server.pem, ca_key_file: null }\n\
         secrets: { secrets_dir: /var/lib/vigo-secrets }\n",
    )
    .unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let c = ServerConfig::load_from(
        &locate(Some(&file), None, elsewhere.path()),
        elsewhere.path(),
    )
    .unwrap();
    assert_eq!(c.source.as_deref(), Some(file.as_path()));
    assert_eq!(c.server.data_dir, dir.path());
    assert_eq!(c.server.tls.cert_file, dir.path().join("certs/server.pem"));
    assert_eq!(c.server.tls.ca_key_file, None);
    assert_eq!(c.secrets.secrets_dir, Path::new("/var/lib/vigo-secrets"));
    assert_eq!(
        c.secrets.master_key_file(),
        Path::new("/var/lib/vigo-secrets/.master.key")
    );

    let c = parse("server: { data_dir: ./state }\n").unwrap();
    assert_eq!(c.server.data_dir, Path::new("/srv/vigo/state"));
    assert_eq!(c.server.tls.key_file, Path::new("/srv/vigo/state/tls/key"));
    let c = parse("server: { data_dir: /data }\n").unwrap();
    assert_eq!(c.server.signing_key_file, Path::new("/data/tls/bundle_key"));
}

/// spec §2.16, with the Loki URL completed.
const REFERENCE_EXAMPLE: &str = r#"
server:
  grpc_listen: ":1530"
  api_listen: ":8443"
  hostname: "cfg.lab.example.net"
  tls: { cert_file: tls/cert, key_file: tls/key, ca_file: tls/ca, ca_key_file: tls/ca_key }
  tls_sans: ["10.20.0.5"]
database:
  driver: sqlite
  dsn: "secret:vigo/db/dsn"
secrets: { backend: local, secrets_dir: /srv/vigo/secrets }
auth: { method: basic, session_idle_timeout: "15m" }
checkin: { interval: "1m", bundle_max_age: "48h", observe_only: false }
scrier: { enabled: true, guacd_addr: "127.0.0.1:4822", proxy_hostname: "127.0.0.1",
          allowed_ports: [22, 5900], max_sessions: 4, recording_enabled: false }
swarm:
  enabled: ["*", "-kiosk-*"]
  port: 1531
  max_bandwidth_percent: 30
  puddle: { enabled: ["ws-*"] }
  curator: { enabled: ["*"], max_bytes: 1073741824 }
spanner: { mode: standalone }
backup: { url: "s3://vigo-dr/lab", region: "eu-west-1",
          access_key_id: "secret:vigo/backup/key", secret_access_key: "secret:vigo/backup/secret",
          retention: "720h", sync_interval: "1s" }
integrations: { loki: { enabled: true, url: "http://loki.lab.example.net:3100" } }
smtp: { password: "secret:vigo/smtp/password",
        events: { convergence.threshold: { threshold: 95 } } }
ai: { enabled: false, provider: ollama }
publish: { retraction: { enabled: true } }
"#;

#[test]
fn the_reference_example_is_refused_at_its_first_unsupported_key() {
    let e = invalid(REFERENCE_EXAMPLE);
    assert_eq!(e.key, "scrier.enabled");
    assert_eq!((e.line, e.column), (Some(14), Some(11)));
    assert_eq!(
        e.to_string(),
        "/srv/vigo/server.yaml:14:11: `scrier.enabled`: remote access (scrier) is not \
         supported yet: set `enabled: false` or remove the section (not supported yet \
         either: `swarm.enabled`, `backup.url`, `integrations.loki.enabled`, \
         `publish.retraction.enabled`)"
    );
}

#[test]
fn the_reference_example_loads_with_its_features_switched_off() {
    let text = REFERENCE_EXAMPLE
        .replace("scrier: { enabled: true", "scrier: { enabled: false")
        .replace("enabled: [\"*\", \"-kiosk-*\"]", "enabled: []")
        .replace("backup: { url: \"s3://vigo-dr/lab\",", "backup: {")
        .replace("loki: { enabled: true", "loki: { enabled: false")
        .replace(
            "retraction: { enabled: true }",
            "retraction: { enabled: false }",
        );
    let c = parse(&text).unwrap();
    assert_eq!(c.hostname(), "cfg.lab.example.net");
    assert_eq!(c.server.tls_sans[0].ip(), Some([10, 20, 0, 5].into()));
    assert_eq!(
        c.database.url.as_ref().map(SecretText::expose),
        Some("secret:vigo/db/dsn")
    );
    assert_eq!(c.checkin.interval.get(), Duration::from_secs(60));
    assert_eq!(
        c.checkin.bundle_max_age.get(),
        Duration::from_secs(48 * 3600)
    );
    // Switched-off sections are still read and checked.
    assert_eq!(c.scrier.max_sessions, 4);
    assert_eq!(c.swarm.curator.max_bytes, 1 << 30);
    assert!(!c.integrations.loki.enabled);
    assert_eq!(
        c.smtp.events.convergence_threshold,
        Some(ConvergenceThreshold { threshold: 95 })
    );
    assert_eq!(c.ai.provider, Some(AiProvider::Ollama));
    // Only what something reads is resolved at startup: not the backup's or the mail's
    // credentials.
    assert_eq!(
        c.secret_refs(),
        [("database.url".to_owned(), "vigo/db/dsn".to_owned())]
    );
}

/// Every key that turns on a feature this server does not have, alone in a file.
const UNSUPPORTED: &[&str] = &[
    "auth:\n  method: oidc\n  oidc: { issuer: https://id.example, client_id: vigo }\n",
    "auth:\n  method: isowebauth\n",
    "auth:\n  session_idle_timeout: 30m\n",
    "auth:\n  min_password_length: 16\n",
    "secrets:\n  backend: isopass\n  url: https://isopass.example\n",
    "scrier:\n  enabled: true\n",
    "swarm:\n  enabled: [\"*\"]\n",
    "spanner:\n  mode: spanner\n",
    "peers:\n  role: standby\n  primary: cfg1.example:1530\n",
    "backup:\n  url: s3://bucket/vigo\n",
    "integrations:\n  slack: { enabled: true, url: \"secret:vigo/slack\" }\n",
    "smtp:\n  host: mail.example.net\n",
    "ai:\n  enabled: true\n  provider: ollama\n",
    "publish:\n  retraction: { enabled: true }\n",
];

#[test]
fn every_unsupported_feature_stops_the_server_naming_its_key() {
    let mut report = String::new();
    for text in UNSUPPORTED {
        let e = invalid(text);
        assert!(e.message.contains("not supported yet"), "{text:?}: {e}");
        assert!(e.line.is_some(), "{text:?}: {e}");
        let shown = e.to_string();
        assert!(!shown.contains('\n'), "one line: {shown}");
        report.push_str(&shown);
        report.push('\n');
    }
    insta::assert_snapshot!(report);
}

#[test]
fn the_first_unsupported_key_in_the_file_is_named_and_the_others_listed() {
    let e = invalid("ai: { enabled: true }\nauth:\n  method: oidc\nscrier: { enabled: true }\n");
    assert_eq!(e.key, "ai.enabled");
    assert_eq!(
        e.hint.as_deref(),
        Some("not supported yet either: `auth.method`, `scrier.enabled`")
    );
}

#[test]
fn sections_at_their_defaults_or_switched_off_are_accepted() {
    let text = "auth: { method: basic, session_idle_timeout: 15m, min_password_length: 12,\
                  oidc: { issuer: https://id.example, client_id: vigo } }\n\
                secrets: { backend: local, url: https://isopass.example }\n\
                scrier: { enabled: false, max_sessions: 2 }\n\
                swarm: { enabled: [], puddle: { enabled: [\"ws-*\"] } }\n\
                spanner: { mode: standalone }\npeers: { role: none }\n\
                backup: { retention: 24h }\n\
                integrations: { loki: { enabled: false, url: \"http://loki:3100\" } }\n\
                smtp: { password: \"secret:vigo/smtp\", to: [ops@example.net] }\n\
                ai: { enabled: false, provider: claude }\npublish: { retraction: { enabled: false } }\n";
    let c = parse(text).unwrap();
    assert_eq!(c.scrier.max_sessions, 2);
    assert!(c.secret_refs().is_empty(), "{:?}", c.secret_refs());
}

#[test]
fn sqlite_has_no_pool_size_to_set() {
    let e = invalid("database:\n  max_connections: 16\n");
    assert_eq!(
        (e.key.as_str(), e.line),
        ("database.max_connections", Some(2))
    );
    assert!(e.message.contains("only PostgreSQL"), "{e}");
    let c =
        parse("database: { driver: postgres, url: \"postgres://db/vigo\", max_connections: 16 }\n")
            .unwrap();
    assert_eq!(c.database.postgres_pool_size(), 16);
}

#[test]
fn connection_limits_take_partial_budgets_and_refuse_zero() {
    let c =
        parse("server:\n  connections:\n    idle_timeout: 2m\n    grpc: { max_per_source: 100 }\n")
            .unwrap();
    let n = &c.server.connections;
    assert_eq!(n.idle_timeout.get(), Duration::from_secs(120));
    assert_eq!(
        (n.grpc.max_connections, n.grpc.max_per_source),
        (16_384, 100)
    );
    assert_eq!((n.api.max_connections, n.api.max_per_source), (1024, 64));

    let e = invalid("server:\n  connections:\n    tls_handshake_timeout: 0s\n");
    assert_eq!(e.key, "server.connections.tls_handshake_timeout");
    assert_eq!(e.line, Some(3));
    assert!(e.message.contains("cannot be switched off"), "{e}");
    let e =
        invalid("server:\n  connections:\n    api: { max_connections: 10, max_per_source: 11 }\n");
    assert_eq!(e.key, "server.connections.api.max_per_source");
    assert!(
        e.message.contains("from 1 to `max_connections` (10)"),
        "{e}"
    );
    let e = invalid("server:\n  connections:\n    grpc: { max_conections: 10 }\n");
    assert_eq!(e.key, "server.connections.grpc.max_conections");
    assert_eq!(e.hint.as_deref(), Some("did you mean `max_connections`?"));
}

#[test]
fn the_documented_example_loads() {
    let doc = include_str!("../../../../docs/server.md");
    let start = doc
        .find("<!-- full example -->\n```yaml\n")
        .expect("docs/server.md has a full example");
    let body = &doc[start..];
    let body = &body[body.find("```yaml\n").unwrap() + 8..];
    let example = &body[..body.find("```").unwrap()];
    let c = parse(example).unwrap_or_else(|e| panic!("docs/server.md example: {e}"));
    assert_eq!(c.database.driver, DatabaseDriver::Postgres);
    assert_eq!(c.checkin.interval.get(), Duration::from_secs(60));
    assert_eq!(c.server.connections.api.max_per_source, 32);
}

#[test]
fn durations_take_go_forms_and_zero() {
    let c = parse(
        "checkin: { interval: 1h30m, bundle_max_age: 0 }\n\
         server: { connections: { first_request_timeout: 1500ms } }\n",
    )
    .unwrap();
    assert_eq!(c.checkin.interval.get(), Duration::from_secs(5400));
    assert!(c.checkin.bundle_max_age.is_zero());
    assert_eq!(
        c.server.connections.first_request_timeout.get(),
        Duration::from_millis(1500)
    );
}

#[test]
fn a_bad_duration_names_file_line_key_and_form() {
    let e = invalid("checkin:\n  interval: 5x\n");
    assert_eq!((e.line, e.column), (Some(2), Some(13)));
    assert_eq!(e.key, "checkin.interval");
    assert_eq!(
        e.to_string(),
        "/srv/vigo/server.yaml:2:13: `checkin.interval`: expected a duration like \"30s\", \"5m\", \
         \"24h\" or \"1h30m\" (units ms, s, m, h, d; a bare number is seconds), found \"5x\""
    );
    let e = invalid("checkin:\n  bundle_max_age: -5\n");
    assert_eq!(e.key, "checkin.bundle_max_age");
    assert!(e.message.contains("must not be negative"), "{e}");
    let e = invalid("checkin:\n  interval: 0s\n");
    assert_eq!((e.key.as_str(), e.line), ("checkin.interval", Some(2)));
    assert!(e.message.contains("at least 1s"), "{e}");
}

#[test]
fn each_bad_value_says_what_was_expected() {
    let cases: &[(&str, &str, u32, &str)] = &[
        (
            "server:\n  grpc_listen: 1530\n",
            "server.grpc_listen",
            2,
            "invalid listen address \"1530\": expected \":PORT\", \"IP:PORT\" or \"[IPv6]:PORT\"",
        ),
        (
            "server:\n  hostname: \"not a host\"\n",
            "server.hostname",
            2,
            "expected an IP address or a DNS name",
        ),
        (
            "server:\n  tls_sans: [ok.example, \"bad name\"]\n",
            "server.tls_sans[1]",
            2,
            "invalid name \"bad name\"",
        ),
        (
            "swarm:\n  port: 99999\n",
            "swarm.port",
            2,
            "expected a whole number from 0 to 65535",
        ),
        (
            "swarm:\n  max_bandwidth_percent: 0\n",
            "swarm.max_bandwidth_percent",
            2,
            "expected a percentage from 1 to 100",
        ),
        (
            "checkin:\n  observe_only: maybe\n",
            "checkin.observe_only",
            2,
            "expected true or false",
        ),
        ("checkin: 5\n", "checkin", 1, "expected a mapping"),
        (
            "logging:\n  level: loud\n",
            "logging.level",
            2,
            "unknown value `loud`: expected one of `trace`, `debug`, `info`, `warn`, `error`",
        ),
        (
            "database:\n  driver: postgres\n",
            "database.url",
            1,
            "required with `driver: postgres`",
        ),
        (
            "database:\n  driver: postgres\n  url: sqlite://x.db\n",
            "database.url",
            3,
            "does not match `driver: postgres`",
        ),
        (
            "database:\n  max_connections: 0\n",
            "database.max_connections",
            2,
            "must be at least 1",
        ),
        (
            "secrets:\n  backend: isopass\n",
            "secrets.backend",
            2,
            "not supported yet",
        ),
        (
            "auth:\n  method: oidc\n",
            "auth.method",
            2,
            "not supported yet",
        ),
        (
            "auth:\n  oidc: { client_id: vigo }\n",
            "auth.oidc",
            2,
            "missing field `issuer`",
        ),
        (
            "enrollment:\n  client_cert_validity: 10m\n",
            "enrollment.client_cert_validity",
            2,
            "must be at least 1h",
        ),
        (
            "spanner:\n  role: hub\n",
            "spanner.role",
            2,
            "retired: use `spanner.mode: spanner`",
        ),
        (
            "smtp:\n  events: { convergence.threshold: { threshold: 101 } }\n",
            "smtp.events.convergence.threshold.threshold",
            2,
            "expected a percentage from 0 to 100",
        ),
    ];
    for (text, key, line, message) in cases {
        let e = invalid(text);
        assert_eq!(e.key, *key, "{text:?}: {e}");
        assert_eq!(e.line, Some(*line), "{text:?}: {e}");
        assert!(e.message.contains(message), "{text:?}: {e}");
        assert!(e.to_string().starts_with(FILE), "{e}");
    }
}

#[test]
fn syntax_errors_and_duplicates_have_a_line() {
    let e = invalid("server:\n  hostname: [a\n");
    assert!(e.line.is_some(), "{e}");
    let e = invalid("checkin:\n  interval: 1m\n  interval: 2m\n");
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.message.contains("duplicate"), "{e}");
    let e = invalid("- server\n");
    assert!(
        e.message
            .contains("expected a mapping of sections, found a list"),
        "{e}"
    );
}

#[test]
fn unknown_keys_are_errors_with_did_you_mean() {
    let e = invalid("checkin:\n  intervl: 5m\n");
    assert_eq!(e.key, "checkin.intervl");
    assert_eq!((e.line, e.column), (Some(2), Some(3)));
    assert_eq!(e.hint.as_deref(), Some("did you mean `interval`?"));
    assert_eq!(
        e.to_string(),
        "/srv/vigo/server.yaml:2:3: `checkin.intervl`: unknown key `intervl`: expected one of \
         `interval`, `bundle_max_age`, `observe_only` (did you mean `interval`?)"
    );
    let e = invalid("chekin:\n  interval: 5m\n");
    assert_eq!(e.key, "chekin");
    assert_eq!(e.hint.as_deref(), Some("did you mean `checkin`?"));
    let e = invalid("server:\n  tls:\n    cert: x\n");
    assert_eq!((e.key.as_str(), e.line), ("server.tls.cert", Some(3)));
    assert!(e.message.contains("`cert_file`"), "{e}");
    let e = invalid("database:\n  driver: postgress\n  url: postgres://db/vigo\n");
    assert_eq!(e.hint.as_deref(), Some("did you mean `postgres`?"), "{e}");
    // Nothing close: no guess.
    let e = invalid("telemetry: {}\n");
    assert_eq!(e.key, "telemetry");
    assert_eq!(e.hint, None);
}

#[test]
fn dsn_is_another_name_for_url() {
    let c = parse("database: { driver: postgresql, dsn: \"postgres://vigo@db/vigo\" }\n").unwrap();
    assert_eq!(c.database.driver, DatabaseDriver::Postgres);
    assert_eq!(c.database_url(), "postgres://vigo@db/vigo");
}

#[test]
fn secret_references_resolve_or_fail_naming_the_reference() {
    let text = "database: { driver: postgres, url: \"secret:vigo/db/dsn\" }\n\
                smtp: { password: plain-text-password }\n";
    let mut c = parse(text).unwrap();
    assert_eq!(
        c.secret_refs(),
        [("database.url".to_owned(), "vigo/db/dsn".to_owned())]
    );
    let mut failing = c.clone();
    let e = failing
        .resolve_secrets(|_| Err("file not found".into()))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "server config: resolving secret 'vigo/db/dsn' for `database.url`: file not found"
    );

    let tmp = tempfile::tempdir().unwrap();
    let store =
        LocalSecrets::open(&tmp.path().join("s"), &tmp.path().join("s/.master.key")).unwrap();
    store
        .set("vigo/db/dsn", "postgres://vigo:pw@db/vigo")
        .unwrap();
    c.resolve_secrets_from(&store).unwrap();
    assert_eq!(c.database_url(), "postgres://vigo:pw@db/vigo");
    assert_eq!(
        c.smtp.password.as_ref().map(SecretText::expose),
        Some("plain-text-password")
    );
    assert!(c.secret_refs().is_empty());
    // Resolved values never show in Debug output.
    let shown = format!("{c:?}");
    assert!(!shown.contains("pw@db"), "{shown}");
    assert!(!shown.contains("plain-text-password"), "{shown}");
}

#[test]
fn hostname_falls_back_to_the_os() {
    let c = parse("").unwrap();
    assert!(!c.hostname().is_empty());
    let c = parse("server: { hostname: Cfg.Example.Net }\n").unwrap();
    assert_eq!(c.hostname(), "cfg.example.net");
}

#[test]
fn retention_has_defaults_and_refuses_what_cannot_work() {
    let c = parse("").unwrap();
    assert_eq!(c.retention.runs.get(), Duration::from_secs(30 * 86_400));
    assert_eq!(c.retention.prune_interval.get(), Duration::from_secs(60));
    assert_eq!(c.retention.prune_batch, 100);
    let c = parse("retention: { runs: 0 }\n").unwrap();
    assert!(c.retention.runs.get().is_zero(), "0 keeps runs forever");
    let c = parse("retention: { runs: 90d, prune_batch: 500 }\n").unwrap();
    assert_eq!(c.retention.runs.get(), Duration::from_secs(90 * 86_400));
    let e = invalid("retention:\n  prune_batch: 0\n");
    assert_eq!(e.key, "retention.prune_batch");
    assert!(e.message.contains("1 to 10000"), "{e}");
    let e = invalid("retention:\n  prune_interval: 0s\n");
    assert_eq!(e.key, "retention.prune_interval");
    let e = invalid("retention:\n  run: 3d\n");
    assert!(e.message.contains("runs"), "did you mean: {e}");
}
