//! Secrets in templates: resolved at the moment a string is read, rendered as data (never
//! as template text), tainting everything derived from them, and never shown in errors.

use serde_json::{Value, json};
use vigo_lang::secret::{MARKER_END, MARKER_START};
use vigo_lang::template::{ErrorKind, Rendered, Template};

const SECRET: &str = "a b&{{x}}";

fn marker(path: &str) -> String {
    format!("{MARKER_START}{path}{MARKER_END}")
}

fn data() -> Value {
    json!({"Vars": {
        "pw": marker("db/pw"),
        "dsn": format!("postgres://app:{}@db/app", marker("db/pw")),
        "user": "app",
        "list": ["x", "y"],
        "looks_like_template": "{{ .Vars.pw }}",
    }, "Other": {"missing": marker("no/such")}})
}

fn secrets(path: &str) -> Option<String> {
    (path == "db/pw").then(|| SECRET.to_owned())
}

fn render(src: &str) -> Rendered {
    Template::parse("t", src)
        .unwrap()
        .render_with_secrets(&data(), &secrets)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn render_err(src: &str) -> vigo_lang::template::TemplateError {
    Template::parse("t", src)
        .unwrap()
        .render_with_secrets(&data(), &secrets)
        .expect_err("must fail")
}

#[test]
fn a_secret_piped_through_urlquery_is_escaped_and_sensitive() {
    assert_eq!(
        render("{{ .Vars.pw | urlquery }}"),
        Rendered {
            text: "a+b%26%7B%7Bx%7D%7D".into(),
            sensitive: true
        }
    );
}

#[test]
fn a_template_reading_only_plain_vars_is_not_sensitive() {
    assert_eq!(
        render("user={{ .Vars.user }} {{ range .Vars.list }}{{ . }}{{ end }}"),
        Rendered {
            text: "user=app xy".into(),
            sensitive: false
        }
    );
}

#[test]
fn a_secret_is_data_never_template_text() {
    let r = render("{{ .Vars.pw }}|{{ .Vars.looks_like_template }}");
    assert_eq!(r.text, format!("{SECRET}|{{{{ .Vars.pw }}}}"));
    assert!(r.sensitive);
    // A marker in the middle of a string is substituted in place.
    assert_eq!(
        render("{{ .Vars.dsn }}").text,
        format!("postgres://app:{SECRET}@db/app")
    );
}

#[test]
fn taint_follows_values_through_functions_variables_and_branches() {
    for src in [
        "{{ $x := .Vars.pw }}{{ $x }}",
        "{{ len .Vars.pw }}",
        "{{ printf \"%q\" .Vars.pw }}",
        "{{ print .Vars.user .Vars.pw }}",
        "{{ slice .Vars.pw 0 1 }}",
        "{{ index .Vars.pw 0 }}",
        "{{ js .Vars.pw }}{{ html .Vars.pw }}",
        "{{ if eq .Vars.pw \"x\" }}no{{ else }}yes{{ end }}",
        "{{ with .Vars.pw }}set{{ end }}",
        "{{ or .Vars.pw \"default\" }}",
        "{{ .Vars }}",
        "{{ printf \"%d\" .Vars.pw }}",
        "{{ define \"show\" }}[{{ . }}]{{ end }}{{ template \"show\" .Vars.pw }}",
    ] {
        let r = render(src);
        assert!(r.sensitive, "{src} gave {r:?}");
    }
    assert!(render("{{ .Vars }}").text.contains(SECRET));
}

#[test]
fn errors_on_secret_values_never_show_them() {
    for (src, phrase) in [
        (
            "{{ index .Vars.list (len .Vars.pw) }}",
            "index out of range: [sensitive]",
        ),
        (
            "{{ range .Vars.pw }}{{ end }}",
            "range can't iterate over [sensitive]",
        ),
        (
            "{{ range $i, $x := len .Vars.pw }}{{ end }}",
            "can't use [sensitive] to iterate",
        ),
        ("{{ eq .Vars.pw 1 }}", "incompatible types for comparison"),
        (
            "{{ slice .Vars.dsn (len .Vars.pw) 1 }}",
            "invalid slice index: [sensitive] > [sensitive]",
        ),
        (
            "{{ slice \"h\u{e9}llo\" 0 (len (slice .Vars.pw 0 2)) }}",
            "slice [[sensitive]:[sensitive]]",
        ),
        (
            "{{ .Vars.pw.field }}",
            "can't evaluate field field in type string",
        ),
    ] {
        let e = render_err(src);
        assert!(e.message.contains(phrase), "{src}: {e}");
        assert!(!e.to_string().contains("a b"), "{src} leaked: {e}");
    }
}

#[test]
fn an_unresolved_secret_is_an_error_naming_its_path() {
    let e = render_err("x {{ .Other.missing }}");
    assert_eq!(e.kind, ErrorKind::Secret);
    assert_eq!(e.message, "secret `no/such` was not resolved for this run");
}

#[test]
fn plain_render_passes_markers_through() {
    let t = Template::parse("t", "{{ .Vars.pw }}").unwrap();
    assert_eq!(t.render(&data()).unwrap(), marker("db/pw"));
}
