//! Names that files use to refer to each other: roles and usercrates named by match
//! blocks, crates named by roles, blocks, environments and crate-level `depends_on`,
//! roles named by `includes:` (one level deep), environments named by match blocks.
//! References between resources are checked per bundle by the resolver, after `foreach`
//! expansion.

use std::collections::{BTreeMap, BTreeSet};

use crate::diag::{Diagnostic, Errors, did_you_mean};
use crate::model::{Named, Stack};

/// Reports `n` unless `known` has it (or a file that did not parse probably defines it).
fn unknown<T>(
    errors: &mut Errors,
    broken: &BTreeSet<String>,
    file: &str,
    context: &str,
    what: &str,
    n: &Named,
    known: &BTreeMap<String, T>,
) {
    if !known.contains_key(&n.name) && !broken.contains(&n.name) {
        errors.push(
            Diagnostic::new(file, n.pos, context, format!("unknown {what} `{}`", n.name))
                .with_hint(did_you_mean(&n.name, known.keys().map(String::as_str))),
        );
    }
}

/// Checks every name reference of the stack.
pub(crate) fn check(stack: &Stack, broken: &BTreeSet<String>, errors: &mut Errors) {
    for role in stack.roles.values() {
        let file = role.origin.file.as_str();
        let context = format!("role \"{}\"", role.name);
        for n in role
            .configcrates
            .iter()
            .chain(role.case.iter().flat_map(|(_, l)| l))
        {
            unknown(
                errors,
                broken,
                file,
                &context,
                "configcrate",
                n,
                &stack.crates,
            );
        }
        for n in &role.usercrates {
            unknown(
                errors,
                broken,
                file,
                &context,
                "usercrate",
                n,
                &stack.usercrates,
            );
        }
        for inc in &role.includes {
            match stack.roles.get(&inc.name) {
                None => unknown(errors, broken, file, &context, "role", inc, &stack.roles),
                Some(_) if inc.name == role.name => errors.push(Diagnostic::new(
                    file,
                    inc.pos,
                    &context,
                    "a role cannot include itself",
                )),
                Some(r) if !r.includes.is_empty() => errors.push(Diagnostic::new(
                    file,
                    inc.pos,
                    &context,
                    format!(
                        "includes role `{}`, which has includes of its own: includes are one level deep",
                        inc.name
                    ),
                )),
                Some(_) => {}
            }
        }
    }
    for block in &stack.blocks {
        let file = block.origin.file.as_str();
        let context = format!("match block \"{}\"", block.pattern);
        for n in &block.roles {
            unknown(errors, broken, file, &context, "role", n, &stack.roles);
        }
        for n in &block.configcrates {
            unknown(
                errors,
                broken,
                file,
                &context,
                "configcrate",
                n,
                &stack.crates,
            );
        }
        for n in &block.usercrates {
            unknown(
                errors,
                broken,
                file,
                &context,
                "usercrate",
                n,
                &stack.usercrates,
            );
        }
        if let Some(env) = &block.environment {
            let visible: BTreeMap<String, ()> = stack
                .environments
                .iter()
                .filter(|(dir, _)| in_scope(dir, &block.dir))
                .flat_map(|(_, f)| f.envs.keys().map(|k| (k.clone(), ())))
                .collect();
            let any_file = stack
                .environments
                .keys()
                .any(|dir| in_scope(dir, &block.dir));
            if any_file {
                unknown(errors, broken, file, &context, "environment", env, &visible);
            }
        }
    }
    for common in stack.commons.values() {
        for n in &common.usercrates {
            unknown(
                errors,
                broken,
                &common.file,
                "common.vgo",
                "usercrate",
                n,
                &stack.usercrates,
            );
        }
    }
    for env_file in stack.environments.values() {
        for (name, env) in &env_file.envs {
            let context = format!("environment \"{name}\"");
            for n in env.configcrates.iter().chain(&env.exclude_configcrates) {
                unknown(
                    errors,
                    broken,
                    &env_file.file,
                    &context,
                    "configcrate",
                    n,
                    &stack.crates,
                );
            }
        }
    }
    for c in stack.crates.values().chain(stack.usercrates.values()) {
        let context = format!("configcrate \"{}\"", c.name);
        for n in &c.depends_on {
            if n.name == c.name {
                errors.push(Diagnostic::new(
                    &c.origin.file,
                    n.pos,
                    &context,
                    "a configcrate cannot depend on itself",
                ));
            } else if !stack.crates.contains_key(&n.name) && !broken.contains(&n.name) {
                let others = stack.crates.keys().filter(|k| **k != c.name);
                errors.push(
                    Diagnostic::new(
                        &c.origin.file,
                        n.pos,
                        &context,
                        format!("unknown configcrate `{}`", n.name),
                    )
                    .with_hint(did_you_mean(&n.name, others.map(String::as_str))),
                );
            }
        }
    }
}

/// Whether a file in directory `dir` applies to a hostcrate in `block_dir` (the same
/// directory or one of its ancestors).
pub(crate) fn in_scope(dir: &str, block_dir: &str) -> bool {
    dir.is_empty()
        || block_dir == dir
        || block_dir
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}
