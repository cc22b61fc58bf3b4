//! The differential test against Ansible: cases ported from Ansible's own integration
//! tests (`test/integration/targets/{lineinfile,blockinfile,replace}` of ansible-core and
//! `ini_file` of community.general) and from the modules' documented options, each run by
//! Debian's Ansible on one copy of the input in a temporary directory and by Vigo's
//! executor on another. For every case the resulting bytes, the changed/unchanged verdict
//! and the verdict of a second run (idempotence) must be equal — or the case names a
//! difference Vigo keeps on purpose, with the reason and Vigo's own result, and the test
//! checks that Ansible really differs there (docs/resources.md lists the same
//! differences).
//!
//! Ansible runs as two `ansible-playbook` invocations (every case's first run, then every
//! case's second run) on `localhost` with the local connection, with `HOME`,
//! `ANSIBLE_LOCAL_TEMP`, `ANSIBLE_REMOTE_TEMP` and `ANSIBLE_CONFIG` inside the temporary
//! directory, so nothing is written to `~`. Without `ansible-playbook` and the
//! `community.general` collection (Debian packages `ansible-core` and `ansible`, which
//! scripts/test.sh installs) the test fails saying so; it never skips.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Map, Value, json};
use vigo_exec::contract::{Ctx, Drift, ResourceDecl};
use vigo_exec::executors::Registry;

/// What Vigo does where it differs from Ansible on purpose.
#[derive(Debug, Clone, Copy)]
enum Vigo {
    /// The file Vigo writes (first run; the second changes nothing).
    Writes(&'static str),
    /// Vigo refuses, with an error containing this text.
    Fails(&'static str),
}

#[derive(Debug, Clone)]
struct Case {
    name: &'static str,
    /// The file before the first run; `None`: it does not exist.
    input: Option<&'static str>,
    /// The Ansible module (fully qualified) and its arguments, without `path`.
    module: &'static str,
    ansible: Value,
    /// The Vigo type and its attributes, without `target_path`.
    vigo_type: &'static str,
    vigo: Value,
    /// A difference kept on purpose: why, and what Vigo does instead.
    kept: Option<(&'static str, Vigo)>,
}

const LINEINFILE: &str = "ansible.builtin.lineinfile";
const BLOCKINFILE: &str = "ansible.builtin.blockinfile";
const REPLACE: &str = "ansible.builtin.replace";
const INI_FILE: &str = "community.general.ini_file";

/// Ansible's `lineinfile/files/test.txt`.
const TEST_TXT: &str = "This is line 1\nThis is line 2\nREF this is a line for backrefs REF\nThis is line 4\nThis is line 5\n";
/// Ansible's `lineinfile/files/testmultiple.txt`.
const MULTIPLE: &str = "This is line 1\nThis is the repeating line\nThis is line 3\nThis is the repeating line\nThis is line 5\nThis is the repeating line\nThis is line 7\nThis is the repeating line\nThis is line 9\n";
const SSHD: &str = "Port 22\n#PermitRootLogin yes\nUsePAM yes\n# Example of overriding settings on a per-user basis\n#Match User anoncvs\n";
/// Ansible's `replace` pangrams (written without a final newline there).
const PANGRAMS: &str = "The quick brown fox jumps over the lazy dog.\nWe promptly judged antique ivory buckles for the next prize.\nJinxed wizards pluck ivy from the big quilt.\nJaded zombies acted quaintly but kept driving their oxen forward.";
const ADDRESSES: &str = "# start of group\n0.0.0.0\n127.0.0.1\n127.0.1.1\n# end of group\n\n# start of group\n0.0.0.0\n127.0.0.1\n127.0.1.1\n# end of group\n\n# start of group\n0.0.0.0\n127.0.0.1\n127.0.1.1\n# end of group\n";
const PHP_INI: &str =
    "; PHP settings\n[PHP]\nengine = On\nmemory_limit = 128M\n\n[Date]\ndate.timezone = UTC\n";
const WITH_BLOCK: &str = "a\n# BEGIN ANSIBLE MANAGED BLOCK\nold\n# END ANSIBLE MANAGED BLOCK\nb\n";
const MY_CNF: &str = "[client]\nport = 3306\n\n[mysqld]\nuser = mysql\nport = 3306\n";

/// The markers Ansible's blockinfile writes by default, as Vigo attributes.
fn ansible_markers(mut attrs: Value) -> Value {
    attrs["marker_begin"] = json!("# BEGIN ANSIBLE MANAGED BLOCK");
    attrs["marker_end"] = json!("# END ANSIBLE MANAGED BLOCK");
    attrs
}

fn cases() -> Vec<Case> {
    let case = |name, input, module, ansible, vigo_type, vigo| Case {
        name,
        input,
        module,
        ansible,
        vigo_type,
        vigo,
        kept: None,
    };
    let kept = |mut c: Case, why, vigo| {
        c.kept = Some((why, vigo));
        c
    };
    vec![
        // lineinfile: lineinfile/tasks/main.yml
        case(
            "lineinfile insertbefore BOF",
            Some(TEST_TXT),
            LINEINFILE,
            json!({"line": "New line at the beginning", "insertbefore": "BOF"}),
            "file_line",
            json!({"line": "New line at the beginning", "position": "begin", "state": "present"}),
        ),
        case(
            "lineinfile insertafter EOF",
            Some(TEST_TXT),
            LINEINFILE,
            json!({"line": "New line at the end", "insertafter": "EOF"}),
            "file_line",
            json!({"line": "New line at the end", "position": "end", "state": "present"}),
        ),
        case(
            "lineinfile insertafter a line",
            Some(TEST_TXT),
            LINEINFILE,
            json!({"line": "New line after line 1", "insertafter": "^This is line 1$"}),
            "file_line",
            json!({"line": "New line after line 1", "position": "after:^This is line 1$", "state": "present"}),
        ),
        case(
            "lineinfile insertbefore a line",
            Some(TEST_TXT),
            LINEINFILE,
            json!({"line": "New line after line 5", "insertbefore": "^This is line 5$"}),
            "file_line",
            json!({"line": "New line after line 5", "position": "before:^This is line 5$", "state": "present"}),
        ),
        case(
            "lineinfile backrefs replace a whole line",
            Some(TEST_TXT),
            LINEINFILE,
            json!({"line": "This is line 3", "backrefs": true, "regexp": "^REF .* REF$"}),
            "file_line",
            json!({"line": "This is line 3", "match_pattern": "^REF .* REF$", "backrefs": true, "state": "present"}),
        ),
        case(
            "lineinfile backrefs with a group",
            Some(TEST_TXT),
            LINEINFILE,
            json!({"line": "New \\1 created with the backref", "backrefs": true, "regexp": "^This is (line 4)$"}),
            "file_line",
            json!({"line": "New ${1} created with the backref", "match_pattern": "^This is (line 4)$", "backrefs": true, "state": "present"}),
        ),
        case(
            "lineinfile backrefs without a match leaves the file",
            Some(TEST_TXT),
            LINEINFILE,
            json!({"line": "\\1", "backrefs": true, "regexp": "^nothing (here)$"}),
            "file_line",
            json!({"line": "$1", "match_pattern": "^nothing (here)$", "backrefs": true, "state": "present"}),
        ),
        case(
            "lineinfile absent by regexp",
            Some(TEST_TXT),
            LINEINFILE,
            json!({"state": "absent", "regexp": "^This is line 2$"}),
            "file_line",
            json!({"match_pattern": "^This is line 2$", "state": "absent"}),
        ),
        case(
            "lineinfile absent by line",
            Some(TEST_TXT),
            LINEINFILE,
            json!({"state": "absent", "line": "This is line 4"}),
            "file_line",
            json!({"line": "This is line 4", "state": "absent"}),
        ),
        case(
            "lineinfile absent without a match",
            Some(TEST_TXT),
            LINEINFILE,
            json!({"state": "absent", "regexp": "^nothing$"}),
            "file_line",
            json!({"match_pattern": "^nothing$", "state": "absent"}),
        ),
        case(
            "lineinfile absent removes every match",
            Some(MULTIPLE),
            LINEINFILE,
            json!({"state": "absent", "regexp": "repeating"}),
            "file_line",
            json!({"match_pattern": "repeating", "state": "absent"}),
        ),
        case(
            "lineinfile into a file without a final newline",
            Some("first line\nno newline"),
            LINEINFILE,
            json!({"line": "New line at the end", "insertafter": "EOF"}),
            "file_line",
            json!({"line": "New line at the end", "state": "present"}),
        ),
        case(
            "lineinfile into an empty file",
            Some(""),
            LINEINFILE,
            json!({"line": "New line at the end", "insertafter": "EOF"}),
            "file_line",
            json!({"line": "New line at the end", "state": "present"}),
        ),
        case(
            "lineinfile insertafter in testmultiple",
            Some(MULTIPLE),
            LINEINFILE,
            json!({"line": "bar", "insertafter": "3"}),
            "file_line",
            json!({"line": "bar", "position": "after:3", "state": "present"}),
        ),
        case(
            "lineinfile insertbefore in testmultiple",
            Some(MULTIPLE),
            LINEINFILE,
            json!({"line": "bar", "insertbefore": "7"}),
            "file_line",
            json!({"line": "bar", "position": "before:7", "state": "present"}),
        ),
        case(
            "lineinfile regexp replaces a commented setting",
            Some(SSHD),
            LINEINFILE,
            json!({"line": "PermitRootLogin no", "regexp": "^#?PermitRootLogin"}),
            "file_line",
            json!({"line": "PermitRootLogin no", "match_pattern": "^#?PermitRootLogin", "state": "present"}),
        ),
        case(
            "lineinfile regexp without a match appends",
            Some(SSHD),
            LINEINFILE,
            json!({"line": "X11Forwarding no", "regexp": "^#?X11Forwarding"}),
            "file_line",
            json!({"line": "X11Forwarding no", "match_pattern": "^#?X11Forwarding", "state": "present"}),
        ),
        case(
            "lineinfile line already present is unchanged",
            Some(SSHD),
            LINEINFILE,
            json!({"line": "UsePAM yes"}),
            "file_line",
            json!({"line": "UsePAM yes", "state": "present"}),
        ),
        case(
            "lineinfile regexp without a match but the line present",
            Some(SSHD),
            LINEINFILE,
            json!({"line": "UsePAM yes", "regexp": "^nothing"}),
            "file_line",
            json!({"line": "UsePAM yes", "match_pattern": "^nothing", "state": "present"}),
        ),
        case(
            "lineinfile on a missing file fails",
            None,
            LINEINFILE,
            json!({"line": "x"}),
            "file_line",
            json!({"line": "x", "state": "present"}),
        ),
        kept(
            case(
                "lineinfile regexp matching several lines",
                Some(MULTIPLE),
                LINEINFILE,
                json!({"line": "one repeating line", "regexp": "repeating"}),
                "file_line",
                json!({"line": "one repeating line", "match_pattern": "repeating", "state": "present"}),
            ),
            "file_line replaces every matching line, so no stale copy of a setting survives; lineinfile replaces only the last",
            Vigo::Writes(
                "This is line 1\none repeating line\nThis is line 3\none repeating line\nThis is line 5\none repeating line\nThis is line 7\none repeating line\nThis is line 9\n",
            ),
        ),
        kept(
            case(
                "lineinfile insertafter matching several lines",
                Some(MULTIPLE),
                LINEINFILE,
                json!({"line": "inserted", "insertafter": "repeating"}),
                "file_line",
                json!({"line": "inserted", "position": "after:repeating", "state": "present"}),
            ),
            "file_line's position uses the first matching line; lineinfile the last (blockinfile's insertafter uses the last, as Ansible)",
            Vigo::Writes(
                "This is line 1\nThis is the repeating line\ninserted\nThis is line 3\nThis is the repeating line\nThis is line 5\nThis is the repeating line\nThis is line 7\nThis is the repeating line\nThis is line 9\n",
            ),
        ),
        kept(
            case(
                "lineinfile create",
                None,
                LINEINFILE,
                json!({"line": "This is a new file", "create": true, "insertbefore": "BOF"}),
                "file_line",
                json!({"line": "This is a new file", "position": "begin", "state": "present"}),
            ),
            "file_line never creates its file (a `file` resource does, with its mode and owner)",
            Vigo::Fails("does not exist; create it first"),
        ),
        // blockinfile: blockinfile/tasks/*.yml
        case(
            "blockinfile add to an existing file",
            Some(SSHD),
            BLOCKINFILE,
            json!({"block": "Match User ansible-agent\nPasswordAuthentication no\n"}),
            "blockinfile",
            ansible_markers(
                json!({"block_content": "Match User ansible-agent\nPasswordAuthentication no\n", "state": "present"}),
            ),
        ),
        case(
            "blockinfile update the block in place",
            Some(WITH_BLOCK),
            BLOCKINFILE,
            json!({"block": "new1\nnew2\n"}),
            "blockinfile",
            ansible_markers(json!({"block_content": "new1\nnew2\n", "state": "present"})),
        ),
        case(
            "blockinfile absent removes the block",
            Some(WITH_BLOCK),
            BLOCKINFILE,
            json!({"state": "absent"}),
            "blockinfile",
            ansible_markers(json!({"state": "absent"})),
        ),
        case(
            "blockinfile absent without a block",
            Some("a\nb\n"),
            BLOCKINFILE,
            json!({"state": "absent"}),
            "blockinfile",
            ansible_markers(json!({"state": "absent"})),
        ),
        case(
            "blockinfile insertafter",
            Some("line1\nline2\nline3\n"),
            BLOCKINFILE,
            json!({"insertafter": "line2", "block": "block1\nblock2\n"}),
            "blockinfile",
            ansible_markers(
                json!({"insertafter": "line2", "block_content": "block1\nblock2\n", "state": "present"}),
            ),
        ),
        case(
            "blockinfile insertbefore",
            Some("line1\nline2\nline3\n"),
            BLOCKINFILE,
            json!({"insertbefore": "line2", "block": "block1\nblock2\n"}),
            "blockinfile",
            ansible_markers(
                json!({"insertbefore": "line2", "block_content": "block1\nblock2\n", "state": "present"}),
            ),
        ),
        case(
            "blockinfile insertbefore BOF",
            Some("line1\nline2\n"),
            BLOCKINFILE,
            json!({"insertbefore": "BOF", "block": "first\n"}),
            "blockinfile",
            ansible_markers(
                json!({"insertbefore": "BOF", "block_content": "first\n", "state": "present"}),
            ),
        ),
        case(
            "blockinfile insertafter EOF",
            Some("line1\nline2\n"),
            BLOCKINFILE,
            json!({"insertafter": "EOF", "block": "last\n"}),
            "blockinfile",
            ansible_markers(
                json!({"insertafter": "EOF", "block_content": "last\n", "state": "present"}),
            ),
        ),
        case(
            "blockinfile insertafter without a match goes last",
            Some("line1\nline2\n"),
            BLOCKINFILE,
            json!({"insertafter": "^nothing", "block": "last\n"}),
            "blockinfile",
            ansible_markers(
                json!({"insertafter": "^nothing", "block_content": "last\n", "state": "present"}),
            ),
        ),
        case(
            "blockinfile insertafter uses the last match",
            Some(MULTIPLE),
            BLOCKINFILE,
            json!({"insertafter": "repeating", "block": "B\n"}),
            "blockinfile",
            ansible_markers(
                json!({"insertafter": "repeating", "block_content": "B\n", "state": "present"}),
            ),
        ),
        case(
            "blockinfile insertbefore uses the last match",
            Some(MULTIPLE),
            BLOCKINFILE,
            json!({"insertbefore": "repeating", "block": "B\n"}),
            "blockinfile",
            ansible_markers(
                json!({"insertbefore": "repeating", "block_content": "B\n", "state": "present"}),
            ),
        ),
        case(
            "blockinfile an existing block does not move",
            Some(WITH_BLOCK),
            BLOCKINFILE,
            json!({"insertbefore": "BOF", "block": "new\n"}),
            "blockinfile",
            ansible_markers(
                json!({"insertbefore": "BOF", "block_content": "new\n", "state": "present"}),
            ),
        ),
        case(
            "blockinfile create",
            None,
            BLOCKINFILE,
            json!({"create": true, "block": "This is a block\n"}),
            "blockinfile",
            ansible_markers(
                json!({"create": true, "block_content": "This is a block\n", "state": "present"}),
            ),
        ),
        case(
            "blockinfile missing file without create fails",
            None,
            BLOCKINFILE,
            json!({"block": "x\n"}),
            "blockinfile",
            ansible_markers(json!({"block_content": "x\n", "state": "present"})),
        ),
        case(
            "blockinfile into a file without a final newline",
            Some("line1\nline2"),
            BLOCKINFILE,
            json!({"block": "block\n"}),
            "blockinfile",
            ansible_markers(json!({"block_content": "block\n", "state": "present"})),
        ),
        case(
            "blockinfile a block without a final newline",
            Some("line1\n"),
            BLOCKINFILE,
            json!({"block": "one\ntwo"}),
            "blockinfile",
            ansible_markers(json!({"block_content": "one\ntwo", "state": "present"})),
        ),
        case(
            "blockinfile custom marker",
            Some("<html>\n</html>\n"),
            BLOCKINFILE,
            json!({"marker": "<!-- {mark} site -->", "insertafter": "<html>", "block": "<p>hi</p>\n"}),
            "blockinfile",
            json!({"marker_begin": "<!-- BEGIN site -->", "marker_end": "<!-- END site -->", "insertafter": "<html>", "block_content": "<p>hi</p>\n", "state": "present"}),
        ),
        case(
            "blockinfile custom marker words",
            Some("a\n"),
            BLOCKINFILE,
            json!({"marker_begin": "START", "marker_end": "STOP", "block": "x\n"}),
            "blockinfile",
            json!({"marker_begin": "# START ANSIBLE MANAGED BLOCK", "marker_end": "# STOP ANSIBLE MANAGED BLOCK", "block_content": "x\n", "state": "present"}),
        ),
        kept(
            case(
                "blockinfile an empty block",
                Some(WITH_BLOCK),
                BLOCKINFILE,
                json!({"block": ""}),
                "blockinfile",
                ansible_markers(json!({"block_content": "", "state": "present"})),
            ),
            "an empty block_content with state present keeps the markers around nothing; removing the block is `state: absent`",
            Vigo::Writes("a\n# BEGIN ANSIBLE MANAGED BLOCK\n# END ANSIBLE MANAGED BLOCK\nb\n"),
        ),
        // replace: replace/tasks/main.yml
        case(
            "replace between after and before",
            Some(ADDRESSES),
            REPLACE,
            json!({"after": "# start of group", "before": "# end of group", "regexp": "0", "replace": "9"}),
            "replace",
            json!({"region_start": "# start of group", "region_end": "# end of group", "match_pattern": "0", "replacement": "9"}),
        ),
        case(
            "replace after only",
            Some(ADDRESSES),
            REPLACE,
            json!({"after": "# start of group", "regexp": "127", "replace": "10"}),
            "replace",
            json!({"region_start": "# start of group", "match_pattern": "127", "replacement": "10"}),
        ),
        case(
            "replace quote every line",
            Some(PANGRAMS),
            REPLACE,
            json!({"regexp": "^(.+)$", "replace": "\"\\1\""}),
            "replace",
            json!({"match_pattern": "^(.+)$", "replacement": "\"$1\""}),
        ),
        case(
            "replace quote the whole file",
            Some(PANGRAMS),
            REPLACE,
            json!({"regexp": "^([\\S\\s]+)$", "replace": "\"\\1\""}),
            "replace",
            json!({"match_pattern": "^([\\S\\s]+)$", "replacement": "\"${1}\""}),
        ),
        case(
            "replace word boundaries",
            Some(PANGRAMS),
            REPLACE,
            json!({"regexp": "\\b(.+)\\b", "replace": "\"\\1\""}),
            "replace",
            json!({"match_pattern": "\\b(.+)\\b", "replacement": "\"$1\""}),
        ),
        case(
            "replace without a match",
            Some(PANGRAMS),
            REPLACE,
            json!({"regexp": "^nothing$", "replace": "x"}),
            "replace",
            json!({"match_pattern": "^nothing$", "replacement": "x"}),
        ),
        case(
            "replace named groups",
            Some("port=80\nhost=web\n"),
            REPLACE,
            json!({"regexp": "^(?P<key>\\w+)=(?P<val>\\w+)$", "replace": "\\g<val>=\\g<key>"}),
            "replace",
            json!({"match_pattern": "^(?P<key>\\w+)=(?P<val>\\w+)$", "replacement": "${val}=${key}"}),
        ),
        case(
            "replace a group followed by digits",
            Some("v1\nv2\n"),
            REPLACE,
            json!({"regexp": "^v(\\d)$", "replace": "w\\g<1>0"}),
            "replace",
            json!({"match_pattern": "^v(\\d)$", "replacement": "w${1}0"}),
        ),
        case(
            "replace across lines",
            Some("a\nb\nc\n"),
            REPLACE,
            json!({"regexp": "a\\nb", "replace": "ab"}),
            "replace",
            json!({"match_pattern": "a\\nb", "replacement": "ab"}),
        ),
        case(
            "replace removes matches",
            Some("keep # comment\nalso\n"),
            REPLACE,
            json!({"regexp": " ?#.*$", "replace": ""}),
            "replace",
            json!({"match_pattern": " ?#.*$", "replacement": ""}),
        ),
        case(
            "replace an idempotent setting",
            Some("listen_addresses = localhost\n"),
            REPLACE,
            json!({"regexp": "^listen_addresses = .*$", "replace": "listen_addresses = '*'"}),
            "replace",
            json!({"match_pattern": "^listen_addresses = .*$", "replacement": "listen_addresses = '*'"}),
        ),
        case(
            "replace on a missing file fails",
            None,
            REPLACE,
            json!({"regexp": "a", "replace": "b"}),
            "replace",
            json!({"match_pattern": "a", "replacement": "b"}),
        ),
        kept(
            case(
                "replace before only",
                Some(ADDRESSES),
                REPLACE,
                json!({"before": "# end of group", "regexp": "127", "replace": "10"}),
                "replace",
                json!({"region_end": "# end of group", "match_pattern": "127", "replacement": "10"}),
            ),
            "region_end ends the region at the first matching line after region_start; Ansible's `before` alone reaches the last match",
            Vigo::Writes(
                "# start of group\n0.0.0.0\n10.0.0.1\n10.0.1.1\n# end of group\n\n# start of group\n0.0.0.0\n127.0.0.1\n127.0.1.1\n# end of group\n\n# start of group\n0.0.0.0\n127.0.0.1\n127.0.1.1\n# end of group\n",
            ),
        ),
        // ini_file: community.general's ini_file tests and documented options
        case(
            "ini add an option to a section",
            Some(PHP_INI),
            INI_FILE,
            json!({"section": "PHP", "option": "expose_php", "value": "Off"}),
            "ini",
            json!({"section": "PHP", "key": "expose_php", "value": "Off", "state": "present"}),
        ),
        case(
            "ini change an option",
            Some(PHP_INI),
            INI_FILE,
            json!({"section": "PHP", "option": "memory_limit", "value": "256M"}),
            "ini",
            json!({"section": "PHP", "key": "memory_limit", "value": "256M", "state": "present"}),
        ),
        case(
            "ini same value is unchanged",
            Some(PHP_INI),
            INI_FILE,
            json!({"section": "PHP", "option": "memory_limit", "value": "128M"}),
            "ini",
            json!({"section": "PHP", "key": "memory_limit", "value": "128M", "state": "present"}),
        ),
        case(
            "ini absent removes an option",
            Some(PHP_INI),
            INI_FILE,
            json!({"section": "Date", "option": "date.timezone", "state": "absent"}),
            "ini",
            json!({"section": "Date", "key": "date.timezone", "state": "absent"}),
        ),
        case(
            "ini absent of a missing option",
            Some(PHP_INI),
            INI_FILE,
            json!({"section": "Date", "option": "nothing", "state": "absent"}),
            "ini",
            json!({"section": "Date", "key": "nothing", "state": "absent"}),
        ),
        case(
            "ini absent removes a whole section",
            Some(PHP_INI),
            INI_FILE,
            json!({"section": "PHP", "state": "absent"}),
            "ini",
            json!({"section": "PHP", "state": "absent"}),
        ),
        case(
            "ini absent removes the last section",
            Some(PHP_INI),
            INI_FILE,
            json!({"section": "Date", "state": "absent"}),
            "ini",
            json!({"section": "Date", "state": "absent"}),
        ),
        case(
            "ini allow_no_value adds a bare key",
            Some(MY_CNF),
            INI_FILE,
            json!({"section": "mysqld", "option": "skip-name-resolve", "allow_no_value": true}),
            "ini",
            json!({"section": "mysqld", "key": "skip-name-resolve", "allow_no_value": true, "state": "present"}),
        ),
        case(
            "ini allow_no_value keeps a bare key",
            Some("[mysqld]\nskip-name-resolve\n"),
            INI_FILE,
            json!({"section": "mysqld", "option": "skip-name-resolve", "allow_no_value": true}),
            "ini",
            json!({"section": "mysqld", "key": "skip-name-resolve", "allow_no_value": true, "state": "present"}),
        ),
        case(
            "ini absent removes a bare key",
            Some("[mysqld]\nskip-name-resolve\nport = 3306\n"),
            INI_FILE,
            json!({"section": "mysqld", "option": "skip-name-resolve", "state": "absent"}),
            "ini",
            json!({"section": "mysqld", "key": "skip-name-resolve", "state": "absent"}),
        ),
        case(
            "ini a bare key gets a value",
            Some("[mysqld]\nskip-name-resolve\n"),
            INI_FILE,
            json!({"section": "mysqld", "option": "skip-name-resolve", "value": "1"}),
            "ini",
            json!({"section": "mysqld", "key": "skip-name-resolve", "value": "1", "state": "present"}),
        ),
        case(
            "ini no_extra_spaces",
            Some("[s]\na=1\n"),
            INI_FILE,
            json!({"section": "s", "option": "b", "value": "2", "no_extra_spaces": true}),
            "ini",
            json!({"section": "s", "key": "b", "value": "2", "separator": "=", "state": "present"}),
        ),
        case(
            "ini an option before the first section",
            Some(MY_CNF),
            INI_FILE,
            json!({"option": "global", "value": "yes"}),
            "ini",
            json!({"key": "global", "value": "yes", "state": "present"}),
        ),
        case(
            "ini a section written with spaces",
            Some("[client]\nport = 3306\n\n"),
            INI_FILE,
            json!({"section": " extra ", "option": "k", "value": "v"}),
            "ini",
            json!({"section": " extra ", "key": "k", "value": "v", "state": "present"}),
        ),
        case(
            "ini duplicates in the section are removed",
            Some("[s]\nk = 1\nj = 0\nk = 2\n"),
            INI_FILE,
            json!({"section": "s", "option": "k", "value": "3"}),
            "ini",
            json!({"section": "s", "key": "k", "value": "3", "state": "present"}),
        ),
        case(
            "ini a new option goes before closing comments",
            Some("[s]\na = 1\n\n; next\n[t]\nb = 2\n"),
            INI_FILE,
            json!({"section": "s", "option": "c", "value": "3"}),
            "ini",
            json!({"section": "s", "key": "c", "value": "3", "state": "present"}),
        ),
        case(
            "ini into an empty section",
            Some("[s]\n[t]\nb = 2\n"),
            INI_FILE,
            json!({"section": "s", "option": "a", "value": "1"}),
            "ini",
            json!({"section": "s", "key": "a", "value": "1", "state": "present"}),
        ),
        case(
            "ini create false on a missing file fails",
            None,
            INI_FILE,
            json!({"section": "s", "option": "a", "value": "1", "create": false}),
            "ini",
            json!({"section": "s", "key": "a", "value": "1", "create": false, "state": "present"}),
        ),
        kept(
            case(
                "ini a new section",
                Some(MY_CNF),
                INI_FILE,
                json!({"section": "mysqldump", "option": "quick", "value": "1"}),
                "ini",
                json!({"section": "mysqldump", "key": "quick", "value": "1", "state": "present"}),
            ),
            "a new section is separated from the one before by a blank line",
            Vigo::Writes(
                "[client]\nport = 3306\n\n[mysqld]\nuser = mysql\nport = 3306\n\n[mysqldump]\nquick = 1\n",
            ),
        ),
        kept(
            case(
                "ini a new file",
                None,
                INI_FILE,
                json!({"section": "s", "option": "k", "value": "v"}),
                "ini",
                json!({"section": "s", "key": "k", "value": "v", "state": "present"}),
            ),
            "a new file starts with its section, not with a blank line",
            Vigo::Writes("[s]\nk = v\n"),
        ),
        kept(
            case(
                "ini a byte-order mark",
                Some("\u{feff}[s]\nk = 1\n"),
                INI_FILE,
                json!({"section": "s", "option": "k", "value": "2"}),
                "ini",
                json!({"section": "s", "key": "k", "value": "2", "state": "present"}),
            ),
            "the file's UTF-8 byte-order mark is kept; ini_file drops it when it rewrites the file",
            Vigo::Writes("\u{feff}[s]\nk = 2\n"),
        ),
        kept(
            case(
                "ini the same value with other spacing",
                Some("[s]\nk=1\n"),
                INI_FILE,
                json!({"section": "s", "option": "k", "value": "1"}),
                "ini",
                json!({"section": "s", "key": "k", "value": "1", "state": "present"}),
            ),
            "a setting that already has the value is left as written; ini_file rewrites its spacing",
            Vigo::Writes("[s]\nk=1\n"),
        ),
        kept(
            case(
                "ini a commented-out option",
                Some("[s]\n# k = old\n"),
                INI_FILE,
                json!({"section": "s", "option": "k", "value": "new"}),
                "ini",
                json!({"section": "s", "key": "k", "value": "new", "state": "present"}),
            ),
            "commented-out settings are never touched; ini_file 6.x rewrites `# k = old` into the setting",
            Vigo::Writes("[s]\nk = new\n# k = old\n"),
        ),
    ]
}

/// One side's result: whether each run failed or changed, and the file after each run.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    failed: [bool; 2],
    changed: [bool; 2],
    content: [Option<String>; 2],
    /// The first run's error, for messages.
    error: Option<String>,
}

fn read(path: &Path) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn seed(path: &Path, input: Option<&str>) {
    if let Some(text) = input {
        std::fs::write(path, text).unwrap();
    }
}

/// Runs one case twice through Vigo's executor.
fn run_vigo(case: &Case, path: &Path) -> Outcome {
    let Value::Object(mut attrs) = case.vigo.clone() else {
        panic!("{}: attributes must be an object", case.name)
    };
    attrs.insert("target_path".into(), json!(path));
    let registry = Registry::builtin();
    let executor = registry.get(case.vigo_type).expect("a built-in type");
    let ctx = Ctx {
        snapshots: None,
        timeout: Duration::from_secs(10),
    };
    let mut out = Outcome {
        failed: [false; 2],
        changed: [false; 2],
        content: [None, None],
        error: None,
    };
    for run in 0..2 {
        let result = executor
            .prepare(&ResourceDecl {
                type_name: case.vigo_type,
                name: "diff",
                attributes: &attrs,
            })
            .map_err(|e| e.to_string())
            .and_then(|p| {
                let drift = p.check(&ctx).map_err(|e| e.to_string())?;
                p.apply(&drift, &ctx).map_err(|e| e.to_string())?;
                Ok(drift != Drift::InSync)
            });
        match result {
            Ok(changed) => out.changed[run] = changed,
            Err(e) => {
                out.failed[run] = true;
                out.error.get_or_insert(e);
            }
        }
        out.content[run] = read(path);
    }
    out
}

/// The environment that keeps Ansible inside `dir`.
fn ansible_command(dir: &Path, playbook: &Path) -> Command {
    let config = dir.join("ansible.cfg");
    std::fs::write(&config, "").unwrap();
    let mut cmd = Command::new("ansible-playbook");
    cmd.arg("-i")
        .arg("localhost,")
        .arg("-e")
        .arg("ansible_python_interpreter=/usr/bin/python3")
        .arg(playbook)
        .env("HOME", dir)
        .env("ANSIBLE_LOCAL_TEMP", dir.join("local-tmp"))
        .env("ANSIBLE_REMOTE_TEMP", dir.join("remote-tmp"))
        .env("ANSIBLE_CONFIG", &config)
        .env("ANSIBLE_STDOUT_CALLBACK", "json")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_RETRY_FILES_ENABLED", "0");
    cmd
}

/// One playbook running every case's module once on its file; returns per case
/// (failed, changed, message).
fn ansible_pass(
    dir: &Path,
    cases: &[Case],
    paths: &[PathBuf],
    pass: usize,
) -> Vec<(bool, bool, String)> {
    let tasks: Vec<Value> = cases
        .iter()
        .zip(paths)
        .enumerate()
        .map(|(i, (case, path))| {
            let mut args = case.ansible.as_object().cloned().unwrap_or_else(Map::new);
            args.insert("path".into(), json!(path));
            json!({"name": format!("case {i}"), case.module: args, "ignore_errors": true})
        })
        .collect();
    let playbook = dir.join(format!("pass{pass}.json"));
    let plays = json!([{"hosts": "localhost", "connection": "local", "gather_facts": false, "tasks": tasks}]);
    std::fs::write(&playbook, plays.to_string()).unwrap();
    let out = ansible_command(dir, &playbook)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run ansible-playbook ({e}): the Ansible differential needs Debian's \
                 `ansible-core` and `ansible` (community.general's ini_file) packages; \
                 scripts/test.sh installs them (apt-get install ansible-core ansible)"
            )
        });
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "ansible-playbook gave no JSON report ({e}); exit {:?}; stderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let results = report["plays"][0]["tasks"]
        .as_array()
        .unwrap_or_else(|| panic!("no task results from Ansible: {report}"));
    assert_eq!(results.len(), cases.len(), "Ansible ran every case once");
    results
        .iter()
        .map(|t| {
            let host = &t["hosts"]["localhost"];
            let message = host["msg"].as_str().unwrap_or_default().to_owned();
            assert!(
                !message.contains("couldn't resolve module"),
                "Ansible lacks a module ({message}): install Debian's `ansible` package for community.general.ini_file"
            );
            (
                host["failed"].as_bool().unwrap_or(false),
                host["changed"].as_bool().unwrap_or(false),
                message,
            )
        })
        .collect()
}

/// Runs every case twice through Ansible.
fn run_ansible(dir: &Path, cases: &[Case]) -> Vec<Outcome> {
    let files = dir.join("files");
    std::fs::create_dir_all(&files).unwrap();
    let paths: Vec<PathBuf> = (0..cases.len())
        .map(|i| files.join(format!("case{i}")))
        .collect();
    for (case, path) in cases.iter().zip(&paths) {
        seed(path, case.input);
    }
    let first = ansible_pass(dir, cases, &paths, 1);
    let after_first: Vec<Option<String>> = paths.iter().map(|p| read(p)).collect();
    let second = ansible_pass(dir, cases, &paths, 2);
    first
        .into_iter()
        .zip(second)
        .zip(after_first)
        .zip(&paths)
        .map(|(((one, two), content1), path)| Outcome {
            failed: [one.0, two.0],
            changed: [one.1, two.1],
            content: [content1, read(path)],
            error: one.0.then_some(one.2),
        })
        .collect()
}

#[test]
fn vigo_edits_agree_with_ansible_except_the_differences_documented() {
    let cases = cases();
    let per_module = |m: &str| cases.iter().filter(|c| c.module == m).count();
    for module in [LINEINFILE, BLOCKINFILE, REPLACE, INI_FILE] {
        assert!(per_module(module) >= 8, "too few {module} cases");
    }
    assert!(cases.len() >= 40, "at least 40 cases");
    let tmp = tempfile::tempdir().unwrap();
    let ansible = run_ansible(tmp.path(), &cases);
    let vigo_dir = tmp.path().join("vigo");
    std::fs::create_dir_all(&vigo_dir).unwrap();
    let mut problems = Vec::new();
    for (i, (case, theirs)) in cases.iter().zip(&ansible).enumerate() {
        let path = vigo_dir.join(format!("case{i}"));
        seed(&path, case.input);
        let ours = run_vigo(case, &path);
        let (mine, mut errors) = (ours.clone(), Vec::new());
        // Errors are compared as verdicts, not texts.
        let comparable = |o: &Outcome| Outcome {
            error: None,
            ..o.clone()
        };
        match case.kept {
            None => {
                if comparable(&mine) != comparable(theirs) {
                    errors.push(format!("Vigo {mine:?}\n    Ansible {theirs:?}"));
                }
            }
            Some((why, expected)) => {
                match expected {
                    Vigo::Writes(text) => {
                        if mine.failed != [false; 2]
                            || mine.content[0].as_deref() != Some(text)
                            || mine.changed[1]
                        {
                            errors.push(format!("kept difference ({why}): Vigo should write {text:?} idempotently; got {mine:?}"));
                        }
                        if theirs.content[0].as_deref() == Some(text) && !theirs.failed[0] {
                            errors.push(format!(
                                "kept difference ({why}) is gone: Ansible now writes the same"
                            ));
                        }
                    }
                    Vigo::Fails(text) => {
                        if !mine.error.as_deref().is_some_and(|e| e.contains(text)) {
                            errors.push(format!("kept difference ({why}): Vigo should fail with {text:?}; got {mine:?}"));
                        }
                        if theirs.failed[0] {
                            errors.push(format!(
                                "kept difference ({why}) is gone: Ansible fails too"
                            ));
                        }
                    }
                }
            }
        }
        for e in errors {
            problems.push(format!("case {i} `{}`: {e}", case.name));
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} cases differ from Ansible:\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n")
    );
}
