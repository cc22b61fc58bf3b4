//! Loading a `stacks/` tree: every file is parsed and checked, then the names files use to
//! refer to each other (roles, crates, usercrates, environments) are checked, then every
//! match block is resolved once so that what depends on a block (vars, `foreach`,
//! references between resources, cycles) is checked too. All problems of the whole tree
//! are collected; the stack is returned only when there are none.
//!
//! Layout (paths relative to `stacks/`):
//! - `configcrates/**.vgo` — the configcrate library; `usercrates/<user>.vgo` — usercrates;
//! - `templates/**` — templates, named by their path under `templates/`;
//! - `roles.vgo` (root) — all roles; `executors.vgo` (root) — custom executor types;
//! - `common.vgo` (any directory) — vars inherited by that directory and below;
//! - `environments.vgo` (any directory) — per-environment overrides for that directory
//!   and below;
//! - `compliance.vgo` / `waivers.vgo` — compliance configuration, not read yet;
//! - any other `.vgo` — a hostcrate holding `envoys:` match blocks.
//!
//! Hostcrates are consulted deeper first: a directory's subdirectories (in lexical
//! order, recursively) before its own files (in lexical order); blocks in file order.

mod crates;
mod cx;
mod edits;
mod hosts;
mod refs;
mod schedules;

pub(crate) use refs::in_scope;

use std::collections::{BTreeMap, BTreeSet};

use crate::diag::{Diagnostic, Errors};
use crate::model::{MatchBlock, Stack};
use crate::source::SourceTree;
use crate::template::Template;
use crate::yaml::{self, Node, Pos};
use crates::{CrateKind, Library};
use cx::Cx;

/// What a file of the tree is, by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileRole {
    Configcrate,
    Usercrate,
    Template,
    Roles,
    Executors,
    Common,
    Environments,
    Compliance,
    Misplaced,
    Hostcrate,
    Ignored,
}

fn classify(path: &str) -> FileRole {
    let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
    if path.starts_with("templates/") {
        return FileRole::Template;
    }
    if !file.ends_with(".vgo") {
        return FileRole::Ignored;
    }
    if path.starts_with("configcrates/") {
        return FileRole::Configcrate;
    }
    if path.starts_with("usercrates/") {
        return FileRole::Usercrate;
    }
    match (dir, file) {
        ("", "roles.vgo") => FileRole::Roles,
        ("", "executors.vgo") => FileRole::Executors,
        (_, "roles.vgo" | "executors.vgo") => FileRole::Misplaced,
        (_, "common.vgo") => FileRole::Common,
        (_, "environments.vgo") => FileRole::Environments,
        (_, "compliance.vgo" | "waivers.vgo") => FileRole::Compliance,
        _ => FileRole::Hostcrate,
    }
}

/// The file name without `.vgo`.
fn stem(path: &str) -> &str {
    path.rsplit_once('/')
        .map_or(path, |(_, f)| f)
        .trim_end_matches(".vgo")
}

fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

/// Hostcrate files in the order they are consulted: a directory's subdirectories first
/// (lexically, recursively), then its own files (lexically).
fn consult_order<'a>(paths: &[&'a str]) -> Vec<&'a str> {
    let mut files: BTreeMap<&str, Vec<&'a str>> = BTreeMap::new();
    let mut subdirs: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for p in paths {
        let dir = dir_of(p);
        files.entry(dir).or_default().push(p);
        let mut d = dir;
        while !d.is_empty() {
            let parent = dir_of(d);
            subdirs.entry(parent).or_default().insert(d);
            d = parent;
        }
    }
    let mut out = Vec::with_capacity(paths.len());
    let mut stack: Vec<(&str, bool)> = vec![("", false)];
    while let Some((dir, expanded)) = stack.pop() {
        if expanded {
            let mut own = files.get(dir).cloned().unwrap_or_default();
            own.sort_unstable();
            out.extend(own);
            continue;
        }
        stack.push((dir, true));
        if let Some(children) = subdirs.get(dir) {
            for child in children.iter().rev() {
                stack.push((child, false));
            }
        }
    }
    out
}

/// Loads and validates a whole tree. On success the stack is ready for the resolver;
/// otherwise every problem found, sorted by file and position.
pub fn load(tree: &SourceTree) -> Result<Stack, Errors> {
    let mut errors = Errors::default();
    let mut parsed: BTreeMap<&str, Node> = BTreeMap::new();
    // Stems of files that did not parse: names they probably define are not "unknown".
    let mut broken: BTreeSet<String> = BTreeSet::new();
    let mut stack = Stack {
        tree_hash: tree.content_hash(),
        ..Stack::default()
    };
    for (path, text) in tree.files() {
        match classify(path) {
            FileRole::Template => {
                let name = &path["templates/".len()..];
                let at = |line: usize, col: usize| Pos {
                    line: u32::try_from(line).unwrap_or(u32::MAX),
                    col: u32::try_from(col).unwrap_or(u32::MAX),
                };
                match Template::parse(name, text) {
                    Err(e) => errors.push(Diagnostic::new(
                        path,
                        at(e.line, e.col),
                        "",
                        format!("bad template: {}", e.message),
                    )),
                    Ok(t) => {
                        if let Some(bad) = crate::trait_refs::check(&t) {
                            let (line, col) = bad.locate(text).unwrap_or((1, 1));
                            errors.push(Diagnostic::new(path, at(line, col), "", bad.message));
                        }
                    }
                }
                stack.templates.insert(name.to_owned(), text.to_owned());
            }
            FileRole::Ignored | FileRole::Compliance => {}
            FileRole::Misplaced => errors.push(Diagnostic::new(
                path,
                Pos { line: 1, col: 1 },
                "",
                "this file belongs at the root of stacks/",
            )),
            _ => match yaml::parse(text) {
                Ok(node) => {
                    parsed.insert(path, node);
                }
                Err(e) => {
                    errors.push(Diagnostic::new(
                        path,
                        e.pos,
                        "",
                        format!("YAML syntax error: {}", e.message),
                    ));
                    broken.insert(stem(path).to_owned());
                }
            },
        }
    }
    for (path, node) in &parsed {
        let mut cx = Cx {
            file: path,
            errors: &mut errors,
        };
        match classify(path) {
            FileRole::Executors => stack.custom_types = hosts::parse_executors(&mut cx, node),
            FileRole::Roles => stack.roles = hosts::parse_roles(&mut cx, node),
            FileRole::Common => {
                stack
                    .commons
                    .insert(dir_of(path).to_owned(), hosts::parse_common(&mut cx, node));
            }
            FileRole::Environments => {
                stack.environments.insert(
                    dir_of(path).to_owned(),
                    hosts::parse_environments(&mut cx, node),
                );
            }
            _ => {}
        }
    }
    let lib = Library {
        custom: &stack.custom_types,
        templates: &stack.templates,
    };
    let mut crates = BTreeMap::new();
    let mut usercrates = BTreeMap::new();
    for (path, node) in &parsed {
        let mut cx = Cx {
            file: path,
            errors: &mut errors,
        };
        match classify(path) {
            FileRole::Configcrate => {
                if let Some(c) = crates::parse_crate(&mut cx, node, &CrateKind::Config, &lib) {
                    if let Some(first) = crates.get(&c.name) {
                        let first: &crate::model::CrateDef = first;
                        cx.err(
                            c.origin.pos,
                            "",
                            format!(
                                "configcrate `{}` is already defined in {}",
                                c.name, first.origin.file
                            ),
                        );
                    } else {
                        crates.insert(c.name.clone(), c);
                    }
                }
            }
            FileRole::Usercrate => {
                if let Some(c) =
                    crates::parse_crate(&mut cx, node, &CrateKind::User(stem(path)), &lib)
                {
                    if usercrates.contains_key(&c.name) {
                        cx.err(
                            c.origin.pos,
                            "",
                            format!("usercrate `{}` is defined twice", c.name),
                        );
                    } else {
                        usercrates.insert(c.name.clone(), c);
                    }
                }
            }
            _ => {}
        }
    }
    stack.crates = crates;
    stack.usercrates = usercrates;
    let hostcrates: Vec<&str> = parsed
        .keys()
        .copied()
        .filter(|p| classify(p) == FileRole::Hostcrate)
        .collect();
    let mut blocks: Vec<MatchBlock> = Vec::new();
    for path in consult_order(&hostcrates) {
        let mut cx = Cx {
            file: path,
            errors: &mut errors,
        };
        if let Some(node) = parsed.get(path) {
            blocks.extend(hosts::parse_hostcrate(&mut cx, node, dir_of(path)));
        }
    }
    stack.blocks = blocks;
    refs::check(&stack, &broken, &mut errors);
    // Unknown names are skipped while resolving, so this adds no cascade of errors.
    crate::resolve::check_all_blocks(&stack, &mut errors);
    errors.normalize();
    if errors.is_empty() {
        Ok(stack)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_classified_by_path() {
        assert_eq!(classify("configcrates/a/b.vgo"), FileRole::Configcrate);
        assert_eq!(classify("usercrates/alice.vgo"), FileRole::Usercrate);
        assert_eq!(classify("templates/x/y.conf"), FileRole::Template);
        assert_eq!(classify("roles.vgo"), FileRole::Roles);
        assert_eq!(classify("prod/roles.vgo"), FileRole::Misplaced);
        assert_eq!(classify("prod/common.vgo"), FileRole::Common);
        assert_eq!(classify("environments.vgo"), FileRole::Environments);
        assert_eq!(classify("prod/compliance.vgo"), FileRole::Compliance);
        assert_eq!(classify("envoys.vgo"), FileRole::Hostcrate);
        assert_eq!(classify("README.md"), FileRole::Ignored);
    }

    #[test]
    fn deeper_directories_first_then_own_files() {
        let order = consult_order(&[
            "envoys.vgo",
            "a.vgo",
            "prod/web/web.vgo",
            "prod/all.vgo",
            "prod/db/db.vgo",
            "stage/stage.vgo",
        ]);
        assert_eq!(
            order,
            [
                "prod/db/db.vgo",
                "prod/web/web.vgo",
                "prod/all.vgo",
                "stage/stage.vgo",
                "a.vgo",
                "envoys.vgo"
            ]
        );
    }
}
