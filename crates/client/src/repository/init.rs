//! Initialising a repository: root keys, certificates and the first local trust data.

use std::collections::BTreeMap;

use signet_signer::KeyAlgorithm;
use signet_tuf::authoring::{self, SnapshotBuilder};
use signet_tuf::key::{KeyId, PublicKey};
use signet_tuf::metadata::{RoleKeys, Root, Targets};
use signet_tuf::role;

use crate::error::{Error, PublishError, Result};

use super::publish::sign_new;
use super::working::{self, Doc, Working};

use super::{InitOptions, Repository};

impl Repository {
    /// Creates the repository locally (Notary's `Initialize`): root key(s) with certificates,
    /// a new targets key, a snapshot key (local, or the server's), the server's timestamp key;
    /// root v1, targets v1 and (local snapshot) snapshot v1 are signed and written to the
    /// cache. Nothing is uploaded until [`publish`](Self::publish).
    ///
    /// # Errors
    ///
    /// Key store errors, remote errors fetching the server keys, [`PublishError::NoSigningKeys`]
    /// when a requested root key is not held.
    pub async fn initialize(&mut self, options: InitOptions) -> Result<()> {
        let gun = self.gun.to_string();
        let now = Self::now();
        let key_error = |role: &str, source: signet_signer::Error| Error::Key {
            gun: gun.clone(),
            role: role.to_owned(),
            source: Box::new(source),
        };
        let metadata_error = |role: &str, source: signet_tuf::Error| Error::Metadata {
            gun: gun.clone(),
            role: role.to_owned(),
            source: Box::new(source),
        };

        // Keys another process (or another `Repository` on the same trust dir) created since
        // the stores were opened.
        self.crypto.reload();
        let timestamp_key = self.remote.get_key(&self.gun, role::TIMESTAMP).await?;
        let root_keys = self.root_keys_for_init(&options)?;
        let targets_signer = self
            .crypto
            .create(KeyAlgorithm::Ecdsa, role::TARGETS, Some(&gun))
            .map_err(|e| key_error(role::TARGETS, e))?;
        let snapshot_key = if options.server_managed_snapshot {
            self.remote.get_key(&self.gun, role::SNAPSHOT).await?
        } else {
            self.crypto
                .create(KeyAlgorithm::Ecdsa, role::SNAPSHOT, Some(&gun))
                .map_err(|e| key_error(role::SNAPSHOT, e))?
                .public_key()
                .clone()
        };

        let mut root = Root::new(
            authoring::default_expires(role::ROOT, now)
                .map_err(|e| metadata_error(role::ROOT, e))?,
        );
        let mut add_role = |name: &str, keys: &[PublicKey]| {
            let ids: Vec<KeyId> = keys.iter().map(PublicKey::key_id).collect();
            for key in keys {
                root.keys.insert(key.key_id(), key.clone());
            }
            root.roles.insert(name.to_owned(), RoleKeys::new(ids, 1));
        };
        add_role(role::ROOT, &root_keys);
        add_role(role::TARGETS, &[targets_signer.public_key().clone()]);
        add_role(role::SNAPSHOT, &[snapshot_key]);
        add_role(role::TIMESTAMP, &[timestamp_key]);
        root.validate().map_err(|e| metadata_error(role::ROOT, e))?;

        let targets = Targets::new(
            1,
            authoring::default_expires(role::TARGETS, now)
                .map_err(|e| metadata_error(role::TARGETS, e))?,
        );
        let mut working = Working {
            gun: gun.clone(),
            now,
            loaded_root: root.clone(),
            root: Doc::loaded(root, Vec::new()),
            targets: BTreeMap::new(),
            deleted: Default::default(),
            snapshot: None,
            retired_keys: Vec::new(),
            legacy_root_keys: Vec::new(),
        };
        let root_requirement =
            authoring::SigningRequirement::of_root_role(&working.root.signed, role::ROOT)
                .into_iter()
                .collect::<Vec<_>>();
        let root_bytes = sign_new(
            &working,
            &self.crypto,
            role::ROOT,
            working.root.signed.clone(),
            &root_requirement,
        )?;
        working.root.bytes = root_bytes.clone();
        let targets_requirement =
            authoring::SigningRequirement::of_root_role(&working.root.signed, role::TARGETS)
                .into_iter()
                .collect::<Vec<_>>();
        let targets_bytes = sign_new(
            &working,
            &self.crypto,
            role::TARGETS,
            targets,
            &targets_requirement,
        )?;

        let cache = self.repo_dir.cache();
        cache.remove(role::TIMESTAMP)?;
        cache.remove(role::SNAPSHOT)?;
        if !options.server_managed_snapshot {
            let mut builder = SnapshotBuilder::new(None);
            builder
                .set_file(role::ROOT, &root_bytes)
                .and_then(|b| b.set_file(role::TARGETS, &targets_bytes))
                .map_err(|e| metadata_error(role::SNAPSHOT, e))?;
            let snapshot = builder
                .build(now)
                .map_err(|e| metadata_error(role::SNAPSHOT, e))?;
            let snapshot_requirement =
                authoring::SigningRequirement::of_root_role(&working.root.signed, role::SNAPSHOT)
                    .into_iter()
                    .collect::<Vec<_>>();
            let snapshot_bytes = sign_new(
                &working,
                &self.crypto,
                role::SNAPSHOT,
                snapshot.signed().clone(),
                &snapshot_requirement,
            )?;
            cache.set(role::SNAPSHOT, &snapshot_bytes)?;
        }
        cache.set(role::ROOT, &root_bytes)?;
        cache.set(role::TARGETS, &targets_bytes)?;
        self.verified = None;
        Ok(())
    }

    /// The root keys of a new repository, as TUF keys (certificates).
    pub(super) fn root_keys_for_init(&self, options: &InitOptions) -> Result<Vec<PublicKey>> {
        let gun = self.gun.to_string();
        let key_error = |source: signet_signer::Error| Error::Key {
            gun: gun.clone(),
            role: role::ROOT.to_owned(),
            source: Box::new(source),
        };
        let mut ids = options.root_key_ids.clone();
        if ids.is_empty() && options.root_certificates.is_empty() {
            let mut existing: Vec<KeyId> = self
                .crypto
                .list_keys()
                .map_err(key_error)?
                .into_iter()
                .filter(|k| k.role == role::ROOT)
                .map(|k| k.key_id)
                .collect();
            existing.sort();
            ids.extend(existing.into_iter().take(1));
        }
        let mut keys = Vec::new();
        for cert in &options.root_certificates {
            let canonical = cert.canonical_key_id().map_err(|e| Error::Metadata {
                gun: gun.clone(),
                role: role::ROOT.to_owned(),
                source: Box::new(e),
            })?;
            if !working::holds_key(&self.crypto, &canonical) {
                return Err(Error::Publish(PublishError::NoSigningKeys {
                    gun: gun.clone(),
                    role: role::ROOT.to_owned(),
                    key_ids: vec![canonical.to_string()],
                }));
            }
            ids.retain(|id| *id != canonical);
            keys.push(cert.clone());
        }
        for id in ids {
            let signer = self
                .crypto
                .signer_by_id(&id)
                .map_err(key_error)?
                .ok_or_else(|| {
                    Error::Publish(PublishError::NoSigningKeys {
                        gun: gun.clone(),
                        role: role::ROOT.to_owned(),
                        key_ids: vec![id.to_string()],
                    })
                })?;
            let cert = signet_signer::cert::generate_root_certificate(signer.as_ref(), &gun)
                .map_err(key_error)?;
            keys.push(cert.public_key);
        }
        if keys.is_empty() {
            let signer = self
                .crypto
                .create(KeyAlgorithm::Ecdsa, role::ROOT, None)
                .map_err(key_error)?;
            let cert = signet_signer::cert::generate_root_certificate(signer.as_ref(), &gun)
                .map_err(key_error)?;
            keys.push(cert.public_key);
        }
        Ok(keys)
    }
}
