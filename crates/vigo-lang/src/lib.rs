//! The `.vgo` language: load a `stacks/` tree, validate it with precise errors, and
//! resolve a hostname to a policy bundle. Never touches the host.
//!
//! Built so far: [`template`], the Go `text/template` engine templates are written in, and
//! [`when`], the `when:` condition language.

pub mod template;
pub mod when;
