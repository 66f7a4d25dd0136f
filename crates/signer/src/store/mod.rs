//! Key stores: where private keys live.
//!
//! [`KeyStore`] is the interface every backend implements — the notary trust-directory store
//! ([`FileKeyStore`]), the in-memory store ([`MemoryKeyStore`]) and hardware backends. Keys are
//! addressed by their *canonical* key ID (the ID of the plain public key, which for root keys
//! differs from the certificate key's TUF ID; see [`crate::signer`]).
//!
//! The trait is object safe: callers hold `Arc<dyn KeyStore>`. A hardware backend implements
//! [`KeyStore::generate_key`] to create keys on the device, returns
//! [`Error::Unsupported`] from
//! [`export_key`](KeyStore::export_key) and [`change_passphrase`](KeyStore::change_passphrase),
//! and hands out signers that never expose key material.

mod file;
mod import;
mod lazy;
mod memory;
mod migrate;

use std::path::PathBuf;
use std::sync::Arc;

pub use file::{FileKeyStore, PRIVATE_DIR};
pub use import::DEFAULT_IMPORT_ROLE;
pub use lazy::LazyKeyStore;
pub use memory::MemoryKeyStore;
pub use migrate::Migration;
use signet_tuf::key::KeyId;

use crate::error::{Error, Result};
use crate::passphrase::PassphraseRetriever;
use crate::private_key::{KeyAlgorithm, PrivateKey};
use crate::signer::Signer;

/// What a store knows about a key without decrypting it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyInfo {
    /// Canonical key ID.
    pub key_id: KeyId,
    /// Role of the key (`root`, `targets`, `snapshot`, `timestamp`, a delegation or signer
    /// name); empty when the key file has no `role` header.
    pub role: String,
    /// GUN for targets, snapshot and timestamp keys; `None` for shared keys.
    pub gun: Option<String>,
    /// Where the key lives, as `notary key list` shows it (the `private` directory, `memory`,
    /// or a device name).
    pub location: String,
}

impl KeyInfo {
    /// Sort order of `notary key list`: root keys first, then by GUN, role and key ID.
    pub fn listing_order(a: &Self, b: &Self) -> std::cmp::Ordering {
        (a.role != "root", &a.gun, &a.role, &a.key_id).cmp(&(
            b.role != "root",
            &b.gun,
            &b.role,
            &b.key_id,
        ))
    }
}

/// A place private keys are kept.
pub trait KeyStore: Send + Sync {
    /// Human-readable location of the store (shown as LOCATION by `key list`).
    fn name(&self) -> &str;

    /// Stores `key` for `role`. The GUN is kept only for `targets`, `snapshot` and `timestamp`
    /// keys, as Notary does. Replaces a key with the same ID.
    fn add_key(&self, key: &PrivateKey, role: &str, gun: Option<&str>) -> Result<KeyInfo>;

    /// Generates a key of `algorithm` and stores it for `role`/`gun`. The default generates in
    /// software and calls [`add_key`](KeyStore::add_key); hardware stores generate on the
    /// device.
    fn generate_key(
        &self,
        algorithm: KeyAlgorithm,
        role: &str,
        gun: Option<&str>,
    ) -> Result<Arc<dyn Signer>> {
        let key = Arc::new(PrivateKey::generate(algorithm)?);
        self.add_key(&key, role, gun)?;
        Ok(key)
    }

    /// The signer for the key with canonical ID `key_id` (may ask for a passphrase).
    ///
    /// [`Error::KeyNotFound`] when the store does not hold it.
    fn signer(&self, key_id: &KeyId) -> Result<Arc<dyn Signer>>;

    /// Role, GUN and location of `key_id` without decrypting it.
    fn key_info(&self, key_id: &KeyId) -> Result<KeyInfo>;

    /// Every key the store holds.
    fn list_keys(&self) -> Result<Vec<KeyInfo>>;

    /// Deletes the key. [`Error::KeyNotFound`] when the store does not hold it.
    fn remove_key(&self, key_id: &KeyId) -> Result<()>;

    /// The stored PEM of the key as `notary key export` writes it (still encrypted, with a
    /// `path` header). Unsupported by default.
    fn export_key(&self, key_id: &KeyId) -> Result<String> {
        Err(Error::Unsupported {
            store: format!("{} (key {key_id})", self.name()),
            operation: "exporting keys",
        })
    }

    /// Moves the key out of the store into directory `into` (created 0700 if missing) instead
    /// of deleting it, for keys that leaked and must no longer be used but are kept as
    /// evidence. Returns where the key now is, or `None` when the store cannot move keys out
    /// (a hardware store: the key stays where it is and must be deleted with the device's
    /// tools or [`remove_key`](KeyStore::remove_key)). [`Error::KeyNotFound`] when the store
    /// does not hold it.
    fn quarantine_key(&self, key_id: &KeyId, into: &std::path::Path) -> Result<Option<PathBuf>> {
        let _ = into;
        self.key_info(key_id)?;
        Ok(None)
    }

    /// Forgets what the store remembers about which keys it holds, so that keys another
    /// process (or another handle on the same trust directory or device) added or removed
    /// since are seen by the next lookup. Decrypted keys that still exist may stay cached.
    ///
    /// The default does nothing: right for stores that look every key up afresh.
    fn reload(&self) {}

    /// Re-encrypts the key with a passphrase from `new_passphrase` (`notary key passwd`).
    /// Unsupported by default.
    fn change_passphrase(
        &self,
        key_id: &KeyId,
        new_passphrase: &dyn PassphraseRetriever,
    ) -> Result<()> {
        let _ = new_passphrase;
        Err(Error::Unsupported {
            store: format!("{} (key {key_id})", self.name()),
            operation: "changing passphrases",
        })
    }
}

/// The GUN stored with a key of `role`: kept only for targets, snapshot and timestamp keys.
pub(crate) fn stored_gun(role: &str, gun: Option<&str>) -> Option<String> {
    gun.filter(|g| !g.is_empty() && crate::keyfile::role_keeps_gun(role))
        .map(str::to_owned)
}
