//! The REST API end to end: each test serves `rest::router` over real TLS on
//! 127.0.0.1:0 with a real SQLite store, a real PKI and secrets store in a temporary
//! directory, a `ConfigOps` over a real stacks tree (loaded with `vigo_lang`), and a
//! `Registrar` that really consumes tokens, signs CSRs and stores envoys (see
//! `rest/harness.rs`); and calls it with reqwest trusting only our CA.

#[path = "rest/expiry.rs"]
mod expiry;
#[path = "rest/harness.rs"]
mod harness;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;
use vigo_core::Action;
use vigo_server::rest;
use vigo_server::store::{EnvoyTraits, ResourceResult, Run, TokenHash};

use harness::{ADMIN_SECRET, AGENT_BYTES, Server, message, rest_now, write};

const SECRET_VALUE: &str = "hunter2-do-not-echo";

// ------------------------------------------------------------ the tests

/// Every endpoint that needs a token, with the least role that may call it.
#[derive(Clone, Copy, PartialEq)]
enum Need {
    AnyRole,
    Fleet,
    Report,
    /// The raw audit log: never the compliance role (reference §5.2).
    Audit,
    Admin,
}

const PROTECTED: &[(&str, &str, Need)] = &[
    ("GET", "/api/v1/version", Need::AnyRole),
    ("GET", "/api/v1/envoys", Need::Fleet),
    ("GET", "/api/v1/envoys/web-01", Need::Fleet),
    ("POST", "/api/v1/envoys/web-01/revoke", Need::Admin),
    ("GET", "/api/v1/envoys/web-01/traits", Need::Fleet),
    ("GET", "/api/v1/envoys/web-01/runs", Need::Report),
    (
        "GET",
        "/api/v1/runs/0190a0a0-0000-7000-8000-000000000000",
        Need::Report,
    ),
    ("POST", "/api/v1/tokens", Need::Admin),
    ("GET", "/api/v1/tokens", Need::Fleet),
    ("DELETE", "/api/v1/tokens/enr_x", Need::Admin),
    ("GET", "/api/v1/patterns", Need::Fleet),
    ("POST", "/api/v1/patterns", Need::Admin),
    ("DELETE", "/api/v1/patterns/web-*", Need::Admin),
    ("POST", "/api/v1/config/validate", Need::Admin),
    ("POST", "/api/v1/config/publish", Need::Admin),
    ("GET", "/api/v1/config/version", Need::Fleet),
    ("GET", "/api/v1/config/history", Need::Fleet),
    ("GET", "/api/v1/config/trace?hostname=web-01", Need::Fleet),
    ("GET", "/api/v1/secrets", Need::Fleet),
    ("PUT", "/api/v1/secrets/db/password", Need::Admin),
    ("DELETE", "/api/v1/secrets/db/password", Need::Admin),
    ("GET", "/api/v1/api-tokens", Need::Fleet),
    ("POST", "/api/v1/api-tokens", Need::Admin),
    ("DELETE", "/api/v1/api-tokens/tok_x", Need::Admin),
    ("GET", "/api/v1/audit", Need::Audit),
];

fn allowed(need: Need, role: &str) -> bool {
    matches!(
        (need, role),
        (Need::AnyRole, _)
            | (_, "admin")
            | (Need::Fleet | Need::Audit, "viewer")
            | (Need::Report, "viewer" | "compliance")
    )
}

#[tokio::test]
async fn every_protected_endpoint_refuses_missing_malformed_and_unknown_tokens() {
    let s = Server::start().await;
    for (method, path, _) in PROTECTED {
        let m: Method = method.parse().unwrap();
        let (status, body) = s.call(m.clone(), path, None, Some(json!({}))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        assert!(message(&body).contains("missing API token"), "{body}");
        let (status, body) = s
            .call(
                m.clone(),
                path,
                Some("vgot_not_a_real_token"),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
        assert_eq!(message(&body), "unknown API token");
    }
    let resp = s
        .client
        .get(format!("{}/api/v1/envoys", s.base))
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert!(message(&body).contains("not a bearer token"), "{body}");
    // Unknown tokens are audited (bounded per source), missing ones are not.
    let audit = s.audit_actions().await;
    let refused: Vec<_> = audit
        .iter()
        .filter(|(_, a, _)| a == "auth.refused")
        .collect();
    assert!(!refused.is_empty());
    assert!(
        refused.len() <= vigo_server::refusals::PER_PAIR as usize,
        "bounded: {}",
        refused.len()
    );
    assert_eq!(refused[0].0, "anonymous");
    assert_eq!(refused[0].2["detail"]["reason"], "unknown token");
}

#[tokio::test]
async fn roles_grant_exactly_their_permissions_and_refusals_are_audited() {
    let s = Server::start().await;
    let viewer = s.token("dashboards", "viewer").await;
    let auditor = s.token("auditor", "compliance").await;
    for (role, secret) in [("viewer", &viewer), ("compliance", &auditor)] {
        for (method, path, need) in PROTECTED {
            let (status, body) = s
                .call(method.parse().unwrap(), path, Some(secret), Some(json!({})))
                .await;
            if allowed(*need, role) {
                assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                    "{role} {method} {path}: {status} {body}"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{role} {method} {path}: {body}"
                );
                assert!(
                    message(&body).contains(&format!("has role {role}")),
                    "{body}"
                );
            }
        }
    }
    let audit = s.audit_actions().await;
    let forbidden: Vec<_> = audit
        .iter()
        .filter(|(_, a, _)| a == "auth.forbidden")
        .collect();
    assert!(forbidden.iter().any(|(actor, _, _)| actor == "dashboards"));
    // Reading the version tells a token who it is.
    let (status, body) = s.get("/api/v1/version", &auditor).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["caller"]["name"], "auditor");
    assert_eq!(body["caller"]["role"], "compliance");
    assert_eq!(body["server_version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn api_tokens_are_shown_once_listed_without_secret_and_revoked() {
    let s = Server::start().await;
    let (status, created) = s
        .admin(
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({"name": "ci", "role": "viewer", "expires_in": "720h"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("vgot_") && secret.len() > 40);
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("tok_"));
    assert!(created["expires_at"].as_i64().unwrap() > rest_now() + 719 * 3600);
    // Stored as SHA-256 only.
    let stored = s
        .store
        .api_token_by_hash(&TokenHash::of_secret(&secret))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.id, id);
    assert_eq!(s.get("/api/v1/envoys", &secret).await.0, StatusCode::OK);

    let (_, list) = s.get("/api/v1/api-tokens", ADMIN_SECRET).await;
    let text = list.to_string();
    assert!(
        !text.contains(&secret) && !text.contains(&stored.hash.to_hex()),
        "{text}"
    );
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .unwrap();
    assert_eq!(listed["name"], "ci");
    assert_eq!(listed["role"], "viewer");
    assert!(listed.get("token").is_none());

    let (status, body) = s
        .admin(
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({"name": "ci", "role": "viewer"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = s
        .admin(
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({"name": "x", "role": "root"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("role must be"), "{body}");

    let (status, body) = s
        .admin(Method::DELETE, &format!("/api/v1/api-tokens/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["revoked_at"].is_i64());
    let (status, body) = s.get("/api/v1/envoys", &secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message(&body).contains("`ci` was revoked"), "{body}");
    let (status, _) = s
        .admin(Method::DELETE, "/api/v1/api-tokens/tok_nope", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let audit = s.audit_actions().await;
    let created = audit
        .iter()
        .find(|(_, a, _)| a == "api_token.created")
        .unwrap();
    assert_eq!(created.0, "ci-admin");
    assert_eq!(created.2["target"], id.as_str());
    assert!(!created.2.to_string().contains(&secret));
    assert!(
        audit
            .iter()
            .any(|(a, act, _)| a == "ci-admin" && act == "api_token.revoked")
    );
    let refused = audit
        .iter()
        .find(|(_, a, e)| a == "auth.refused" && e["detail"]["reason"] == "revoked")
        .unwrap();
    assert_eq!(refused.0, "ci");
}

#[tokio::test]
async fn enrollment_tokens_register_envoys_shown_listed_revoked_and_audited() {
    let s = Server::start().await;
    let (status, created) = s
        .admin(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"expires_in": "24h", "hostname_pattern": "web-*"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["token"].as_str().unwrap().to_owned();
    let token_id = created["id"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("vget_"));
    let (_, list) = s.get("/api/v1/tokens", ADMIN_SECRET).await;
    assert!(!list.to_string().contains(&secret));
    assert_eq!(list[0]["id"], token_id.as_str());
    assert_eq!(list[0]["state"], "unused");
    assert_eq!(list[0]["hostname_pattern"], "web-*");

    // The token is scoped, single use; the registrar's refusal reaches the agent.
    let (status, body) = s.register("db-01", Some(&secret), false).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("does not match"), "{body}");
    let (status, reply) = s.register("web-01", Some(&secret), false).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let envoy_id = reply["envoy_id"].as_str().unwrap().to_owned();
    assert_eq!(reply["ca_pem"], s.pki.ca_pem());
    assert!(
        reply["certificate_pem"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    assert_eq!(
        reply["server_signing_key_id"],
        s.pki.signing_key_id().as_str()
    );
    let (status, body) = s.register("web-02", Some(&secret), false).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("already used"), "{body}");
    let (_, list) = s.get("/api/v1/tokens", ADMIN_SECRET).await;
    assert_eq!(list[0]["state"], "used");
    assert_eq!(list[0]["used_by"], "web-01");
    let (status, body) = s.register("web-03", None, false).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = s
        .call(
            Method::POST,
            "/api/v1/register",
            None,
            Some(json!({"hostname": "web-04", "csr_pem": "x", "agent_public_key": "zz"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("agent_public_key"), "{body}");

    // Listing, filters, lookup by id and by hostname.
    let (_, envoys) = s
        .get("/api/v1/envoys?status=active&hostname=web-*", ADMIN_SECRET)
        .await;
    assert_eq!(envoys.as_array().unwrap().len(), 1);
    assert_eq!(envoys[0]["id"], envoy_id.as_str());
    assert!(envoys[0].get("cert_pem").is_none());
    let (_, none) = s.get("/api/v1/envoys?hostname=db-*", ADMIN_SECRET).await;
    assert_eq!(none, json!([]));
    let (status, body) = s.get("/api/v1/envoys?status=sleeping", ADMIN_SECRET).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, shown) = s
        .get(&format!("/api/v1/envoys/{envoy_id}"), ADMIN_SECRET)
        .await;
    assert_eq!(shown["hostname"], "web-01");
    assert_eq!(shown["address"], "127.0.0.1");
    assert!(shown["cert_pem"].as_str().unwrap().contains("CERTIFICATE"));
    let (_, by_name) = s.get("/api/v1/envoys/WEB-01", ADMIN_SECRET).await;
    assert_eq!(by_name["id"], envoy_id.as_str());

    // Traits, whole and by path.
    let id = Uuid::parse_str(&envoy_id).unwrap();
    let (status, _) = s.get("/api/v1/envoys/web-01/traits", ADMIN_SECRET).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let traits = json!({"os": {"family": "debian", "release": "12"}, "nics": [{"name": "eth0"}]});
    s.store
        .store_traits(&[EnvoyTraits {
            id,
            traits_json: traits.to_string(),
        }])
        .await
        .unwrap();
    assert_eq!(
        s.get("/api/v1/envoys/web-01/traits", ADMIN_SECRET).await.1,
        traits
    );
    assert_eq!(
        s.get("/api/v1/envoys/web-01/traits?path=os.family", ADMIN_SECRET)
            .await
            .1,
        json!("debian")
    );
    assert_eq!(
        s.get(
            "/api/v1/envoys/web-01/traits?path=nics.0.name",
            ADMIN_SECRET
        )
        .await
        .1,
        json!("eth0")
    );
    let (status, body) = s
        .get("/api/v1/envoys/web-01/traits?path=os.kernel", ADMIN_SECRET)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // Runs and their per-resource results.
    let results = vec![
        ResourceResult {
            resource_id: "file:/etc/motd".into(),
            resource_type: "file".into(),
            name: "motd".into(),
            action: Action::Updated,
            message: "content changed".into(),
            duration_micros: 1200,
        },
        ResourceResult {
            resource_id: "package:nginx".into(),
            resource_type: "package".into(),
            name: "nginx".into(),
            action: Action::None,
            message: String::new(),
            duration_micros: 800,
        },
    ];
    let run_id = Uuid::now_v7();
    let run = Run {
        id: run_id,
        envoy_id: id,
        started_at: 100,
        finished_at: 102,
        duration_micros: 2_000_000,
        policy_version: Some("20260101T000000Z".into()),
        dry_run: false,
        counts: vigo_server::store::tally(&results),
    };
    s.store.record_run(&run, &results).await.unwrap();
    let (_, runs) = s
        .get(
            &format!("/api/v1/envoys/{envoy_id}/runs?limit=10"),
            ADMIN_SECRET,
        )
        .await;
    assert_eq!(runs[0]["id"], run_id.to_string());
    assert_eq!(runs[0]["counts"]["updated"], 1);
    assert_eq!(runs[0]["counts"]["none"], 1);
    let (_, detail) = s.get(&format!("/api/v1/runs/{run_id}"), ADMIN_SECRET).await;
    assert_eq!(detail["hostname"], "web-01");
    assert_eq!(detail["duration_micros"], 2_000_000);
    assert_eq!(detail["results"][0]["action"], "updated");
    assert_eq!(detail["results"][0]["duration_micros"], 1200);
    assert_eq!(detail["results"][1]["resource_id"], "package:nginx");
    assert_eq!(detail["results_total"], 2);
    assert_eq!(detail["results_next"], Value::Null);
    // Results are paged (issue "Trust" item 12): a page says where the next starts.
    let (_, first) = s
        .get(
            &format!("/api/v1/runs/{run_id}?results_limit=1"),
            ADMIN_SECRET,
        )
        .await;
    assert_eq!(first["results"].as_array().unwrap().len(), 1);
    assert_eq!(first["results_next"], 1);
    let (_, second) = s
        .get(
            &format!("/api/v1/runs/{run_id}?results_from=1&results_limit=1"),
            ADMIN_SECRET,
        )
        .await;
    assert_eq!(second["results"][0]["resource_id"], "package:nginx");
    assert_eq!(second["results_next"], Value::Null);
    let (status, body) = s
        .get(
            &format!("/api/v1/runs/{run_id}?results_limit=100000"),
            ADMIN_SECRET,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        message(&body).contains("results_limit must be 1 to 5000"),
        "{body}"
    );
    assert_eq!(
        s.get("/api/v1/runs/not-a-uuid", ADMIN_SECRET).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        s.get(&format!("/api/v1/runs/{}", Uuid::now_v7()), ADMIN_SECRET)
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // Revocation.
    let (status, revoked) = s
        .admin(
            Method::POST,
            &format!("/api/v1/envoys/{envoy_id}/revoke"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(
        s.store.envoy(id).await.unwrap().unwrap().status.as_str(),
        "revoked"
    );
    let (_, active) = s.get("/api/v1/envoys?status=active", ADMIN_SECRET).await;
    assert_eq!(active, json!([]));

    // Deleting a token.
    let (status, _) = s
        .admin(Method::DELETE, &format!("/api/v1/tokens/{token_id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        s.admin(Method::DELETE, &format!("/api/v1/tokens/{token_id}"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let audit = s.audit_actions().await;
    let actions: Vec<&str> = audit.iter().map(|(_, a, _)| a.as_str()).collect();
    for want in [
        "enrollment_token.created",
        "envoy.registered",
        "envoy.register_refused",
        "envoy.revoked",
        "enrollment_token.deleted",
    ] {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
    assert!(
        !audit
            .iter()
            .any(|(_, _, e)| e.to_string().contains(&secret))
    );
    // The registrar audits registrations (for gRPC too); REST adds no second entry.
    let registered: Vec<_> = audit
        .iter()
        .filter(|(_, a, _)| a == "envoy.registered")
        .collect();
    assert_eq!(registered.len(), 1, "{registered:?}");
    assert_eq!(registered[0].0, envoy_id);
    let revoked = audit.iter().find(|(_, a, _)| a == "envoy.revoked").unwrap();
    assert_eq!(revoked.0, "ci-admin");
    assert_eq!(revoked.2["target"], envoy_id.as_str());
}

#[tokio::test]
async fn trusted_patterns_admit_token_less_enrollment_and_force_replaces() {
    let s = Server::start().await;
    let (status, p) = s
        .admin(
            Method::POST,
            "/api/v1/patterns",
            Some(json!({"pattern": "lab-*", "trusted": true})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    assert_eq!(p["trusted"], true);
    let (status, _) = s
        .admin(
            Method::POST,
            "/api/v1/patterns",
            Some(json!({"pattern": "web-*"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, p) = s
        .admin(
            Method::POST,
            "/api/v1/patterns",
            Some(json!({"pattern": "web-*", "trusted": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(p["trusted"], true);
    let (_, list) = s.get("/api/v1/patterns", ADMIN_SECRET).await;
    assert!(
        list[0]["id"].as_str().unwrap().starts_with("pat_"),
        "{list}"
    );
    assert_eq!(
        list.as_array()
            .unwrap()
            .iter()
            .map(|p| p["pattern"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["lab-*", "web-*"]
    );
    let (status, body) = s
        .admin(
            Method::POST,
            "/api/v1/patterns",
            Some(json!({"pattern": "[", "trusted": true})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, first) = s.register("lab-1", None, false).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, body) = s.register("lab-1", None, false).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(message(&body).contains("--force"), "{body}");
    let (status, second) = s.register("lab-1", None, true).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let (_, old) = s
        .get(
            &format!("/api/v1/envoys/{}", first["envoy_id"].as_str().unwrap()),
            ADMIN_SECRET,
        )
        .await;
    assert_eq!(old["status"], "revoked");

    let (status, _) = s
        .admin(Method::DELETE, "/api/v1/patterns/lab-%2A", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s
        .admin(Method::DELETE, "/api/v1/patterns/lab-*", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s.register("lab-2", None, false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let audit = s.audit_actions().await;
    let approved: Vec<_> = audit
        .iter()
        .filter(|(_, a, _)| a == "pattern.approved")
        .collect();
    assert_eq!(approved.len(), 3);
    assert_eq!(approved[2].2["detail"]["was_trusted"], false);
    assert!(
        audit
            .iter()
            .any(|(_, a, e)| a == "pattern.removed" && e["target"] == "lab-*")
    );
}

#[tokio::test]
async fn config_validates_publishes_with_history_and_trace_and_reports_every_error() {
    let s = Server::start().await;
    let (status, body) = s.get("/api/v1/config/version", ADMIN_SECRET).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(
        s.get("/api/v1/config/trace?hostname=web-01", ADMIN_SECRET)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = s.admin(Method::POST, "/api/v1/config/validate", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["valid"], true);

    let (status, v1) = s.admin(Method::POST, "/api/v1/config/publish", None).await;
    assert_eq!(status, StatusCode::OK, "{v1}");
    assert_eq!(v1["published_by"], "ci-admin");
    assert_eq!(v1["version"].as_str().unwrap().len(), 16);
    assert_eq!(s.get("/api/v1/config/version", ADMIN_SECRET).await.1, v1);
    assert_eq!(s.get("/api/v1/version", ADMIN_SECRET).await.1["config"], v1);
    let (status, body) = s.admin(Method::POST, "/api/v1/config/publish", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(message(&body).contains("nothing changed"), "{body}");

    let (_, trace) = s
        .get("/api/v1/config/trace?hostname=web-01", ADMIN_SECRET)
        .await;
    assert_eq!(trace["matched"], true);
    assert_eq!(trace["crates"][0]["name"], "motd");
    let (_, trace) = s
        .get("/api/v1/config/trace?hostname=db-01", ADMIN_SECRET)
        .await;
    assert_eq!(trace["matched"], false);
    assert_eq!(
        s.get("/api/v1/config/trace", ADMIN_SECRET).await.0,
        StatusCode::BAD_REQUEST
    );

    // Two problems in the tree: both reported, nothing published.
    write(
        &s.stacks.join("configcrates/broken.vgo"),
        "configcrate: broken\nresources:\n  - name: a\n    type: no_such_type\n  - name: b\n    type: file\n    target_path: /tmp/b\n    colour: blue\n",
    );
    let (status, body) = s.admin(Method::POST, "/api/v1/config/validate", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let errors = body["errors"].as_array().unwrap();
    assert!(errors.len() >= 2, "{body}");
    assert!(
        errors
            .iter()
            .all(|e| e.as_str().unwrap().starts_with("configcrates/broken.vgo:")),
        "{body}"
    );
    let (status, body2) = s.admin(Method::POST, "/api/v1/config/publish", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body2["errors"], body["errors"]);
    assert_eq!(s.get("/api/v1/config/version", ADMIN_SECRET).await.1, v1);

    std::fs::remove_file(s.stacks.join("configcrates/broken.vgo")).unwrap();
    write(
        &s.stacks.join("envoys.vgo"),
        "envoys:\n  - match: \"*\"\n    configcrates: [motd]\n",
    );
    let (status, v2) = s.admin(Method::POST, "/api/v1/config/publish", None).await;
    assert_eq!(status, StatusCode::OK, "{v2}");
    assert!(v2["version"].as_str() > v1["version"].as_str());
    let (_, history) = s.get("/api/v1/config/history?limit=5", ADMIN_SECRET).await;
    assert_eq!(history, json!([v2, v1]));
    assert_eq!(
        s.get("/api/v1/config/trace?hostname=db-01", ADMIN_SECRET)
            .await
            .1["matched"],
        true
    );

    let audit = s.audit_actions().await;
    let published: Vec<_> = audit
        .iter()
        .filter(|(_, a, _)| a == "config_published")
        .collect();
    assert_eq!(published.len(), 2);
    assert_eq!(published[0].2["target"], v1["version"]);
    let refused: Vec<_> = audit
        .iter()
        .filter(|(_, a, _)| a == "config.publish_refused")
        .map(|(_, _, e)| e["detail"]["reason"].clone())
        .collect();
    assert_eq!(refused, [json!("unchanged"), json!("invalid")]);
}

#[tokio::test]
async fn secrets_are_stored_listed_and_deleted_but_never_echoed() {
    let s = Server::start().await;
    let viewer = s.token("viewer", "viewer").await;
    let put = |path: &str, value: &str| {
        s.client
            .put(format!("{}/api/v1/secrets/{path}", s.base))
            .bearer_auth(ADMIN_SECRET)
            .body(value.to_owned())
            .send()
    };
    let resp = put("db/password", SECRET_VALUE).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(!resp.text().await.unwrap().contains(SECRET_VALUE));
    put("vigo/grafana/admin", "x").await.unwrap();
    let resp = put("..%2Fetc%2Fpasswd", "x").await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = put(".hidden", "x").await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let (status, names) = s.get("/api/v1/secrets", &viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names, json!(["db/password", "vigo/grafana/admin"]));
    let (status, _) = s.get("/api/v1/secrets/db/password", ADMIN_SECRET).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

    let (status, _) = s
        .admin(Method::DELETE, "/api/v1/secrets/db/password", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = s
        .admin(Method::DELETE, "/api/v1/secrets/db/password", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(
        s.get("/api/v1/secrets", &viewer).await.1,
        json!(["vigo/grafana/admin"])
    );

    let audit = s.audit_actions().await;
    assert!(
        audit.iter().any(|(a, act, e)| a == "ci-admin"
            && act == "secret.set"
            && e["target"] == "db/password")
    );
    assert!(
        audit
            .iter()
            .any(|(_, act, e)| act == "secret.deleted" && e["target"] == "db/password")
    );
    let everything = format!("{audit:?}{}", s.get("/metrics", ADMIN_SECRET).await.1);
    assert!(!everything.contains(SECRET_VALUE));
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let s = Server::start().await;
    let (status, body) = s.call(Method::GET, "/api/v1/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    s.get("/api/v1/envoys/nobody", ADMIN_SECRET).await;
    s.call(Method::GET, "/no/such/path/for/metrics", None, None)
        .await;
    let resp = s
        .client
        .get(format!("{}/metrics", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("# TYPE vigo_http_requests_total counter"),
        "{text}"
    );
    let has = |route: &str, status: &str| {
        text.lines().any(|l| {
            l.starts_with("vigo_http_requests_total{")
                && l.contains(&format!("route=\"{route}\""))
                && l.contains(&format!("status=\"{status}\""))
        })
    };
    assert!(has("/api/v1/health", "200"), "{text}");
    assert!(has("/api/v1/envoys/{id}", "404"), "{text}");
    assert!(has("unmatched", "404"), "{text}");
    assert!(!text.contains("/no/such/path"), "{text}");
}

#[tokio::test]
async fn bootstrap_script_embeds_the_binary_digest_and_server_url() {
    let s = Server::start().await;
    let sha = hex::encode(Sha256::digest(AGENT_BYTES));
    let resp = s
        .client
        .get(format!("{}/bootstrap", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let script = resp.text().await.unwrap();
    assert!(script.starts_with("#!/bin/sh\n"), "{script}");
    assert!(script.contains(&format!("VIGO_SHA256='{sha}'")), "{script}");
    assert!(
        script.contains(&format!("VIGO_SERVER='https://vigo.test:{}'", s.port)),
        "{script}"
    );
    assert!(script.contains("/api/v1/agent/binary"));
    assert!(script.contains("/usr/local/sbin/vigo"));
    assert!(script.contains("bootstrap --server \"$VIGO_SERVER\" \"$@\""));

    let resp = s
        .client
        .get(format!("{}/api/v1/agent/binary", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["x-vigo-sha256"].to_str().unwrap(), sha);
    assert_eq!(&resp.bytes().await.unwrap()[..], AGENT_BYTES);

    let resp = s
        .client
        .get(format!("{}/api/v1/ca.pem", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), s.pki.ca_pem());

    let bare = Server::start_with(false, "").await;
    let (status, body) = bare
        .call(Method::GET, "/api/v1/agent/binary", None, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message(&body).contains("no agent binary"), "{body}");
    let resp = bare
        .client
        .get(format!("{}/bootstrap", bare.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let text = resp.text().await.unwrap();
    assert!(
        text.starts_with("#!/bin/sh\n") && text.contains("exit 1"),
        "{text}"
    );
}

#[tokio::test]
async fn hostile_input_gets_json_errors_not_panics() {
    let s = Server::start().await;
    let url = format!("{}/api/v1/api-tokens", s.base);
    let resp = s
        .client
        .post(&url)
        .bearer_auth(ADMIN_SECRET)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(message(&resp.json::<Value>().await.unwrap()).contains("invalid JSON"));
    let resp = s
        .client
        .post(&url)
        .bearer_auth(ADMIN_SECRET)
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, body) = s
        .admin(
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({"name": 5, "role": []})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = s
        .admin(
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({"name": "x", "role": "viewer", "extra": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = s
        .admin(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"expires_in": "forever"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("expires_in"), "{body}");

    let huge = "x".repeat(rest::BODY_LIMIT + 1);
    let resp = s
        .client
        .post(format!("{}/api/v1/register", s.base))
        .header("content-type", "application/json")
        .body(format!("{{\"hostname\": \"{huge}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let resp = s
        .client
        .put(format!("{}/api/v1/secrets/big", s.base))
        .bearer_auth(ADMIN_SECRET)
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let (status, body) = s.get("/api/v1/envoys?limit=100000", ADMIN_SECRET).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("limit"), "{body}");
    let (status, _) = s.get("/api/v1/envoys?limit=-1", ADMIN_SECRET).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = s.get("/api/v1/envoys?hostname=[", ADMIN_SECRET).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = s
        .get(&format!("/api/v1/envoys/{}", "a".repeat(300)), ADMIN_SECRET)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = s.call(Method::GET, "/api/v2/nothing", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message(&body).contains("no such endpoint"));
    let (status, body) = s.call(Method::DELETE, "/api/v1/health", None, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    let long = format!("vgot_{}", "a".repeat(400));
    let (status, body) = s.get("/api/v1/envoys", &long).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message(&body).contains("too long"), "{body}");
    // The server still answers.
    assert_eq!(
        s.call(Method::GET, "/api/v1/health", None, None).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bootstrap_script_installs_a_verified_agent_and_hands_over() {
    let s = Server::start().await;
    let script = s
        .client
        .get(format!("{}/bootstrap", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // Point the script at this test: the server by address (the advertised name does
    // not resolve here), the agent path inside a temporary directory, no root check.
    let dir = tempfile::TempDir::new().unwrap();
    let agent = dir.path().join("sbin/vigo");
    let local = script
        .replace(&format!("https://vigo.test:{}", s.port), &s.base)
        .replace("'/usr/local/sbin/vigo'", &format!("'{}'", agent.display()))
        .replace("[ \"$(id -u)\" -eq 0 ]", "true");
    let run = |text: String| async move {
        let mut child = tokio::process::Command::new("sh")
            .args(["-s", "--", "--token", "vget_abc"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut stdin, text.as_bytes())
            .await
            .unwrap();
        drop(stdin);
        child.wait_with_output().await.unwrap()
    };
    let out = run(local.clone()).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "vigo-agent bootstrap --server {} --token vget_abc\n",
            s.base
        )
    );
    assert_eq!(std::fs::read(&agent).unwrap(), AGENT_BYTES);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&agent).unwrap().permissions().mode() & 0o777,
        0o755
    );

    // A download that does not match the digest is not installed, and nothing is left.
    std::fs::remove_file(&agent).unwrap();
    let sha = hex::encode(Sha256::digest(AGENT_BYTES));
    let out = run(local.replace(&sha, &"0".repeat(64))).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not installing"));
    assert_eq!(
        std::fs::read_dir(dir.path().join("sbin")).unwrap().count(),
        0
    );
}

#[tokio::test]
async fn serves_http2_and_http1_and_stops_gracefully() {
    let s = Server::start().await;
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), s.pki.ca_pem()).unwrap();
    for (flag, want) in [("--http2", "2 200"), ("--http1.1", "1.1 200")] {
        let out = tokio::process::Command::new("curl")
            .args([
                "-sS",
                flag,
                "-o",
                "/dev/null",
                "-w",
                "%{http_version} %{http_code}",
            ])
            .arg("--cacert")
            .arg(ca.path())
            .arg(format!("{}/api/v1/health", s.base))
            .output()
            .await
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(String::from_utf8_lossy(&out.stdout), want, "{stderr}");
    }
    let base = s.base.clone();
    let client = s.client.clone();
    s.stop().await.unwrap();
    assert!(
        client
            .get(format!("{base}/api/v1/health"))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn metrics_can_require_a_token_or_be_disabled() {
    let s = Server::start_with(true, "metrics:\n  require_auth: true\n").await;
    let viewer = s.token("prometheus", "viewer").await;
    let (status, body) = s.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = s.get("/metrics", &viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.as_str().unwrap().contains("vigo_http_requests_total"));
    let off = Server::start_with(true, "metrics:\n  enabled: false\n").await;
    let (status, body) = off.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message(&body).contains("disabled"), "{body}");
}

/// Issue "Trust" item 7: junk tokens from one address cannot hide a revoked admin
/// token's attempts from the same address, and what is not written one by one is
/// aggregated with who was refused.
#[tokio::test]
async fn junk_tokens_cannot_blind_the_audit_log_to_a_revoked_tokens_attempts() {
    let s = Server::start().await;
    let (status, created) = s
        .admin(
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({"name": "ops-admin", "role": "admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let revoked = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap();
    let (status, _) = s
        .admin(Method::DELETE, &format!("/api/v1/api-tokens/{id}"), None)
        .await;
    assert!(status.is_success(), "{status}");

    for i in 0..400 {
        let junk = format!("vgot_junk{i:04}");
        assert_eq!(
            s.get("/api/v1/envoys", &junk).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    for _ in 0..5 {
        let (status, body) = s.get("/api/v1/envoys", &revoked).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(message(&body).contains("revoked"), "{body}");
    }
    s.refusals.flush_all().await;
    let audit = s.audit_actions().await;
    let by = |actor: &str| {
        audit
            .iter()
            .filter(|(a, act, _)| a == actor && act == "auth.refused")
            .count()
    };
    assert_eq!(
        by("ops-admin"),
        5,
        "every attempt of the revoked token is written"
    );
    assert_eq!(by("anonymous"), vigo_server::refusals::PER_PAIR as usize);
    let aggregated: Vec<_> = audit
        .iter()
        .filter(|(_, act, _)| act == "audit.refusals_aggregated")
        .collect();
    assert_eq!(aggregated.len(), 1, "{aggregated:?}");
    let detail = &aggregated[0].2["detail"];
    assert_eq!(detail["count"], 400 - vigo_server::refusals::PER_PAIR);
    assert_eq!(detail["principals"]["anonymous"], detail["count"]);
    assert_eq!(aggregated[0].2["target"], "127.0.0.1");
    assert!(
        detail["summary"]
            .as_str()
            .unwrap()
            .contains("refusals from 127.0.0.1 in the last minute"),
        "{detail}"
    );
}

/// Issue "Trust" item 9: stored strings are bounded, and a pattern is removed by its id.
#[tokio::test]
async fn patterns_are_bounded_and_removed_by_id() {
    let s = Server::start().await;
    let huge = format!("{}*", "a".repeat(200 * 1024));
    let (status, body) = s
        .admin(
            Method::POST,
            "/api/v1/patterns",
            Some(json!({"pattern": huge})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(&body).contains("at most 253"), "{body}");
    let long = format!("{}*", "b".repeat(250));
    let (status, p) = s
        .admin(
            Method::POST,
            "/api/v1/patterns",
            Some(json!({"pattern": long})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{p}");
    let id = p["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 20);
    let (status, _) = s
        .admin(Method::DELETE, &format!("/api/v1/patterns/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = s.get("/api/v1/patterns", ADMIN_SECRET).await;
    assert_eq!(list, json!([]));
    // Registrations over REST are bounded by the same check as gRPC's.
    let (status, body) = s
        .call(
            Method::POST,
            "/api/v1/register",
            None,
            Some(json!({
                "hostname": "web-01", "csr_pem": "x",
                "agent_public_key": "00".repeat(32),
                "agent_version": "9".repeat(1 << 16),
            })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(message(&body).contains("`agent_version` must be"), "{body}");
}
