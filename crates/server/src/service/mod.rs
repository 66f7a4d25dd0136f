//! The metadata service ([`MetadataService`]): every operation of the Notary API on the store, independent of
//! HTTP. Its operations fail with a [`ServiceError`](crate::error::ServiceError) (a refused upload
//! with its [`ValidationError`](crate::error::ValidationError)), never with an HTTP status:
//! handlers in [`crate::http`] only translate requests and responses, and
//! [`crate::http::error`] chooses the status and Notary error code of each `ServiceError`.

mod generate;
mod keys;
mod overview;
mod read;
mod update;
mod upload;

use std::sync::Arc;

use crate::cache::MetaCache;
use crate::hsm::ServerHsm;
use crate::kek::Kek;
use crate::store::{FileUpdate, KeyUse, Store, StoreResult, detached};

pub use keys::ServerKeyAlgorithm;
pub use overview::{
    DelegationState, RepositoryOverview, RoleKeyIds, RoleState, ServerRoleKeys, SignedTarget,
};
pub use read::Served;
pub use upload::{UploadedFile, decode_signed_common};

/// The repository service. Cheap to clone.
#[derive(Clone, Debug)]
pub struct MetadataService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    cache: MetaCache,
    settings: ServiceSettings,
    device: Option<KeyDevice>,
}

/// The YubiHSM 2 of a repository service, and whether new server keys are made on it.
#[derive(Clone, Debug)]
pub struct KeyDevice {
    /// The device. Keys the database records as held in it sign there.
    pub hsm: ServerHsm,
    /// Whether new server keys are generated on the device (`keys.store = "yubihsm"`);
    /// otherwise they are sealed under the key-encryption key.
    pub new_keys: bool,
}

/// Settings of the repository service.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// The key that seals server-held private keys.
    pub kek: Arc<Kek>,
    /// Algorithm of keys the server creates.
    pub key_algorithm: ServerKeyAlgorithm,
}

impl MetadataService {
    /// A service over `store` with `cache`.
    pub fn new(store: Store, cache: MetaCache, settings: ServiceSettings) -> Self {
        Self::with_key_device(store, cache, settings, None)
    }

    /// A service over `store` with `cache` whose server keys may be held in `device`.
    pub fn with_key_device(
        store: Store,
        cache: MetaCache,
        settings: ServiceSettings,
        device: Option<KeyDevice>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                cache,
                settings,
                device,
            }),
        }
    }

    /// The YubiHSM 2 for server keys, when one is configured.
    pub fn key_device(&self) -> Option<&KeyDevice> {
        self.inner.device.as_ref()
    }

    /// The settings.
    pub fn settings(&self) -> &ServiceSettings {
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

    /// Stores `updates` of `gun` in one transaction, then drops the cached pointers of `gun`.
    /// Both run to completion even when the caller is dropped half-way, so a client that hangs
    /// up can neither leave the write open nor leave a stale pointer in the cache.
    pub(crate) async fn store_updates(
        &self,
        gun: &str,
        updates: Vec<FileUpdate>,
    ) -> StoreResult<()> {
        self.store_updates_using_keys(gun, updates, Vec::new())
            .await
    }

    /// [`store_updates`](Self::store_updates) that also records, in the same transaction,
    /// the use of the server-held keys that signed (see [`Store::update_many_using_keys`]).
    pub(crate) async fn store_updates_using_keys(
        &self,
        gun: &str,
        updates: Vec<FileUpdate>,
        used: Vec<KeyUse>,
    ) -> StoreResult<()> {
        let (repo, gun) = (self.clone(), gun.to_owned());
        detached(format!("update of {gun}"), async move {
            let stored = repo
                .store()
                .update_many_using_keys(&gun, &updates, &used)
                .await;
            repo.cache().invalidate_current(&gun);
            stored
        })
        .await
    }

    /// Deletes every file of `gun` and drops its cached data, to completion even when the
    /// caller is dropped half-way. Returns whether anything was deleted.
    pub(crate) async fn delete_gun(&self, gun: &str) -> StoreResult<bool> {
        let (repo, gun) = (self.clone(), gun.to_owned());
        detached(format!("delete of {gun}"), async move {
            let deleted = repo.store().delete(&gun).await;
            repo.cache().invalidate_gun(&gun);
            deleted
        })
        .await
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
