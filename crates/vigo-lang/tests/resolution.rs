//! How a hostname resolves: block order, roles, vars precedence, environments, usercrates,
//! foreach, defaults, secrets, normalised scalars, the per-block cache, and the signed
//! bundle at the end.

use std::sync::Arc;

use serde_json::{Value, json};
use vigo_core::{Bundle, BundleCrate, signing};
use vigo_lang::SourceTree;
use vigo_lang::resolve::{BundleMeta, ResolveError, Resolver};

fn resolver(files: &[(&str, &str)]) -> Resolver {
    let tree = SourceTree::from_files(files.iter().copied());
    match vigo_lang::load(&tree) {
        Ok(stack) => Resolver::new(Arc::new(stack), BundleMeta::default()),
        Err(e) => panic!("tree does not load:\n{e}"),
    }
}

fn krate<'b>(b: &'b Bundle, name: &str) -> &'b BundleCrate {
    b.configcrates
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no crate {name}"))
}

fn crate_names(b: &Bundle) -> Vec<&str> {
    b.configcrates.iter().map(|c| c.name.as_str()).collect()
}

const A: (&str, &str) = (
    "configcrates/a.vgo",
    "configcrate: a\nvars:\n  level: crate\n  only_crate: x\n",
);
const B: (&str, &str) = ("configcrates/b.vgo", "name: b\n");

#[test]
fn deeper_first_then_siblings_lexically_then_blocks_in_order() {
    let r = resolver(&[
        A,
        B,
        (
            "envoys.vgo",
            "envoys:\n  - match: \"*\"\n    configcrates: [a]\n",
        ),
        (
            "prod/web.vgo",
            "envoys:\n  - match: \"web-1*\"\n    configcrates: [b]\n  - match: \"web-*\"\n    configcrates: [a, b]\n",
        ),
        (
            "prod/api/api.vgo",
            "envoys:\n  - match: \"web-1*\"\n    configcrates: [a]\n",
        ),
        (
            "prod/zz/zz.vgo",
            "envoys:\n  - match: \"web-1*\"\n    configcrates: [b, a]\n",
        ),
    ]);
    // prod/api (subdir, lexically first) beats prod/zz, prod/web.vgo and the root "*".
    assert_eq!(crate_names(&r.resolve("web-10", None).unwrap()), ["a"]);
    // The first block of prod/web.vgo that fits wins over the second.
    assert_eq!(r.resolve("web-2", None).unwrap().match_pattern, "web-*");
    assert_eq!(r.resolve("db-1", None).unwrap().match_pattern, "*");
    let trace = r.trace("web-10", None).to_string();
    assert!(trace.contains("MATCH \"web-1*\""), "{trace}");
    assert!(trace.starts_with("hostname: web-10\n"), "{trace}");
}

#[test]
fn no_block_fits() {
    let r = resolver(&[
        A,
        (
            "envoys.vgo",
            "envoys:\n  - match: \"web-*\"\n    configcrates: [a]\n",
        ),
    ]);
    assert_eq!(
        r.resolve("db-1", None).unwrap_err(),
        ResolveError::NoMatch("db-1".into())
    );
    assert!(
        r.trace("db-1", None)
            .to_string()
            .contains("no match block fits")
    );
}

#[test]
fn vars_precedence_env_over_block_over_common_leaf_over_root_over_defaults() {
    let r = resolver(&[
        A,
        (
            "common.vgo",
            "vars:\n  level: root-common\n  root_only: r\n  leaf: root\n",
        ),
        (
            "prod/common.vgo",
            "vars:\n  level: leaf-common\n  leaf: leaf\n",
        ),
        (
            "prod/environments.vgo",
            "env:\n  production:\n    vars:\n      level: environment\n",
        ),
        (
            "prod/web.vgo",
            "envoys:\n  - match: \"env-*\"\n    environment: production\n    vars: {level: block}\n    configcrates: [a]\n  - match: \"block-*\"\n    vars: {level: block}\n    configcrates: [a]\n  - match: \"*\"\n    configcrates: [a]\n",
        ),
    ]);
    let vars = |host: &str| Value::Object(krate(&r.resolve(host, None).unwrap(), "a").vars.clone());
    assert_eq!(
        vars("env-1"),
        json!({"level": "environment", "only_crate": "x", "root_only": "r", "leaf": "leaf"})
    );
    assert_eq!(vars("block-1")["level"], "block");
    assert_eq!(vars("x")["level"], "leaf-common");
    let trace = r.trace("env-1", None).to_string();
    assert!(
        trace.contains("level = environment   (environment, prod/environments.vgo:4:7)"),
        "{trace}"
    );
}

#[test]
fn roles_includes_and_case() {
    let r = resolver(&[
        A,
        B,
        (
            "configcrates/apt.vgo",
            "name: apt\nwhen: \"!is_container\"\n",
        ),
        ("configcrates/dnf.vgo", "name: dnf\n"),
        (
            "roles.vgo",
            "roles:\n  base:\n    configcrates: [a]\n    case:\n      debian: [apt]\n      rhel: [dnf]\n  web:\n    includes: [base]\n    configcrates: [b, a]\n",
        ),
        (
            "envoys.vgo",
            "envoys:\n  - match: \"*\"\n    roles: [web]\n",
        ),
    ]);
    let b = r.resolve("h", None).unwrap();
    assert_eq!(crate_names(&b), ["a", "apt", "dnf", "b"]);
    assert_eq!(
        krate(&b, "apt").when,
        "(os_family('debian')) && (!is_container)"
    );
    assert_eq!(krate(&b, "dnf").when, "os_family('rhel')");
    assert_eq!(b.roles, ["web"]);
    let trace = r.trace("h", None).to_string();
    assert!(trace.contains("apt                  via role web (includes base), case debian [when: (os_family('debian')) && (!is_container)]"), "{trace}");
}

#[test]
fn environments_add_and_remove_crates_and_can_be_overridden() {
    let r = resolver(&[
        A,
        B,
        (
            "environments.vgo",
            "env:\n  production:\n    configcrates: [b]\n    vars: {level: prod}\n  staging:\n    exclude_configcrates: [a]\n",
        ),
        (
            "envoys.vgo",
            "envoys:\n  - match: \"*\"\n    environment: production\n    configcrates: [a]\n",
        ),
    ]);
    assert_eq!(crate_names(&r.resolve("h", None).unwrap()), ["a", "b"]);
    let staging = r.resolve("h", Some("staging")).unwrap();
    assert_eq!(crate_names(&staging), Vec::<&str>::new());
    assert_eq!(staging.environment, "staging");
    assert_eq!(
        r.resolve("h", Some("qa")).unwrap_err().to_string(),
        "envoys.vgo:2:5: match block \"*\": unknown environment `qa`"
    );
}

#[test]
fn usercrates_are_inert_until_listed() {
    let files = [
        A,
        (
            "usercrates/alice.vgo",
            "resources:\n  - type: user\n    username: alice\n    state: present\n",
        ),
        (
            "envoys.vgo",
            "envoys:\n  - match: \"dev-*\"\n    configcrates: [a]\n    usercrates: [alice]\n  - match: \"*\"\n    configcrates: [a]\n",
        ),
    ];
    let r = resolver(&files);
    assert_eq!(crate_names(&r.resolve("web", None).unwrap()), ["a"]);
    let dev = r.resolve("dev-1", None).unwrap();
    assert_eq!(crate_names(&dev), ["a", "user:alice"]);
    let alice = krate(&dev, "user:alice");
    assert_eq!(alice.user, "alice");
    // A resource without `name:` is named by its type's primary attribute.
    assert_eq!(alice.resources[0].name, "alice");
}

#[test]
fn foreach_over_strings_and_maps_and_whole_crates() {
    let r = resolver(&[
        (
            "common.vgo",
            "vars:\n  users:\n    - {name: alice, uid: \"2001\"}\n    - {name: bob, uid: 2002}\n",
        ),
        (
            "configcrates/u.vgo",
            "configcrate: u\nvars:\n  groups: [ops, dev]\nresources:\n  - name: \"group-{{ .Item }}\"\n    type: group\n    foreach: groups\n    group: \"{{ .Item }}\"\n    state: present\n  - name: \"user-{{ .Each.name }}\"\n    type: user\n    foreach: users\n    username: \"{{ .Each.name }}\"\n    uid: \"{{ .Each.uid }}\"\n    comment: \"{{ .Each.name }} on {{ .Vars.site }}\"\n    home: \"/home/{{ .Each.name }}\"\n    state: present\n    depends_on: \"group-ops\"\n  - name: motd\n    type: file\n    target_path: /etc/motd\n    content: \"{{ .Traits.os.name }}\"\n    state: present\n",
        ),
        (
            "configcrates/per-site.vgo",
            "configcrate: per-site\nforeach: sites\nvars:\n  sites: [a, b]\nresources:\n  - name: \"dir-{{ .Item }}\"\n    type: directory\n    target_path: \"/srv/{{ .Item }}\"\n    state: present\n",
        ),
        (
            "envoys.vgo",
            "envoys:\n  - match: \"*\"\n    vars: {site: lab}\n    configcrates: [u, per-site]\n",
        ),
    ]);
    let b = r.resolve("h", None).unwrap();
    let u = krate(&b, "u");
    let names: Vec<&str> = u.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["group-ops", "group-dev", "user-alice", "user-bob", "motd"]
    );
    assert_eq!(u.resources[2].attributes["comment"], "alice on lab");
    assert_eq!(u.resources[3].attributes["uid"], "2002");
    assert_eq!(u.resources[3].attributes["home"], "/home/bob");
    // Traits are left for the agent.
    assert_eq!(
        u.resources[4].attributes["content"],
        "{{ .Traits.os.name }}"
    );
    let sites = krate(&b, "per-site");
    let targets: Vec<&Value> = sites
        .resources
        .iter()
        .map(|r| &r.attributes["target_path"])
        .collect();
    assert_eq!(targets, [&json!("/srv/a"), &json!("/srv/b")]);
}

#[test]
fn defaults_fill_only_what_the_type_accepts_and_the_resource_does_not_set() {
    let r = resolver(&[
        (
            "configcrates/c.vgo",
            "configcrate: c\ndefaults:\n  owner: www-data\n  mode: \"0640\"\n  shell: /bin/sh\nresources:\n  - name: f\n    type: file\n    target_path: /etc/f\n    mode: \"0600\"\n    state: present\n  - name: g\n    type: group\n    group: g\n    state: present\n  - name: u\n    type: user\n    username: u\n    state: present\n",
        ),
        (
            "envoys.vgo",
            "envoys:\n  - match: \"*\"\n    configcrates: [c]\n",
        ),
    ]);
    let b = r.resolve("h", None).unwrap();
    let c = krate(&b, "c");
    assert_eq!(
        Value::Object(c.resources[0].attributes.clone()),
        json!({"target_path": "/etc/f", "mode": "0600", "owner": "www-data", "state": "present"})
    );
    assert_eq!(
        Value::Object(c.resources[1].attributes.clone()),
        json!({"group": "g", "state": "present"})
    );
    assert_eq!(c.resources[2].attributes["shell"], "/bin/sh");
}

#[test]
fn secrets_become_markers_everywhere() {
    let r = resolver(&[
        (
            "configcrates/c.vgo",
            "configcrate: c\nvars:\n  pw: \"secret:vigo/db/pw\"\nresources:\n  - name: f\n    type: file\n    target_path: /etc/app.conf\n    content: \"password = secret:vigo/app/pw\\n\"\n    state: present\n    when: \"file_exists('secret:vigo/x')\"\n",
        ),
        (
            "envoys.vgo",
            "envoys:\n  - match: \"*\"\n    configcrates: [c]\n",
        ),
    ]);
    let b = r.resolve("h", None).unwrap();
    let c = krate(&b, "c");
    assert_eq!(c.vars["pw"], "__VIGO_SECRET__vigo/db/pw__END__");
    assert_eq!(
        c.resources[0].attributes["content"],
        "password = __VIGO_SECRET__vigo/app/pw__END__\n"
    );
    assert_eq!(
        c.resources[0].when,
        "file_exists('__VIGO_SECRET__vigo/x__END__')"
    );
    let encoded = String::from_utf8_lossy(&signing::encode(&b.to_proto())).into_owned();
    assert!(!encoded.contains("secret:"), "no reference survives");
}

#[test]
fn scalars_are_normalised_and_depends_on_takes_a_string_or_a_list() {
    let r = resolver(&[
        (
            "configcrates/c.vgo",
            "configcrate: c\nresources:\n  - name: s\n    type: service\n    service: nginx\n    state: running\n    enabled: \"true\"\n    depends_on: p\n  - name: p\n    type: package\n    package: nginx\n    state: present\n    update_cache: \"yes\"\n  - name: u\n    type: user\n    username: u\n    uid: \"1500\"\n    state: present\n    depends_on: [p, s]\n    timeout: 2m\n  - name: d\n    type: directory\n    target_path: /srv/d\n    mode: 0750\n    state: present\n",
        ),
        (
            "envoys.vgo",
            "envoys:\n  - match: \"*\"\n    configcrates: [c]\n",
        ),
    ]);
    let b = r.resolve("h", None).unwrap();
    let res = &krate(&b, "c").resources;
    assert_eq!(res[0].attributes["enabled"], true);
    assert_eq!(res[0].depends_on, ["p"]);
    assert_eq!(res[1].attributes["update_cache"], true);
    assert_eq!(res[2].attributes["uid"], 1500);
    assert_eq!(res[2].depends_on, ["p", "s"]);
    assert_eq!(res[2].timeout_secs, 120);
    assert!(!res[2].attributes.contains_key("timeout"));
    assert_eq!(res[3].attributes["mode"], "0750");
    assert_eq!(res[0].origin, "configcrates/c.vgo:3");
}

#[test]
fn one_bundle_per_block_shared_by_every_hostname() {
    let r = resolver(&[
        A,
        (
            "envoys.vgo",
            "envoys:\n  - match: \"web-*\"\n    configcrates: [a]\n  - match: \"*\"\n    configcrates: [a]\n",
        ),
    ]);
    let one = r.resolve("web-1", None).unwrap();
    let two = r.resolve("web-2", None).unwrap();
    let other = r.resolve("db-1", None).unwrap();
    assert!(Arc::ptr_eq(&one, &two));
    assert!(!Arc::ptr_eq(&one, &other));
    let env_a = r.resolve("web-1", Some("x"));
    assert!(
        env_a.is_ok(),
        "no environments.vgo: any name is a plain label"
    );
    assert!(Arc::ptr_eq(
        &env_a.unwrap(),
        &r.resolve("web-2", Some("x")).unwrap()
    ));
}

#[test]
fn only_referenced_templates_ship() {
    let r = resolver(&[
        ("templates/a.tmpl", "{{ .Vars.x }}"),
        ("templates/sub/b.tmpl", "b"),
        (
            "configcrates/c.vgo",
            "configcrate: c\nvars: {x: 1}\nresources:\n  - name: f\n    type: file\n    target_path: /etc/f\n    source: templates/sub/b.tmpl\n    state: present\n",
        ),
        (
            "envoys.vgo",
            "envoys:\n  - match: \"*\"\n    configcrates: [c]\n",
        ),
    ]);
    let b = r.resolve("h", None).unwrap();
    assert_eq!(b.templates.keys().collect::<Vec<_>>(), ["sub/b.tmpl"]);
    assert_eq!(
        krate(&b, "c").resources[0].attributes["source"],
        "sub/b.tmpl"
    );
}

#[test]
fn signed_bundle_round_trip_from_a_stack() {
    let tree = SourceTree::from_files([
        A,
        (
            "envoys.vgo",
            "envoys:\n  - match: \"*\"\n    observe_only: \"true\"\n    configcrates: [a]\n",
        ),
    ]);
    let stack = vigo_lang::load(&tree).unwrap();
    let hash = stack.tree_hash.clone();
    let meta = BundleMeta {
        version: "20261124T050000Z".into(),
        issued_at_unix: 1_700_000_000,
        max_age_secs: 3600,
    };
    let r = Resolver::new(Arc::new(stack), meta);
    let b = r.resolve("h", None).unwrap();
    assert!(b.observe_only);
    assert_eq!(b.tree_hash, hash);
    let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let signed = signing::sign(&b.to_proto(), &key);
    let back = signing::verify(&signed, &key.verifying_key()).unwrap();
    assert_eq!(Bundle::from_proto(&back).unwrap(), *b);
    assert_eq!(back.version, "20261124T050000Z");
    assert_eq!(back.max_age_secs, 3600);
}
