//! The engine attributes: what every resource may carry on top of its type's attributes,
//! handled by the engine (planner, runner) rather than by an executor. One list, used by
//! vigo-lang's publish-time checks, vigo-exec's `Attrs` and the documentation.

/// One engine attribute.
#[derive(Debug, Clone, Copy)]
pub struct EngineAttr {
    /// The attribute's name.
    pub name: &'static str,
    /// One line saying what it does.
    pub doc: &'static str,
}

const fn e(name: &'static str, doc: &'static str) -> EngineAttr {
    EngineAttr { name, doc }
}

/// Every engine attribute.
pub const ENGINE: &[EngineAttr] = &[
    e(
        "name",
        "the resource's name, unique in its configcrate (default: the type's main attribute)",
    ),
    e("type", "the resource type"),
    e(
        "when",
        "a condition on traits; `\"changed\"` makes the resource a notify target",
    ),
    e("depends_on", "resources that run before this one"),
    e("before", "resources that run after this one"),
    e("notify", "resources run when this one changes"),
    e("subscribes", "resources whose change runs this one"),
    e("foreach", "a list variable: one resource per item"),
    e(
        "case",
        "refused on a resource: write one resource per case with `when: \"os_family('…')\"`",
    ),
    e(
        "revert",
        "only on types that take it; `true` is refused until the agent runs `on_revert`",
    ),
    e("on_revert", "the command `revert: true` would run"),
    e(
        "timeout",
        "time limit (`30`, `\"30s\"`, `\"45m\"`, `\"4h\"`; default 300 s)",
    ),
    e("timeout_secs", "the same as `timeout`, in seconds"),
    e("sensitive", "`true`: nothing of the resource is ever shown"),
];

/// Whether `name` is an engine attribute.
pub fn is_engine(name: &str) -> bool {
    ENGINE.iter().any(|a| a.name == name)
}

/// The engine attribute names.
pub fn names() -> impl Iterator<Item = &'static str> {
    ENGINE.iter().map(|a| a.name)
}
