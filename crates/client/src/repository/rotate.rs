//! Key rotation: a new key for a role, listed in a new root and published.

use signet_signer::{PrivateKey, rotation};
use signet_tuf::authoring;
use signet_tuf::key::{KeyId, PublicKey};
use signet_tuf::metadata::{Envelope, Root};
use signet_tuf::role;

use crate::changelist::Change;
use crate::error::{Error, Result};
use crate::remote::MAX_DOWNLOAD_SIZE;

use super::{Repository, RotationReport};

impl Repository {
    /// `notary key rotate`: new keys for base role `role` — the given `new_keys` (several
    /// become several keys of the role), a generated one when none are given, or with
    /// `server_managed` the server's — put into root by a publish of just that change (staged
    /// changes stay staged). The new root is also signed with the held root keys of the
    /// `legacy_versions` root versions before the current one (`<v>.root.json` from the
    /// server; versions or private keys that are missing are skipped). Replaced private keys
    /// of non-root roles are removed from the key stores after the publish succeeded; old
    /// root keys are kept. A rotation that fails (a wrong passphrase for the old root key, a
    /// refused upload) removes the keys it added, so that no orphan key is left behind.
    ///
    /// Supplied keys are stored in the first key store that accepts them, and a generated key
    /// is made by the first store that accepts it (a hardware store listed first gets it); see
    /// [`rotate_key_with`](Self::rotate_key_with) to rotate to a key a store already holds.
    ///
    /// The remote should have been set up with [`Access::Admin`](crate::remote::Access) for a
    /// server-managed rotation.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] with Notary's message for combinations Notary refuses (including keys
    /// given with `server_managed`), and every publish error.
    pub async fn rotate_key(
        &mut self,
        role_name: &str,
        server_managed: bool,
        new_keys: Vec<PrivateKey>,
        legacy_versions: u32,
    ) -> Result<RotationReport> {
        let new_keys = new_keys
            .into_iter()
            .map(|key| rotation::NewKey::Supplied(Box::new(key)))
            .collect();
        self.rotate_key_with(role_name, server_managed, new_keys, legacy_versions)
            .await
    }

    /// [`rotate_key`](Self::rotate_key) with the new keys given as
    /// [`NewKey`](rotation::NewKey)s: generated in, added to, or already held by (for example
    /// a YubiHSM 2 key, by key ID) the key stores of the crypto service, searched in order. An
    /// empty `new_keys` generates one ECDSA P-256 key.
    ///
    /// # Errors
    ///
    /// As [`rotate_key`](Self::rotate_key); [`Error::Key`] wrapping
    /// [`KeyNotInStores`](signet_signer::Error::KeyNotInStores) for a held key no store has.
    pub async fn rotate_key_with(
        &mut self,
        role_name: &str,
        server_managed: bool,
        mut new_keys: Vec<rotation::NewKey>,
        legacy_versions: u32,
    ) -> Result<RotationReport> {
        let gun = self.gun.to_string();
        let key_error = |source: signet_signer::Error| Error::Key {
            gun: gun.clone(),
            role: role_name.to_owned(),
            source: Box::new(source),
        };
        rotation::check_rotation(&gun, role_name, server_managed).map_err(key_error)?;
        // Keys this rotation adds to the stores: removed again if it fails.
        let mut created: Vec<KeyId> = Vec::new();
        let new_publics = if server_managed {
            if !new_keys.is_empty() {
                return Err(key_error(signet_signer::Error::Rotation {
                    gun: gun.clone(),
                    role: role_name.to_owned(),
                    reason: "a server-managed key cannot be given with --key".to_owned(),
                }));
            }
            vec![self.remote.rotate_key(&self.gun, role_name).await?]
        } else {
            // Keys another process added (to the trust dir or a device) are candidates too.
            self.crypto.reload();
            if new_keys.is_empty() {
                new_keys.push(rotation::NewKey::default());
            }
            let mut publics = Vec::new();
            for new_key in new_keys {
                match rotation::rotate(&self.crypto, &gun, role_name, new_key) {
                    Ok(rotated) => {
                        created.extend(rotated.created);
                        publics.push(rotated.public_key);
                    }
                    Err(e) => {
                        rotation::discard(&self.crypto, &created);
                        return Err(key_error(e));
                    }
                }
            }
            publics
        };
        let change = Change::replace_root_role_keys(role_name, new_publics.clone());
        let (publish, retired) = match self
            .publish_changes_with_legacy(&[change], legacy_versions)
            .await
        {
            Ok(published) => published,
            Err(e) => {
                self.discard_unpublished(role_name, &created, &e).await;
                return Err(e);
            }
        };
        let old_ids: Vec<KeyId> = retired
            .iter()
            .filter_map(|(_, key)| key.canonical_key_id().ok())
            .collect();
        for store in self.crypto.stores() {
            rotation::retire_old_keys(store.as_ref(), role_name, &old_ids).map_err(key_error)?;
        }
        let new_key = new_publics
            .first()
            .cloned()
            .ok_or_else(|| Error::NotInitialized { gun: gun.clone() })?;
        Ok(RotationReport {
            new_key,
            new_keys: new_publics,
            publish,
        })
    }

    /// After a failed publish of a rotation of `role_name`, removes the keys it `created`
    /// unless the server's root lists one of them for the role (the upload was accepted
    /// before the failure). When the server cannot be asked and the failure came from the
    /// server, the keys are kept: they may be the role's keys now.
    pub(super) async fn discard_unpublished(
        &self,
        role_name: &str,
        created: &[KeyId],
        failure: &Error,
    ) {
        if created.is_empty() {
            return;
        }
        let published = match self
            .remote
            .get_meta(&self.gun, role::ROOT, MAX_DOWNLOAD_SIZE)
            .await
        {
            Ok(bytes) => Envelope::<Root>::parse(&bytes).map_or(true, |root| {
                root.signed().role_keys(role_name).is_some_and(|(keys, _)| {
                    keys.values()
                        .any(|key| key.canonical_key_id().is_ok_and(|id| created.contains(&id)))
                })
            }),
            Err(e) if e.is_not_found() => false,
            Err(_) => matches!(failure, Error::Remote(_)),
        };
        if !published {
            rotation::discard(&self.crypto, created);
        }
    }

    /// Root keys of the `count` root versions before `current` as the server has them
    /// (`<v>.root.json`); versions the server does not have are skipped.
    pub(super) async fn legacy_root_keys(
        &self,
        current: i64,
        count: u32,
    ) -> Result<Vec<PublicKey>> {
        let mut keys: Vec<PublicKey> = Vec::new();
        let oldest = current.saturating_sub(i64::from(count)).max(1);
        for version in (oldest..current).rev() {
            let name = format!("{version}.{}", role::ROOT);
            let bytes = match self
                .remote
                .get_meta(&self.gun, &name, MAX_DOWNLOAD_SIZE)
                .await
            {
                Ok(bytes) => bytes,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            let root = Envelope::<Root>::parse(&bytes).map_err(|e| Error::Metadata {
                gun: self.gun.to_string(),
                role: name.clone(),
                source: Box::new(e),
            })?;
            if let Some(requirement) =
                authoring::SigningRequirement::of_root_role(root.signed(), role::ROOT)
            {
                for key in requirement.keys.into_values() {
                    if !keys.iter().any(|k| k.key_id() == key.key_id()) {
                        keys.push(key);
                    }
                }
            }
        }
        Ok(keys)
    }
}
