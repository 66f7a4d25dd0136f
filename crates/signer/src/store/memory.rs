//! An in-memory key store for tests and for servers that load their keys from elsewhere.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use signet_tuf::key::KeyId;

use super::{KeyInfo, KeyStore, stored_gun};
use crate::error::{Error, Result};
use crate::private_key::PrivateKey;
use crate::signer::Signer;

/// Location name of the in-memory store.
const MEMORY: &str = "memory";

/// Keys held decrypted in memory (each zeroized when its last handle is dropped).
#[derive(Default)]
pub struct MemoryKeyStore {
    keys: RwLock<BTreeMap<KeyId, (Arc<PrivateKey>, KeyInfo)>>,
}

impl std::fmt::Debug for MemoryKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("MemoryKeyStore")
            .field("keys", &keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl MemoryKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores an already shared key (no copy of the secret is made).
    pub fn insert(&self, key: Arc<PrivateKey>, role: &str, gun: Option<&str>) -> KeyInfo {
        let info = KeyInfo {
            key_id: key.key_id().clone(),
            role: role.to_owned(),
            gun: stored_gun(role, gun),
            location: MEMORY.to_owned(),
        };
        self.keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(info.key_id.clone(), (key, info.clone()));
        info
    }

    /// The private key with canonical ID `key_id`.
    pub fn private_key(&self, key_id: &KeyId) -> Result<Arc<PrivateKey>> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key_id)
            .map(|(key, _)| key.clone())
            .ok_or_else(|| Error::KeyNotFound {
                key_id: key_id.to_string(),
            })
    }
}

impl KeyStore for MemoryKeyStore {
    fn name(&self) -> &str {
        MEMORY
    }

    fn add_key(&self, key: &PrivateKey, role: &str, gun: Option<&str>) -> Result<KeyInfo> {
        Ok(self.insert(Arc::new(key.clone()), role, gun))
    }

    fn signer(&self, key_id: &KeyId) -> Result<Arc<dyn Signer>> {
        Ok(self.private_key(key_id)?)
    }

    fn key_info(&self, key_id: &KeyId) -> Result<KeyInfo> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key_id)
            .map(|(_, info)| info.clone())
            .ok_or_else(|| Error::KeyNotFound {
                key_id: key_id.to_string(),
            })
    }

    fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        Ok(self
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(|(_, info)| info.clone())
            .collect())
    }

    fn remove_key(&self, key_id: &KeyId) -> Result<()> {
        self.keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key_id)
            .map(|_| ())
            .ok_or_else(|| Error::KeyNotFound {
                key_id: key_id.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_get_list_remove() {
        let store = MemoryKeyStore::new();
        let key = PrivateKey::generate_ecdsa().unwrap();
        let info = store
            .add_key(&key, "root", Some("ignored/for/root"))
            .unwrap();
        assert_eq!(info.gun, None);
        assert_eq!(info.location, "memory");
        let signer = store.signer(key.key_id()).unwrap();
        assert_eq!(signer.public_key(), key.public_key());
        assert_eq!(store.list_keys().unwrap(), vec![info]);
        assert!(matches!(
            store.export_key(key.key_id()),
            Err(Error::Unsupported { .. })
        ));
        store.remove_key(key.key_id()).unwrap();
        assert!(matches!(
            store.signer(key.key_id()),
            Err(Error::KeyNotFound { .. })
        ));
    }
}
