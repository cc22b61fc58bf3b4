//! The resource types, one module each, and the registry: one table from `type:` name to
//! executor.

pub mod blockinfile;
pub mod cron;
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

use crate::contract::Executor;

/// Every built-in executor, by type name.
pub fn builtin() -> BTreeMap<&'static str, Box<dyn Executor>> {
    let all: Vec<Box<dyn Executor>> = vec![
        Box::new(file::FileExecutor),
        Box::new(directory::DirectoryExecutor),
    ];
    all.into_iter().map(|e| (e.type_name(), e)).collect()
}
