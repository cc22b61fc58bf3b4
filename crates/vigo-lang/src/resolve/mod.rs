//! Resolution: hostname (and optionally an environment) → the first match block that
//! fits → that block's bundle. A bundle depends only on (match block, published version),
//! so the [`Resolver`] builds each block's bundle once and hands the same `Arc` to every
//! hostname of that block.
//!
//! Invariant: a [`Resolver`] is made from a stack that loaded without errors, and
//! [`crate::load`] resolves every block once while validating, so building a block's
//! bundle with its own environment cannot fail afterwards. Only an environment override
//! (`vigo apply --environment`) can still be refused.

mod build;
mod expand;
mod graph;
mod trace;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

pub use build::{Built, CrateReason, VarLevel, VarReason};
pub use trace::{BlockCheck, Trace};
use vigo_core::Bundle;

use crate::diag::Errors;
use crate::model::Stack;

/// What stamps a bundle besides the stack: the published version and its validity.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BundleMeta {
    /// Published version, `YYYYMMDDTHHMMSSZ`.
    pub version: String,
    /// When the bundles are built (Unix seconds).
    pub issued_at_unix: i64,
    /// Seconds after `issued_at_unix` a bundle stops being applied (0 = never).
    pub max_age_secs: u64,
}

/// Why no bundle could be given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// No match block fits the hostname.
    #[error("no match block fits hostname `{0}`")]
    NoMatch(String),
    /// The bundle could not be built (an environment override the tree does not know).
    #[error("{0}")]
    Invalid(Errors),
}

/// Resolves hostnames against one loaded stack, with a per-block bundle cache.
#[derive(Debug)]
pub struct Resolver {
    stack: Arc<Stack>,
    meta: BundleMeta,
    cache: Vec<OnceLock<Result<Arc<Bundle>, Errors>>>,
    overrides: Mutex<HashMap<(usize, String), Arc<Bundle>>>,
}

impl Resolver {
    /// A resolver for `stack`, stamping bundles with `meta`.
    pub fn new(stack: Arc<Stack>, meta: BundleMeta) -> Self {
        let cache = (0..stack.blocks.len()).map(|_| OnceLock::new()).collect();
        Resolver {
            stack,
            meta,
            cache,
            overrides: Mutex::new(HashMap::new()),
        }
    }

    /// The stack.
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// The index of the first match block that fits `hostname`.
    pub fn match_block(&self, hostname: &str) -> Option<usize> {
        self.stack
            .blocks
            .iter()
            .position(|b| b.pattern.matches(hostname))
    }

    /// The bundle for `hostname`; with `environment`, that environment's overrides
    /// replace the block's own.
    pub fn resolve(
        &self,
        hostname: &str,
        environment: Option<&str>,
    ) -> Result<Arc<Bundle>, ResolveError> {
        let index = self
            .match_block(hostname)
            .ok_or_else(|| ResolveError::NoMatch(hostname.to_owned()))?;
        match environment {
            None => self.block_bundle(index),
            Some(env) => self.override_bundle(index, env),
        }
    }

    /// The bundle of block `index` (built on first use, then shared).
    pub fn block_bundle(&self, index: usize) -> Result<Arc<Bundle>, ResolveError> {
        let Some(slot) = self.cache.get(index) else {
            return Err(ResolveError::NoMatch(format!("#{index}")));
        };
        slot.get_or_init(|| self.build(index, None))
            .clone()
            .map_err(ResolveError::Invalid)
    }

    fn override_bundle(&self, index: usize, env: &str) -> Result<Arc<Bundle>, ResolveError> {
        let key = (index, env.to_owned());
        if let Some(b) = self.lock().get(&key) {
            return Ok(Arc::clone(b));
        }
        let built = self
            .build(index, Some(env))
            .map_err(ResolveError::Invalid)?;
        self.lock().insert(key, Arc::clone(&built));
        Ok(built)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(usize, String), Arc<Bundle>>> {
        // A panic while holding the lock cannot leave the map half-updated (one insert).
        self.overrides
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn build(&self, index: usize, env: Option<&str>) -> Result<Arc<Bundle>, Errors> {
        let mut errors = Errors::default();
        let block = &self.stack.blocks[index];
        let built = build::build(&self.stack, block, env, &self.meta, &mut errors);
        if errors.is_empty() {
            Ok(Arc::new(built.bundle))
        } else {
            errors.normalize();
            Err(errors)
        }
    }

    /// Explains how `hostname` resolves: the blocks consulted, the winner and why, the
    /// roles, crates and where every var came from.
    pub fn trace(&self, hostname: &str, environment: Option<&str>) -> Trace {
        trace::trace(&self.stack, &self.meta, hostname, environment)
    }
}

/// Resolves every block once, collecting the problems that only show per block.
pub(crate) fn check_all_blocks(stack: &Stack, errors: &mut Errors) {
    let meta = BundleMeta::default();
    for block in &stack.blocks {
        build::build(stack, block, None, &meta, errors);
    }
}
