//! Hostile templates: the server parses every template at publish, so none of these may
//! panic, abort, overflow the stack, allocate without bound or run past a bounded time.
//! Each runs in its own thread with a deadline and fails if it overruns.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vigo_lang::template::{ErrorKind, MAX_DEPTH, MAX_OUTPUT, MAX_STEPS, Template, TemplateError};

/// Runs `f` on a fresh thread (default stack size) and returns its result, failing if it
/// panics or takes longer than `secs`.
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("overran its {secs} s deadline"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("panicked"),
    }
}

fn render(src: &str, data: &Value) -> Result<String, TemplateError> {
    Template::parse("hostile", src)?.render(data)
}

#[test]
fn printf_precision_above_65535_formats_without_panicking() {
    let out = within(20, || {
        render(
            "{{printf \"%.70000f|%.100000e|%.70000g|%.70000s|%.70000U|%.70000x|%70000.70000d\" 1.5 1.5 1.5 \"ab\" 65 1.5 7}}",
            &Value::Null,
        )
    })
    .unwrap();
    let parts: Vec<&str> = out.split('|').collect();
    assert_eq!(parts[0].len(), 70_002);
    assert!(parts[0].starts_with("1.5000"));
    assert!(parts[1].starts_with("1.5000") && parts[1].ends_with("e+00"));
    assert_eq!(parts[2], "1.5");
    assert_eq!(parts[3], "ab");
    assert_eq!(parts[4].len(), 70_002);
    assert!(parts[4].starts_with("U+0000") && parts[4].ends_with("41"));
    assert!(parts[5].starts_with("0x1.8000") && parts[5].ends_with("p+00"));
    assert_eq!(parts[6].len(), 70_000);
}

#[test]
fn printf_width_of_ten_billion_is_refused_as_go_refuses_it() {
    let out = within(20, || {
        render(
            "{{printf \"%10000000000d\" 1}}|{{printf \"%*d\" 10000000000 1}}|{{printf \"%.*f\" 10000000000 1.0}}",
            &Value::Null,
        )
    })
    .unwrap();
    assert_eq!(
        out,
        "%!(NOVERB)%!(EXTRA int=1)|%!(BADWIDTH)1|%!(BADPREC)1.000000"
    );
}

#[test]
fn printf_widths_that_add_up_past_the_output_limit_are_an_error() {
    let err = within(30, || {
        render("{{printf \"%9999999d%9999999d\" 1 2}}", &Value::Null)
    })
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit);
    assert!(err.message.contains(&MAX_OUTPUT.to_string()), "{err}");
}

#[test]
fn range_over_a_huge_integer_counts_lazily_and_stops_at_the_step_limit() {
    let started = Instant::now();
    let (huge, max, early) = within(60, || {
        (
            render("{{range 100000000}}{{end}}", &Value::Null),
            render("{{range 9223372036854775807}}x{{end}}", &Value::Null),
            render(
                "{{range $i := 100000000}}{{$i}}{{if eq $i 2}}{{break}}{{end}}{{end}}",
                &Value::Null,
            ),
        )
    });
    for r in [huge, max] {
        let err = r.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Limit, "{err}");
        assert!(err.message.contains(&MAX_STEPS.to_string()), "{err}");
    }
    assert_eq!(early.unwrap(), "012");
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn range_over_an_integer_iterates_as_go_1_22_does() {
    assert_eq!(
        render("{{range 3}}{{.}}{{end}}", &Value::Null).unwrap(),
        "012"
    );
    assert_eq!(
        render("{{range -1}}x{{else}}none{{end}}", &Value::Null).unwrap(),
        "none"
    );
    let err = render("{{range $i, $x := 3}}{{end}}", &Value::Null).unwrap_err();
    assert!(err.message.contains("more than one variable"), "{err}");
}

#[test]
fn hundred_thousand_nested_parentheses_are_an_error_not_a_stack_overflow() {
    let err = within(30, || {
        let n = 100_000;
        render(
            &format!("{{{{{}1{}}}}}", "(".repeat(n), ")".repeat(n)),
            &Value::Null,
        )
    })
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Syntax);
    assert!(err.message.contains("nested too deeply"), "{err}");
}

#[test]
fn deeply_nested_blocks_are_an_error_not_a_stack_overflow() {
    let err = within(30, || {
        let n = 100_000;
        render(
            &("{{if true}}".repeat(n) + &"{{end}}".repeat(n)),
            &Value::Null,
        )
    })
    .unwrap_err();
    assert!(err.message.contains("nested too deeply"), "{err}");
    // The deepest legal nesting parses and renders on a default-size thread.
    let ok = within(30, || {
        let n = MAX_DEPTH - 6;
        render(
            &("{{with .}}".repeat(n) + "{{(((((.)))))}}" + &"{{end}}".repeat(n)),
            &json!("deep"),
        )
    });
    assert_eq!(ok.unwrap(), "deep");
}

#[test]
fn an_else_if_chain_costs_one_nesting_level_per_branch() {
    let n = MAX_DEPTH - 10;
    let mut src = String::from("{{ if eq . 0 }}zero");
    for i in 1..n {
        src += &format!("{{{{ else if eq . {i} }}}}b{i}");
    }
    src += "{{ else }}other{{ end }}";
    let out = within(30, move || render(&src, &json!(n - 1)));
    assert_eq!(out.unwrap(), format!("b{}", n - 1));
}

#[test]
fn exponential_template_fan_out_stops_at_the_step_limit() {
    let err = within(60, || {
        let mut src = String::new();
        for i in 0..40 {
            src += &format!(
                "{{{{define \"t{i}\"}}}}{{{{template \"t{n}\" .}}}}{{{{template \"t{n}\" .}}}}{{{{end}}}}",
                n = i + 1
            );
        }
        src += "{{define \"t40\"}}x{{end}}{{template \"t0\" .}}";
        render(&src, &Value::Null)
    })
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit);
    assert!(err.message.contains("step limit"), "{err}");
}

#[test]
fn recursive_templates_stop_at_the_depth_limit() {
    let err = within(30, || {
        render(
            "{{define \"r\"}}{{template \"r\" .}}{{end}}{{template \"r\" .}}",
            &Value::Null,
        )
    })
    .unwrap_err();
    assert!(err.message.contains("nested too deeply"), "{err}");
}

#[test]
fn strings_that_double_in_a_loop_stop_at_the_text_limit() {
    let err = within(60, || {
        render(
            "{{$x := \"ab\"}}{{range 64}}{{$x = printf \"%s%s\" $x $x}}{{end}}{{len $x}}",
            &Value::Null,
        )
    })
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit, "{err}");
}

#[test]
fn output_past_the_limit_is_an_error() {
    let err = within(60, || {
        render(
            "{{range 100}}{{printf \"%1000000d\" 1}}{{end}}",
            &Value::Null,
        )
    })
    .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Limit);
    assert!(err.message.contains("output larger than"), "{err}");
}

#[test]
fn printing_deeply_nested_data_is_an_error_not_a_stack_overflow() {
    let err = within(30, || {
        let mut v = json!(1);
        for _ in 0..1000 {
            v = Value::Array(vec![v]);
        }
        render("{{.}}", &v)
    })
    .unwrap_err();
    assert!(err.message.contains("nested too deeply"), "{err}");
}

fn parse_time(actions: usize) -> Duration {
    let text = "{{ .Vars.port }} text {{ if .X }}y{{ end }}\n".repeat(actions / 2);
    let started = Instant::now();
    Template::parse("big", &text).unwrap();
    started.elapsed()
}

#[test]
fn parsing_is_linear_in_the_number_of_actions() {
    let (small, large) = within(120, || {
        parse_time(2_000); // warm up the allocator
        let mut small = Duration::MAX;
        let mut large = Duration::MAX;
        for _ in 0..3 {
            small = small.min(parse_time(10_000));
            large = large.min(parse_time(40_000));
        }
        (small, large)
    });
    assert!(
        large < small * 8,
        "4x the actions took {:.1}x the time ({small:?} vs {large:?})",
        large.as_secs_f64() / small.as_secs_f64()
    );
    assert!(
        large < Duration::from_secs(5),
        "40,000 actions took {large:?}"
    );
}

#[test]
fn field_access_borrows_the_data_instead_of_copying_it() {
    // 10,000 reads of a field beside a 100,000-entry map: a copy of `.` per access would be
    // 10^9 entry copies; borrowing makes it instant.
    let elapsed = within(60, || {
        let big: serde_json::Map<String, Value> =
            (0..100_000).map(|i| (format!("k{i}"), json!(i))).collect();
        let data = json!({"Vars": {"big": big, "port": 8080}});
        let t = Template::parse(
            "t",
            &"{{ .Vars.port }}{{ index .Vars.big \"k5\" }}".repeat(5_000),
        )
        .unwrap();
        let started = Instant::now();
        let out = t.render(&data).unwrap();
        assert!(out.starts_with("80805"));
        started.elapsed()
    });
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
    /// Arbitrary actions built from template punctuation and keywords parse or fail
    /// cleanly, and render or fail cleanly.
    #[test]
    fn arbitrary_actions_never_panic(
        parts in proptest::collection::vec(proptest::sample::select(vec![
            "{{", "}}", "{{-", " -}}", "(", ")", "|", " ", ".", "$", "$x", ":=", "=", ",", "if", "else", "end", "range",
            "with", "define", "template", "block", "break", "continue", "\"s\"", "`r`", "'c'", "1", "-2.5e3", "0x1p4",
            "1i", "nil", "true", ".A", ".A.B", "printf", "\"%v %d %5.2f %[2]*s\"", "index", "slice", "len", "eq",
            "lt", "and", "or", "not", "print", "html", "js", "urlquery", "call", "\n", "/*", "*/",
        ]), 0..40)
    ) {
        let src: String = parts.concat();
        let data = json!({"A": {"B": [1, "x", null, {"k": 2.5}]}});
        let _ = Template::parse("p", &src).map(|t| t.render(&data));
    }
}
