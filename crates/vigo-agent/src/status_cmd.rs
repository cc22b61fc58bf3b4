//! `vigo status`: the agent's local state, read from the config and the LMDB state store
//! only — it never contacts the server, so it works while the server is unreachable.
//!
//! The layout is the reference's, byte for byte (including its column quirks: `Envoy ID:`
//! and `Configcrates:` are padded differently from their neighbours). When the state
//! store cannot be opened (e.g. a non-root user), the degraded form is printed.
//!
//! The cached bundle is shown only once it verifies against the pinned key, with the
//! converge path's own check ([`crate::converge::verify_cached`]): a bundle that does not
//! (tampered, signed by another key, no key pinned) is the one-line
//! `Policy:           (cached bundle does not verify: …)`, never its claimed version.
//! A `Rejected results:` line follows `Pending results:` once the server has refused a
//! report for good.
//! One line is added after the reference's last, when the envoy has a client certificate:
//! `Client cert:` with its expiry, and `renewal due` in the last third of its lifetime
//! (see [`crate::renew`]).

use std::fmt::Write as _;
use std::path::PathBuf;

use vigo_core::signing;
use vigo_proto::v1::PolicyBundle;

use crate::converge::{CachedBundleError, verify_cached};
use crate::enroll::{SERVER_PUB, load_pinned_key};
use crate::renew::{CertValidity, readable_time};
use crate::settings::{Settings, ShownSetting};
use crate::state::{Rejected, StateError, StateStore};

/// Everything `vigo status` shows, gathered before rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusView {
    /// Envoy UUID, when registered.
    pub envoy_id: Option<String>,
    /// Server gRPC address.
    pub server: String,
    /// Bolt address, when routed by a spanner hub.
    pub bolt: Option<String>,
    /// Fallback gRPC addresses.
    pub fallback_servers: Vec<String>,
    /// The agent's data directory.
    pub data_dir: PathBuf,
    /// The state store directory.
    pub state_dir: PathBuf,
    /// The settings that have a flag, with their values and origins.
    pub settings: Vec<ShownSetting>,
    /// What the state store holds, or why it could not be read.
    pub store: Result<StoreView, String>,
    /// Whether the server's bundle-signing key is pinned locally.
    pub server_pubkey: bool,
    /// The client certificate (`None`: no certificate file, not enrolled), or why it
    /// cannot be read.
    pub client_cert: Option<Result<ClientCertView, String>>,
}

/// The client certificate's expiry, as of the status time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertView {
    /// When it expires (Unix seconds).
    pub not_after: i64,
    /// When its renewal is due (Unix seconds).
    pub renew_at: i64,
    /// It is in the last third of its lifetime: the next check-in renews it.
    pub renewal_due: bool,
    /// It has expired: the server refuses it; the envoy must enroll again.
    pub expired: bool,
}

/// The parts of the status that come from the state store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreView {
    /// The cached bundle.
    pub policy: CachedPolicy,
    /// The trait cache: number of collectors and age in seconds.
    pub traits: Option<(usize, u64)>,
    /// Results waiting to be reported.
    pub pending_results: u64,
    /// Reports the server refused for good (moved aside).
    pub rejected: Rejected,
}

/// The cached bundle, as far as it can be trusted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CachedPolicy {
    /// No bundle is cached.
    #[default]
    None,
    /// A bundle that verifies against the pinned key.
    Verified(PolicyView),
    /// A bundle that does not verify (why): the agent refuses it, so it is not shown.
    DoesNotVerify(String),
}

impl CachedPolicy {
    /// The verified bundle, if that is what is cached.
    pub fn verified(&self) -> Option<&PolicyView> {
        match self {
            CachedPolicy::Verified(p) => Some(p),
            _ => None,
        }
    }
}

/// The cached bundle's details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyView {
    /// Published version.
    pub version: String,
    /// The match pattern that selected the bundle.
    pub match_pattern: String,
    /// Environment ("" when none).
    pub environment: String,
    /// Roles.
    pub roles: Vec<String>,
    /// Configcrates with their resources (type, name), in order.
    pub configcrates: Vec<(String, Vec<(String, String)>)>,
    /// Max age in seconds (0 = never expires).
    pub max_age_secs: u64,
    /// The bundle is older than its max age: convergence is stopped.
    pub expired: bool,
}

/// Gathers the status from the settings, the state store and the data directory.
pub fn gather(settings: &Settings, now_unix: i64) -> StatusView {
    StatusView {
        envoy_id: settings.envoy_id.clone(),
        server: settings.server.clone(),
        bolt: settings.bolt.clone(),
        fallback_servers: settings.fallback_servers.clone(),
        data_dir: settings.data_dir.clone(),
        state_dir: settings.state_dir.clone(),
        settings: settings
            .shown()
            .into_iter()
            .filter(|s| s.has_flag)
            .collect(),
        store: read_store(settings, now_unix),
        server_pubkey: settings.data_dir.join(SERVER_PUB).is_file(),
        client_cert: client_cert(settings, now_unix),
    }
}

fn client_cert(settings: &Settings, now_unix: i64) -> Option<Result<ClientCertView, String>> {
    match CertValidity::read(&settings.cert_file) {
        Ok(None) => None,
        Ok(Some(v)) => Some(Ok(ClientCertView {
            not_after: v.not_after,
            renew_at: v.renew_at(),
            renewal_due: v.renewal_due(now_unix),
            expired: v.expired(now_unix),
        })),
        Err(e) => Some(Err(e.to_string())),
    }
}

fn read_store(settings: &Settings, now_unix: i64) -> Result<StoreView, String> {
    if !settings.state_dir.exists() {
        // Never converged yet: an empty store, not a broken one.
        return Ok(StoreView::default());
    }
    let store = StateStore::open_read_only(&settings.state_dir).map_err(|e| reason(&e))?;
    let policy = match store.bundle().map_err(|e| reason(&e))? {
        None => CachedPolicy::None,
        Some(stamped) => check_policy(settings, &stamped.bytes, now_unix),
    };
    let traits = store.traits().map_err(|e| reason(&e))?.map(|t| {
        let collectors =
            serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&t.bytes)
                .map(|m| m.keys().filter(|k| !k.starts_with('_')).count())
                .unwrap_or(0);
        (collectors, u64::try_from(now_unix - t.at_unix).unwrap_or(0))
    });
    let pending_results = store.pending_results().map_err(|e| reason(&e))?;
    let rejected = store.rejected().map_err(|e| reason(&e))?;
    Ok(StoreView {
        policy,
        traits,
        pending_results,
        rejected,
    })
}

/// Verifies the cached bundle as the converge path does, then reads what it shows.
fn check_policy(settings: &Settings, signed: &[u8], now_unix: i64) -> CachedPolicy {
    let key_path = settings.data_dir.join(SERVER_PUB);
    let pinned = match load_pinned_key(&key_path) {
        Ok(key) => key,
        Err(e) => return CachedPolicy::DoesNotVerify(crate::client::error_chain(&e)),
    };
    match verify_cached(signed, pinned.as_ref(), &key_path) {
        Ok((_, bundle)) => CachedPolicy::Verified(policy_view(bundle, now_unix)),
        Err(CachedBundleError::Unreadable(e)) => {
            CachedPolicy::DoesNotVerify(format!("unreadable: {e}"))
        }
        Err(CachedBundleError::NoPinnedKey(path)) => {
            CachedPolicy::DoesNotVerify(format!("no pinned server key ({})", path.display()))
        }
        Err(CachedBundleError::DoesNotVerify(e)) => CachedPolicy::DoesNotVerify(e.to_string()),
    }
}

fn policy_view(b: PolicyBundle, now_unix: i64) -> PolicyView {
    let expired = signing::check_age(&b, now_unix).is_err();
    PolicyView {
        version: b.version,
        match_pattern: b.match_pattern,
        environment: b.environment,
        roles: b.roles,
        configcrates: b
            .configcrates
            .into_iter()
            .map(|c| {
                (
                    c.name,
                    c.resources
                        .into_iter()
                        .map(|r| (r.r#type, r.name))
                        .collect(),
                )
            })
            .collect(),
        max_age_secs: b.max_age_secs,
        expired,
    }
}

/// The short, lowercase reason the reference shows ("permission denied").
fn reason(e: &StateError) -> String {
    match e {
        StateError::Lmdb {
            source: heed::Error::Io(io),
            ..
        }
        | StateError::Io { source: io, .. } => io.kind().to_string(),
        StateError::Lmdb { source, .. } => source.to_string(),
    }
}

/// Renders the status in the reference layout.
pub fn render(v: &StatusView) -> String {
    let mut o = String::new();
    let none = |s: &str| {
        if s.is_empty() {
            "none".to_owned()
        } else {
            s.to_owned()
        }
    };
    let _ = writeln!(
        o,
        "Envoy ID:        {}",
        v.envoy_id.as_deref().unwrap_or("(not registered)")
    );
    let _ = writeln!(o, "Server:           {}", v.server);
    if let Some(bolt) = &v.bolt {
        let _ = writeln!(o, "Bolt:             {bolt}");
    }
    let _ = writeln!(
        o,
        "Fallback servers: {}",
        none(&v.fallback_servers.join(", "))
    );
    let _ = writeln!(o, "Data directory:   {}", v.data_dir.display());
    let _ = writeln!(o, "State store:      {}", v.state_dir.display());
    o.push('\n');
    match &v.store {
        Err(why) => {
            let _ = writeln!(o, "Policy:           (state store unavailable: {why})");
            let _ = writeln!(o, "Traits:           (state store unavailable)");
            let _ = writeln!(o, "Pending results:  (state store unavailable)");
        }
        Ok(store) => {
            render_policy(&mut o, &store.policy);
            o.push('\n');
            let _ = writeln!(o, "Traits:");
            match store.traits {
                None => {
                    let _ = writeln!(o, "  Cached:         no");
                }
                Some((n, age)) => {
                    let _ = writeln!(o, "  Cached:         yes");
                    let _ = writeln!(o, "  Collectors:     {n}");
                    let _ = writeln!(o, "  Cache age:      {}", human_age(age));
                }
            }
            o.push('\n');
            let _ = writeln!(o, "Pending results:  {}", store.pending_results);
            if store.rejected.count > 0 {
                let _ = writeln!(
                    o,
                    "Rejected results: {} (last: {})",
                    store.rejected.count,
                    store
                        .rejected
                        .last_reason
                        .as_deref()
                        .unwrap_or("no reason recorded")
                );
            }
        }
    }
    let _ = writeln!(
        o,
        "Server pubkey:    {}",
        if v.server_pubkey { "present" } else { "absent" }
    );
    match &v.client_cert {
        None => {}
        Some(Err(why)) => {
            let _ = writeln!(o, "Client cert:      (unreadable: {why})");
        }
        Some(Ok(c)) if c.expired => {
            let _ = writeln!(
                o,
                "Client cert:      expired {} (enroll again: vigo bootstrap --force)",
                readable_time(c.not_after)
            );
        }
        Some(Ok(c)) => {
            let _ = writeln!(
                o,
                "Client cert:      expires {}{}",
                readable_time(c.not_after),
                if c.renewal_due { " (renewal due)" } else { "" }
            );
        }
    }
    // After the reference's lines: every setting, its value and where it came from.
    if !v.settings.is_empty() {
        let _ = writeln!(o, "\nSettings:");
        for s in &v.settings {
            let _ = writeln!(o, "  {:<21} {} ({})", s.key, s.value, s.origin.as_str());
        }
    }
    o
}

fn render_policy(o: &mut String, policy: &CachedPolicy) {
    let p = match policy {
        CachedPolicy::Verified(p) => p,
        CachedPolicy::None => {
            let _ = writeln!(o, "Policy:\n  Cached:         no");
            return;
        }
        CachedPolicy::DoesNotVerify(why) => {
            let _ = writeln!(
                o,
                "Policy:           (cached bundle does not verify: {why})"
            );
            return;
        }
    };
    let _ = writeln!(o, "Policy:");
    let dash = |s: &str| {
        if s.is_empty() {
            "-".to_owned()
        } else {
            s.to_owned()
        }
    };
    let _ = writeln!(o, "  Cached:         yes");
    let _ = writeln!(o, "  Version:        {}", p.version);
    let _ = writeln!(o, "  Match:          {}", p.match_pattern);
    let _ = writeln!(o, "  Environment:    {}", dash(&p.environment));
    let _ = writeln!(o, "  Roles:          {}", dash(&p.roles.join(", ")));
    let names: Vec<&str> = p.configcrates.iter().map(|(n, _)| n.as_str()).collect();
    let _ = writeln!(
        o,
        "  Configcrates:        {} ({})",
        names.len(),
        names.join(", ")
    );
    let total: usize = p.configcrates.iter().map(|(_, r)| r.len()).sum();
    let _ = writeln!(o, "  Resources:      {total}");
    if p.max_age_secs == 0 {
        let _ = writeln!(o, "  Max age:        never");
    } else {
        let _ = writeln!(o, "  Max age:        {}s", p.max_age_secs);
    }
    if p.expired {
        let _ = writeln!(
            o,
            "  Expired:        yes (convergence stopped until the server is reachable)"
        );
    }
    for (name, resources) in &p.configcrates {
        let _ = writeln!(o, "  [{name}]");
        for (ty, rname) in resources {
            let _ = writeln!(o, "    {ty}: {rname}");
        }
    }
}

/// The status as JSON (`vigo status --json`).
pub fn to_json(v: &StatusView) -> serde_json::Value {
    use serde_json::json;
    let store = match &v.store {
        Err(why) => json!({ "available": false, "error": why }),
        Ok(s) => json!({
            "available": true,
            "policy_error": match &s.policy {
                CachedPolicy::DoesNotVerify(why) => Some(format!("cached bundle does not verify: {why}")),
                _ => None,
            },
            "rejected_results": {
                "count": s.rejected.count,
                "last_reason": s.rejected.last_reason,
            },
            "policy": s.policy.verified().map(|p| json!({
                "version": p.version,
                "match": p.match_pattern,
                "environment": p.environment,
                "roles": p.roles,
                "configcrates": p.configcrates.iter().map(|(name, res)| json!({
                    "name": name,
                    "resources": res.iter().map(|(t, n)| json!({"type": t, "name": n})).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "max_age_secs": p.max_age_secs,
                "expired": p.expired,
            })),
            "traits": s.traits.map(|(n, age)| json!({"collectors": n, "cache_age_secs": age})),
            "pending_results": s.pending_results,
        }),
    };
    json!({
        "envoy_id": v.envoy_id,
        "server": v.server,
        "bolt": v.bolt,
        "fallback_servers": v.fallback_servers,
        "data_dir": v.data_dir,
        "state_dir": v.state_dir,
        "settings": v.settings.iter().map(|s| json!({
            "key": s.key,
            "value": s.value,
            "origin": s.origin.as_str(),
        })).collect::<Vec<_>>(),
        "state_store": store,
        "server_pubkey": v.server_pubkey,
        "client_cert": v.client_cert.as_ref().map(|c| match c {
            Err(why) => json!({ "error": why }),
            Ok(c) => json!({
                "not_after_unix": c.not_after,
                "not_after": readable_time(c.not_after),
                "renew_at_unix": c.renew_at,
                "renewal_due": c.renewal_due,
                "expired": c.expired,
            }),
        }),
    })
}

/// `4m 32s`, `3h 2m`, `2d 5h`, `12s`.
fn human_age(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3_600 => format!("{}m {}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h {}m", s / 3_600, (s % 3_600) / 60),
        s => format!("{}d {}h", s / 86_400, (s % 86_400) / 3_600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference_view() -> StatusView {
        let res = |t: &str, n: &str| (t.to_owned(), n.to_owned());
        StatusView {
            envoy_id: Some("a1b2c3d4-e5f6-7890-abcd-ef1234567890".into()),
            server: "vigo.example.com:1530".into(),
            bolt: None,
            fallback_servers: vec!["vigo2.example.com:1530".into()],
            data_dir: "/etc/vigo-envoy".into(),
            state_dir: "/var/lib/vigo/state".into(),
            settings: Vec::new(),
            store: Ok(StoreView {
                policy: CachedPolicy::Verified(PolicyView {
                    version: "20260316T140000Z".into(),
                    match_pattern: "web-01.example.com".into(),
                    environment: "production".into(),
                    roles: vec!["webserver".into(), "monitoring".into()],
                    configcrates: vec![
                        (
                            "nginx".into(),
                            vec![
                                res("package", "nginx"),
                                res("file", "/etc/nginx/nginx.conf"),
                                res("file", "/etc/nginx/sites-enabled/default"),
                                res("service", "nginx"),
                            ],
                        ),
                        (
                            "node_exporter".into(),
                            vec![
                                res("package", "prometheus-node-exporter"),
                                res("service", "prometheus-node-exporter"),
                            ],
                        ),
                        (
                            "logrotate".into(),
                            vec![res("file", "/etc/logrotate.d/nginx")],
                        ),
                    ],
                    max_age_secs: 86_400,
                    expired: false,
                }),
                traits: Some((25, 272)),
                pending_results: 0,
                rejected: Rejected::default(),
            }),
            server_pubkey: true,
            client_cert: None,
        }
    }

    /// The reference's example, except `Resources:` — the reference shows 12 for the 7
    /// resources it lists; we print the true count.
    const REFERENCE: &str = "\
Envoy ID:        a1b2c3d4-e5f6-7890-abcd-ef1234567890
Server:           vigo.example.com:1530
Fallback servers: vigo2.example.com:1530
Data directory:   /etc/vigo-envoy
State store:      /var/lib/vigo/state

Policy:
  Cached:         yes
  Version:        20260316T140000Z
  Match:          web-01.example.com
  Environment:    production
  Roles:          webserver, monitoring
  Configcrates:        3 (nginx, node_exporter, logrotate)
  Resources:      7
  Max age:        86400s
  [nginx]
    package: nginx
    file: /etc/nginx/nginx.conf
    file: /etc/nginx/sites-enabled/default
    service: nginx
  [node_exporter]
    package: prometheus-node-exporter
    service: prometheus-node-exporter
  [logrotate]
    file: /etc/logrotate.d/nginx

Traits:
  Cached:         yes
  Collectors:     25
  Cache age:      4m 32s

Pending results:  0
Server pubkey:    present
";

    #[test]
    fn normal_layout_matches_the_reference() {
        assert_eq!(render(&reference_view()), REFERENCE);
    }

    #[test]
    fn degraded_layout_matches_the_reference() {
        let mut v = reference_view();
        v.fallback_servers.clear();
        v.server_pubkey = false;
        v.store = Err("permission denied".into());
        assert_eq!(
            render(&v),
            "\
Envoy ID:        a1b2c3d4-e5f6-7890-abcd-ef1234567890
Server:           vigo.example.com:1530
Fallback servers: none
Data directory:   /etc/vigo-envoy
State store:      /var/lib/vigo/state

Policy:           (state store unavailable: permission denied)
Traits:           (state store unavailable)
Pending results:  (state store unavailable)
Server pubkey:    absent
"
        );
    }

    #[test]
    fn the_client_cert_line_follows_the_reference_lines() {
        let mut v = reference_view();
        let cert = |renewal_due, expired| {
            Some(Ok(ClientCertView {
                not_after: 1_805_205_600,
                renew_at: 1_794_693_600,
                renewal_due,
                expired,
            }))
        };
        let mut lines = Vec::new();
        for c in [
            cert(false, false),
            cert(true, false),
            cert(true, true),
            Some(Err(
                "/etc/vigo-envoy/cert.pem: not a PEM certificate: …".into()
            )),
        ] {
            v.client_cert = c;
            let out = render(&v);
            assert!(
                out.starts_with(REFERENCE),
                "the reference lines stay as they are"
            );
            lines.push(out[REFERENCE.len()..].to_owned());
        }
        insta::assert_snapshot!(lines.concat(), @r"
        Client cert:      expires 2027-03-16 14:00:00 UTC
        Client cert:      expires 2027-03-16 14:00:00 UTC (renewal due)
        Client cert:      expired 2027-03-16 14:00:00 UTC (enroll again: vigo bootstrap --force)
        Client cert:      (unreadable: /etc/vigo-envoy/cert.pem: not a PEM certificate: …)
        ");
        v.client_cert = cert(true, false);
        insta::assert_json_snapshot!(to_json(&v)["client_cert"], @r#"
        {
          "expired": false,
          "not_after": "2027-03-16 14:00:00 UTC",
          "not_after_unix": 1805205600,
          "renew_at_unix": 1794693600,
          "renewal_due": true
        }
        "#);
    }

    #[test]
    fn ages_read_like_the_reference() {
        assert_eq!(human_age(12), "12s");
        assert_eq!(human_age(272), "4m 32s");
        assert_eq!(human_age(3 * 3_600 + 125), "3h 2m");
        assert_eq!(human_age(2 * 86_400 + 5 * 3_600), "2d 5h");
    }

    fn settings(dir: &std::path::Path) -> Settings {
        Settings {
            cert_file: "c".into(),
            ..Settings::defaults(dir, &dir.join("state"))
        }
    }

    fn motd_bundle() -> PolicyBundle {
        PolicyBundle {
            version: "20261124T000000Z".into(),
            match_pattern: "web-*".into(),
            max_age_secs: 60,
            issued_at_unix: 1_000,
            configcrates: vec![vigo_proto::v1::Configcrate {
                name: "motd".into(),
                resources: vec![vigo_proto::v1::Resource {
                    r#type: "file".into(),
                    name: "/etc/motd".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// Caches `signed` in a store under `dir` and pins the key of `seed` there.
    fn cache(dir: &std::path::Path, signed: &vigo_proto::v1::SignedBundle, seed: u8) {
        use prost::Message;
        let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        crate::enroll::pin_server_key(&dir.join(SERVER_PUB), &key.verifying_key()).unwrap();
        let store = StateStore::open(&dir.join("state")).unwrap();
        store.put_bundle(&signed.encode_to_vec(), 1_000).unwrap();
        store
            .put_traits(br#"{"os":{},"memory":{},"_errors":{}}"#, 1_000)
            .unwrap();
        store.enqueue_result(b"r").unwrap();
    }

    #[test]
    fn gathers_from_a_real_store_and_flags_an_expired_bundle() {
        let tmp = tempfile::tempdir().unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        cache(tmp.path(), &signing::sign(&motd_bundle(), &key), 3);
        let v = gather(&settings(tmp.path()), 1_100);
        let store = v.store.clone().unwrap();
        assert_eq!(store.pending_results, 1);
        assert_eq!(store.traits, Some((2, 100)));
        let p = store.policy.verified().unwrap();
        assert!(p.expired, "issued at 1000, max age 60, now 1100");
        let out = render(&v);
        assert!(
            out.starts_with("Envoy ID:        (not registered)\n"),
            "{out}"
        );
        assert!(out.contains("  Expired:        yes"), "{out}");
        assert!(out.contains("  [motd]\n    file: /etc/motd\n"), "{out}");
    }

    /// (An altered payload, through the real binary: tests/status.rs.)
    #[test]
    fn a_bundle_signed_by_another_key_is_not_shown_as_the_policy() {
        let tmp = tempfile::tempdir().unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        cache(tmp.path(), &signing::sign(&motd_bundle(), &key), 4);
        let v = gather(&settings(tmp.path()), 1_100);
        let out = render(&v);
        assert!(!out.contains("20261124T000000Z"), "{out}");
        let policy = out.split("\n\n").nth(1).unwrap();
        assert!(
            policy.starts_with(
                "Policy:           (cached bundle does not verify: bundle signed by key "
            ) && policy.contains("but the pinned server key is"),
            "{policy}"
        );
        assert!(
            to_json(&v)["state_store"]["policy_error"]
                .as_str()
                .unwrap()
                .starts_with("cached bundle does not verify: bundle signed by key"),
            "{}",
            to_json(&v)
        );
        assert!(to_json(&v)["state_store"]["policy"].is_null());

        // No key pinned: nothing can be verified.
        std::fs::remove_file(tmp.path().join(SERVER_PUB)).unwrap();
        let v = gather(&settings(tmp.path()), 1_100);
        assert_eq!(
            v.store.unwrap().policy,
            CachedPolicy::DoesNotVerify(format!(
                "no pinned server key ({})",
                tmp.path().join(SERVER_PUB).display()
            ))
        );
    }

    #[test]
    fn rejected_reports_are_counted_with_the_last_reason() {
        let mut v = reference_view();
        if let Ok(store) = &mut v.store {
            store.rejected = Rejected {
                count: 2,
                last_reason: Some("ReportResult refused by vigo.example.com:1530: run_id `x` is not a UUID (InvalidArgument)".into()),
            };
        }
        let out = render(&v);
        insta::assert_snapshot!(out.lines().rev().take(3).collect::<Vec<_>>().join("\n"), @r"
        Server pubkey:    present
        Rejected results: 2 (last: ReportResult refused by vigo.example.com:1530: run_id `x` is not a UUID (InvalidArgument))
        Pending results:  0
        ");
    }

    /// What a user reads, whole: the normal and the degraded layout with the settings
    /// block (one setting from a flag, one from the config file, the rest defaults).
    #[test]
    fn normal_and_degraded_layouts_with_settings() {
        use crate::settings::{ConfigFile, SettingFlags};
        let flags = SettingFlags {
            server: Some("vigo.example.com:1530".into()),
            ..SettingFlags::default()
        };
        let file = ConfigFile::parse(
            std::path::Path::new("/etc/vigo-envoy/config"),
            "log_level: debug\nsnapshot_retention: 9\n",
        )
        .unwrap();
        let settings = Settings::resolve(
            &flags,
            &file,
            std::path::Path::new("/etc/vigo-envoy"),
            std::path::Path::new("/var/lib/vigo/state"),
        );
        let mut v = reference_view();
        v.settings = settings
            .shown()
            .into_iter()
            .filter(|s| s.has_flag)
            .collect();
        v.client_cert = Some(Ok(ClientCertView {
            not_after: 1_805_205_600,
            renew_at: 1_794_693_600,
            renewal_due: false,
            expired: false,
        }));
        insta::assert_snapshot!("status_normal", render(&v));
        insta::assert_json_snapshot!("status_normal_json", to_json(&v));
        v.fallback_servers.clear();
        v.server_pubkey = false;
        v.client_cert = Some(Err("/etc/vigo-envoy/cert.pem: permission denied".into()));
        v.store = Err("permission denied".into());
        insta::assert_snapshot!("status_degraded", render(&v));
    }
}
