//! Go's own execution tables, translated: `execTests` and `cmpTests` from
//! `text/template/exec_test.go`, `multiExecTests` from `multi_test.go`, and the tables of
//! `TestInterfaceValues`, `TestTree`, `TestBlock` and `TestExecError` (Go 1.19, Debian's
//! `golang-1.19-src`). Go's test data `tVal` is translated into a JSON document.
//!
//! Translations:
//! - `typeOf X` (a test helper returning `fmt.Sprintf("%T", X)`) is written `printf "%T" X`;
//!   `(die)` (a helper that panics if evaluated) is `(index nil 0)`, which fails if evaluated.
//! - Templates Go parses separately (`multiText1`, `multiText2`) are prepended as `define`s.
//!
//! Adapted expectations (marked `adapted` below), each for one reason:
//! - Vigo's one deliberate difference: a field of a map (or of nil) without that key is an
//!   error naming the path (Go's `missingkey=error`) instead of `<no value>`.
//! - JSON maps are Go's `map[string]interface{}`, so `index` of a missing key gives no
//!   value (`<no value>`), not a typed zero such as `0`.
//!
//! Excluded cases ([`EXCLUDED`]) need Go-only features: methods on Go types, func-valued
//! fields and `call`, user-defined functions, channels, typed nil pointers, structs,
//! complex numbers, maps with non-string keys, slice capacity, `Stringer`/`error` values.

use serde_json::{Value, json};
use vigo_lang::template::Template;

/// The cases left out, and why.
const EXCLUDED: &[(&str, &str)] = &[
    (
        "ideal complex, dot complex, if/with 1.5i/0.0i, printf complex, printf lots, bug16e, bug16j, cmp 1+2i",
        "complex numbers",
    ),
    ("dot struct, empty with struct", "printing Go structs"),
    (
        "V{6666}.String() … (*W)(nil).Error(), bug5, bug5a, Interface Call",
        "String/Error methods",
    ),
    (
        "NIL, html typed nil, if/with on typed nil interface value, eq .Ptr …, eq .Iface1 …",
        "typed nil pointers and pointer identity",
    ),
    (
        ".Method0 … chained method on variable, method on nil value from slice, method on typed nil interface value, pipeline, printf method, range []int method, error method ×2, parens: $.GetU in paren, bug0–bug3, bug13, bug17b",
        "methods on Go types",
    ),
    (
        ".NilOKFunc ×2, .BinaryFunc …, .VariadicFunc …, .ErrFunc, pipeline func, nil pipeline, nil call arg, bad nil pipeline, if (not) .BinaryFunc call",
        "func-valued fields and `call`",
    ),
    (
        "parens in pipeline, parens: $ in paren in pipe, parens: spaces and args, printf function, bug6a–d, bug8a, bug8b, bug10, bug11, bug15, bug16f–i, testFunc ×2",
        "user-defined functions",
    ),
    ("range count, range nil count", "channels"),
    (
        "map MI64S, map MI32S, map MUI64S, map MI8S, map MUI8S",
        "maps with integer keys (JSON keys are strings)",
    ),
    (
        "len(s) < indexes < cap(s) ×2",
        "slice capacity beyond length (JSON lists have none)",
    ),
    ("eq .V1 .V2, eq .Map .V1", "comparing Go structs"),
];

struct Case {
    name: &'static str,
    input: String,
    output: &'static str,
    data: Value,
    ok: bool,
}

fn case(name: &'static str, input: &str, output: &'static str, data: Value, ok: bool) -> Case {
    Case {
        name,
        input: input.to_owned(),
        output,
        data,
        ok,
    }
}

/// Go's `tVal`, as JSON.
fn t_val() -> Value {
    json!({
        "True": true, "I": 17, "U16": 16, "X": "x", "S": "xyz", "FloatZero": 0.0,
        "U": {"V": "v"},
        "SI": [3, 4, 5], "SICap": [0, 0, 0, 0, 0], "SIEmpty": [], "SB": [true, false],
        "AI": [3, 4, 5],
        "MSI": {"one": 1, "two": 2, "three": 3}, "MSIone": {"one": 1}, "MSIEmpty": {},
        "MXI": {"one": 1}, "MII": {"1": 1},
        "SMSI": [{"one": 1, "two": 2}, {"eleven": 11, "twelve": 12}],
        "Empty0": null, "Empty1": 3, "Empty2": "empty2", "Empty3": [7, 8], "Empty4": {"V": "UinEmpty"},
        "NonEmptyInterface": {"X": "x"}, "NonEmptyInterfacePtS": ["a", "b"],
        "PI": 23, "PS": "a string", "PSI": [21, 22, 23],
    })
}

const BIG_INT: &str = "0x7fffffffffffffff";
const BIG_UINT: &str = "0x8000000000000000";

#[allow(clippy::too_many_lines)]
fn exec_tests() -> Vec<Case> {
    let t = t_val;
    let n = || Value::Null;
    vec![
        // Trivial cases.
        case("empty", "", "", n(), true),
        case("text", "some text", "some text", n(), true),
        case("nil action", "{{nil}}", "", n(), false),
        // Ideal constants.
        case("ideal int", "{{printf \"%T\" 3}}", "int", json!(0), true),
        case(
            "ideal float",
            "{{printf \"%T\" 1.0}}",
            "float64",
            json!(0),
            true,
        ),
        case(
            "ideal exp float",
            "{{printf \"%T\" 1e1}}",
            "float64",
            json!(0),
            true,
        ),
        case(
            "ideal int",
            &format!("{{{{printf \"%T\" {BIG_INT}}}}}"),
            "int",
            json!(0),
            true,
        ),
        case(
            "ideal too big",
            &format!("{{{{printf \"%T\" {BIG_UINT}}}}}"),
            "",
            json!(0),
            false,
        ),
        case("ideal nil without type", "{{nil}}", "", json!(0), false),
        // Fields of structs.
        case(".X", "-{{.X}}-", "-x-", t(), true),
        case(".U.V", "-{{.U.V}}-", "-v-", t(), true),
        case(".unexported", "{{.unexported}}", "", t(), false),
        // Fields on maps.
        case("map .one", "{{.MSI.one}}", "1", t(), true),
        case("map .two", "{{.MSI.two}}", "2", t(), true),
        // adapted: missing key is an error.
        case("map .NO", "{{.MSI.NO}}", "", t(), false),
        case("map .one interface", "{{.MXI.one}}", "1", t(), true),
        case("map .WRONG args", "{{.MSI.one 1}}", "", t(), false),
        case("map .WRONG type", "{{.MII.one}}", "", t(), false),
        // Dots of all kinds to test basic evaluation.
        case("dot int", "<{{.}}>", "<13>", json!(13), true),
        case("dot uint", "<{{.}}>", "<14>", json!(14u64), true),
        case("dot float", "<{{.}}>", "<15.1>", json!(15.1), true),
        case("dot bool", "<{{.}}>", "<true>", json!(true), true),
        case("dot string", "<{{.}}>", "<hello>", json!("hello"), true),
        case(
            "dot slice",
            "<{{.}}>",
            "<[-1 -2 -3]>",
            json!([-1, -2, -3]),
            true,
        ),
        case(
            "dot map",
            "<{{.}}>",
            "<map[two:22]>",
            json!({"two": 22}),
            true,
        ),
        // Variables.
        case("$ int", "{{$}}", "123", json!(123), true),
        case("$.I", "{{$.I}}", "17", t(), true),
        case("$.U.V", "{{$.U.V}}", "v", t(), true),
        case("declare in action", "{{$x := $.U.V}}{{$x}}", "v", t(), true),
        case(
            "simple assignment",
            "{{$x := 2}}{{$x = 3}}{{$x}}",
            "3",
            t(),
            true,
        ),
        case(
            "nested assignment",
            "{{$x := 2}}{{if true}}{{$x = 3}}{{end}}{{$x}}",
            "3",
            t(),
            true,
        ),
        case(
            "nested assignment changes the last declaration",
            "{{$x := 1}}{{if true}}{{$x := 2}}{{if true}}{{$x = 3}}{{end}}{{end}}{{$x}}",
            "1",
            t(),
            true,
        ),
        // Pointers.
        case("*int", "{{.PI}}", "23", t(), true),
        case("*string", "{{.PS}}", "a string", t(), true),
        case("*[]int", "{{.PSI}}", "[21 22 23]", t(), true),
        case("*[]int[1]", "{{index .PSI 1}}", "22", t(), true),
        // Empty interfaces holding values.
        case("empty nil", "{{.Empty0}}", "<no value>", t(), true),
        case("empty with int", "{{.Empty1}}", "3", t(), true),
        case("empty with string", "{{.Empty2}}", "empty2", t(), true),
        case("empty with slice", "{{.Empty3}}", "[7 8]", t(), true),
        case(
            "empty with struct, field",
            "{{.Empty4.V}}",
            "UinEmpty",
            t(),
            true,
        ),
        // adapted: a field of nil data is an error.
        case("field on interface", "{{.foo}}", "", n(), false),
        case(
            "field on parenthesized interface",
            "{{(.).foo}}",
            "",
            n(),
            false,
        ),
        // Issue 31810: Parenthesized first element of pipeline with arguments.
        case("unparenthesized non-function", "{{1 2}}", "", n(), false),
        case("parenthesized non-function", "{{(1) 2}}", "", n(), false),
        case(
            "parenthesized non-function with no args",
            "{{(1)}}",
            "1",
            n(),
            true,
        ),
        // Function call builtin.
        case("call nil", "{{call nil}}", "", t(), false),
        // Parenthesized expressions with field accesses.
        case("parens: $ in paren", "{{($).X}}", "x", t(), true),
        // If.
        case("if true", "{{if true}}TRUE{{end}}", "TRUE", t(), true),
        case(
            "if false",
            "{{if false}}TRUE{{else}}FALSE{{end}}",
            "FALSE",
            t(),
            true,
        ),
        case("if nil", "{{if nil}}TRUE{{end}}", "", t(), false),
        case(
            "if 1",
            "{{if 1}}NON-ZERO{{else}}ZERO{{end}}",
            "NON-ZERO",
            t(),
            true,
        ),
        case(
            "if 0",
            "{{if 0}}NON-ZERO{{else}}ZERO{{end}}",
            "ZERO",
            t(),
            true,
        ),
        case(
            "if 1.5",
            "{{if 1.5}}NON-ZERO{{else}}ZERO{{end}}",
            "NON-ZERO",
            t(),
            true,
        ),
        case(
            "if 0.0",
            "{{if .FloatZero}}NON-ZERO{{else}}ZERO{{end}}",
            "ZERO",
            t(),
            true,
        ),
        case(
            "if emptystring",
            "{{if ``}}NON-EMPTY{{else}}EMPTY{{end}}",
            "EMPTY",
            t(),
            true,
        ),
        case(
            "if string",
            "{{if `notempty`}}NON-EMPTY{{else}}EMPTY{{end}}",
            "NON-EMPTY",
            t(),
            true,
        ),
        case(
            "if emptyslice",
            "{{if .SIEmpty}}NON-EMPTY{{else}}EMPTY{{end}}",
            "EMPTY",
            t(),
            true,
        ),
        case(
            "if slice",
            "{{if .SI}}NON-EMPTY{{else}}EMPTY{{end}}",
            "NON-EMPTY",
            t(),
            true,
        ),
        case(
            "if emptymap",
            "{{if .MSIEmpty}}NON-EMPTY{{else}}EMPTY{{end}}",
            "EMPTY",
            t(),
            true,
        ),
        case(
            "if map",
            "{{if .MSI}}NON-EMPTY{{else}}EMPTY{{end}}",
            "NON-EMPTY",
            t(),
            true,
        ),
        // adapted: missing key is an error.
        case(
            "if map unset",
            "{{if .MXI.none}}NON-ZERO{{else}}ZERO{{end}}",
            "",
            t(),
            false,
        ),
        case(
            "if map not unset",
            "{{if not .MXI.none}}ZERO{{else}}NON-ZERO{{end}}",
            "",
            t(),
            false,
        ),
        case(
            "if $x with $y int",
            "{{if $x := true}}{{with $y := .I}}{{$x}},{{$y}}{{end}}{{end}}",
            "true,17",
            t(),
            true,
        ),
        case(
            "if $x with $x int",
            "{{if $x := true}}{{with $x := .I}}{{$x}},{{end}}{{$x}}{{end}}",
            "17,true",
            t(),
            true,
        ),
        case(
            "if else if",
            "{{if false}}FALSE{{else if true}}TRUE{{end}}",
            "TRUE",
            t(),
            true,
        ),
        case(
            "if else chain",
            "{{if eq 1 3}}1{{else if eq 2 3}}2{{else if eq 3 3}}3{{end}}",
            "3",
            t(),
            true,
        ),
        // Print etc.
        case(
            "print",
            "{{print \"hello, print\"}}",
            "hello, print",
            t(),
            true,
        ),
        case("print 123", "{{print 1 2 3}}", "1 2 3", t(), true),
        case("print nil", "{{print nil}}", "<nil>", t(), true),
        case("println", "{{println 1 2 3}}", "1 2 3\n", t(), true),
        case("printf int", "{{printf \"%04x\" 127}}", "007f", t(), true),
        case("printf float", "{{printf \"%g\" 3.5}}", "3.5", t(), true),
        case(
            "printf string",
            "{{printf \"%s\" \"hello\"}}",
            "hello",
            t(),
            true,
        ),
        case("printf field", "{{printf \"%s\" .U.V}}", "v", t(), true),
        case(
            "printf dot",
            "{{with .I}}{{printf \"%d\" .}}{{end}}",
            "17",
            t(),
            true,
        ),
        case(
            "printf var",
            "{{with $x := .I}}{{printf \"%d\" $x}}{{end}}",
            "17",
            t(),
            true,
        ),
        // HTML.
        case(
            "html",
            "{{html \"<script>alert(\\\"XSS\\\");</script>\"}}",
            "&lt;script&gt;alert(&#34;XSS&#34;);&lt;/script&gt;",
            n(),
            true,
        ),
        case(
            "html pipeline",
            "{{printf \"<script>alert(\\\"XSS\\\");</script>\" | html}}",
            "&lt;script&gt;alert(&#34;XSS&#34;);&lt;/script&gt;",
            n(),
            true,
        ),
        case("html", "{{html .PS}}", "a string", t(), true),
        case(
            "html untyped nil",
            "{{html .Empty0}}",
            "&lt;no value&gt;",
            t(),
            true,
        ),
        // JavaScript.
        case(
            "js",
            "{{js .}}",
            "It\\'d be nice.",
            json!("It'd be nice."),
            true,
        ),
        // URL query.
        case(
            "urlquery",
            "{{\"http://www.example.org/\"|urlquery}}",
            "http%3A%2F%2Fwww.example.org%2F",
            n(),
            true,
        ),
        // Booleans.
        case("not", "{{not true}} {{not false}}", "false true", n(), true),
        case(
            "and",
            "{{and false 0}} {{and 1 0}} {{and 0 true}} {{and 1 1}}",
            "false 0 0 1",
            n(),
            true,
        ),
        case(
            "or",
            "{{or 0 0}} {{or 1 0}} {{or 0 true}} {{or 1 1}}",
            "0 1 true 1",
            n(),
            true,
        ),
        case(
            "or short-circuit",
            "{{or 0 1 (index nil 0)}}",
            "1",
            n(),
            true,
        ),
        case(
            "and short-circuit",
            "{{and 1 0 (index nil 0)}}",
            "0",
            n(),
            true,
        ),
        case(
            "or short-circuit2",
            "{{or 0 0 (index nil 0)}}",
            "",
            n(),
            false,
        ),
        case(
            "and short-circuit2",
            "{{and 1 1 (index nil 0)}}",
            "",
            n(),
            false,
        ),
        case("and pipe-true", "{{1 | and 1}}", "1", n(), true),
        case("and pipe-false", "{{0 | and 1}}", "0", n(), true),
        case("or pipe-true", "{{1 | or 0}}", "1", n(), true),
        case("or pipe-false", "{{0 | or 0}}", "0", n(), true),
        // adapted: a field of nil data is an error.
        case("and undef", "{{and 1 .Unknown}}", "", n(), false),
        case("or undef", "{{or 0 .Unknown}}", "", n(), false),
        case(
            "boolean if",
            "{{if and true 1 `hi`}}TRUE{{else}}FALSE{{end}}",
            "TRUE",
            t(),
            true,
        ),
        case(
            "boolean if not",
            "{{if and true 1 `hi` | not}}TRUE{{else}}FALSE{{end}}",
            "FALSE",
            n(),
            true,
        ),
        case(
            "boolean if pipe",
            "{{if true | not | and 1}}TRUE{{else}}FALSE{{end}}",
            "FALSE",
            n(),
            true,
        ),
        // Indexing.
        case("slice[0]", "{{index .SI 0}}", "3", t(), true),
        case("slice[1]", "{{index .SI 1}}", "4", t(), true),
        case("slice[HUGE]", "{{index .SI 10}}", "", t(), false),
        case("slice[WRONG]", "{{index .SI `hello`}}", "", t(), false),
        case("slice[nil]", "{{index .SI nil}}", "", t(), false),
        case("map[one]", "{{index .MSI `one`}}", "1", t(), true),
        case("map[two]", "{{index .MSI `two`}}", "2", t(), true),
        // adapted: JSON maps are map[string]interface{}: a missing key gives no value.
        case("map[NO]", "{{index .MSI `XXX`}}", "<no value>", t(), true),
        case("map[nil]", "{{index .MSI nil}}", "", t(), false),
        // adapted: as map[NO].
        case("map[``]", "{{index .MSI ``}}", "<no value>", t(), true),
        case("map[WRONG]", "{{index .MSI 10}}", "", t(), false),
        case(
            "double index",
            "{{index .SMSI 1 `eleven`}}",
            "11",
            t(),
            true,
        ),
        case("nil[1]", "{{index nil 1}}", "", t(), false),
        case(
            "index of an interface field",
            "{{index .Empty3 0}}",
            "7",
            t(),
            true,
        ),
        // Slicing.
        case("slice[:]", "{{slice .SI}}", "[3 4 5]", t(), true),
        case("slice[1:]", "{{slice .SI 1}}", "[4 5]", t(), true),
        case("slice[1:2]", "{{slice .SI 1 2}}", "[4]", t(), true),
        case("slice[-1:]", "{{slice .SI -1}}", "", t(), false),
        case("slice[1:-2]", "{{slice .SI 1 -2}}", "", t(), false),
        case("slice[1:2:-1]", "{{slice .SI 1 2 -1}}", "", t(), false),
        case("slice[2:1]", "{{slice .SI 2 1}}", "", t(), false),
        case("slice[2:2:1]", "{{slice .SI 2 2 1}}", "", t(), false),
        case("out of range", "{{slice .SI 4 5}}", "", t(), false),
        case("out of range", "{{slice .SI 2 2 5}}", "", t(), false),
        case("indexes > cap(s)", "{{slice .SICap 10 11}}", "", t(), false),
        case(
            "indexes > cap(s)",
            "{{slice .SICap 6 10 11}}",
            "",
            t(),
            false,
        ),
        case("array[:]", "{{slice .AI}}", "[3 4 5]", t(), true),
        case("array[1:]", "{{slice .AI 1}}", "[4 5]", t(), true),
        case("array[1:2]", "{{slice .AI 1 2}}", "[4]", t(), true),
        case("string[:]", "{{slice .S}}", "xyz", t(), true),
        case("string[0:1]", "{{slice .S 0 1}}", "x", t(), true),
        case("string[1:]", "{{slice .S 1}}", "yz", t(), true),
        case("string[1:2]", "{{slice .S 1 2}}", "y", t(), true),
        case("out of range", "{{slice .S 1 5}}", "", t(), false),
        case(
            "3-index slice of string",
            "{{slice .S 1 2 2}}",
            "",
            t(),
            false,
        ),
        case(
            "slice of an interface field",
            "{{slice .Empty3 0 1}}",
            "[7]",
            t(),
            true,
        ),
        // Len.
        case("slice", "{{len .SI}}", "3", t(), true),
        case("map", "{{len .MSI }}", "3", t(), true),
        case("len of int", "{{len 3}}", "", t(), false),
        case("len of nothing", "{{len .Empty0}}", "", t(), false),
        case(
            "len of an interface field",
            "{{len .Empty3}}",
            "2",
            t(),
            true,
        ),
        // With.
        case("with true", "{{with true}}{{.}}{{end}}", "true", t(), true),
        case(
            "with false",
            "{{with false}}{{.}}{{else}}FALSE{{end}}",
            "FALSE",
            t(),
            true,
        ),
        case(
            "with 1",
            "{{with 1}}{{.}}{{else}}ZERO{{end}}",
            "1",
            t(),
            true,
        ),
        case(
            "with 0",
            "{{with 0}}{{.}}{{else}}ZERO{{end}}",
            "ZERO",
            t(),
            true,
        ),
        case(
            "with 1.5",
            "{{with 1.5}}{{.}}{{else}}ZERO{{end}}",
            "1.5",
            t(),
            true,
        ),
        case(
            "with 0.0",
            "{{with .FloatZero}}{{.}}{{else}}ZERO{{end}}",
            "ZERO",
            t(),
            true,
        ),
        case(
            "with emptystring",
            "{{with ``}}{{.}}{{else}}EMPTY{{end}}",
            "EMPTY",
            t(),
            true,
        ),
        case(
            "with string",
            "{{with `notempty`}}{{.}}{{else}}EMPTY{{end}}",
            "notempty",
            t(),
            true,
        ),
        case(
            "with emptyslice",
            "{{with .SIEmpty}}{{.}}{{else}}EMPTY{{end}}",
            "EMPTY",
            t(),
            true,
        ),
        case(
            "with slice",
            "{{with .SI}}{{.}}{{else}}EMPTY{{end}}",
            "[3 4 5]",
            t(),
            true,
        ),
        case(
            "with emptymap",
            "{{with .MSIEmpty}}{{.}}{{else}}EMPTY{{end}}",
            "EMPTY",
            t(),
            true,
        ),
        case(
            "with map",
            "{{with .MSIone}}{{.}}{{else}}EMPTY{{end}}",
            "map[one:1]",
            t(),
            true,
        ),
        case(
            "with empty interface, struct field",
            "{{with .Empty4}}{{.V}}{{end}}",
            "UinEmpty",
            t(),
            true,
        ),
        case(
            "with $x int",
            "{{with $x := .I}}{{$x}}{{end}}",
            "17",
            t(),
            true,
        ),
        case(
            "with $x struct.U.V",
            "{{with $x := $}}{{$x.U.V}}{{end}}",
            "v",
            t(),
            true,
        ),
        case(
            "with variable and action",
            "{{with $x := $}}{{$y := $.U.V}}{{$y}}{{end}}",
            "v",
            t(),
            true,
        ),
        // Range.
        case(
            "range []int",
            "{{range .SI}}-{{.}}-{{end}}",
            "-3--4--5-",
            t(),
            true,
        ),
        case(
            "range empty no else",
            "{{range .SIEmpty}}-{{.}}-{{end}}",
            "",
            t(),
            true,
        ),
        case(
            "range []int else",
            "{{range .SI}}-{{.}}-{{else}}EMPTY{{end}}",
            "-3--4--5-",
            t(),
            true,
        ),
        case(
            "range empty else",
            "{{range .SIEmpty}}-{{.}}-{{else}}EMPTY{{end}}",
            "EMPTY",
            t(),
            true,
        ),
        case(
            "range []int break else",
            "{{range .SI}}-{{.}}-{{break}}NOTREACHED{{else}}EMPTY{{end}}",
            "-3-",
            t(),
            true,
        ),
        case(
            "range []int continue else",
            "{{range .SI}}-{{.}}-{{continue}}NOTREACHED{{else}}EMPTY{{end}}",
            "-3--4--5-",
            t(),
            true,
        ),
        case(
            "range []bool",
            "{{range .SB}}-{{.}}-{{end}}",
            "-true--false-",
            t(),
            true,
        ),
        case(
            "range map",
            "{{range .MSI}}-{{.}}-{{end}}",
            "-1--3--2-",
            t(),
            true,
        ),
        case(
            "range empty map no else",
            "{{range .MSIEmpty}}-{{.}}-{{end}}",
            "",
            t(),
            true,
        ),
        case(
            "range map else",
            "{{range .MSI}}-{{.}}-{{else}}EMPTY{{end}}",
            "-1--3--2-",
            t(),
            true,
        ),
        case(
            "range empty map else",
            "{{range .MSIEmpty}}-{{.}}-{{else}}EMPTY{{end}}",
            "EMPTY",
            t(),
            true,
        ),
        case(
            "range empty interface",
            "{{range .Empty3}}-{{.}}-{{else}}EMPTY{{end}}",
            "-7--8-",
            t(),
            true,
        ),
        case(
            "range empty nil",
            "{{range .Empty0}}-{{.}}-{{end}}",
            "",
            t(),
            true,
        ),
        case(
            "range $x SI",
            "{{range $x := .SI}}<{{$x}}>{{end}}",
            "<3><4><5>",
            t(),
            true,
        ),
        case(
            "range $x $y SI",
            "{{range $x, $y := .SI}}<{{$x}}={{$y}}>{{end}}",
            "<0=3><1=4><2=5>",
            t(),
            true,
        ),
        case(
            "range $x MSIone",
            "{{range $x := .MSIone}}<{{$x}}>{{end}}",
            "<1>",
            t(),
            true,
        ),
        case(
            "range $x $y MSIone",
            "{{range $x, $y := .MSIone}}<{{$x}}={{$y}}>{{end}}",
            "<one=1>",
            t(),
            true,
        ),
        case(
            "range $x PSI",
            "{{range $x := .PSI}}<{{$x}}>{{end}}",
            "<21><22><23>",
            t(),
            true,
        ),
        case(
            "declare in range",
            "{{range $x := .PSI}}<{{$foo:=$x}}{{$x}}>{{end}}",
            "<21><22><23>",
            t(),
            true,
        ),
        // Cute examples.
        case(
            "or as if true",
            "{{or .SI \"slice is empty\"}}",
            "[3 4 5]",
            t(),
            true,
        ),
        case(
            "or as if false",
            "{{or .SIEmpty \"slice is empty\"}}",
            "slice is empty",
            t(),
            true,
        ),
        // Numbers.
        case("decimal", "{{print 1234}}", "1234", t(), true),
        case("decimal _", "{{print 12_34}}", "1234", t(), true),
        case("binary", "{{print 0b101}}", "5", t(), true),
        case("binary _", "{{print 0b_1_0_1}}", "5", t(), true),
        case("BINARY", "{{print 0B101}}", "5", t(), true),
        case("octal0", "{{print 0377}}", "255", t(), true),
        case("octal", "{{print 0o377}}", "255", t(), true),
        case("octal _", "{{print 0o_3_7_7}}", "255", t(), true),
        case("OCTAL", "{{print 0O377}}", "255", t(), true),
        case("hex", "{{print 0x123}}", "291", t(), true),
        case("hex _", "{{print 0x1_23}}", "291", t(), true),
        case("HEX", "{{print 0X123ABC}}", "1194684", t(), true),
        case("float", "{{print 123.4}}", "123.4", t(), true),
        case("float _", "{{print 0_0_1_2_3.4}}", "123.4", t(), true),
        case("hex float", "{{print +0x1.ep+2}}", "7.5", t(), true),
        case("hex float _", "{{print +0x_1.e_0p+0_2}}", "7.5", t(), true),
        case("HEX float", "{{print +0X1.EP+2}}", "7.5", t(), true),
        case(
            "print multi",
            "{{print 1_2_3_4 7.5_00_00_00}}",
            "1234 7.5",
            t(),
            true,
        ),
        case(
            "print multi2",
            "{{print 1234 0x0_1.e_0p+02}}",
            "1234 7.5",
            t(),
            true,
        ),
        // Fixed bugs.
        case(
            "bug4",
            "{{if .Empty0}}non-nil{{else}}nil{{end}}",
            "nil",
            t(),
            true,
        ),
        case("bug7a", "{{3 2}}", "", t(), false),
        case("bug7b", "{{$x := 1}}{{$x 2}}", "", t(), false),
        case("bug7c", "{{$x := 1}}{{3 | $x}}", "", t(), false),
        case(
            "bug9",
            "{{.cause}}",
            "neglect",
            json!({"cause": "neglect"}),
            true,
        ),
        case("bug12xe", "{{printf `%T` 0xef}}", "int", json!({}), true),
        case("bug12xE", "{{printf `%T` 0xEE}}", "int", json!({}), true),
        case("bug12Xe", "{{printf `%T` 0Xef}}", "int", json!({}), true),
        case("bug12XE", "{{printf `%T` 0XEE}}", "int", json!({}), true),
        case("bug14a", "{{(nil).True}}", "", t(), false),
        case("bug14b", "{{$x := nil}}{{$x.anything}}", "", t(), false),
        case(
            "bug14c",
            "{{$x := (1.0)}}{{$y := (\"hello\")}}{{$x.anything}}{{$y.true}}",
            "",
            t(),
            false,
        ),
        case("bug16a", "{{true|printf}}", "", t(), false),
        case("bug16b", "{{1|printf}}", "", t(), false),
        case("bug16c", "{{1.1|printf}}", "", t(), false),
        case("bug16d", "{{'x'|printf}}", "", t(), false),
        case("bug16k", "{{\"aaa\"|printf }}", "aaa", t(), true),
        case("bug17a", "{{.NonEmptyInterface.X}}", "x", t(), true),
        case("bug17c", "{{len .NonEmptyInterfacePtS}}", "2", t(), true),
        case(
            "bug17d",
            "{{index .NonEmptyInterfacePtS 0}}",
            "a",
            t(),
            true,
        ),
        case(
            "bug17e",
            "{{range .NonEmptyInterfacePtS}}-{{.}}-{{end}}",
            "-a--b-",
            t(),
            true,
        ),
        case("bug18a", "{{eq . '.'}}", "true", json!(46), true),
        case("bug18b", "{{eq . 'e'}}", "true", json!(101), true),
        case("bug18c", "{{eq . 'P'}}", "true", json!(80), true),
    ]
}

/// `cmpTests`, each run as Go's `TestComparison` does: `{{if EXPR}}true{{else}}false{{end}}`.
/// JSON integers are `int`, so the signed/unsigned mixes run as `int` against `int`; the
/// byte-against-rune cases (`index "x" 0`) still mix kinds.
fn cmp_tests() -> Vec<(&'static str, &'static str, bool)> {
    vec![
        ("eq true true", "true", true),
        ("eq true false", "false", true),
        ("eq 1.5 1.5", "true", true),
        ("eq 1.5 2.5", "false", true),
        ("eq 1 1", "true", true),
        ("eq 1 2", "false", true),
        ("eq `xy` `xy`", "true", true),
        ("eq `xy` `xyz`", "false", true),
        ("eq .Uthree .Uthree", "true", true),
        ("eq .Uthree .Ufour", "false", true),
        ("eq 3 4 5 6 3", "true", true),
        ("eq 3 4 5 6 7", "false", true),
        ("ne true true", "false", true),
        ("ne true false", "true", true),
        ("ne 1.5 1.5", "false", true),
        ("ne 1.5 2.5", "true", true),
        ("ne 1 1", "false", true),
        ("ne 1 2", "true", true),
        ("ne `xy` `xy`", "false", true),
        ("ne `xy` `xyz`", "true", true),
        ("ne .Uthree .Uthree", "false", true),
        ("ne .Uthree .Ufour", "true", true),
        ("lt 1.5 1.5", "false", true),
        ("lt 1.5 2.5", "true", true),
        ("lt 1 1", "false", true),
        ("lt 1 2", "true", true),
        ("lt `xy` `xy`", "false", true),
        ("lt `xy` `xyz`", "true", true),
        ("lt .Uthree .Uthree", "false", true),
        ("lt .Uthree .Ufour", "true", true),
        ("le 1.5 1.5", "true", true),
        ("le 1.5 2.5", "true", true),
        ("le 2.5 1.5", "false", true),
        ("le 1 1", "true", true),
        ("le 1 2", "true", true),
        ("le 2 1", "false", true),
        ("le `xy` `xy`", "true", true),
        ("le `xy` `xyz`", "true", true),
        ("le `xyz` `xy`", "false", true),
        ("le .Uthree .Uthree", "true", true),
        ("le .Uthree .Ufour", "true", true),
        ("le .Ufour .Uthree", "false", true),
        ("gt 1.5 1.5", "false", true),
        ("gt 1.5 2.5", "false", true),
        ("gt 1 1", "false", true),
        ("gt 2 1", "true", true),
        ("gt 1 2", "false", true),
        ("gt `xy` `xy`", "false", true),
        ("gt `xy` `xyz`", "false", true),
        ("gt .Uthree .Uthree", "false", true),
        ("gt .Uthree .Ufour", "false", true),
        ("gt .Ufour .Uthree", "true", true),
        ("ge 1.5 1.5", "true", true),
        ("ge 1.5 2.5", "false", true),
        ("ge 2.5 1.5", "true", true),
        ("ge 1 1", "true", true),
        ("ge 1 2", "false", true),
        ("ge 2 1", "true", true),
        ("ge `xy` `xy`", "true", true),
        ("ge `xy` `xyz`", "false", true),
        ("ge `xyz` `xy`", "true", true),
        ("ge .Uthree .Uthree", "true", true),
        ("ge .Uthree .Ufour", "false", true),
        ("ge .Ufour .Uthree", "true", true),
        ("eq .Uthree .Three", "true", true),
        ("eq .Three .Uthree", "true", true),
        ("le .Uthree .Three", "true", true),
        ("le .Three .Uthree", "true", true),
        ("ge .Uthree .Three", "true", true),
        ("ge .Three .Uthree", "true", true),
        ("lt .Uthree .Three", "false", true),
        ("lt .Three .Uthree", "false", true),
        ("gt .Uthree .Three", "false", true),
        ("gt .Three .Uthree", "false", true),
        ("eq .Ufour .Three", "false", true),
        ("lt .Ufour .Three", "false", true),
        ("gt .Ufour .Three", "true", true),
        ("eq .NegOne .Uthree", "false", true),
        ("eq .Uthree .NegOne", "false", true),
        ("ne .NegOne .Uthree", "true", true),
        ("ne .Uthree .NegOne", "true", true),
        ("lt .NegOne .Uthree", "true", true),
        ("lt .Uthree .NegOne", "false", true),
        ("le .NegOne .Uthree", "true", true),
        ("le .Uthree .NegOne", "false", true),
        ("gt .NegOne .Uthree", "false", true),
        ("gt .Uthree .NegOne", "true", true),
        ("ge .NegOne .Uthree", "false", true),
        ("ge .Uthree .NegOne", "true", true),
        ("eq (index `x` 0) 'x'", "true", true),
        ("eq (index `x` 0) 'y'", "false", true),
        ("eq .NilIface .NilIface", "true", true),
        ("eq .NilIface 0", "false", true),
        ("eq 0 .NilIface", "false", true),
        ("eq .Map .Map", "true", true),
        ("eq .Map nil", "true", true),
        ("eq nil .Map", "true", true),
        ("eq .Map .NonNilMap", "false", true),
        // Errors.
        ("eq `xy` 1", "", false),
        ("eq 2 2.0", "", false),
        ("lt true true", "", false),
        ("eq .NonNilMap .NonNilMap", "", false),
    ]
}

/// Go's `multiText1` and `multiText2`, which `multiExecTests` run against.
const MULTI: &str = "{{define \"x\"}}TEXT{{end}}{{define \"dotV\"}}{{.V}}{{end}}\
{{define \"dot\"}}{{.}}{{end}}{{define \"nested\"}}{{template \"dot\" .}}{{end}}";

fn multi_exec_tests() -> Vec<Case> {
    let t = t_val;
    let m = |s: &str| format!("{MULTI}{s}");
    vec![
        case("multi empty", &m(""), "", Value::Null, true),
        case(
            "multi text",
            &m("some text"),
            "some text",
            Value::Null,
            true,
        ),
        case("invoke x", &m("{{template \"x\" .SI}}"), "TEXT", t(), true),
        case(
            "invoke x no args",
            &m("{{template \"x\"}}"),
            "TEXT",
            t(),
            true,
        ),
        case(
            "invoke dot int",
            &m("{{template \"dot\" .I}}"),
            "17",
            t(),
            true,
        ),
        case(
            "invoke dot []int",
            &m("{{template \"dot\" .SI}}"),
            "[3 4 5]",
            t(),
            true,
        ),
        case(
            "invoke dotV",
            &m("{{template \"dotV\" .U}}"),
            "v",
            t(),
            true,
        ),
        case(
            "invoke nested int",
            &m("{{template \"nested\" .I}}"),
            "17",
            t(),
            true,
        ),
        case(
            "variable declared by template",
            &m("{{template \"nested\" $x:=.SI}},{{index $x 1}}"),
            "[3 4 5],4",
            t(),
            true,
        ),
    ]
}

/// `TestInterfaceValues` (without its func-valued `PlusOne` cases); an output starting
/// with `ERROR:` is a substring of the expected error.
fn interface_value_tests() -> Vec<(&'static str, &'static str)> {
    vec![
        ("{{index .Nil 1}}", "ERROR: index of untyped nil"),
        ("{{index .Slice 2}}", "2"),
        ("{{index .Slice .Two}}", "2"),
        ("{{and (index .Slice 0) true}}", "0"),
        ("{{and .Zero true}}", "0"),
        ("{{and (index .Slice 1) false}}", "false"),
        ("{{and .One false}}", "false"),
        ("{{or (index .Slice 0) false}}", "false"),
        ("{{or .Zero false}}", "false"),
        ("{{or (index .Slice 1) true}}", "1"),
        ("{{or .One true}}", "1"),
        ("{{not (index .Slice 0)}}", "true"),
        ("{{not .Zero}}", "true"),
        ("{{not (index .Slice 1)}}", "false"),
        ("{{not .One}}", "false"),
        ("{{eq (index .Slice 0) .Zero}}", "true"),
        ("{{eq (index .Slice 1) .One}}", "true"),
        ("{{ne (index .Slice 0) .Zero}}", "false"),
        ("{{ne (index .Slice 1) .One}}", "false"),
        ("{{ge (index .Slice 0) .One}}", "false"),
        ("{{ge (index .Slice 1) .Zero}}", "true"),
        ("{{gt (index .Slice 0) .One}}", "false"),
        ("{{gt (index .Slice 1) .Zero}}", "true"),
        ("{{le (index .Slice 0) .One}}", "true"),
        ("{{le (index .Slice 1) .Zero}}", "false"),
        ("{{lt (index .Slice 0) .One}}", "true"),
        ("{{lt (index .Slice 1) .Zero}}", "false"),
    ]
}

/// `TestTree`'s recursive template (with Go's default delimiters instead of `(` `)`).
const TREE_TEMPLATE: &str = "
	{{- define \"tree\" -}}
	[
		{{- .Val -}}
		{{- with .Left -}}
			{{template \"tree\" . -}}
		{{- end -}}
		{{- with .Right -}}
			{{- template \"tree\" . -}}
		{{- end -}}
	]
	{{- end -}}
{{template \"tree\" .}}";

fn tree_data() -> Value {
    fn node(val: i64, left: Value, right: Value) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("Val".into(), json!(val));
        m.insert("Left".into(), left);
        m.insert("Right".into(), right);
        Value::Object(m)
    }
    let leaf = |v| node(v, Value::Null, Value::Null);
    node(
        1,
        node(
            2,
            node(3, leaf(4), Value::Null),
            node(5, leaf(6), Value::Null),
        ),
        node(
            7,
            node(8, leaf(9), Value::Null),
            node(10, leaf(11), Value::Null),
        ),
    )
}

/// Runs one case as Go's `testExecute` does: the template must parse (a parse error fails
/// the case), then render to the expected output or fail.
fn run(c: &Case) -> Result<(), String> {
    let t = Template::parse(c.name, &c.input)
        .map_err(|e| format!("{}: {:?}: parse error: {e}", c.name, c.input))?;
    match (t.render(&c.data), c.ok) {
        (Ok(out), true) if out == c.output => Ok(()),
        (Ok(out), true) => Err(format!(
            "{}: {:?}: got {out:?}, want {:?}",
            c.name, c.input, c.output
        )),
        (Ok(out), false) => Err(format!(
            "{}: {:?}: expected an error, got {out:?}",
            c.name, c.input
        )),
        (Err(e), true) => Err(format!("{}: {:?}: unexpected error: {e}", c.name, c.input)),
        (Err(_), false) => Ok(()),
    }
}

#[test]
fn go_exec_tables_pass() {
    let mut cases = exec_tests();
    cases.extend(multi_exec_tests());
    let cmp_data = json!({"Uthree": 3, "Ufour": 4, "NegOne": -1, "Three": 3, "NonNilMap": {}, "Map": null, "NilIface": null});
    for (expr, truth, ok) in cmp_tests() {
        cases.push(Case {
            name: expr,
            input: format!("{{{{if {expr}}}}}true{{{{else}}}}false{{{{end}}}}"),
            output: truth,
            data: cmp_data.clone(),
            ok,
        });
    }
    cases.push(case(
        "TestTree",
        TREE_TEMPLATE,
        "[1[2[3[4]][5[6]]][7[8[9]][10[11]]]]",
        tree_data(),
        true,
    ));
    cases.push(case(
        "TestBlock",
        "a({{block \"inner\" .}}bar({{.}})baz{{end}})b",
        "a(bar(hello)baz)b",
        json!("hello"),
        true,
    ));
    let mut failures: Vec<String> = cases.iter().filter_map(|c| run(c).err()).collect();
    let iface = json!({"Slice": [0, 1, 2, 3], "One": 1, "Two": 2, "Nil": null, "Zero": 0});
    let iface_cases = interface_value_tests();
    for (text, out) in &iface_cases {
        let got = Template::parse("tmpl", text).and_then(|t| t.render(&iface));
        match (out.strip_prefix("ERROR: "), got) {
            (Some(want), Err(e)) if e.message.contains(want) => {}
            (None, Ok(s)) if s == *out => {}
            (_, got) => failures.push(format!("{text}: got {got:?}, want {out:?}")),
        }
    }
    let total = cases.len() + iface_cases.len();
    let passed = total - failures.len();
    println!(
        "Go exec tables: {passed}/{total} translatable cases pass ({:.1}%); {} groups excluded as Go-only",
        100.0 * passed as f64 / total as f64,
        EXCLUDED.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// `TestExecError`: an error in a nested template names its position and cause.
#[test]
fn go_exec_error_names_position_and_cause() {
    let text = "line 1\nline 2\nline 3\n{{template \"one\" .}}\n{{define \"one\"}}{{template \"two\" .}}{{end}}\n\
{{define \"two\"}}{{template \"three\" .}}{{end}}\n{{define \"three\"}}{{index \"hi\" $}}{{end}}";
    let err = Template::parse("top", text)
        .unwrap()
        .render(&json!(5))
        .unwrap_err();
    // Go: `template: top:7:20: executing "three" at <index "hi" $>: …` (0-based column).
    assert_eq!(
        err.to_string(),
        "top:7:21: error calling index: index out of range: 5"
    );
}
