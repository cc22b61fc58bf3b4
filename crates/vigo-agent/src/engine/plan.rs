//! What the engine applies: resources in order, with everything already decided that
//! depends on the bundle and the traits (rendered attributes, `when:` outcome).

use std::time::Duration;

use serde_json::{Map, Value};

use super::redact::Sensitive;

/// One resource, ready for the engine.
#[derive(Debug, Clone)]
pub struct PlannedResource {
    /// `configcrate/name`, unique in the plan; what `depends_on` and `notify` name.
    pub id: String,
    /// The configcrate the resource belongs to.
    pub configcrate: String,
    /// The resource type.
    pub type_name: String,
    /// The resource name.
    pub name: String,
    /// Attributes with templates rendered (and secrets resolved, in memory only).
    pub attributes: Map<String, Value>,
    /// What of the attributes derives from a secret: redacted from every result.
    pub sensitive: Sensitive,
    /// Ids this resource runs after; if one fails, this one is skipped.
    pub depends_on: Vec<String>,
    /// Ids of the notify targets to run when this resource changes something.
    pub notify: Vec<String>,
    /// A notify target (`when: "changed"`): runs only when notified.
    pub notify_target: bool,
    /// Planning decided not to run it (`when:` false): the reason.
    pub skip: Option<String>,
    /// Planning failed for it (a template that did not render): the error.
    pub error: Option<String>,
    /// Time limit for the resource.
    pub timeout: Duration,
}

/// The resources of one convergence run, in application order.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Resources, dependencies before dependents.
    pub resources: Vec<PlannedResource>,
}
