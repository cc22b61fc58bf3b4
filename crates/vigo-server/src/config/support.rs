//! What `server.yaml` can say that this server does not do yet. Such a key stops the
//! server (fail closed) instead of being read and ignored: `auth.method: oidc` must not
//! start a server that nobody can log in to the way its operator asked for.
//!
//! The rule: a feature that is not built is refused as soon as its file turns it on. A
//! section of such a feature that is left at its defaults or switched off
//! (`scrier.enabled: false`, an empty `swarm.enabled`, `spanner.mode: standalone`,
//! `peers.role: none`, no `backup.url`, every integration `enabled: false`, no
//! `smtp.host`, `ai.enabled: false`, `publish.retraction.enabled: false`) is accepted,
//! so an operator's existing file loads: nothing in it asks for anything. Keys that only
//! matter for a feature that is not built (the web login's `auth.session_idle_timeout`
//! and `auth.min_password_length`) are refused when set to anything but their default.
//!
//! [`unsupported`] is the one table; `docs/server.md` lists the same keys.

use super::ServerConfig;
use super::sections::{AuthMethod, AuthSection, PeerRole, SecretsBackend, SpannerMode};

/// A key the file sets that nothing in this server would act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unsupported {
    /// The key path, as segments (`["auth", "method"]`).
    pub key: Vec<&'static str>,
    /// What is not supported and what to write instead; contains "not supported yet".
    pub message: String,
}

/// Every key of `config` that asks for a feature this server does not have, in the
/// order of the table (the caller orders them by position in the file).
pub(super) fn unsupported(config: &ServerConfig) -> Vec<Unsupported> {
    let mut out = Vec::new();
    let mut refuse = |key: &[&'static str], message: &str| {
        out.push(Unsupported {
            key: key.to_vec(),
            message: message.to_owned(),
        });
    };
    let auth = &config.auth;
    match auth.method {
        AuthMethod::Basic => {}
        AuthMethod::Oidc => refuse(
            &["auth", "method"],
            "`oidc` login is not supported yet: use `method: basic` (API tokens)",
        ),
        AuthMethod::Isowebauth => refuse(
            &["auth", "method"],
            "`isowebauth` login is not supported yet: use `method: basic` (API tokens)",
        ),
    }
    let defaults = AuthSection::default();
    if auth.session_idle_timeout != defaults.session_idle_timeout {
        refuse(
            &["auth", "session_idle_timeout"],
            "browser sessions (the web UI) are not supported yet: remove the key",
        );
    }
    if auth.min_password_length != defaults.min_password_length {
        refuse(
            &["auth", "min_password_length"],
            "password login (web users) is not supported yet: remove the key",
        );
    }
    if config.secrets.backend == SecretsBackend::Isopass {
        refuse(
            &["secrets", "backend"],
            "the `isopass` secrets backend is not supported yet: use `backend: local`",
        );
    }
    if config.scrier.enabled {
        refuse(
            &["scrier", "enabled"],
            "remote access (scrier) is not supported yet: set `enabled: false` or remove \
             the section",
        );
    }
    if !config.swarm.enabled.is_empty() {
        refuse(
            &["swarm", "enabled"],
            "the swarm is not supported yet: leave `enabled` empty or remove the section",
        );
    }
    if config.spanner.mode == SpannerMode::Spanner {
        refuse(
            &["spanner", "mode"],
            "federation (`mode: spanner`) is not supported yet: use `mode: standalone`",
        );
    }
    if config.peers.role != PeerRole::None {
        refuse(
            &["peers", "role"],
            "primary/standby replication is not supported yet: use `role: none` (several \
             servers share state through `database.driver: postgres`)",
        );
    }
    if config.backup.url.is_some() {
        refuse(
            &["backup", "url"],
            "built-in backup (Litestream) is not supported yet: remove the section and \
             back up the database yourself",
        );
    }
    let i = &config.integrations;
    for (name, target) in [
        ("loki", &i.loki),
        ("splunk", &i.splunk),
        ("datadog", &i.datadog),
        ("sentinel", &i.sentinel),
        ("elastic", &i.elastic),
        ("slack", &i.slack),
        ("pagerduty", &i.pagerduty),
        ("servicenow", &i.servicenow),
        ("prometheus", &i.prometheus),
    ] {
        if target.enabled {
            refuse(
                &["integrations", name, "enabled"],
                "event fan-out (integrations) is not supported yet: set `enabled: false` \
                 or remove the target",
            );
        }
    }
    if config.smtp.host.is_some() {
        refuse(
            &["smtp", "host"],
            "notification mail (smtp) is not supported yet: remove the section",
        );
    }
    if config.ai.enabled {
        refuse(
            &["ai", "enabled"],
            "AI features are not supported yet: set `enabled: false`",
        );
    }
    if config.publish.retraction.enabled {
        refuse(
            &["publish", "retraction", "enabled"],
            "module retraction is not supported yet: set `enabled: false`",
        );
    }
    out
}
