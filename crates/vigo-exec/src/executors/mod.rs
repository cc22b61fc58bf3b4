//! The resource types, one module each, and the registry: one table from `type:` name to
//! executor. Each executor reads its attributes through its type's definition in
//! [`vigo_core::types`] (see [`crate::attrs::Attrs`]).

pub mod blockinfile;
pub mod cron;
pub mod custom;
pub mod directory;
mod edit;
pub mod exec;
pub mod file;
pub mod file_line;
pub mod group;
pub mod host;
pub mod ini;
pub mod json_file;
pub mod package;
pub mod replace;
pub mod service;
pub mod symlink;
pub mod sysctl;
pub mod user;

use std::collections::BTreeMap;
use std::path::Path;

use crate::contract::Executor;

/// The executors an agent run can use: the built-in types and the custom scripts of the
/// executors directory. A built-in type always wins over a script of the same name.
pub struct Registry {
    executors: BTreeMap<String, Box<dyn Executor>>,
    shadowed: Vec<String>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("types", &self.executors.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    /// The built-in types only.
    pub fn builtin() -> Self {
        let all: Vec<Box<dyn Executor>> = vec![
            Box::new(file::FileExecutor),
            Box::new(directory::DirectoryExecutor),
            Box::new(symlink::SymlinkExecutor),
            Box::new(file_line::FileLineExecutor),
            Box::new(blockinfile::BlockInFileExecutor),
            Box::new(replace::ReplaceExecutor),
            Box::new(json_file::JsonFileExecutor),
            Box::new(ini::IniExecutor),
            Box::new(host::HostExecutor),
            Box::new(exec::ExecExecutor),
            Box::new(cron::CronExecutor),
            Box::new(sysctl::SysctlExecutor),
            Box::new(group::GroupExecutor),
            Box::new(user::UserExecutor),
            Box::new(package::PackageExecutor),
            Box::new(service::ServiceExecutor),
        ];
        let executors = all
            .into_iter()
            .map(|e| (e.type_name().to_owned(), e))
            .collect();
        Self {
            executors,
            shadowed: Vec::new(),
        }
    }

    /// The built-in types plus the scripts of `dir`.
    pub fn with_custom_dir(dir: &Path) -> Self {
        let mut reg = Self::builtin();
        for exe in custom::discover(dir) {
            let name = exe.type_name().to_owned();
            if reg.executors.contains_key(&name) {
                reg.shadowed.push(exe.script().display().to_string());
                continue;
            }
            reg.executors.insert(name, Box::new(exe));
        }
        reg
    }

    /// The executor of a `type:`.
    pub fn get(&self, type_name: &str) -> Option<&dyn Executor> {
        self.executors.get(type_name).map(AsRef::as_ref)
    }

    /// Every type name, sorted.
    pub fn type_names(&self) -> impl Iterator<Item = &str> {
        self.executors.keys().map(String::as_str)
    }

    /// Custom scripts ignored because a built-in type has their name.
    pub fn shadowed(&self) -> &[String] {
        &self.shadowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every defined type has exactly one executor, and every executor a definition.
    #[test]
    fn builtin_types_are_the_defined_types() {
        let reg = Registry::builtin();
        let names: Vec<&str> = reg.type_names().collect();
        let defined: Vec<&str> = vigo_core::types::TYPES.iter().map(|t| t.name).collect();
        assert_eq!(names, defined);
    }

    #[test]
    fn custom_scripts_join_but_never_replace_builtins() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        for name in ["pgtune.sh", "file.sh"] {
            let p = tmp.path().join(name);
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let reg = Registry::with_custom_dir(tmp.path());
        assert!(reg.get("pgtune").is_some());
        assert_eq!(reg.shadowed().len(), 1);
        assert!(reg.shadowed()[0].ends_with("file.sh"));
    }
}
