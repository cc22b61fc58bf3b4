//! The template engine against Go `text/template` behaviour, case by case.

use serde_json::{Value, json};
use vigo_lang::template::Template;

fn data() -> Value {
    json!({
        "Vars": {"port": 8080, "name": "web", "users": ["alice", "bob"], "empty": [], "flag": true, "ratio": 0.5,
                 "limits": {"nofile": 65536, "nproc": 4096}, "nothing": null, "zero": 0},
        "Traits": {"os": {"family": "debian", "version": "12"}, "network": {"ip_addresses": ["10.0.0.5", "fd00::5"]}},
        "Item": "nginx"
    })
}

fn render(src: &str) -> String {
    Template::parse("t", src)
        .unwrap_or_else(|e| panic!("parse {src:?}: {e}"))
        .render(&data())
        .unwrap_or_else(|e| panic!("render {src:?}: {e}"))
}

fn render_err(src: &str) -> String {
    match Template::parse("t", src) {
        Err(e) => e.to_string(),
        Ok(t) => t.render(&data()).expect_err("must fail").to_string(),
    }
}

#[test]
fn fields_text_and_printing() {
    assert_eq!(render("listen {{ .Vars.port }};"), "listen 8080;");
    assert_eq!(render("{{.Vars.name}}-{{ .Item }}"), "web-nginx");
    assert_eq!(render("{{ .Vars.users }}"), "[alice bob]");
    assert_eq!(render("{{ .Vars.limits }}"), "map[nofile:65536 nproc:4096]");
    assert_eq!(
        render("{{ .Vars.ratio }} {{ .Vars.flag }} {{ .Vars.nothing }}"),
        "0.5 true <no value>"
    );
    assert_eq!(
        render("{{ \"quoted\\tand\\n\" }}{{ `raw\\n` }}"),
        "quoted\tand\nraw\\n"
    );
    assert_eq!(render("a {{/* a comment */}}b"), "a b");
}

#[test]
fn trimming() {
    assert_eq!(render("a  \n  {{- .Item -}}  \n  b"), "anginxb");
    assert_eq!(render("x {{- 3 }} {{ 4 -}} y"), "x3 4y");
    assert_eq!(render("{{- .Item }}"), "nginx");
}

#[test]
fn conditionals_and_comparisons() {
    assert_eq!(
        render("{{ if eq .Traits.os.family \"debian\" }}apt{{ else }}dnf{{ end }}"),
        "apt"
    );
    assert_eq!(
        render(
            "{{ if eq .Traits.os.family \"rhel\" \"suse\" }}rpm{{ else if eq .Traits.os.family \"debian\" }}deb{{ else }}?{{ end }}"
        ),
        "deb"
    );
    assert_eq!(
        render(
            "{{ if .Vars.empty }}yes{{ else }}no{{ end }}{{ if .Vars.zero }}1{{ end }}{{ if not .Vars.nothing }}nil{{ end }}"
        ),
        "nonil"
    );
    assert_eq!(
        render("{{ if and .Vars.flag (gt .Vars.port 1024) }}high{{ end }}"),
        "high"
    );
    assert_eq!(
        render("{{ or .Vars.nothing .Vars.zero \"fallback\" }}"),
        "fallback"
    );
    assert_eq!(render("{{ and .Vars.flag .Vars.zero .Vars.port }}"), "0");
    assert_eq!(
        render("{{ lt 1 2 }} {{ le 2 2 }} {{ ge 1 2 }} {{ ne \"a\" \"b\" }} {{ lt \"a\" \"b\" }}"),
        "true true false true true"
    );
    // `and` short-circuits: the missing key is never evaluated.
    assert_eq!(
        render("{{ if and .Vars.zero .Vars.missing }}x{{ else }}safe{{ end }}"),
        "safe"
    );
}

#[test]
fn range_with_and_variables() {
    assert_eq!(
        render("{{ range .Vars.users }}AllowUsers {{ . }}\n{{ end }}"),
        "AllowUsers alice\nAllowUsers bob\n"
    );
    assert_eq!(
        render("{{ range $i, $u := .Vars.users }}{{ $i }}={{ $u }} {{ end }}"),
        "0=alice 1=bob "
    );
    assert_eq!(
        render("{{ range $k, $v := .Vars.limits }}{{ $k }}:{{ $v }};{{ end }}"),
        "nofile:65536;nproc:4096;"
    );
    assert_eq!(
        render("{{ range .Vars.empty }}x{{ else }}none{{ end }}"),
        "none"
    );
    assert_eq!(render("{{ range 3 }}{{ . }}{{ end }}"), "012");
    assert_eq!(
        render("{{ with .Traits.os }}{{ .family }}/{{ .version }}{{ end }}"),
        "debian/12"
    );
    assert_eq!(
        render("{{ with .Vars.empty }}x{{ else }}empty{{ end }}"),
        "empty"
    );
    assert_eq!(
        render("{{ $p := .Vars.port }}{{ $p }} {{ $p = 9 }}{{ $p }}"),
        "8080 9"
    );
    assert_eq!(
        render("{{ range .Vars.users }}{{ $.Vars.name }}:{{ . }} {{ end }}"),
        "web:alice web:bob "
    );
    assert_eq!(
        render("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}"),
        "21"
    );
}

#[test]
fn functions() {
    assert_eq!(
        render("{{ index .Traits.network.ip_addresses 0 }}"),
        "10.0.0.5"
    );
    assert_eq!(render("{{ index .Vars.limits \"nofile\" }}"), "65536");
    assert_eq!(render("{{ len .Vars.users }} {{ len .Item }}"), "2 5");
    assert_eq!(
        render(
            "{{ printf \"%s:%d %5.2f|%-4s|%04d %q %v %t %x %%\" .Item .Vars.port 3.14159 \"ab\" 42 \"q\" .Vars.users true 255 }}"
        ),
        "nginx:8080  3.14|ab  |0042 \"q\" [alice bob] true ff %"
    );
    assert_eq!(render("{{ .Item | printf \"<%s>\" }}"), "<nginx>");
    assert_eq!(render("{{ print \"a\" 1 2 \"b\" }}"), "a1 2b");
    assert_eq!(render("{{ println \"a\" 1 }}"), "a 1\n");
    assert_eq!(
        render("{{ slice .Vars.users 1 }} {{ slice \"abcdef\" 1 3 }}"),
        "[bob] bc"
    );
    assert_eq!(
        render("{{ html \"<a href='x'>&</a>\" }}"),
        "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"
    );
    assert_eq!(render("{{ urlquery \"a b&c\" }}"), "a+b%26c");
    assert_eq!(
        render("{{ (index .Traits.network.ip_addresses 1) }} {{ (.Traits.os).family }}"),
        "fd00::5 debian"
    );
}

#[test]
fn define_template_block() {
    assert_eq!(
        render("{{ define \"hdr\" }}# {{ . }}\n{{ end }}{{ template \"hdr\" .Item }}body"),
        "# nginx\nbody"
    );
    assert_eq!(
        render("{{ block \"b\" .Vars.name }}[{{ . }}]{{ end }}"),
        "[web]"
    );
}

/// Every error a user reads names the template, the line and column of the construct at
/// fault, and the cause.
#[test]
fn errors_name_position_and_cause() {
    let cases = [
        "x\n  {{ .Vars.missing }}",
        "{{ .Item.name }}",
        "{{ $.Vars.nope }}",
        "{{ with $v := .Vars }}{{ $v.nope }}{{ end }}",
        "{{ if .Vars.flag }}x",
        "{{ range .Vars.users }}x{{ else }}",
        "{{ end }}",
        "{{ else }}",
        "{{ .Vars.port",
        "{{ \"open }}",
        "{{ lenn .Vars.users }}",
        "{{ .Vars.port | }}",
        "{{ index .Vars.users 5 }}",
        "{{ index .Vars.users \"a\" }}",
        "{{ eq .Vars.users 1 }}",
        "{{ eq 1 1.0 }}",
        "{{ lt true false }}",
        "{{ $nope }}",
        "{{ $nope = 1 }}",
        "{{ template \"none\" }}",
        "{{ define \"a\" }}1{{ end }}{{ define \"a\" }}2{{ end }}",
        "{{ break }}",
        "{{ printf 1 }}",
        "{{ len 3 }}",
        "{{ slice .Item 1 9 }}",
        "{{ slice \"h\u{e9}llo\" 1 2 }}",
        "{{ range .Item }}{{ end }}",
        "{{ 1i }}",
        "{{ 0x8000000000000000 }}",
        "{{ 0x }}",
        "{{ .Vars.port 1 }}",
        "{{ nil }}",
        "{{ call .Vars.port }}",
        "{{ \"\\q\" }}",
    ];
    let report: String = cases
        .iter()
        .map(|src| format!("{src}\n  => {}\n", render_err(src)))
        .collect();
    insta::assert_snapshot!(report);
}

#[test]
fn hostile_templates_are_bounded() {
    let deep = "{{ if true }}".repeat(200) + &"{{ end }}".repeat(200);
    assert!(render_err(&deep).contains("nested too deeply"));
    let recursive = "{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}";
    assert!(render_err(recursive).contains("nested too deeply"));
}

/// Go's output for each construct the outside test found wrong (issue item 26).
#[test]
fn go_outputs_for_constructs_that_were_wrong() {
    let d = json!({"list": [1, 2, 3], "nulls": [1, null], "big": 18446744073709551615u64, "nothing": null, "m": {"k": "v"}});
    let cases = [
        // Octal and other number forms.
        (
            "{{ 017 }} {{ 0o17 }} {{ 0x1F }} {{ 0b101 }} {{ 1_000 }} {{ 1e-3 }} {{ 0x1p-2 }}",
            "15 15 31 5 1000 0.001 0.25",
        ),
        // `<nil>` inside values and functions, `<no value>` for an action's nil.
        (
            "{{ .nothing }} {{ print .nothing }} {{ .nulls }} {{ printf \"%v\" nil }}",
            "<no value> <nil> [1 <nil>] <nil>",
        ),
        // Float formatting as Go's %v.
        (
            "{{ 1e6 }} {{ 1000000.0 }} {{ 123456.0 }} {{ 0.000001 }} {{ 1.5 }}",
            "1e+06 1e+06 123456 1e-06 1.5",
        ),
        // printf of negative hex, uint64 and floats with %d.
        (
            "{{ printf \"%x %X %d\" -255 -255 .big }} {{ printf \"%d\" 1.5 }}",
            "-ff -FF 18446744073709551615 %!d(float64=1.5)",
        ),
        (
            "{{ printf \"%5.1f|%-5d|%05d|%+d|%x|%o|%O|%b|%c|%q|%U|%#x|%e|%g\" 3.14159 42 -42 5 \"hi\" 8 8 5 65 \"a\\\"b\" 0x1F600 255 1234.5678 0.000012 }}",
            "  3.1|42   |-0042|+5|6869|10|0o10|101|A|\"a\\\"b\"|U+1F600|0xff|1.234568e+03|1.2e-05",
        ),
        // `*` widths, `%[n]` indexes, and Go's complaints.
        (
            "{{ printf \"%*d|%-*d|\" 5 1 3 2 }}{{ printf \"%[2]d %[1]d\" 1 2 }}",
            "    1|2  |2 1",
        ),
        (
            "{{ printf \"%[3]d\" 1 }} {{ printf \"%d %d\" 1 }} {{ printf \"%d\" 1 2 }}",
            "%!d(BADINDEX) 1 %!d(MISSING) 1%!(EXTRA int=2)",
        ),
        (
            "{{ printf \"%T %T %T %T %T %T %T\" 1 1.5 \"s\" true .list .m nil }}",
            "int float64 string bool []interface {} map[string]interface {} <nil>",
        ),
        // `range $i = …` assigns (Go 1.21), two-variable assignment too.
        ("{{ $x := 0 }}{{ range $x = .list }}{{ end }}{{ $x }}", "3"),
        (
            "{{ $i := 0 }}{{ $x := 0 }}{{ range $i, $x = .list }}{{ end }}{{ $i }}:{{ $x }}",
            "2:3",
        ),
        // 3-index slices, `index` on strings, string escapes.
        (
            "{{ slice .list 1 2 3 }} {{ index \"abc\" 1 }} {{ \"\\x41\\u00e9\\101\\t.\" }}",
            "[2] 98 AéA\t.",
        ),
        // `break` and `continue`.
        (
            "{{ range .list }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ . }}{{ end }}|{{ range .list }}{{ if eq . 2 }}{{ break }}{{ end }}{{ . }}{{ end }}",
            "13|1",
        ),
        // `index` of a missing key gives no value, so a template can test for a key.
        (
            "{{ if index .m \"nope\" }}yes{{ else }}no{{ end }} {{ index .m \"nope\" }}",
            "no <no value>",
        ),
        // `else with` (Go 1.23), `js`.
        (
            "{{ with .nothing }}x{{ else with .list }}{{ . }}{{ end }} {{ js \"<a='b'>\" }}",
            "[1 2 3] \\u003Ca\\u003D\\'b\\'\\u003E",
        ),
    ];
    for (src, want) in cases {
        let got = Template::parse("t", src).and_then(|t| t.render(&d));
        assert_eq!(got.as_deref(), Ok(want), "{src}");
    }
}

#[test]
fn field_paths_include_those_read_through_dollar() {
    let t = Template::parse(
        "t",
        "{{ range .Vars.users }}{{ $.Traits.os.family }}{{ end }}",
    )
    .unwrap();
    assert_eq!(t.field_paths(), vec!["Traits.os.family", "Vars.users"]);
}

#[test]
fn field_paths_for_validation() {
    let t = Template::parse("t", "{{ .Vars.port }}{{ if .Traits.os.family }}{{ range .Vars.users }}{{ . }}{{ end }}{{ end }}").unwrap();
    assert_eq!(
        t.field_paths(),
        vec!["Traits.os.family", "Vars.port", "Vars.users"]
    );
}

proptest::proptest! {
    /// Arbitrary text — and arbitrary actions — parse or fail cleanly, and render or fail
    /// cleanly: never a panic.
    #[test]
    fn never_panics(src in ".{0,200}", action in "[ -~]{0,60}") {
        let _ = Template::parse("p", &src).map(|t| t.render(&data()));
        let wrapped = format!("a{{{{{action}}}}}b{{{{- {action} -}}}}");
        let _ = Template::parse("p", &wrapped).map(|t| t.render(&data()));
    }
}

#[test]
fn the_example_stacks_templates_render() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/stacks/templates");
    let data = json!({
        "Vars": {"nginx_port": "80", "site_name": "www.example.net", "ntp_servers": ["0.pool", "1.pool"]},
        "Traits": {"os": {"family": "debian"}, "network": {"hostname": "web-01"}}
    });
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let out = Template::parse(&name, &text)
            .unwrap()
            .render(&data)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!out.contains("{{"), "{name} left an action unrendered");
        seen += 1;
    }
    assert_eq!(seen, 2);
    let chrony = Template::parse(
        "c",
        &std::fs::read_to_string(dir.join("chrony.conf.tmpl")).unwrap(),
    )
    .unwrap()
    .render(&data)
    .unwrap();
    assert!(
        chrony.starts_with(
            "# Managed by Vigo (configcrate ntp)\npool 0.pool iburst\npool 1.pool iburst\ndriftfile"
        ),
        "{chrony}"
    );
}

/// A parsed template can be shared between threads (the agent renders in parallel).
#[test]
fn templates_are_send_and_sync() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Template>();
    shareable::<vigo_lang::template::TemplateError>();
}
