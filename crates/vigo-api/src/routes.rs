//! Every endpoint of the API: its method and its path, written once. `vigosrv`'s router
//! mounts [`Route::path`] (axum syntax: `{id}` is one segment, `{*path}` the rest of the
//! path); `vigocli` fills the placeholders with [`Route::segments`].

/// An HTTP method the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`: reads.
    Get,
    /// `POST`: creates or acts.
    Post,
    /// `PUT`: stores a value at a path.
    Put,
    /// `DELETE`: removes or revokes.
    Delete,
}

impl Method {
    /// The method's name on the wire (`GET`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// One endpoint: a method and a path template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The method.
    pub method: Method,
    /// The path from the server's root, with `{name}` for one segment and `{*name}` for
    /// the rest of the path.
    pub path: &'static str,
}

impl Route {
    const fn new(method: Method, path: &'static str) -> Route {
        Route { method, path }
    }

    /// The path's segments with each placeholder replaced, in order, by `args` (a
    /// `{*rest}` placeholder takes its argument split on `/`). Segments are not encoded:
    /// the HTTP client percent-encodes each one. Missing arguments leave the placeholder
    /// empty; extra ones are ignored.
    pub fn segments<'a>(&self, args: &[&'a str]) -> Vec<&'a str>
    where
        'static: 'a,
    {
        let mut args = args.iter();
        let mut out = Vec::new();
        for part in self.path.split('/').filter(|p| !p.is_empty()) {
            if part.starts_with("{*") {
                out.extend(args.next().copied().unwrap_or_default().split('/'));
            } else if part.starts_with('{') {
                out.push(args.next().copied().unwrap_or_default());
            } else {
                out.push(part);
            }
        }
        out
    }
}

/// `GET /api/v1/health` (no token): [`crate::status::Health`].
pub const HEALTH: Route = Route::new(Method::Get, "/api/v1/health");
/// `GET /api/v1/version` (any token): [`crate::status::VersionReply`].
pub const VERSION: Route = Route::new(Method::Get, "/api/v1/version");
/// `GET /api/v1/ca.pem` (no token): the CA certificate, PEM.
pub const CA_PEM: Route = Route::new(Method::Get, "/api/v1/ca.pem");
/// `POST /api/v1/register` (no token): enrollment.
pub const REGISTER: Route = Route::new(Method::Post, "/api/v1/register");
/// `GET /api/v1/agent/binary` (no token): the agent binary.
pub const AGENT_BINARY: Route = Route::new(Method::Get, "/api/v1/agent/binary");
/// `GET /bootstrap` (no token): the install script.
pub const BOOTSTRAP: Route = Route::new(Method::Get, "/bootstrap");
/// `GET /metrics`: Prometheus text.
pub const METRICS: Route = Route::new(Method::Get, "/metrics");

/// `GET /api/v1/envoys?…` ([`crate::fleet::EnvoyQuery`]): `[Envoy]`.
pub const ENVOYS: Route = Route::new(Method::Get, "/api/v1/envoys");
/// `GET /api/v1/envoys/{id}`: one [`crate::fleet::Envoy`] with its certificate.
pub const ENVOY: Route = Route::new(Method::Get, "/api/v1/envoys/{id}");
/// `POST /api/v1/envoys/{id}/revoke`: the revoked [`crate::fleet::Envoy`].
pub const ENVOY_REVOKE: Route = Route::new(Method::Post, "/api/v1/envoys/{id}/revoke");
/// `GET /api/v1/envoys/{id}/traits?path=`: the traits document or one value.
pub const ENVOY_TRAITS: Route = Route::new(Method::Get, "/api/v1/envoys/{id}/traits");
/// `GET /api/v1/envoys/{id}/runs?limit=&offset=`: `[Run]`, newest first.
pub const ENVOY_RUNS: Route = Route::new(Method::Get, "/api/v1/envoys/{id}/runs");
/// `GET /api/v1/runs/{id}?results_from=&results_limit=`: [`crate::fleet::RunDetail`].
pub const RUN: Route = Route::new(Method::Get, "/api/v1/runs/{id}");

/// `POST /api/v1/tokens`: a new enrollment token.
pub const TOKEN_CREATE: Route = Route::new(Method::Post, "/api/v1/tokens");
/// `GET /api/v1/tokens`: every enrollment token.
pub const TOKENS: Route = Route::new(Method::Get, "/api/v1/tokens");
/// `DELETE /api/v1/tokens/{id}`: 204.
pub const TOKEN_DELETE: Route = Route::new(Method::Delete, "/api/v1/tokens/{id}");
/// `POST /api/v1/patterns`: approves a pattern or changes its trust.
pub const PATTERN_PUT: Route = Route::new(Method::Post, "/api/v1/patterns");
/// `GET /api/v1/patterns`: every approved pattern.
pub const PATTERNS: Route = Route::new(Method::Get, "/api/v1/patterns");
/// `DELETE /api/v1/patterns/{pattern}`: 204; the id (`pat_…`) or the pattern itself.
pub const PATTERN_DELETE: Route = Route::new(Method::Delete, "/api/v1/patterns/{pattern}");

/// `POST /api/v1/config/validate`: [`crate::config::Validated`] or 422.
pub const CONFIG_VALIDATE: Route = Route::new(Method::Post, "/api/v1/config/validate");
/// `POST /api/v1/config/publish`: [`crate::config::VersionInfo`], 422 or 409.
pub const CONFIG_PUBLISH: Route = Route::new(Method::Post, "/api/v1/config/publish");
/// `POST /api/v1/config/rollback` ([`crate::config::RollbackBody`]): the new version.
pub const CONFIG_ROLLBACK: Route = Route::new(Method::Post, "/api/v1/config/rollback");
/// `GET /api/v1/config/version`: the live [`crate::config::VersionInfo`].
pub const CONFIG_VERSION: Route = Route::new(Method::Get, "/api/v1/config/version");
/// `GET /api/v1/config/history?limit=`: `[VersionInfo]`, newest first.
pub const CONFIG_HISTORY: Route = Route::new(Method::Get, "/api/v1/config/history");
/// `GET /api/v1/config/trace?hostname=&environment=`: [`crate::config::Trace`].
pub const CONFIG_TRACE: Route = Route::new(Method::Get, "/api/v1/config/trace");

/// `GET /api/v1/secrets`: the names of every secret.
pub const SECRETS: Route = Route::new(Method::Get, "/api/v1/secrets");
/// `PUT /api/v1/secrets/{*path}`: the raw value as the body; 204.
pub const SECRET_SET: Route = Route::new(Method::Put, "/api/v1/secrets/{*path}");
/// `DELETE /api/v1/secrets/{*path}`: 204.
pub const SECRET_DELETE: Route = Route::new(Method::Delete, "/api/v1/secrets/{*path}");

/// `POST /api/v1/api-tokens`: [`crate::tokens::CreatedApiToken`].
pub const API_TOKEN_CREATE: Route = Route::new(Method::Post, "/api/v1/api-tokens");
/// `GET /api/v1/api-tokens`: `[ApiToken]`, oldest first.
pub const API_TOKENS: Route = Route::new(Method::Get, "/api/v1/api-tokens");
/// `DELETE /api/v1/api-tokens/{id}`: revokes; the [`crate::tokens::ApiToken`].
pub const API_TOKEN_REVOKE: Route = Route::new(Method::Delete, "/api/v1/api-tokens/{id}");

/// `GET /api/v1/audit?limit=&before=`: `[AuditEntry]`, newest first.
pub const AUDIT: Route = Route::new(Method::Get, "/api/v1/audit");

/// `GET /api/v1/server/bundle-key`: [`crate::keys::BundleKey`].
pub const BUNDLE_KEY: Route = Route::new(Method::Get, "/api/v1/server/bundle-key");
/// `POST /api/v1/server/rotate-bundle-key`: [`crate::keys::Rotated`].
pub const ROTATE_BUNDLE_KEY: Route = Route::new(Method::Post, "/api/v1/server/rotate-bundle-key");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_take_their_arguments_in_order() {
        assert_eq!(
            ENVOY_REVOKE.segments(&["web-01"]),
            ["api", "v1", "envoys", "web-01", "revoke"]
        );
        assert_eq!(
            SECRET_SET.segments(&["db/password"]),
            ["api", "v1", "secrets", "db", "password"]
        );
        assert_eq!(HEALTH.segments(&[]), ["api", "v1", "health"]);
    }
}
