//! `user`: a local account, or its absence.

use serde_json::Value;

use super::group::{check_names, valid_account_name};
use super::{Attr, Kind, Required, STATE, TypeDef};

/// The `user` type.
pub const TYPE: TypeDef = TypeDef {
    name: "user",
    doc: "A local account with its groups, home, shell, password and SSH keys, or its absence.",
    example: r#"- name: alice
  type: user
  username: alice
  groups: [sudo]
  shell: /bin/bash
  password: "secret:users/alice"
  state: present"#,
    attrs: &[
        Attr::new("username", Kind::Str, "the account name")
        .check(check_username)
            .required(Required::Yes)
            .example("alice"),
        STATE,
        Attr::new("uid", Kind::Int, "user id").example("1500"),
        Attr::new("gid", Kind::Int, "primary group, as a number").example("1500"),
        Attr::new("group", Kind::Str, "primary group, as a name")
            .conflicts(&["gid"])
            .example("staff"),
        Attr::new("groups", Kind::List, "supplementary groups, exact")
        .check(check_groups).example("[sudo]"),
        Attr::new("shell", Kind::Str, "login shell").example("/bin/bash"),
        Attr::new("home", Kind::Path, "home directory").example("/home/alice"),
        Attr::new("comment", Kind::Str, "the GECOS field (no `:` or newline)").example("Alice"),
        Attr::new("password", Kind::Str, "plaintext (usually `secret:`); stored as SHA-512-crypt, compared by re-hashing with the stored salt")
            .example("\"secret:users/alice\""),
        Attr::new("password_max_age", Kind::Int, "days").example("90"),
        Attr::new("authorized_keys", Kind::Str, "content of `~/.ssh/authorized_keys` (0600, owned by the user)")
            .example("\"ssh-ed25519 AAAA… alice\""),
        Attr::new("system", Kind::Bool, "a system account").default("false").example("true"),
        Attr::new("manage_home", Kind::Bool, "create the home; with `absent`, remove it")
            .default("true")
            .example("false"),
    ],
    primary: "username",
    ..super::BASE
};

fn check_username(v: &Value) -> Result<(), String> {
    match v.as_str() {
        Some(name) if !valid_account_name(name) => {
            Err(format!("\"{name}\" is not a valid user name"))
        }
        _ => Ok(()),
    }
}

fn check_groups(v: &Value) -> Result<(), String> {
    check_names(v, "group")
}
