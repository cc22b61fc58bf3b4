//! The example stack of `examples/stacks/` loads, resolves and signs end to end.

use std::path::Path;
use std::sync::Arc;

use vigo_lang::SourceTree;
use vigo_lang::resolve::{BundleMeta, Resolver};

fn example() -> Resolver {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/stacks");
    let tree = SourceTree::read_dir(&root).expect("read examples/stacks");
    let stack = match vigo_lang::load(&tree) {
        Ok(s) => s,
        Err(e) => panic!("examples/stacks does not load:\n{e}"),
    };
    Resolver::new(
        Arc::new(stack),
        BundleMeta {
            version: "20261124T050000Z".into(),
            issued_at_unix: 1_795_000_000,
            max_age_secs: 86_400,
        },
    )
}

#[test]
fn a_production_web_server_gets_the_webserver_role_and_alice() {
    let r = example();
    let web = r.resolve("web-01.prod.example.net", None).unwrap();
    let names: Vec<&str> = web.configcrates.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "baseline",
            "ssh-hardening",
            "ntp",
            "ops-users",
            "backup-cron",
            "nginx",
            "user:alice"
        ]
    );
    assert_eq!(web.environment, "production");
    assert!(!web.observe_only);
    assert_eq!(web.max_age_secs, 86_400);
    let nginx = web.configcrates.iter().find(|c| c.name == "nginx").unwrap();
    assert_eq!(nginx.vars["nginx_port"], "80", "match-block var");
    assert_eq!(
        nginx.vars["nginx_worker_connections"], "4096",
        "environment var"
    );
    assert_eq!(
        nginx.vars["site_name"], "www.example.net",
        "prod/common.vgo"
    );
    let users = web
        .configcrates
        .iter()
        .find(|c| c.name == "ops-users")
        .unwrap();
    let user_names: Vec<&str> = users.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(user_names, ["ops-group", "user-alice", "user-bob"]);
    assert_eq!(
        users.resources[1].attributes["shell"], "/bin/bash",
        "crate default"
    );
    assert_eq!(
        web.templates.keys().collect::<Vec<_>>(),
        ["chrony.conf.tmpl", "nginx-site.conf.tmpl"]
    );
    let trace = r.trace("web-01.prod.example.net", None).to_string();
    assert!(
        trace.contains("nginx                via role webserver\n"),
        "{trace}"
    );
    assert!(
        trace.contains("nginx_port = 80   (match block, prod/web/web.vgo:8:7)"),
        "{trace}"
    );
}

#[test]
fn other_envoys_get_the_baseline_and_staging_observes() {
    let r = example();
    let db = r.resolve("db-01.example.net", None).unwrap();
    assert_eq!(db.match_pattern, "*");
    assert_eq!(db.configcrates.len(), 5);
    assert!(db.configcrates.iter().all(|c| c.name != "nginx"));
    let stage = r.resolve("web-02.stage.example.net", None).unwrap();
    assert!(stage.observe_only);
    assert_eq!(stage.environment, "staging");
    let nginx = stage
        .configcrates
        .iter()
        .find(|c| c.name == "nginx")
        .unwrap();
    assert_eq!(nginx.vars["nginx_worker_connections"], "512");
    assert_eq!(nginx.vars["nginx_port"], "8080", "crate default");
}

#[test]
fn every_block_bundle_signs_and_verifies() {
    let r = example();
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    for i in 0..r.stack().blocks.len() {
        let b = r.block_bundle(i).unwrap();
        let signed = vigo_core::signing::sign(&b.to_proto(), &key);
        let back = vigo_core::signing::verify(&signed, &key.verifying_key()).unwrap();
        assert_eq!(vigo_core::Bundle::from_proto(&back).unwrap(), *b);
    }
}
