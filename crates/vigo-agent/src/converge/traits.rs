//! The trait cache across cycles: which collectors are due, the full document and its
//! hash on the refresh cadence, and the upload when the server asks for it.

use sha2::{Digest, Sha256};
use vigo_proto::v1::ReportTraitsRequest;

use super::{Converger, META_TRAIT_CACHE, META_TRAITS_HASH};
use crate::state::StateError;

impl Converger {
    /// Sends the stored trait document when the server asked for it (`want_traits`).
    pub(super) async fn upload_traits(&mut self, traits_hash: &str) {
        let Ok(Some(traits)) = self.store.traits() else {
            return;
        };
        let Some(client) = self.client.as_mut() else {
            return;
        };
        let req = ReportTraitsRequest {
            traits_json: traits.bytes,
            traits_hash: traits_hash.to_owned(),
            traceparent: String::new(),
        };
        match client.report_traits(&req).await {
            Ok(()) => self.want_traits = false,
            Err(e) => tracing::warn!("traits not reported: {e}"),
        }
    }

    /// The trait cache as stored (empty when none or unreadable).
    pub(super) fn trait_cache(&self) -> vigo_traits::TraitCache {
        self.store
            .meta(META_TRAIT_CACHE)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Runs the collectors `want` selects that the cache says are due; with `full`, also
    /// stores the whole trait document and its hash (the refresh cadence).
    pub(super) fn collect(
        &self,
        cache: &mut vigo_traits::TraitCache,
        cycle: u64,
        now: i64,
        want: &dyn Fn(&str) -> bool,
        full: bool,
    ) -> Result<(), StateError> {
        let refresh = u64::from(self.settings.trait_refresh_cycles.max(1));
        let due: Vec<vigo_traits::Collector> = vigo_traits::all()
            .into_iter()
            .filter(|c| want(c.name) && cache.is_due(c.name, c.class, cycle, now, refresh))
            .collect();
        if !due.is_empty() {
            let report = tokio::task::block_in_place(|| {
                vigo_traits::run(&due, &vigo_traits::Ctx::default())
            });
            for (name, why) in &report.errors {
                tracing::warn!("trait collector {name} failed: {why}");
            }
            cache.store(&report.values, cycle, now);
            if let Ok(bytes) = serde_json::to_vec(&*cache) {
                self.store.set_meta(META_TRAIT_CACHE, &bytes)?;
            }
        }
        if full && let Ok(bytes) = serde_json::to_vec(&cache.traits.to_json()) {
            let hash = hex::encode(Sha256::digest(&bytes));
            self.store.put_traits(&bytes, now)?;
            self.store.set_meta(META_TRAITS_HASH, hash.as_bytes())?;
        }
        Ok(())
    }
}
