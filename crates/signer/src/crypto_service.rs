//! Key lookup and creation across an ordered list of key stores (Notary's `CryptoService`).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use signet_tuf::key::{KeyId, PublicKey};

use crate::error::{Error, Result};
use crate::private_key::KeyAlgorithm;
use crate::signer::{CertifiedSigner, Signer};
use crate::store::{KeyInfo, KeyStore};

/// Key lookup and creation over an ordered list of key stores (Notary's `CryptoService`).
///
/// Lookups try the stores in order, so a key held both in a hardware store and on disk is used
/// from the store listed first.
#[derive(Clone)]
pub struct CryptoService {
    stores: Vec<Arc<dyn KeyStore>>,
}

impl std::fmt::Debug for CryptoService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.stores.iter().map(|s| s.name()).collect();
        f.debug_struct("CryptoService")
            .field("stores", &names)
            .finish()
    }
}

impl CryptoService {
    /// A service over `stores`, searched in order.
    pub fn new(stores: Vec<Arc<dyn KeyStore>>) -> Self {
        Self { stores }
    }

    /// The key stores, in lookup order.
    pub fn stores(&self) -> &[Arc<dyn KeyStore>] {
        &self.stores
    }

    /// Generates a key of `algorithm` for `role` (and `gun` for targets/snapshot/timestamp keys)
    /// in the first store that accepts it, and returns its signer. A store that refuses the
    /// key with [`Error::Unsupported`] (a hardware store set to take root keys only, say) is
    /// passed over; any other failure (an unreachable device) is returned at once, so a key
    /// meant for hardware never lands on disk by accident.
    ///
    /// # Errors
    ///
    /// The first store failure other than [`Error::Unsupported`]; the last store's
    /// [`Error::Unsupported`] when no store accepts the key (also when there are no stores).
    pub fn create(
        &self,
        algorithm: KeyAlgorithm,
        role: &str,
        gun: Option<&str>,
    ) -> Result<Arc<dyn Signer>> {
        let mut last_error = Error::Unsupported {
            store: "(none)".to_owned(),
            operation: "creating keys",
        };
        for store in &self.stores {
            match store.generate_key(algorithm, role, gun) {
                Ok(signer) => return Ok(signer),
                Err(e @ Error::Unsupported { .. }) => last_error = e,
                Err(e) => return Err(e),
            }
        }
        Err(last_error)
    }

    /// The signer for `key_id` (a canonical ID) from the first store holding it, or `None`.
    ///
    /// # Errors
    ///
    /// Any store error other than [`Error::KeyNotFound`] (a wrong passphrase, an unreadable
    /// file).
    pub fn signer_by_id(&self, key_id: &KeyId) -> Result<Option<Arc<dyn Signer>>> {
        for store in &self.stores {
            match store.signer(key_id) {
                Ok(signer) => return Ok(Some(signer)),
                Err(Error::KeyNotFound { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// The signer for a TUF public key as listed in metadata (plain or x509), or `None` when no
    /// store holds its private key. For x509 keys the returned signer signs under the
    /// certificate key's ID.
    ///
    /// # Errors
    ///
    /// [`Error::PublicKey`] for an x509 key whose certificate does not parse, and store errors
    /// as in [`signer_by_id`](Self::signer_by_id).
    pub fn signer_for(&self, key: &PublicKey) -> Result<Option<Arc<dyn Signer>>> {
        let canonical = key.canonical_key_id().map_err(|source| Error::PublicKey {
            context: key.key_id().to_string(),
            source,
        })?;
        let Some(signer) = self.signer_by_id(&canonical)? else {
            return Ok(None);
        };
        if key.keytype().is_x509() {
            Ok(Some(Arc::new(CertifiedSigner::new(signer, key.clone())?)))
        } else {
            Ok(Some(signer))
        }
    }

    /// The signer for `key_id` (a canonical ID) from the first store holding it.
    ///
    /// # Errors
    ///
    /// [`Error::KeyNotInStores`] naming the key ID and every store searched when none holds
    /// it; other store errors (a wrong passphrase, a device failure) as they occur.
    pub fn require_signer_by_id(&self, key_id: &KeyId) -> Result<Arc<dyn Signer>> {
        self.signer_by_id(key_id)?
            .ok_or_else(|| self.not_in_stores(key_id))
    }

    /// The signer for a TUF public key as listed in metadata (plain or x509; see
    /// [`signer_for`](Self::signer_for)).
    ///
    /// # Errors
    ///
    /// [`Error::KeyNotInStores`] naming the key's canonical ID (the ID its private key is
    /// stored under) and every store searched when none holds it; otherwise as
    /// [`signer_for`](Self::signer_for).
    pub fn require_signer_for(&self, key: &PublicKey) -> Result<Arc<dyn Signer>> {
        match self.signer_for(key)? {
            Some(signer) => Ok(signer),
            None => {
                let canonical = key.canonical_key_id().map_err(|source| Error::PublicKey {
                    context: key.key_id().to_string(),
                    source,
                })?;
                Err(self.not_in_stores(&canonical))
            }
        }
    }

    /// Comma-separated names of the stores, in lookup order.
    fn store_names(&self) -> String {
        if self.stores.is_empty() {
            return "no key stores".to_owned();
        }
        self.stores
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn not_in_stores(&self, key_id: &KeyId) -> Error {
        Error::KeyNotInStores {
            key_id: key_id.to_string(),
            stores: self.store_names(),
        }
    }

    /// The signers held for any of `keys` (for example the keys of a role in `root.json`), in
    /// the order given, without duplicates (keys with the same TUF ID are used once).
    ///
    /// # Errors
    ///
    /// As [`signer_for`](Self::signer_for).
    pub fn signers_for<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a PublicKey>,
    ) -> Result<Vec<Arc<dyn Signer>>> {
        let mut seen = HashSet::new();
        let mut signers = Vec::new();
        for key in keys {
            if !seen.insert(key.key_id()) {
                continue;
            }
            if let Some(signer) = self.signer_for(key)? {
                signers.push(signer);
            }
        }
        Ok(signers)
    }

    /// The signers held for the TUF key IDs `key_ids` (a role's `keyids`), looking each ID up
    /// in `keys` (the `keys` map of `root.json` or of a parent's `delegations`). IDs missing
    /// from `keys` are skipped, as are keys whose private half is not held.
    ///
    /// # Errors
    ///
    /// As [`signer_for`](Self::signer_for).
    pub fn signers_for_ids(
        &self,
        key_ids: &[KeyId],
        keys: &BTreeMap<KeyId, PublicKey>,
    ) -> Result<Vec<Arc<dyn Signer>>> {
        self.signers_for(key_ids.iter().filter_map(|id| keys.get(id)))
    }

    /// Reloads every store ([`KeyStore::reload`]), so keys other processes added since the
    /// stores were opened are found.
    pub fn reload(&self) {
        for store in &self.stores {
            store.reload();
        }
    }

    /// Every key of every store.
    ///
    /// # Errors
    ///
    /// The first store error.
    pub fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        let mut all = Vec::new();
        for store in &self.stores {
            all.extend(store.list_keys()?);
        }
        Ok(all)
    }

    /// Removes `key_id` from every store holding it.
    ///
    /// # Errors
    ///
    /// [`Error::KeyNotFound`] when no store held it; other store errors as they occur.
    pub fn remove_key(&self, key_id: &KeyId) -> Result<()> {
        let mut removed = false;
        for store in &self.stores {
            match store.remove_key(key_id) {
                Ok(()) => removed = true,
                Err(Error::KeyNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if removed {
            Ok(())
        } else {
            Err(Error::KeyNotFound {
                key_id: key_id.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::private_key::PrivateKey;
    use crate::store::MemoryKeyStore;

    #[test]
    fn reload_finds_keys_another_handle_added() {
        use crate::passphrase::ConstantRetriever;
        use crate::store::FileKeyStore;

        let dir = tempfile::tempdir().unwrap();
        let open = || {
            Arc::new(
                FileKeyStore::open(dir.path(), Arc::new(ConstantRetriever::new("passphrase")))
                    .unwrap(),
            )
        };
        let (ours, theirs) = (open(), open());
        let service = CryptoService::new(vec![Arc::new(MemoryKeyStore::new()), ours]);
        let added = theirs
            .generate_key(KeyAlgorithm::Ecdsa, "targets", Some("example.com/app"))
            .unwrap();
        let key_id = added.public_key().key_id();
        // The store indexed private/ when it was opened.
        assert!(service.signer_by_id(&key_id).unwrap().is_none());
        service.reload();
        let found = service.require_signer_by_id(&key_id).unwrap();
        assert_eq!(found.public_key().key_id(), key_id);

        theirs.remove_key(&key_id).unwrap();
        service.reload();
        assert!(matches!(
            service.require_signer_by_id(&key_id),
            Err(Error::KeyNotInStores { .. })
        ));
    }

    #[test]
    fn private_key_is_a_signer() {
        let key = PrivateKey::generate_ecdsa().unwrap();
        let signer: &dyn Signer = &key;
        let sig = signer.sign(b"m").unwrap();
        assert_eq!(sig.keyid, signer.public_key().key_id());
        signer
            .public_key()
            .verify(&sig.method, b"m", &sig.sig)
            .unwrap();
    }

    #[test]
    fn crypto_service_signs_root_keys_under_their_certificate_id() {
        let service = CryptoService::new(vec![Arc::new(MemoryKeyStore::new())]);
        let root = service.create(KeyAlgorithm::Ecdsa, "root", None).unwrap();
        let cert = crate::cert::generate_root_certificate(root.as_ref(), "gun").unwrap();
        let cert_id = cert.public_key.key_id();
        assert_ne!(cert_id, root.public_key().key_id());
        let missing = PrivateKey::generate_ecdsa().unwrap();
        let keys: BTreeMap<KeyId, PublicKey> = [
            (cert_id.clone(), cert.public_key.clone()),
            (missing.key_id().clone(), missing.public_key().clone()),
        ]
        .into_iter()
        .collect();
        let unknown = KeyId::sha256_of(b"not listed");
        let signers = service
            .signers_for_ids(&[unknown, missing.key_id().clone(), cert_id.clone()], &keys)
            .unwrap();
        assert_eq!(signers.len(), 1);
        let sig = signers[0].sign(b"root v2").unwrap();
        assert_eq!(sig.keyid, cert_id);
        cert.public_key
            .verify(&sig.method, b"root v2", &sig.sig)
            .unwrap();

        let other = PrivateKey::generate_ecdsa().unwrap();
        assert!(matches!(
            CertifiedSigner::new(Arc::new(other), cert.public_key),
            Err(Error::CertificateKeyMismatch { .. })
        ));
    }

    #[test]
    fn required_keys_name_the_key_and_every_store_searched() {
        let service = CryptoService::new(vec![
            Arc::new(MemoryKeyStore::new()),
            Arc::new(MemoryKeyStore::new()),
        ]);
        let root = service.create(KeyAlgorithm::Ecdsa, "root", None).unwrap();
        let cert = crate::cert::generate_root_certificate(root.as_ref(), "gun").unwrap();
        let signer = service.require_signer_for(&cert.public_key).unwrap();
        assert_eq!(signer.public_key(), &cert.public_key);
        let by_id = service
            .require_signer_by_id(&root.public_key().key_id())
            .unwrap();
        assert_eq!(by_id.public_key(), root.public_key());

        let missing = PrivateKey::generate_ecdsa().unwrap();
        let missing_cert = crate::cert::generate_root_certificate(&missing, "gun").unwrap();
        let err = service
            .require_signer_for(&missing_cert.public_key)
            .err()
            .unwrap();
        let Error::KeyNotInStores { key_id, stores } = &err else {
            panic!("unexpected {err:?}");
        };
        // The canonical ID is the one the private key is stored under.
        assert_eq!(key_id, missing.key_id().as_str());
        assert_eq!(stores, "memory, memory");
        let message = err.to_string();
        assert!(message.contains("signet key import"), "{message}");
        let err = CryptoService::new(Vec::new())
            .require_signer_by_id(missing.key_id())
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("not found in no key stores"),
            "{err}"
        );
    }

    #[test]
    fn crypto_service_finds_plain_keys_and_skips_unknown_ones() {
        let store = Arc::new(MemoryKeyStore::new());
        let service = CryptoService::new(vec![store.clone()]);
        let signer = service
            .create(KeyAlgorithm::Ecdsa, "targets", Some("example.com/app"))
            .unwrap();
        let other = PrivateKey::generate_ed25519().unwrap();
        let found = service
            .signers_for([signer.public_key(), other.public_key(), signer.public_key()])
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].public_key(), signer.public_key());
        let info = store.key_info(&signer.public_key().key_id()).unwrap();
        assert_eq!(info.role, "targets");
        assert_eq!(info.gun.as_deref(), Some("example.com/app"));
        service.remove_key(&signer.public_key().key_id()).unwrap();
        assert!(service.signer_for(signer.public_key()).unwrap().is_none());
        assert!(matches!(
            service.remove_key(&signer.public_key().key_id()),
            Err(Error::KeyNotFound { .. })
        ));
    }
}
