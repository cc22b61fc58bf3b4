//! The loaded stack as typed structs: what the loader produces from YAML and the resolver
//! consumes. Everything here has been checked against the schema; only what depends on a
//! match block (vars precedence, `foreach` expansion, references across crates, cycles)
//! is left to the resolver.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::glob::Pattern;
use crate::yaml::Pos;

/// Where something is defined: a file of the tree and a position in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Origin {
    /// Path relative to `stacks/`.
    pub file: String,
    /// Position in the file.
    pub pos: Pos,
}

impl Origin {
    /// `file` at `pos`.
    pub fn new(file: &str, pos: Pos) -> Self {
        Origin {
            file: file.to_owned(),
            pos,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)
    }
}

/// A name written in the stack (a crate, a role, a reference) and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// The name.
    pub name: String,
    /// Where it is written.
    pub pos: Pos,
}

/// One variable and where it was set.
#[derive(Debug, Clone, PartialEq)]
pub struct VarDef {
    /// Its value.
    pub value: Value,
    /// Where it was set.
    pub origin: Origin,
}

/// Variables by name.
pub type Vars = BTreeMap<String, VarDef>;

/// A loaded stack: every library and hostcrate, checked and typed.
#[derive(Debug, Clone, Default)]
pub struct Stack {
    /// Configcrates by name.
    pub crates: BTreeMap<String, CrateDef>,
    /// Usercrates by name (the file stem under `usercrates/`).
    pub usercrates: BTreeMap<String, CrateDef>,
    /// Roles by name.
    pub roles: BTreeMap<String, Role>,
    /// Match blocks in the order they are consulted (deeper directories first).
    pub blocks: Vec<MatchBlock>,
    /// `common.vgo` of each directory (`""` = the root).
    pub commons: BTreeMap<String, Common>,
    /// `environments.vgo` of each directory (`""` = the root).
    pub environments: BTreeMap<String, EnvFile>,
    /// Templates by name under `templates/`.
    pub templates: BTreeMap<String, String>,
    /// Custom executor types declared in `executors.vgo`.
    pub custom_types: BTreeMap<String, CustomType>,
    /// Content hash of the tree.
    pub tree_hash: String,
}

/// A configcrate or usercrate definition.
#[derive(Debug, Clone, PartialEq)]
pub struct CrateDef {
    /// Its name.
    pub name: String,
    /// Where its file starts.
    pub origin: Origin,
    /// Default vars.
    pub vars: Vars,
    /// Crate-level dependencies on other crates.
    pub depends_on: Vec<Named>,
    /// Crate-level `when:` (`""` when none).
    pub when: String,
    /// Crate-level `foreach:` var name.
    pub foreach: Option<Named>,
    /// Resources in file order.
    pub resources: Vec<ResourceDef>,
    /// For a usercrate: the Unix user it belongs to.
    pub user: Option<String>,
}

/// One resource as written (before `foreach` expansion).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDef {
    /// The type.
    pub type_name: String,
    /// The name (may be a template over `.Item`/`.Each` when `foreach` is set).
    pub name: String,
    /// Normalised attributes of the type (crate `defaults:` applied).
    pub attrs: Map<String, Value>,
    /// Where each attribute is written.
    pub attr_pos: BTreeMap<String, Pos>,
    /// `depends_on` references.
    pub depends_on: Vec<Named>,
    /// `before` references.
    pub before: Vec<Named>,
    /// `notify` references.
    pub notify: Vec<Named>,
    /// `subscribes` references.
    pub subscribes: Vec<Named>,
    /// `when:` (`""` when none).
    pub when: String,
    /// Time limit in seconds (0 = the executor's default).
    pub timeout_secs: u32,
    /// `foreach:` var name.
    pub foreach: Option<Named>,
    /// Where the resource starts.
    pub origin: Origin,
}

impl ResourceDef {
    /// Where attribute `key` is written, or the resource's start.
    pub fn pos_of(&self, key: &str) -> Pos {
        self.attr_pos.get(key).copied().unwrap_or(self.origin.pos)
    }

    /// Every reference list with its key.
    pub fn references(&self) -> [(&'static str, &[Named]); 4] {
        [
            ("depends_on", &self.depends_on),
            ("before", &self.before),
            ("notify", &self.notify),
            ("subscribes", &self.subscribes),
        ]
    }
}

/// A role of `roles.vgo`.
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    /// Its name.
    pub name: String,
    /// Where it is defined.
    pub origin: Origin,
    /// Its configcrates.
    pub configcrates: Vec<Named>,
    /// Roles whose crates it includes (one level).
    pub includes: Vec<Named>,
    /// Crates applied only on one OS family: `(family, crates)` in file order.
    pub case: Vec<(Named, Vec<Named>)>,
    /// Usercrates it carries.
    pub usercrates: Vec<Named>,
}

/// One `match:` block of a hostcrate.
#[derive(Debug, Clone)]
pub struct MatchBlock {
    /// Where it is written.
    pub origin: Origin,
    /// The directory of its file (`""` = the root).
    pub dir: String,
    /// The hostname pattern.
    pub pattern: Pattern,
    /// The environment.
    pub environment: Option<Named>,
    /// Roles.
    pub roles: Vec<Named>,
    /// Configcrates.
    pub configcrates: Vec<Named>,
    /// Usercrates.
    pub usercrates: Vec<Named>,
    /// Match-block vars.
    pub vars: Vars,
    /// Observe mode.
    pub observe_only: bool,
}

/// A `common.vgo`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Common {
    /// Its file.
    pub file: String,
    /// Inherited vars.
    pub vars: Vars,
    /// Inherited usercrates.
    pub usercrates: Vec<Named>,
}

/// An `environments.vgo`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EnvFile {
    /// Its file.
    pub file: String,
    /// Blocks by environment name.
    pub envs: BTreeMap<String, EnvBlock>,
}

/// One environment of an `environments.vgo`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EnvBlock {
    /// Where it is written.
    pub origin: Origin,
    /// Vars: the most specific level.
    pub vars: Vars,
    /// Crates added for this environment.
    pub configcrates: Vec<Named>,
    /// Crates removed for this environment.
    pub exclude_configcrates: Vec<Named>,
}

/// A custom executor type declared in `executors.vgo`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CustomType {
    /// The type name (the script's file name without extension on the agent).
    pub name: String,
    /// The attributes it accepts (`None` = any).
    pub attributes: Option<Vec<String>>,
    /// The attributes it requires.
    pub required: Vec<String>,
}
