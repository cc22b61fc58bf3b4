//! The `.vgo` language: load a `stacks/` tree, validate it with precise errors, and
//! resolve a hostname to a policy bundle. Never touches the host.
//!
//! ```
//! use std::sync::Arc;
//! use vigo_lang::{SourceTree, load, resolve::{BundleMeta, Resolver}};
//!
//! let tree = SourceTree::from_files([
//!     ("configcrates/motd.vgo", "configcrate: motd\nresources:\n  - name: motd\n    type: file\n    target_path: /etc/motd\n    content: hi\n    state: present\n"),
//!     ("envoys.vgo", "envoys:\n  - match: \"*\"\n    configcrates: [motd]\n"),
//! ]);
//! let stack = load(&tree).unwrap();
//! let resolver = Resolver::new(Arc::new(stack), BundleMeta::default());
//! let bundle = resolver.resolve("web-01.example.net", None).unwrap();
//! assert_eq!(bundle.configcrates[0].resources[0].name, "motd");
//! ```
//!
//! - [`source`]: the input, a tree of files in memory;
//! - [`yaml`]: YAML with line:column positions;
//! - [`load`](load()): every file read into the typed [`model`] and checked against the
//!   [`schema`]; all problems of the tree collected as [`diag::Errors`];
//! - [`resolve`]: hostname → match block → bundle (cached per block), and `trace`;
//! - [`template`]: the Go `text/template` engine; [`when`]: the `when:` conditions;
//! - [`glob`]: hostname patterns; [`secret`]: `secret:` references and bundle markers.

pub mod diag;
pub mod glob;
mod load;
pub mod model;
pub mod resolve;
pub mod schema;
pub mod secret;
pub mod source;
pub mod template;
pub mod trait_refs;
pub mod when;
pub mod yaml;

pub use diag::{Diagnostic, Errors};
pub use load::load;
pub use source::SourceTree;
