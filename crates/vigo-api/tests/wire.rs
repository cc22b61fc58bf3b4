//! The JSON on the wire, pinned: one value of every answer type serialized (snapshots),
//! and the request bodies of `docs/api.md` read back. A change to a field's name, type or
//! `null`-ness shows here before any client sees it.

use serde_json::json;
use vigo_api::audit::AuditEntry;
use vigo_api::config::{Trace, TraceBlock, TraceCrate, TraceVar, Validated, VersionInfo};
use vigo_api::enrollment::{
    CreatedEnrollmentToken, EnrollmentToken, NewEnrollmentToken, Pattern, PatternBody, TokenState,
};
use vigo_api::fleet::{ActionCounts, Envoy, EnvoyQuery, EnvoyStatus, Run, RunDetail, RunResult};
use vigo_api::keys::{BundleKey, Rotated, Rotation};
use vigo_api::register::{RegisterBody, RegisterReply};
use vigo_api::status::{CallerInfo, Health, HealthState, VersionReply};
use vigo_api::tokens::{ApiRole, ApiToken, CreatedApiToken, NewApiToken};
use vigo_api::{ErrorBody, Paging};

fn version() -> VersionInfo {
    VersionInfo {
        version: "20261130T152520Z".into(),
        tree_hash: "ab".repeat(32),
        published_at: 1_795_000_000,
        published_by: "startup".into(),
    }
}

fn run() -> Run {
    Run {
        id: "0193a5c8-7e21-7c3a-9f10-2b7e5d1a9c01".into(),
        envoy_id: "6bf98f92-f8d8-48e9-9ad4-35e44b0cce6b".into(),
        started_at: 1_795_000_000,
        finished_at: 1_795_000_002,
        duration_micros: 2_140_000,
        policy_version: None,
        dry_run: false,
        counts: ActionCounts {
            none: 5,
            created: 1,
            updated: 1,
            ..ActionCounts::default()
        },
    }
}

fn api_token() -> ApiToken {
    ApiToken {
        id: "tok_3e9620a6eed0ed6b".into(),
        name: "ci".into(),
        role: ApiRole::Viewer,
        owner: None,
        created_at: 1_795_000_000,
        expires_at: None,
        revoked_at: None,
    }
}

#[test]
fn status_answers() {
    insta::assert_json_snapshot!(
        "health",
        [
            Health {
                status: HealthState::Ok,
                database: HealthState::Ok,
                message: None,
            },
            Health {
                status: HealthState::Unavailable,
                database: HealthState::Unavailable,
                message: Some("the database does not answer: timed out".into()),
            },
        ]
    );
    insta::assert_json_snapshot!(
        "version",
        VersionReply {
            server_version: "0.1.0".into(),
            config: None,
            caller: CallerInfo {
                name: "local-admin".into(),
                role: ApiRole::Admin,
                token_id: "tok_9092c199363bfd59".into(),
            },
        }
    );
}

#[test]
fn fleet_answers() {
    let envoy = Envoy {
        id: "1530ee82-4132-4824-a255-47adf3417c1b".into(),
        hostname: "db-01.example.net".into(),
        status: EnvoyStatus::Active,
        environment: None,
        address: Some("192.0.2.10".into()),
        agent_version: Some("0.1.0".into()),
        enrolled_at: 1_795_000_000,
        revoked_at: None,
        last_seen_at: None,
        policy_version: None,
        traits_sha256: None,
        public_key: "e6".repeat(32),
        cert_serial: "69e61a9768a6a98dd8e9c6053f903fa2".into(),
        cert_pem: None,
    };
    insta::assert_json_snapshot!("envoy_listed", envoy);
    let detail = RunDetail {
        run: run(),
        hostname: Some("web-01".into()),
        results_total: 1,
        results_from: 0,
        results_next: None,
        results: vec![RunResult {
            resource_id: "file:/etc/motd".into(),
            resource_type: "file".into(),
            name: "motd".into(),
            action: "updated".into(),
            message: "content changed".into(),
            duration_micros: 1200,
        }],
    };
    insta::assert_json_snapshot!("run_detail", detail);
}

#[test]
fn enrollment_config_token_audit_and_key_answers() {
    insta::assert_json_snapshot!(
        "enrollment",
        json!({
            "created": CreatedEnrollmentToken {
                id: "enr_9c32a48e0658c417".into(),
                token: "vget_…".into(),
                created_at: 1_795_000_000,
                expires_at: 1_795_003_600,
                hostname_pattern: Some("db-*".into()),
            },
            "listed": EnrollmentToken {
                id: "enr_9c32a48e0658c417".into(),
                created_at: 1_795_000_000,
                expires_at: 1_795_003_600,
                hostname_pattern: None,
                used_at: None,
                used_by: None,
                state: TokenState::Unused,
            },
            "pattern": Pattern {
                id: "pat_0123456789abcdef".into(),
                pattern: "web-*".into(),
                trusted: true,
                created_at: 1_795_000_000,
            },
        })
    );
    insta::assert_json_snapshot!(
        "config",
        json!({
            "version": version(),
            "validated": Validated { valid: true },
            "trace": Trace {
                hostname: "web-01".into(),
                matched: true,
                consulted: vec![TraceBlock {
                    origin: "envoys.vgo:2:5".into(),
                    pattern: "web-*".into(),
                    matched: true,
                }],
                environment: None,
                roles: vec![],
                crates: vec![TraceCrate {
                    name: "motd".into(),
                    via: "match block".into(),
                    when: String::new(),
                }],
                vars: vec![TraceVar {
                    krate: "motd".into(),
                    name: "greeting".into(),
                    value: json!("hello"),
                    level: "match block".into(),
                    origin: "envoys.vgo:5:7".into(),
                }],
                errors: vec![],
                more: serde_json::Map::new(),
            },
        })
    );
    insta::assert_json_snapshot!(
        "api_tokens",
        json!({
            "listed": api_token(),
            "created": CreatedApiToken { token_info: api_token(), token: "vgot_…".into() },
        })
    );
    insta::assert_json_snapshot!(
        "audit_and_keys",
        json!({
            "audit": AuditEntry {
                id: 7,
                at: 1_795_000_000,
                actor: "local-admin".into(),
                action: "envoy.revoked".into(),
                target: None,
                detail: json!({}),
            },
            "bundle_key": BundleKey {
                key_id: "0f3e2d1c4b5a6978".into(),
                public_key: "9a".repeat(32),
                rotations: vec![Rotation {
                    old_key_id: "0f3e2d1c4b5a6978".into(),
                    new_key_id: "6c1f0e9b2a7d4c35".into(),
                    rotated_at: 1_795_000_000,
                }],
            },
            "rotated": Rotated {
                old_key_id: "0f3e2d1c4b5a6978".into(),
                new_key_id: "6c1f0e9b2a7d4c35".into(),
                public_key: "9a".repeat(32),
                rotated_at: 1_795_000_000,
                rotations: 1,
            },
            "error": ErrorBody {
                message: "invalid stacks tree".into(),
                errors: vec!["configcrates/x.vgo:3:5: unknown attribute `mdoe`".into()],
            },
            "error_alone": ErrorBody { message: "no such envoy".into(), errors: vec![] },
        })
    );
}

/// The request bodies as `docs/api.md` writes them parse, optional fields may be left
/// out, and unknown fields are refused where the server refuses them.
#[test]
fn documented_request_bodies_parse() {
    let register: RegisterBody = serde_json::from_value(json!({
        "hostname": "web-01.example.net",
        "token": "vget_x",
        "csr_pem": "-----BEGIN CERTIFICATE REQUEST-----…",
        "agent_public_key": "11".repeat(32),
        "ip_addresses": ["192.0.2.10"],
        "agent_version": "0.1.0",
        "force": false
    }))
    .unwrap();
    assert_eq!(register.public_key_bytes(), Some([0x11; 32]));
    assert!(
        !format!("{register:?}").contains("vget_x"),
        "Debug hides the token"
    );
    let minimal: RegisterBody = serde_json::from_value(json!({
        "hostname": "h", "csr_pem": "c", "agent_public_key": "k"
    }))
    .unwrap();
    assert!(minimal.token.is_none() && !minimal.force && minimal.public_key_bytes().is_none());
    let reply: RegisterReply = serde_json::from_value(json!({
        "envoy_id": "…", "certificate_pem": "…", "ca_pem": "…",
        "server_signing_key": "…", "server_signing_key_id": "…",
        "grpc_address": "vigo.example.net:1530"
    }))
    .unwrap();
    assert_eq!(reply.grpc_address, "vigo.example.net:1530");

    let token: NewEnrollmentToken = serde_json::from_value(json!({"expires_in": "24h"})).unwrap();
    assert_eq!(token.hostname_pattern, None);
    assert!(serde_json::from_value::<NewEnrollmentToken>(json!({"ttl": "1h"})).is_err());
    let pattern: PatternBody = serde_json::from_value(json!({"pattern": "web-*"})).unwrap();
    assert!(!pattern.trusted);
    let api: NewApiToken = serde_json::from_value(json!({"name": "ci", "role": "viewer"})).unwrap();
    assert_eq!(api.expires_in, None);
    // Queries left empty serialize to nothing (no `limit=` the server would check).
    assert_eq!(serde_json::to_value(Paging::default()).unwrap(), json!({}));
    assert_eq!(
        serde_json::to_value(EnvoyQuery {
            status: Some(EnvoyStatus::Revoked),
            ..EnvoyQuery::default()
        })
        .unwrap(),
        json!({"status": "revoked"})
    );
    // A trace from a newer server keeps the fields this one does not know.
    let mut trace = serde_json::to_value(Trace {
        hostname: "h".into(),
        matched: false,
        consulted: vec![],
        environment: None,
        roles: vec![],
        crates: vec![],
        vars: vec![],
        errors: vec![],
        more: serde_json::Map::new(),
    })
    .unwrap();
    trace["resources"] = json!(["file:/etc/motd"]);
    let back: Trace = serde_json::from_value(trace.clone()).unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), trace);
}

/// The enums' names come from one place: `as_str` and serde agree, and `parse` reads
/// back every name.
#[test]
fn enum_names_agree_with_serde() {
    for role in ApiRole::ALL {
        assert_eq!(serde_json::to_value(role).unwrap(), json!(role.as_str()));
        assert_eq!(ApiRole::parse(role.as_str()), Some(role));
    }
    for status in EnvoyStatus::ALL {
        assert_eq!(
            serde_json::to_value(status).unwrap(),
            json!(status.as_str())
        );
        assert_eq!(EnvoyStatus::parse(status.as_str()), Some(status));
    }
    for state in [TokenState::Unused, TokenState::Used, TokenState::Expired] {
        assert_eq!(serde_json::to_value(state).unwrap(), json!(state.as_str()));
    }
    assert_eq!(ApiRole::parse("root"), None);
}
