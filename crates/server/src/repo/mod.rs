//! The repository service: every operation of the Notary API on the store, independent of
//! HTTP. Handlers in [`crate::http`] only translate requests and responses.

mod generate;
mod keys;
mod read;
mod update;
mod upload;

use std::sync::Arc;

use crate::cache::MetaCache;
use crate::config::ServerKeyAlgorithm;
use crate::kek::Kek;
use crate::store::Store;

pub use read::Served;
pub use upload::{UploadedFile, decode_signed_common};

/// The repository service. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Repo {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    cache: MetaCache,
    settings: RepoSettings,
}

/// Settings of the repository service.
#[derive(Debug, Clone)]
pub struct RepoSettings {
    /// The key that seals server-held private keys.
    pub kek: Arc<Kek>,
    /// Algorithm of keys the server creates.
    pub key_algorithm: ServerKeyAlgorithm,
}

impl Repo {
    /// A service over `store` with `cache`.
    pub fn new(store: Store, cache: MetaCache, settings: RepoSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                cache,
                settings,
            }),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &RepoSettings {
        &self.inner.settings
    }

    /// Polls the changefeed forever, dropping cached pointers of every GUN another replica
    /// (or this one) wrote or deleted. Errors are logged and retried at the next tick.
    pub async fn watch_changes(&self, interval: std::time::Duration) {
        let mut last: Option<i64> = None;
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(from) = last else {
                match self.store().changes(None, -1, 1).await {
                    Ok(newest) => last = Some(newest.last().map_or(0, |c| c.id)),
                    Err(e) => tracing::warn!(error = %e, "changefeed poll failed"),
                }
                continue;
            };
            match self.store().changes(None, from, 1000).await {
                Ok(changes) => {
                    for c in &changes {
                        if c.category == crate::store::CATEGORY_DELETION {
                            self.cache().invalidate_gun(&c.gun);
                        } else {
                            self.cache().invalidate_current(&c.gun);
                        }
                    }
                    if let Some(c) = changes.last() {
                        last = Some(c.id);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "changefeed poll failed"),
            }
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The cache.
    pub fn cache(&self) -> &MetaCache {
        &self.inner.cache
    }
}
