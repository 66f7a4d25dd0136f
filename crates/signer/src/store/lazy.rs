//! A key store opened on first use: a hardware store whose device is only contacted (and whose
//! password is only asked for) when a command actually needs keys.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use signet_tuf::key::KeyId;

use super::{KeyInfo, KeyStore};
use crate::error::Result;
use crate::passphrase::PassphraseRetriever;
use crate::private_key::{KeyAlgorithm, PrivateKey};
use crate::signer::Signer;

/// Opens the real store.
type Opener = Box<dyn Fn() -> Result<Arc<dyn KeyStore>> + Send + Sync>;

/// A [`KeyStore`] that opens the store it stands for on the first call that needs it and
/// forwards every call to it. A failed opening is returned to that caller and tried again on
/// the next call.
///
/// ```
/// use std::sync::Arc;
///
/// use signet_signer::store::LazyKeyStore;
/// use signet_signer::{KeyStore, MemoryKeyStore};
///
/// let store = LazyKeyStore::new("memory", || Ok(Arc::new(MemoryKeyStore::new())));
/// assert!(!store.is_open());
/// assert!(store.list_keys().unwrap().is_empty());
/// assert!(store.is_open());
/// ```
pub struct LazyKeyStore {
    name: String,
    open: Opener,
    opened: Mutex<Option<Arc<dyn KeyStore>>>,
}

impl std::fmt::Debug for LazyKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyKeyStore")
            .field("name", &self.name)
            .field("open", &self.is_open())
            .finish_non_exhaustive()
    }
}

impl LazyKeyStore {
    /// A store called `name` (its [`KeyStore::name`] before and after opening) that `open`
    /// opens when first needed.
    pub fn new(
        name: impl Into<String>,
        open: impl Fn() -> Result<Arc<dyn KeyStore>> + Send + Sync + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            open: Box::new(open),
            opened: Mutex::new(None),
        }
    }

    /// Whether the store has been opened.
    pub fn is_open(&self) -> bool {
        self.lock().is_some()
    }

    fn lock(&self) -> MutexGuard<'_, Option<Arc<dyn KeyStore>>> {
        self.opened.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The opened store, opening it now if needed.
    ///
    /// # Errors
    ///
    /// Whatever opening the store returns.
    pub fn store(&self) -> Result<Arc<dyn KeyStore>> {
        let mut opened = self.lock();
        if let Some(store) = opened.as_ref() {
            return Ok(store.clone());
        }
        let store = (self.open)()?;
        *opened = Some(store.clone());
        Ok(store)
    }
}

impl KeyStore for LazyKeyStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn add_key(&self, key: &PrivateKey, role: &str, gun: Option<&str>) -> Result<KeyInfo> {
        self.store()?.add_key(key, role, gun)
    }

    fn generate_key(
        &self,
        algorithm: KeyAlgorithm,
        role: &str,
        gun: Option<&str>,
    ) -> Result<Arc<dyn Signer>> {
        self.store()?.generate_key(algorithm, role, gun)
    }

    fn signer(&self, key_id: &KeyId) -> Result<Arc<dyn Signer>> {
        self.store()?.signer(key_id)
    }

    fn key_info(&self, key_id: &KeyId) -> Result<KeyInfo> {
        self.store()?.key_info(key_id)
    }

    fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        self.store()?.list_keys()
    }

    fn remove_key(&self, key_id: &KeyId) -> Result<()> {
        self.store()?.remove_key(key_id)
    }

    fn quarantine_key(&self, key_id: &KeyId, into: &Path) -> Result<Option<PathBuf>> {
        self.store()?.quarantine_key(key_id, into)
    }

    /// Reloads the store if it is open; an unopened store has nothing to forget.
    fn reload(&self) {
        let opened = self.lock().clone();
        if let Some(store) = opened {
            store.reload();
        }
    }

    fn export_key(&self, key_id: &KeyId) -> Result<String> {
        self.store()?.export_key(key_id)
    }

    fn change_passphrase(
        &self,
        key_id: &KeyId,
        new_passphrase: &dyn PassphraseRetriever,
    ) -> Result<()> {
        self.store()?.change_passphrase(key_id, new_passphrase)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::error::Error;
    use crate::store::MemoryKeyStore;

    #[test]
    fn opens_once_on_first_use_and_forwards() {
        let opens = Arc::new(AtomicUsize::new(0));
        let inner = Arc::new(MemoryKeyStore::new());
        let store = {
            let (opens, inner) = (opens.clone(), inner.clone());
            LazyKeyStore::new("device", move || {
                opens.fetch_add(1, Ordering::SeqCst);
                Ok(inner.clone() as Arc<dyn KeyStore>)
            })
        };
        assert_eq!(store.name(), "device");
        store.reload();
        assert_eq!(opens.load(Ordering::SeqCst), 0, "reload does not open");
        let signer = store
            .generate_key(KeyAlgorithm::Ecdsa, "root", None)
            .unwrap();
        let key_id = signer.public_key().key_id();
        assert_eq!(inner.key_info(&key_id).unwrap().role, "root");
        assert_eq!(store.key_info(&key_id).unwrap().role, "root");
        assert_eq!(store.list_keys().unwrap().len(), 1);
        store.remove_key(&key_id).unwrap();
        assert!(inner.list_keys().unwrap().is_empty());
        assert_eq!(opens.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_failed_opening_is_returned_and_retried() {
        let attempts = Arc::new(AtomicUsize::new(0));
        let store = {
            let attempts = attempts.clone();
            LazyKeyStore::new("device", move || {
                attempts.fetch_add(1, Ordering::SeqCst);
                Err(Error::Unsupported {
                    store: "device".to_owned(),
                    operation: "opening",
                })
            })
        };
        let key_id = PrivateKey::generate_ecdsa().unwrap().key_id().clone();
        assert!(matches!(
            store.signer(&key_id),
            Err(Error::Unsupported { .. })
        ));
        assert!(store.list_keys().is_err());
        assert!(!store.is_open());
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
    }
}
