//! One test per validation rule, each showing the exact message an operator sees.

use vigo_lang::{SourceTree, load};

/// The errors of a tree, one per line, or "OK".
fn errs(files: &[(&str, &str)]) -> String {
    match load(&SourceTree::from_files(files.iter().copied())) {
        Ok(_) => "OK".into(),
        Err(e) => e.to_string(),
    }
}

const ENVOYS: (&str, &str) = (
    "envoys.vgo",
    "envoys:\n  - match: \"*\"\n    configcrates: [c]\n",
);

/// A tree with one crate `c` (resources given as YAML list items) applied to every envoy.
fn crate_c(resources: &str) -> String {
    errs(&[
        ENVOYS,
        (
            "configcrates/c.vgo",
            &format!("configcrate: c\nresources:\n{resources}"),
        ),
    ])
}

const FILE: &str = "  - name: f\n    type: file\n    target_path: /etc/motd\n    state: present\n";

#[test]
fn a_valid_tree_loads() {
    assert_eq!(crate_c(FILE), "OK");
}

#[test]
fn yaml_syntax() {
    assert_eq!(
        errs(&[
            ENVOYS,
            ("configcrates/c.vgo", "configcrate: c\nresources: [\n")
        ]),
        "configcrates/c.vgo:2:12: YAML syntax error: unclosed bracket '['"
    );
}

#[test]
fn unknown_type_with_hint() {
    assert_eq!(
        crate_c("  - name: f\n    type: fille\n    target_path: /x\n    state: present\n"),
        "configcrates/c.vgo:4:11: configcrate \"c\" resource \"f\": unknown resource type `fille`; did you mean `file`?"
    );
}

#[test]
fn unknown_type_points_at_custom_executors() {
    assert_eq!(
        crate_c("  - name: f\n    type: pgtune\n"),
        "configcrates/c.vgo:4:11: configcrate \"c\" resource \"f\": unknown resource type `pgtune`; custom executor types must be declared in executors.vgo"
    );
}

#[test]
fn unknown_attribute_with_hint() {
    assert_eq!(
        crate_c(&format!("{FILE}    mdoe: \"0644\"\n")),
        "configcrates/c.vgo:7:5: configcrate \"c\" resource \"f\": unknown attribute `mdoe` for type file; did you mean `mode`?"
    );
}

#[test]
fn missing_required_attribute() {
    assert_eq!(
        crate_c("  - name: f\n    type: file\n    state: present\n"),
        "configcrates/c.vgo:3:5: configcrate \"c\" resource \"f\": missing required attribute `target_path` for type file"
    );
}

#[test]
fn missing_attribute_required_when_present() {
    assert_eq!(
        crate_c("  - name: l\n    type: symlink\n    target_path: /etc/l\n    state: present\n"),
        "configcrates/c.vgo:3:5: configcrate \"c\" resource \"l\": missing attribute `to`, required when state is present"
    );
    assert_eq!(
        crate_c("  - name: l\n    type: symlink\n    target_path: /etc/l\n    state: absent\n"),
        "OK"
    );
}

#[test]
fn wrong_value_types() {
    assert_eq!(
        crate_c(&format!("{FILE}    mode: [1]\n")),
        "configcrates/c.vgo:7:11: configcrate \"c\" resource \"f\": attribute `mode`: expected an octal mode like \"0644\", found a list"
    );
    assert_eq!(
        crate_c(&format!("{FILE}    mode: \"0999\"\n")),
        "configcrates/c.vgo:7:11: configcrate \"c\" resource \"f\": attribute `mode`: expected an octal mode like \"0644\", found \"0999\""
    );
    assert_eq!(
        crate_c(
            "  - name: s\n    type: service\n    service: x\n    state: running\n    enabled: maybe\n"
        ),
        "configcrates/c.vgo:7:14: configcrate \"c\" resource \"s\": attribute `enabled`: expected true or false, found \"maybe\""
    );
    assert_eq!(
        crate_c("  - name: u\n    type: user\n    username: x\n    uid: abc\n    state: present\n"),
        "configcrates/c.vgo:6:10: configcrate \"c\" resource \"u\": attribute `uid`: expected a whole number from 0 to 4294967295, found \"abc\""
    );
    assert_eq!(
        crate_c("  - name: f\n    type: file\n    target_path: etc/motd\n    state: present\n"),
        "configcrates/c.vgo:5:18: configcrate \"c\" resource \"f\": attribute `target_path`: expected an absolute path, found \"etc/motd\""
    );
    assert_eq!(
        crate_c("  - name: f\n    type: file\n    target_path: /etc/motd\n    state: presnt\n"),
        "configcrates/c.vgo:6:12: configcrate \"c\" resource \"f\": attribute `state`: expected one of present, absent, found \"presnt\""
    );
}

#[test]
fn native_and_string_scalars_are_both_accepted() {
    assert_eq!(
        crate_c(
            "  - name: s\n    type: service\n    service: x\n    state: running\n    enabled: \"true\"\n  - name: u\n    type: user\n    username: x\n    uid: 1500\n    system: true\n    state: present\n  - name: g\n    type: group\n    group: x\n    gid: \"1500\"\n    state: present\n  - name: d\n    type: directory\n    target_path: /srv/d\n    mode: 0750\n    state: present\n"
        ),
        "OK"
    );
}

#[test]
fn unknown_role_crate_usercrate_environment() {
    assert_eq!(
        errs(&[
            (
                "envoys.vgo",
                "envoys:\n  - match: \"*\"\n    roles: [webservr]\n    configcrates: [ngnix]\n    usercrates: [bob]\n    environment: prodution\n"
            ),
            (
                "roles.vgo",
                "roles:\n  webserver:\n    configcrates: [nginx]\n"
            ),
            ("configcrates/nginx.vgo", "configcrate: nginx\n"),
            ("usercrates/alice.vgo", "resources: []\n"),
            (
                "environments.vgo",
                "env:\n  production:\n    vars: {a: 1}\n"
            ),
        ]),
        "envoys.vgo:3:13: match block \"*\": unknown role `webservr`; did you mean `webserver`?\nenvoys.vgo:4:20: match block \"*\": unknown configcrate `ngnix`; did you mean `nginx`?\nenvoys.vgo:5:18: match block \"*\": unknown usercrate `bob`\nenvoys.vgo:6:18: match block \"*\": unknown environment `prodution`; did you mean `production`?"
    );
}

#[test]
fn unknown_reference_targets() {
    assert_eq!(
        crate_c(&format!(
            "{FILE}  - name: g\n    type: file\n    target_path: /etc/g\n    state: present\n    depends_on: ff\n    notify: [nope]\n"
        )),
        "configcrates/c.vgo:11:17: configcrate \"c\" resource \"g\": unknown depends_on target `ff`; did you mean `f`?\nconfigcrates/c.vgo:12:14: configcrate \"c\" resource \"g\": unknown notify target `nope`"
    );
}

#[test]
fn crate_level_depends_on() {
    assert_eq!(
        errs(&[
            ENVOYS,
            ("configcrates/c.vgo", "configcrate: c\ndepends_on: [d, e]\n"),
            ("configcrates/d.vgo", "name: d\n")
        ]),
        "configcrates/c.vgo:2:14: configcrate \"c\": depends on configcrate `d`, which is not applied with it to envoys matching \"*\" (envoys.vgo:2:5)\nconfigcrates/c.vgo:2:17: configcrate \"c\": unknown configcrate `e`; did you mean `d`?"
    );
}

#[test]
fn dependency_cycles_print_the_cycle() {
    assert_eq!(
        crate_c(
            "  - name: a\n    type: file\n    target_path: /etc/a\n    state: present\n    depends_on: b\n  - name: b\n    type: file\n    target_path: /etc/b\n    state: present\n    depends_on: [a]\n"
        ),
        "configcrates/c.vgo:3:5: dependency cycle: c/a → c/b → c/a"
    );
}

#[test]
fn cycles_across_crates() {
    assert_eq!(
        errs(&[
            (
                "envoys.vgo",
                "envoys:\n  - match: \"*\"\n    configcrates: [c, d]\n"
            ),
            (
                "configcrates/c.vgo",
                "configcrate: c\ndepends_on: d\nresources:\n  - name: a\n    type: file\n    target_path: /etc/a\n    state: present\n"
            ),
            (
                "configcrates/d.vgo",
                "configcrate: d\nresources:\n  - name: b\n    type: file\n    target_path: /etc/b\n    state: present\n    depends_on: c/a\n"
            ),
        ]),
        "configcrates/c.vgo:4:5: dependency cycle: c/a → configcrate d → d/b → c/a"
    );
}

#[test]
fn restarted_needs_when_changed() {
    assert_eq!(
        crate_c("  - name: r\n    type: service\n    service: nginx\n    state: restarted\n"),
        "configcrates/c.vgo:6:5: configcrate \"c\" resource \"r\": `state: restarted` always reports a change: gate it with `when: \"changed\"` and trigger it with `notify`"
    );
}

#[test]
fn revert_true_is_refused_until_the_agent_runs_on_revert() {
    assert_eq!(
        crate_c(
            "  - name: r\n    type: replace\n    target_path: /etc/x\n    match_pattern: a\n    replacement: b\n    revert: true\n    on_revert: \"true\"\n"
        ),
        "configcrates/c.vgo:8:5: configcrate \"c\" resource \"r\": `revert: true` is not supported yet: the agent does not run `on_revert` (undo the change with another resource)"
    );
    assert_eq!(
        crate_c(&format!(
            "{FILE}    revert: true\n    on_revert: \"true\"\n"
        )),
        "configcrates/c.vgo:7:5: configcrate \"c\" resource \"f\": `revert` is not supported by type file (only by replace)"
    );
}

#[test]
fn edit_patterns_are_checked_at_publish() {
    let replace = |extra: &str| {
        crate_c(&format!(
            "  - name: r\n    type: replace\n    target_path: /etc/x\n{extra}"
        ))
    };
    assert_eq!(
        replace("    match_pattern: \"v(\\\\d)\"\n    replacement: \"v$1_new\"\n"),
        "configcrates/c.vgo:7:5: configcrate \"c\" resource \"r\": attribute `replacement`: `$1_new` refers to a group named `1_new`, which the pattern does not have; write `${1}_new` for group 1 followed by \"_new\""
    );
    assert_eq!(
        replace("    match_pattern: \"(a)\"\n    replacement: \"$5\"\n"),
        "configcrates/c.vgo:7:5: configcrate \"c\" resource \"r\": attribute `replacement`: `$5` refers to group 5, but the pattern has 1 group(s) ($0 is the whole match, $1 the group)"
    );
    assert_eq!(
        crate_c(
            "  - name: l\n    type: file_line\n    target_path: /etc/x\n    line: x\n    match_pattern: \"\"\n    state: present\n"
        ),
        "configcrates/c.vgo:7:5: configcrate \"c\" resource \"l\": attribute `match_pattern`: is empty: an empty regular expression matches everywhere (write `^` if every line is meant)"
    );
}

#[test]
fn guardrails() {
    assert_eq!(
        crate_c(
            "  - name: rm\n    type: file\n    target_path: /usr/local/sbin/vigo\n    state: absent\n"
        ),
        "configcrates/c.vgo:3:5: configcrate \"c\" resource \"rm\": guardrail: targets protected path /usr/local/sbin/vigo"
    );
    assert_eq!(
        crate_c("  - name: s\n    type: service\n    service: vigo-envoy\n    state: stopped\n"),
        "configcrates/c.vgo:3:5: configcrate \"c\" resource \"s\": guardrail: would stop or disable protected service vigo-envoy"
    );
    assert_eq!(
        crate_c("  - name: p\n    type: package\n    package: [curl, vigo]\n    state: absent\n"),
        "configcrates/c.vgo:3:5: configcrate \"c\" resource \"p\": guardrail: would remove protected package vigo"
    );
    assert_eq!(
        crate_c("  - name: e\n    type: exec\n    command: systemctl stop vigo-envoy\n"),
        "configcrates/c.vgo:3:5: configcrate \"c\" resource \"e\": guardrail: runs a dangerous command: `systemctl stop` of a Vigo service"
    );
}

#[test]
fn secret_references() {
    assert_eq!(
        errs(&[
            ENVOYS,
            (
                "configcrates/c.vgo",
                "configcrate: c\nvars:\n  pw: \"secret:\"\nresources:\n  - name: f\n    type: file\n    target_path: /etc/f\n    content: \"secret:a//b\"\n    state: present\n"
            )
        ]),
        "configcrates/c.vgo:3:7: configcrate \"c\": var `pw`: `secret:` must be followed by a path such as `secret:vigo/db/password`\nconfigcrates/c.vgo:8:5: configcrate \"c\" resource \"f\": attribute `content`: bad secret path `a//b`: segments separated by single `/`, none empty, `.` or `..`"
    );
}

#[test]
fn duplicate_names() {
    assert_eq!(
        crate_c(&format!("{FILE}{FILE}")),
        "configcrates/c.vgo:7:5: configcrate \"c\": duplicate resource name `f` (first defined at line 3)"
    );
    assert_eq!(
        errs(&[
            ENVOYS,
            ("configcrates/c.vgo", "configcrate: c\n"),
            ("configcrates/other.vgo", "configcrate: c\n")
        ]),
        "configcrates/other.vgo:1:1: configcrate `c` is already defined in configcrates/c.vgo"
    );
}

#[test]
fn duplicate_names_after_foreach() {
    assert_eq!(
        errs(&[
            ENVOYS,
            (
                "configcrates/c.vgo",
                "configcrate: c\nvars:\n  users: [a, a]\nresources:\n  - name: \"u-{{ .Item }}\"\n    type: user\n    foreach: users\n    username: \"{{ .Item }}\"\n    state: present\n"
            )
        ]),
        "configcrates/c.vgo:5:5: configcrate \"c\" resource \"u-a\": duplicate resource name `u-a` after foreach expansion"
    );
}

#[test]
fn notify_and_subscribes_targets_need_when_changed() {
    assert_eq!(
        crate_c(
            "  - name: f\n    type: file\n    target_path: /etc/f\n    state: present\n    notify: s\n  - name: s\n    type: service\n    service: x\n    state: running\n    subscribes: f\n"
        ),
        "configcrates/c.vgo:7:13: configcrate \"c\" resource \"f\": notify target `s` must have `when: \"changed\"`\nconfigcrates/c.vgo:12:17: configcrate \"c\" resource \"s\": a resource with `subscribes` must have `when: \"changed\"`"
    );
}

#[test]
fn when_expressions() {
    assert_eq!(
        crate_c(&format!("{FILE}    when: \"os_family('debian') &&\"\n")),
        "configcrates/c.vgo:7:11: configcrate \"c\" resource \"f\": `when`: column 23: unexpected end; expected a builtin, `!` or `(`"
    );
    assert_eq!(
        crate_c(&format!("{FILE}    when: \"os_famly('debian')\"\n")),
        "configcrates/c.vgo:7:11: configcrate \"c\" resource \"f\": `when`: column 1: unknown builtin `os_famly` (did you mean `os_family`?)"
    );
    assert_eq!(
        errs(&[
            ENVOYS,
            ("configcrates/c.vgo", "configcrate: c\nwhen: changed\n")
        ]),
        "configcrates/c.vgo:2:7: configcrate \"c\": `when: \"changed\"` applies to resources, not to a whole crate"
    );
}

#[test]
fn foreach_problems() {
    let tree = |vars: &str, name: &str| {
        errs(&[
            ENVOYS,
            (
                "configcrates/c.vgo",
                &format!(
                    "configcrate: c\nvars:\n{vars}\nresources:\n  - name: {name}\n    type: group\n    foreach: groups\n    group: \"{{{{ .Item }}}}\"\n    state: present\n"
                ),
            ),
        ])
    };
    assert_eq!(
        tree("  other: []", "\"g-{{ .Item }}\""),
        "configcrates/c.vgo:7:14: configcrate \"c\" resource \"g-{{ .Item }}\": `foreach`: no var `groups` is defined"
    );
    assert_eq!(
        tree("  groups: {a: 1}", "\"g-{{ .Item }}\""),
        "configcrates/c.vgo:7:14: configcrate \"c\" resource \"g-{{ .Item }}\": `foreach`: var `groups` must be a list, found a mapping"
    );
    assert_eq!(
        tree("  groups: [a, b]", "g"),
        "configcrates/c.vgo:5:5: configcrate \"c\" resource \"g\": a resource with `foreach` needs a templated name (e.g. `name: \"user-{{ .Item }}\"`) to stay unique"
    );
    assert_eq!(tree("  groups: [a, b]", "\"g-{{ .Item }}\""), "OK");
}

#[test]
fn file_content_and_source() {
    assert_eq!(
        errs(&[
            ENVOYS,
            ("templates/motd.tmpl", "hi\n"),
            (
                "configcrates/c.vgo",
                "configcrate: c\nresources:\n  - name: f\n    type: file\n    target_path: /etc/f\n    content: x\n    source: motd.tmpl\n    state: present\n  - name: g\n    type: file\n    target_path: /etc/g\n    source: mtod.tmpl\n    state: present\n"
            )
        ]),
        "configcrates/c.vgo:7:5: configcrate \"c\" resource \"f\": `content` and `source` are mutually exclusive\nconfigcrates/c.vgo:12:5: configcrate \"c\" resource \"g\": attribute `source`: no template `mtod.tmpl` under templates/; did you mean `motd.tmpl`?"
    );
}

#[test]
fn bad_templates() {
    assert_eq!(
        errs(&[
            ENVOYS,
            ("templates/motd.tmpl", "line\n{{ if .Vars.x }}\n"),
            (
                "configcrates/c.vgo",
                &format!("configcrate: c\nresources:\n{FILE}    content: \"{{{{ .Vars.x \"\n")
            )
        ]),
        "configcrates/c.vgo:7:5: configcrate \"c\" resource \"f\": attribute `content`: bad template at 1:1: unclosed action (no `}}`)\ntemplates/motd.tmpl:2:1: bad template: `if` has no `end`"
    );
}

#[test]
fn role_includes_are_one_level() {
    assert_eq!(
        errs(&[
            ("envoys.vgo", "envoys:\n  - match: \"*\"\n    roles: [a]\n"),
            (
                "roles.vgo",
                "roles:\n  a:\n    includes: [b, a]\n  b:\n    includes: [c]\n  c:\n    configcrates: []\n"
            ),
        ]),
        "roles.vgo:3:16: role \"a\": includes role `b`, which has includes of its own: includes are one level deep\nroles.vgo:3:19: role \"a\": a role cannot include itself"
    );
}

#[test]
fn unknown_keys_everywhere() {
    assert_eq!(
        errs(&[
            ("envoys.vgo", "envoys:\n  - match: \"*\"\n    role: [a]\n"),
            ("roles.vgo", "roles:\n  a:\n    configcrate: [c]\n"),
            ("configcrates/c.vgo", "configcrate: c\nresource: []\n"),
            ("environments.vgo", "env:\n  prod:\n    var: {}\n"),
            ("common.vgo", "vars: {}\nmatch: x\n"),
        ]),
        "common.vgo:2:1: common.vgo: unknown key `match`\nconfigcrates/c.vgo:2:1: configcrate \"c\": unknown key `resource`; did you mean `resources`?\nenvironments.vgo:3:5: environment \"prod\": unknown key `var`; did you mean `vars`?\nenvoys.vgo:3:5: match block \"*\": unknown key `role`; did you mean `roles`?\nroles.vgo:3:5: role \"a\": unknown key `configcrate`; did you mean `configcrates`?"
    );
}

#[test]
fn match_blocks() {
    assert_eq!(
        errs(&[
            (
                "envoys.vgo",
                "envoys:\n  - roles: []\n  - match: \"web[0-9\"\n"
            ),
            ("other.vgo", "vars: {}\n")
        ]),
        "envoys.vgo:2:5: match block #2: missing required key `match`\nenvoys.vgo:3:5: match block \"web[0-9\": `match`: unclosed `[` in pattern \"web[0-9\"\nother.vgo:1:1: a hostcrate needs `envoys:`, a list of match blocks (every .vgo file outside configcrates/, usercrates/ and templates/ is a hostcrate, except roles.vgo, executors.vgo, common.vgo and environments.vgo)"
    );
}

#[test]
fn crate_names() {
    assert_eq!(
        errs(&[("configcrates/a.vgo", "configcrate: a\nname: a\n")]),
        "configcrates/a.vgo:2:1: give the crate's name as `configcrate:` or `name:`, not both"
    );
    assert_eq!(
        errs(&[("configcrates/a.vgo", "vars: {}\n")]),
        "configcrates/a.vgo:1:1: missing `configcrate:` (or `name:`): the crate's name"
    );
    assert_eq!(
        errs(&[("configcrates/a.vgo", "name: a/b\n")]),
        "configcrates/a.vgo:1:1: configcrate \"a/b\": a crate name may hold only letters, digits, `_`, `-` and `.`"
    );
    assert_eq!(
        errs(&[("prod/roles.vgo", "roles: {}\n")]),
        "prod/roles.vgo:1:1: this file belongs at the root of stacks/"
    );
}

#[test]
fn custom_executor_types() {
    let tree = |res: &str| {
        errs(&[
            ENVOYS,
            (
                "executors.vgo",
                "executors:\n  motd_line:\n    attributes: [line]\n    required: [line]\n  file:\n    attributes: []\n",
            ),
            (
                "configcrates/c.vgo",
                &format!("configcrate: c\nresources:\n{res}"),
            ),
        ])
    };
    assert_eq!(
        tree("  - name: m\n    type: motd_line\n    line: hi\n    timeout: 10s\n"),
        "executors.vgo:5:3: custom type \"file\": `file` is a built-in type; a custom executor cannot replace it"
    );
    assert_eq!(
        tree("  - name: m\n    type: motd_line\n    lines: hi\n"),
        "configcrates/c.vgo:3:5: configcrate \"c\" resource \"m\": missing required attribute `line` for custom type motd_line\nconfigcrates/c.vgo:5:5: configcrate \"c\" resource \"m\": unknown attribute `lines` for custom type motd_line; did you mean `line`?\nexecutors.vgo:5:3: custom type \"file\": `file` is a built-in type; a custom executor cannot replace it"
    );
}

#[test]
fn resource_case_is_refused() {
    assert_eq!(
        crate_c(&format!("{FILE}    case: {{debian: {{mode: \"0600\"}}}}\n")),
        "configcrates/c.vgo:7:5: configcrate \"c\" resource \"f\": `case:` on a resource is not supported; write one resource per case, each with `when: \"os_family('…')\"`"
    );
}

#[test]
fn bad_timeout() {
    assert_eq!(
        crate_c(&format!("{FILE}    timeout: soon\n")),
        "configcrates/c.vgo:7:14: configcrate \"c\" resource \"f\": attribute `timeout`: expected a duration like \"30s\", \"5m\", \"24h\" or \"1h30m\" (units ms, s, m, h, d; a bare number is seconds), found \"soon\""
    );
}

#[test]
fn missing_name_and_type() {
    assert_eq!(
        crate_c("  - type: exec\n  - name: x\n"),
        "configcrates/c.vgo:3:5: configcrate \"c\" resource #3: missing required attribute `name`\nconfigcrates/c.vgo:4:5: configcrate \"c\" resource \"x\": missing required attribute `type`"
    );
}

#[test]
fn every_error_of_the_tree_is_reported() {
    let out = crate_c("  - name: a\n    type: fille\n  - name: b\n    type: file\n    mdoe: 1\n");
    assert_eq!(out.lines().count(), 4, "{out}");
}

#[test]
fn exec_secret_file_placeholder_publishes_and_is_checked_both_ways() {
    let exec = |attrs: &str| crate_c(&format!("  - name: e\n    type: exec\n{attrs}"));
    assert_eq!(
        exec(
            "    command: \"psql -f {{secret_file}} -h {{ .Vars.h }}\"\n    secret_file: \"secret:db/pw\"\n"
        ),
        "OK"
    );
    insta::assert_snapshot!(
        exec("    command: \"psql -h db\"\n    secret_file: \"secret:db/pw\"\n"),
        @"configcrates/c.vgo:6:5: configcrate \"c\" resource \"e\": attribute `secret_file`: `command` must use `{{secret_file}}`, which is replaced by the path of the file holding it"
    );
    insta::assert_snapshot!(
        exec("    command: \"cat {{secret_file}}\"\n"),
        @"configcrates/c.vgo:5:5: configcrate \"c\" resource \"e\": attribute `command` uses `{{secret_file}}` but `secret_file` is not set"
    );
}

#[test]
fn sensitive_is_an_engine_attribute_taking_a_boolean() {
    assert_eq!(crate_c(&format!("{FILE}    sensitive: true\n")), "OK");
    assert!(crate_c(&format!("{FILE}    sensitive: maybe\n")).contains("`sensitive`"),);
}

#[test]
fn cron_fields_are_checked_by_range_at_publish() {
    let cron = |extra: &str| {
        crate_c(&format!(
            "  - name: nightly\n    type: cron\n    state: present\n    command: /bin/true\n{extra}"
        ))
    };
    assert_eq!(
        cron("    schedule: \"99 99 * * *\"\n"),
        "configcrates/c.vgo:7:5: configcrate \"c\" resource \"nightly\": attribute `schedule`: minute `99` is out of range 0-59: expected *, 0-59, a range a-b, a list a,b or a step */n"
    );
    assert_eq!(
        cron("    hour: \"25\"\n"),
        "configcrates/c.vgo:7:5: configcrate \"c\" resource \"nightly\": attribute `hour`: hour `25` is out of range 0-23: expected *, 0-23, a range a-b, a list a,b or a step */n"
    );
    assert_eq!(cron("    schedule: \"*/15 2-4 * jan-mar mon,fri\"\n"), "OK");
    assert_eq!(cron("    schedule: \"@weekly\"\n"), "OK");
    assert_eq!(cron("    schedule: \"{{ .vars.when }}\"\n"), "OK");
}
