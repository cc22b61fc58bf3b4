//! The secrets a bundle references (`__VIGO_SECRET__<path>__END__` markers), resolved
//! from the server for one cycle and kept in memory only.

use std::collections::{BTreeSet, HashMap};

use vigo_core::secret;
use vigo_proto::v1::{PolicyBundle, ResolveSecretsRequest};

use crate::client::Client;

/// The secret paths the bundle's markers name (`__VIGO_SECRET__<path>__END__`), sorted.
pub fn secret_paths(bundle: &PolicyBundle) -> Vec<String> {
    let mut out = BTreeSet::new();
    for t in bundle.templates.values() {
        secret::collect_paths(t, &mut out);
    }
    for c in &bundle.configcrates {
        secret::collect_paths(&c.vars_json, &mut out);
        for r in &c.resources {
            secret::collect_paths(&r.attributes_json, &mut out);
        }
    }
    out.into_iter().collect()
}

/// Why a resolved secret is not used: it is not text, or it holds a secret marker (which
/// would make a value look like a reference).
pub fn unusable_secret(value: &[u8]) -> Option<&'static str> {
    match std::str::from_utf8(value) {
        Err(_) => Some("is not UTF-8 text"),
        Ok(v) if secret::has_marker(v) => Some("holds a Vigo secret marker"),
        Ok(_) => None,
    }
}

/// Resolves `paths` for `policy_version` through `client` (online); values that cannot be
/// used are left out with a warning, and so the resources that use them fail.
pub async fn resolve(
    client: Option<&mut Client>,
    policy_version: &str,
    paths: Vec<String>,
) -> HashMap<String, String> {
    let mut secrets = HashMap::new();
    if paths.is_empty() {
        return secrets;
    }
    let Some(client) = client else {
        tracing::warn!("offline: the resources that use secrets cannot be applied");
        return secrets;
    };
    let req = ResolveSecretsRequest {
        policy_version: policy_version.to_owned(),
        paths,
    };
    match client.resolve_secrets(&req).await {
        Ok(resp) => {
            for (path, value) in resp.values {
                match unusable_secret(&value) {
                    None => {
                        if let Ok(text) = String::from_utf8(value) {
                            secrets.insert(path, text);
                        }
                    }
                    Some(why) => {
                        tracing::warn!("secret `{path}` {why}: the resources that use it fail");
                    }
                }
            }
        }
        Err(e) => tracing::warn!("secrets not resolved: {e}"),
    }
    secrets
}
