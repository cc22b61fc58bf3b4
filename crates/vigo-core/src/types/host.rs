//! `host`: one entry of `/etc/hosts`.

use std::net::IpAddr;

use serde_json::Value;

use super::{Attr, FOLLOW, Kind, Required, STATE, TypeDef};

/// The `host` type.
pub const TYPE: TypeDef = TypeDef {
    name: "host",
    doc: "One entry of `/etc/hosts` (or another hosts file): a name, its address and aliases, or its absence.",
    example: r#"- name: db
  type: host
  hostname: db.internal
  ip: 10.0.0.5
  aliases: [db]
  state: present"#,
    attrs: &[
        Attr::new("hostname", Kind::Str, "canonical name")
            .check(check_hostname)
            .required(Required::Yes)
            .example("db.internal"),
        STATE,
        Attr::new("ip", Kind::Str, "IPv4 or IPv6")
            .required(Required::WhenPresent)
            .check(check_ip)
            .example("10.0.0.5"),
        Attr::new("aliases", Kind::Any, "space-separated or a list").example("[db]"),
        Attr::new("target_path", Kind::Path, "the hosts file")
            .default("/etc/hosts")
            .example("/etc/hosts"),
        FOLLOW,
    ],
    primary: "hostname",
    writes_path: Some("target_path"),
    ..super::BASE
};

/// An `ip` attribute's address.
pub fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("\"{text}\" is not an IPv4 or IPv6 address"))
}

fn check_ip(v: &Value) -> Result<(), String> {
    v.as_str().map_or(Ok(()), |s| parse_ip(s).map(drop))
}

fn check_hostname(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(h) if h.is_empty() || h.contains(char::is_whitespace) || h.starts_with('#') => {
            Err(format!("\"{h}\" is not a host name"))
        }
        _ => Ok(()),
    }
}
