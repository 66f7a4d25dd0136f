//! Publishing staged changes (Notary's publish), from the verified repository or the local
//! trust data.

use std::collections::BTreeMap;

use signet_signer::CryptoService;
use signet_tuf::authoring;
use signet_tuf::key::PublicKey;
use signet_tuf::metadata::{Envelope, Root, Snapshot, Targets};
use signet_tuf::role;

use crate::changelist::Change;
use crate::error::{Error, Result};
use crate::progress::ProgressEvent;
use crate::remote::MAX_DOWNLOAD_SIZE;

use super::working::{Doc, Working};

use super::{InitOptions, PublishReport, RepoWarning, Repository};

impl Repository {
    /// The local state for an initial publish: cached root and targets (required; expiry and
    /// signatures are not checked, as Notary does), cached snapshot if any.
    pub(super) fn load_local(&self) -> Result<Option<Working>> {
        let cache = self.repo_dir.cache();
        let gun = self.gun.to_string();
        let (Some(root_bytes), Some(targets_bytes)) = (
            cache.get(role::ROOT, MAX_DOWNLOAD_SIZE)?,
            cache.get(role::TARGETS, MAX_DOWNLOAD_SIZE)?,
        ) else {
            return Ok(None);
        };
        let parse_error = |role: &str, source: signet_tuf::Error| Error::Metadata {
            gun: gun.clone(),
            role: role.to_owned(),
            source: Box::new(source),
        };
        let root = Envelope::<Root>::parse(&root_bytes).map_err(|e| parse_error(role::ROOT, e))?;
        let targets = Envelope::<Targets>::parse(&targets_bytes)
            .map_err(|e| parse_error(role::TARGETS, e))?;
        let snapshot = match cache.get(role::SNAPSHOT, MAX_DOWNLOAD_SIZE)? {
            Some(bytes) => Some(
                Envelope::<Snapshot>::parse(&bytes)
                    .map_err(|e| parse_error(role::SNAPSHOT, e))?
                    .signed()
                    .clone(),
            ),
            None => None,
        };
        let root = root.signed().clone();
        let mut targets_map = BTreeMap::new();
        targets_map.insert(
            role::TARGETS.to_owned(),
            Doc::loaded(targets.signed().clone(), targets_bytes),
        );
        // Cached delegations too, so that changes to them keep what they already list.
        for name in cache.roles()? {
            if !role::is_delegation(&name) {
                continue;
            }
            if let Some(bytes) = cache.get(&name, MAX_DOWNLOAD_SIZE)? {
                let doc = Envelope::<Targets>::parse(&bytes).map_err(|e| parse_error(&name, e))?;
                targets_map.insert(name, Doc::loaded(doc.signed().clone(), bytes));
            }
        }
        Ok(Some(Working {
            gun,
            now: Self::now(),
            loaded_root: root.clone(),
            root: Doc::loaded(root, root_bytes),
            targets: targets_map,
            deleted: Default::default(),
            snapshot,
            retired_keys: Vec::new(),
            legacy_root_keys: Vec::new(),
        }))
    }

    pub(super) fn working_from_verified(&self) -> Result<Working> {
        let verified = self.verified()?;
        let root = verified.root().signed().clone();
        let targets = verified
            .all_targets_roles()
            .iter()
            .map(|(name, doc)| {
                (
                    name.clone(),
                    Doc::loaded(doc.signed().clone(), doc.bytes().to_vec()),
                )
            })
            .collect();
        Ok(Working {
            gun: self.gun.to_string(),
            now: Self::now(),
            loaded_root: root.clone(),
            root: Doc::loaded(root, verified.root().bytes().to_vec()),
            targets,
            deleted: Default::default(),
            snapshot: Some(verified.snapshot().signed().clone()),
            retired_keys: Vec::new(),
            legacy_root_keys: Vec::new(),
        })
    }

    /// Publishes the staged changes (see the module documentation); on success the applied
    /// change files are removed.
    ///
    /// # Errors
    ///
    /// [`ChangelistError::Unreadable`](crate::error::ChangelistError::Unreadable) for a change file
    /// that cannot be parsed, the errors of [`update`](Self::update),
    /// [`PublishError::ChangeRejected`](crate::error::PublishError::ChangeRejected) /
    /// [`PublishError::NoSigningKeys`](crate::error::PublishError::NoSigningKeys) when a change
    /// cannot be applied or signed, and the server's answer to the upload.
    pub async fn publish(&mut self) -> Result<PublishReport> {
        let changelist = self.changelist();
        let (names, changes): (Vec<String>, Vec<Change>) = changelist
            .changes_for_publish()?
            .into_iter()
            .map(|s| (s.file_name, s.change))
            .unzip();
        let (report, _) = self.publish_changes(&changes).await?;
        // Only after the server accepted them; changes staged meanwhile stay.
        changelist.remove_files(&names)?;
        Ok(report)
    }

    /// Publishes `changes` (not the on-disk changelist); returns the report and the keys the
    /// changes removed from root.
    pub(super) async fn publish_changes(
        &mut self,
        changes: &[Change],
    ) -> Result<(PublishReport, Vec<(String, PublicKey)>)> {
        self.publish_changes_with_legacy(changes, 0).await
    }

    /// As [`publish_changes`](Self::publish_changes), also signing a re-signed root with the
    /// held keys of the `legacy_versions` previous root versions.
    pub(super) async fn publish_changes_with_legacy(
        &mut self,
        changes: &[Change],
        legacy_versions: u32,
    ) -> Result<(PublishReport, Vec<(String, PublicKey)>)> {
        self.publish_edited(changes, legacy_versions, |_, _, _| Ok(()))
            .await
    }

    /// As [`publish_changes_with_legacy`](Self::publish_changes_with_legacy), with `edit` run
    /// on the repository after the changes were applied and before it is signed (an edit that
    /// fails stops the publish before anything is uploaded).
    pub(super) async fn publish_edited<F>(
        &mut self,
        changes: &[Change],
        legacy_versions: u32,
        edit: F,
    ) -> Result<(PublishReport, Vec<(String, PublicKey)>)>
    where
        F: FnOnce(&mut Working, &CryptoService, &mut Vec<RepoWarning>) -> Result<()>,
    {
        let mut warnings = Vec::new();
        let initial = match self
            .remote
            .get_meta(&self.gun, role::ROOT, MAX_DOWNLOAD_SIZE)
            .await
        {
            Ok(_) => false,
            Err(e) if e.is_not_found() => true,
            Err(e) => return Err(e),
        };
        let mut working = if initial {
            match self.load_local()? {
                Some(w) => w,
                None => {
                    self.initialize(InitOptions::default()).await?;
                    warnings.push(RepoWarning::Initialized);
                    self.load_local()?.ok_or_else(|| Error::NotInitialized {
                        gun: self.gun.to_string(),
                    })?
                }
            }
        } else {
            warnings.extend(self.update().await?);
            self.working_from_verified()?
        };
        if legacy_versions > 0 {
            working.legacy_root_keys = self
                .legacy_root_keys(working.loaded_root.version, legacy_versions)
                .await?;
        }
        self.crypto.reload();
        for change in changes {
            working.apply(change, &self.crypto, &mut warnings)?;
        }
        edit(&mut working, &self.crypto, &mut warnings)?;
        self.prepare_root(&mut working, initial, &mut warnings)
            .await?;
        let signed = working.sign(&self.crypto, initial)?;
        let total = signed.files.len();
        for (index, (role_name, _)) in signed.files.iter().enumerate() {
            self.report(ProgressEvent::Signed {
                role: role_name.clone(),
                count: index.saturating_add(1),
                total,
            });
        }
        self.report(ProgressEvent::Uploading { files: total });
        self.remote.publish(&self.gun, &signed.files).await?;
        if warnings
            .iter()
            .any(|w| matches!(w, RepoWarning::TimestampKeyReplaced { .. }))
        {
            // The cached timestamp and snapshot came from another server under another
            // timestamp key; the next update must not hold this server's to their versions.
            let cache = self.repo_dir.cache();
            cache.remove(role::TIMESTAMP)?;
            cache.remove(role::SNAPSHOT)?;
        }
        // The cache then holds what was published, as the server serves it (refresh.rs).
        self.refresh_after_publish(&signed.files, &mut warnings)
            .await;
        let report = PublishReport {
            roles: signed.files.iter().map(|(r, _)| r.clone()).collect(),
            initial,
            warnings,
        };
        Ok((report, working.retired_keys))
    }
}

/// Signs a brand-new document (no version bump) for `role_name`.
pub(super) fn sign_new<T: signet_tuf::metadata::Metadata>(
    working: &Working,
    crypto: &CryptoService,
    role_name: &str,
    doc: T,
    requirements: &[authoring::SigningRequirement],
) -> Result<Vec<u8>> {
    working.sign_document(crypto, role_name, doc, requirements)
}
