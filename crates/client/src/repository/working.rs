//! The editable state of a publish: the current metadata, staged changes applied to it, and
//! the re-signing that turns it into the files to upload (Notary's `tuf.Repo` plus
//! `applyChangelist` and the signing half of `publish`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::value::RawValue;
use signet_signer::{CryptoService, Signer};
use signet_tuf::authoring::{self, SigningRequirement, SnapshotBuilder};
use signet_tuf::key::{KeyId, PublicKey};
use signet_tuf::metadata::{
    DelegationRole, Envelope, Expires, FileMeta, Metadata, Root, Snapshot, Targets,
};
use signet_tuf::role;
use signet_tuf::update::ResolvedRole;

use super::RepoWarning;
use crate::changelist::{
    Action, Change, ChangeType, SCOPE_ALL_DELEGATIONS, SCOPE_ROOT, TargetMeta,
};
use crate::error::{Error, PublishError, Result};

/// A document with the bytes it was read from (empty for documents created here) and whether
/// it must be re-signed.
#[derive(Debug, Clone)]
pub(super) struct Doc<T> {
    pub(super) signed: T,
    pub(super) bytes: Vec<u8>,
    pub(super) dirty: bool,
}

impl<T> Doc<T> {
    pub(super) fn loaded(signed: T, bytes: Vec<u8>) -> Self {
        Self {
            signed,
            bytes,
            dirty: false,
        }
    }
}

/// Files to upload and what the publish retired.
#[derive(Debug, Default)]
pub(super) struct Signed {
    /// `(role, bytes)` in upload order: root, targets roles, snapshot.
    pub(super) files: Vec<(String, Vec<u8>)>,
}

/// The editable repository.
pub(super) struct Working {
    pub(super) gun: String,
    pub(super) now: DateTime<Utc>,
    /// The root as loaded (decides who must sign a changed root).
    pub(super) loaded_root: Root,
    pub(super) root: Doc<Root>,
    pub(super) targets: BTreeMap<String, Doc<Targets>>,
    pub(super) deleted: BTreeSet<String>,
    pub(super) snapshot: Option<Snapshot>,
    /// Keys removed from root by key replacement (for retiring their private halves).
    pub(super) retired_keys: Vec<(String, PublicKey)>,
    /// Root keys of older root versions that also sign a re-signed root when held
    /// (`key rotate --legacy`), so clients that trust only those versions can follow.
    pub(super) legacy_root_keys: Vec<PublicKey>,
}

impl Working {
    fn metadata_error(&self, role: &str, source: signet_tuf::Error) -> Error {
        Error::Metadata {
            gun: self.gun.clone(),
            role: role.to_owned(),
            source: Box::new(source),
        }
    }

    fn rejected(&self, change: &Change, reason: impl Into<String>) -> Error {
        Error::Publish(PublishError::ChangeRejected {
            gun: self.gun.clone(),
            action: change.action.to_string(),
            scope: change.scope.clone(),
            change_type: change.change_type.to_string(),
            reason: reason.into(),
        })
    }

    /// The effective role `name` (keys, threshold, paths restricted by its ancestors), when it
    /// is reachable from `targets` through loaded documents.
    pub(super) fn resolve(&self, name: &str) -> Option<ResolvedRole> {
        let mut current = ResolvedRole::top_level(&self.root.signed)?;
        if name == role::TARGETS {
            return Some(current);
        }
        let rest = name.strip_prefix("targets/")?;
        let mut prefix = role::TARGETS.to_owned();
        for component in rest.split('/') {
            prefix.push('/');
            prefix.push_str(component);
            let parent_doc = self.targets.get(&current.name)?;
            current = current
                .children(&parent_doc.signed)
                .into_iter()
                .find(|c| c.name == prefix)?;
        }
        Some(current)
    }

    /// The keys that may sign `role` and how many must.
    fn requirement(&self, role_name: &str) -> Option<SigningRequirement> {
        if role::is_base_role(role_name) {
            return SigningRequirement::of_root_role(&self.root.signed, role_name);
        }
        let resolved = self.resolve(role_name)?;
        Some(SigningRequirement {
            keys: resolved.keys,
            threshold: resolved.threshold,
        })
    }

    /// Notary's `VerifyCanSign`: a private key for one of the role's keys is held.
    fn check_can_sign(&self, crypto: &CryptoService, role_name: &str) -> Result<()> {
        let requirement = self.requirement(role_name).ok_or_else(|| {
            Error::Publish(PublishError::ChangeRejected {
                gun: self.gun.clone(),
                action: String::new(),
                scope: role_name.to_owned(),
                change_type: String::new(),
                reason: format!("role {role_name} does not exist"),
            })
        })?;
        let mut canonical = Vec::new();
        for key in requirement.keys.values() {
            if let Ok(id) = key.canonical_key_id() {
                if holds_key(crypto, &id) {
                    return Ok(());
                }
                canonical.push(id.to_string());
            }
        }
        Err(Error::Publish(PublishError::NoSigningKeys {
            gun: self.gun.clone(),
            role: role_name.to_owned(),
            key_ids: canonical,
        }))
    }

    /// Applies one staged change.
    pub(super) fn apply(
        &mut self,
        change: &Change,
        crypto: &CryptoService,
        warnings: &mut Vec<RepoWarning>,
    ) -> Result<()> {
        let scope = change.scope.as_str();
        let targets_scope =
            scope == role::TARGETS || role::is_delegation(scope) || scope == SCOPE_ALL_DELEGATIONS;
        if scope == SCOPE_ROOT {
            return match (&change.change_type, &change.action) {
                (ChangeType::Role, Action::Create) => self.apply_root_role(change),
                (ChangeType::Role, _) => {
                    Err(self.rejected(change, "action not yet supported for root"))
                }
                _ => Err(self.rejected(change, "type of root change not yet supported")),
            };
        }
        if !targets_scope {
            return Err(self.rejected(change, format!("scope not supported: {scope}")));
        }
        match change.change_type {
            ChangeType::Target => match change.action {
                Action::Create => {
                    let meta = change.target_meta()?;
                    self.add_target(change, crypto, &meta)
                }
                Action::Delete => self.remove_target(change, crypto),
                _ => Err(self.rejected(change, "action not yet supported")),
            },
            ChangeType::Delegation => self.apply_delegation(change, crypto, warnings),
            ChangeType::Witness => {
                let doc = self.targets.get_mut(scope).ok_or_else(|| {
                    Error::Publish(PublishError::ChangeRejected {
                        gun: self.gun.clone(),
                        action: change.action.to_string(),
                        scope: scope.to_owned(),
                        change_type: change.change_type.to_string(),
                        reason: "role is not loaded and cannot be witnessed".to_owned(),
                    })
                })?;
                doc.dirty = true;
                Ok(())
            }
            _ => Err(self.rejected(change, "only target meta and delegations changes supported")),
        }
    }

    pub(super) fn ensure_doc(&mut self, role_name: &str) -> Result<()> {
        if !self.targets.contains_key(role_name) {
            let expires = authoring::default_expires(role_name, self.now)
                .map_err(|e| self.metadata_error(role_name, e))?;
            self.targets.insert(
                role_name.to_owned(),
                Doc {
                    signed: Targets::new(0, expires),
                    bytes: Vec::new(),
                    dirty: false,
                },
            );
            self.deleted.remove(role_name);
        }
        Ok(())
    }

    fn add_target(
        &mut self,
        change: &Change,
        crypto: &CryptoService,
        meta: &TargetMeta,
    ) -> Result<()> {
        let scope = change.scope.as_str();
        let resolved = self
            .resolve(scope)
            .ok_or_else(|| self.rejected(change, format!("role {scope} does not exist")))?;
        let can_sign = self.check_can_sign(crypto, scope);
        if !resolved.allows(&change.path) {
            return Err(self.rejected(change, "could not add all targets"));
        }
        let file_meta = to_file_meta(meta).map_err(|reason| self.rejected(change, reason))?;
        self.ensure_doc(scope)?;
        let Some(doc) = self.targets.get_mut(scope) else {
            return Err(self.rejected(change, "could not add all targets"));
        };
        if doc.signed.targets.get(&change.path) == Some(&file_meta) {
            return Ok(());
        }
        can_sign?;
        doc.signed.targets.insert(change.path.clone(), file_meta);
        doc.dirty = true;
        Ok(())
    }

    fn remove_target(&mut self, change: &Change, crypto: &CryptoService) -> Result<()> {
        let scope = change.scope.as_str();
        if self.resolve(scope).is_none() {
            return Err(self.rejected(change, format!("role {scope} does not exist")));
        }
        let present = self
            .targets
            .get(scope)
            .is_some_and(|d| d.signed.targets.contains_key(&change.path));
        if !present {
            return Ok(());
        }
        self.check_can_sign(crypto, scope)?;
        if let Some(doc) = self.targets.get_mut(scope) {
            doc.signed.targets.remove(&change.path);
            doc.dirty = true;
        }
        Ok(())
    }

    fn apply_delegation(
        &mut self,
        change: &Change,
        crypto: &CryptoService,
        warnings: &mut Vec<RepoWarning>,
    ) -> Result<()> {
        let scope = change.scope.as_str();
        if scope == SCOPE_ALL_DELEGATIONS {
            if change.action != Action::Update {
                return Err(self.rejected(change, "only wildcard roles can be used in a purge"));
            }
            let td = change.delegation_change()?;
            return self.purge_keys(crypto, &td.remove_keys, warnings);
        }
        if !role::is_delegation(scope) {
            return Err(self.rejected(change, "not a valid delegated role"));
        }
        let parent = role::parent(scope).unwrap_or(role::TARGETS).to_owned();
        match change.action {
            Action::Create => {
                let td = change.delegation_change()?;
                self.check_can_sign(crypto, &parent)?;
                self.ensure_doc(&parent)?;
                self.update_delegation(
                    change,
                    &parent,
                    &td.add_keys,
                    &[],
                    &[],
                    &[],
                    false,
                    td.threshold,
                    warnings,
                )?;
                if td.add_paths.is_empty() {
                    return Ok(());
                }
                self.update_delegation(
                    change,
                    &parent,
                    &[],
                    &[],
                    &td.add_paths,
                    &[],
                    false,
                    1,
                    warnings,
                )
            }
            Action::Update => {
                let td = change.delegation_change()?;
                let resolved = self
                    .resolve(scope)
                    .ok_or_else(|| self.rejected(change, "delegation does not exist"))?;
                let mut canonical_to_tuf = BTreeMap::new();
                for (id, key) in &resolved.keys {
                    if let Ok(canonical) = key.canonical_key_id() {
                        canonical_to_tuf.insert(canonical.to_string(), id.clone());
                    }
                }
                let remove: Vec<KeyId> = td
                    .remove_keys
                    .iter()
                    .filter_map(|c| canonical_to_tuf.get(c).cloned())
                    .collect();
                self.check_can_sign(crypto, &parent)?;
                self.update_delegation(
                    change,
                    &parent,
                    &td.add_keys,
                    &remove,
                    &[],
                    &[],
                    false,
                    td.threshold,
                    warnings,
                )?;
                self.update_delegation(
                    change,
                    &parent,
                    &[],
                    &[],
                    &td.add_paths,
                    &td.remove_paths,
                    td.clear_paths,
                    1,
                    warnings,
                )
            }
            Action::Delete => {
                self.check_can_sign(crypto, &parent)?;
                // The role and everything below it leave the repository and the snapshot.
                let below: Vec<String> = self
                    .targets
                    .keys()
                    .filter(|r| *r == scope || r.starts_with(&format!("{scope}/")))
                    .cloned()
                    .collect();
                for r in below {
                    self.targets.remove(&r);
                    self.deleted.insert(r);
                }
                self.deleted.insert(scope.to_owned());
                if let Some(doc) = self.targets.get_mut(&parent) {
                    let before = doc.signed.delegations.roles.len();
                    doc.signed.delegations.roles.retain(|r| r.name != scope);
                    if doc.signed.delegations.roles.len() != before {
                        remove_unused_keys(&mut doc.signed);
                        doc.dirty = true;
                    }
                }
                Ok(())
            }
            Action::Unknown(_) => {
                Err(self.rejected(change, "unsupported action against delegations"))
            }
        }
    }

    /// Notary's `delegationUpdateVisitor`, run on the parent's document.
    #[allow(clippy::too_many_arguments)]
    fn update_delegation(
        &mut self,
        change: &Change,
        parent: &str,
        add_keys: &[PublicKey],
        remove_keys: &[KeyId],
        add_paths: &[String],
        remove_paths: &[String],
        clear_paths: bool,
        threshold: u32,
        warnings: &mut Vec<RepoWarning>,
    ) -> Result<()> {
        let name = change.scope.as_str();
        let parent_role = self
            .resolve(parent)
            .ok_or_else(|| self.rejected(change, "no valid delegated role exists"))?;
        let allowed = add_paths
            .iter()
            .filter(|p| {
                parent_role
                    .paths
                    .iter()
                    .any(|pp| p.starts_with(pp.as_str()))
            })
            .count();
        if allowed != add_paths.len() {
            return Err(self.rejected(change, "invalid paths to add to role"));
        }
        let Some(doc) = self.targets.get(parent) else {
            return Err(self.rejected(change, "no valid delegated role exists"));
        };
        let mut role_entry = match doc.signed.delegation(name) {
            Some(existing) => {
                let mut r = existing.clone();
                r.paths.retain(|p| !remove_paths.contains(p));
                if clear_paths {
                    r.paths.clear();
                }
                for p in add_paths {
                    if !r.paths.contains(p) {
                        r.paths.push(p.clone());
                    }
                }
                r.keyids.retain(|id| !remove_keys.contains(id));
                r
            }
            None => {
                if threshold < 1 {
                    return Err(self.rejected(change, "threshold must be at least 1"));
                }
                DelegationRole::new(name, Vec::new(), i64::from(threshold), add_paths.to_vec())
            }
        };
        for key in add_keys {
            let id = key.key_id();
            if !role_entry.keyids.contains(&id) {
                role_entry.keyids.push(id);
            }
        }
        if (role_entry.keyids.len() as i64) < role_entry.threshold {
            warnings.push(RepoWarning::BelowThreshold {
                role: name.to_owned(),
                keys: role_entry.keyids.len(),
                threshold: role_entry.threshold,
            });
        }
        let Some(doc) = self.targets.get_mut(parent) else {
            return Err(self.rejected(change, "no valid delegated role exists"));
        };
        for key in add_keys {
            doc.signed
                .delegations
                .keys
                .insert(key.key_id(), key.clone());
        }
        match doc
            .signed
            .delegations
            .roles
            .iter_mut()
            .find(|r| r.name == name)
        {
            Some(existing) => *existing = role_entry,
            None => doc.signed.delegations.roles.push(role_entry),
        }
        remove_unused_keys(&mut doc.signed);
        doc.dirty = true;
        Ok(())
    }

    /// Notary's `PurgeDelegationKeys` over the whole tree.
    fn purge_keys(
        &mut self,
        crypto: &CryptoService,
        canonical_ids: &[String],
        warnings: &mut Vec<RepoWarning>,
    ) -> Result<()> {
        let roles: Vec<String> = self.targets.keys().cloned().collect();
        for role_name in roles {
            if self.resolve(&role_name).is_none() {
                continue;
            }
            let Some(doc) = self.targets.get(&role_name) else {
                continue;
            };
            let candidates: Vec<KeyId> = doc
                .signed
                .delegations
                .keys
                .iter()
                .filter(|(_, key)| {
                    key.canonical_key_id()
                        .is_ok_and(|c| canonical_ids.iter().any(|r| r == c.as_str()))
                })
                .map(|(id, _)| id.clone())
                .collect();
            if candidates.is_empty() {
                continue;
            }
            if self.check_can_sign(crypto, &role_name).is_err() {
                warnings.push(RepoWarning::PurgeSkipped { role: role_name });
                continue;
            }
            if let Some(doc) = self.targets.get_mut(&role_name) {
                for id in &candidates {
                    doc.signed.delegations.keys.remove(id);
                }
                for r in &mut doc.signed.delegations.roles {
                    r.keyids.retain(|id| !candidates.contains(id));
                    if (r.keyids.len() as i64) < r.threshold {
                        warnings.push(RepoWarning::BelowThreshold {
                            role: r.name.clone(),
                            keys: r.keyids.len(),
                            threshold: r.threshold,
                        });
                    }
                }
                doc.dirty = true;
            }
        }
        Ok(())
    }

    /// Notary's `ReplaceBaseKeys` from a `root`/`role` change.
    fn apply_root_role(&mut self, change: &Change) -> Result<()> {
        let data = change.root_role_change()?;
        let old: Vec<(KeyId, PublicKey)> = self
            .root
            .signed
            .roles
            .get(&data.role)
            .map(|r| {
                r.keyids
                    .iter()
                    .filter_map(|id| {
                        self.root
                            .signed
                            .keys
                            .get(id)
                            .map(|k| (id.clone(), k.clone()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let removed = authoring::replace_base_keys(&mut self.root.signed, &data.role, &data.keys)
            .map_err(|e| self.metadata_error(role::ROOT, e))?;
        for (id, key) in old {
            if removed.contains(&id) {
                self.retired_keys.push((data.role.clone(), key));
            }
        }
        self.root.dirty = true;
        if data.role == role::TARGETS
            && let Some(doc) = self.targets.get_mut(role::TARGETS)
        {
            doc.dirty = true;
        }
        Ok(())
    }

    /// Re-signs what changed and builds the upload (section 6.3 steps 3–5).
    pub(super) fn sign(&mut self, crypto: &CryptoService, initial: bool) -> Result<Signed> {
        self.sign_with_lifetimes(crypto, initial, &BTreeMap::new())
    }

    /// [`sign`](Self::sign), with the roles of `lifetimes` expiring at `now` plus their
    /// lifetime instead of `now` plus their default lifetime.
    pub(super) fn sign_with_lifetimes(
        &mut self,
        crypto: &CryptoService,
        initial: bool,
        lifetimes: &BTreeMap<String, TimeDelta>,
    ) -> Result<Signed> {
        let mut out = Signed::default();

        // Root: re-signed when changed or within six months of expiry.
        let resign_root =
            self.root.dirty || authoring::near_expiry(&self.root.signed.expires, self.now);
        if resign_root {
            bump(&mut self.root.signed, role::ROOT, self.now, lifetimes)
                .map_err(|e| self.metadata_error(role::ROOT, e))?;
            let requirements =
                authoring::root_signing_requirements(&self.loaded_root, &self.root.signed)
                    .map_err(|e| self.metadata_error(role::ROOT, e))?;
            let bytes = self.sign_root(crypto, &requirements)?;
            self.root.bytes = bytes.clone();
            out.files.push((role::ROOT.to_owned(), bytes));
        } else if initial {
            out.files
                .push((role::ROOT.to_owned(), self.root.bytes.clone()));
        }

        // Targets roles: every dirty one; top-level targets always on an initial publish.
        if initial && let Some(doc) = self.targets.get_mut(role::TARGETS) {
            doc.dirty = true;
        }
        let dirty: Vec<String> = self
            .targets
            .iter()
            .filter(|(_, d)| d.dirty)
            .map(|(r, _)| r.clone())
            .collect();
        for role_name in dirty {
            let requirement = self.requirement(&role_name).ok_or_else(|| {
                Error::Publish(PublishError::NoSigningKeys {
                    gun: self.gun.clone(),
                    role: role_name.clone(),
                    key_ids: Vec::new(),
                })
            })?;
            // The document is taken out of the map while it is signed (the envelope owns it)
            // and put back afterwards, so its targets are never copied.
            let Some(mut doc) = self.targets.remove(&role_name) else {
                continue;
            };
            if let Err(e) = bump(&mut doc.signed, &role_name, self.now, lifetimes) {
                self.targets.insert(role_name.clone(), doc);
                return Err(Error::Metadata {
                    gun: self.gun.clone(),
                    role: role_name,
                    source: Box::new(e),
                });
            }
            let Doc {
                signed,
                bytes: old_bytes,
                dirty,
            } = doc;
            // The previous file bytes are replaced below; free them before signing.
            drop(old_bytes);
            let (signed, bytes) =
                self.sign_document_owned(crypto, &role_name, signed, &[requirement])?;
            self.targets.insert(
                role_name.clone(),
                Doc {
                    signed,
                    bytes: bytes.clone(),
                    dirty,
                },
            );
            out.files.push((role_name, bytes));
        }

        // Snapshot: re-signed whenever a snapshot key is held; otherwise the server makes it.
        if let Some(requirement) =
            SigningRequirement::of_root_role(&self.root.signed, role::SNAPSHOT)
        {
            let signers =
                signers_for(crypto, &self.gun, role::SNAPSHOT, requirement.keys.values())?;
            if !signers.is_empty() {
                let mut builder = SnapshotBuilder::new(self.snapshot.as_ref());
                builder
                    .set_file(role::ROOT, &self.root.bytes)
                    .map_err(|e| self.metadata_error(role::SNAPSHOT, e))?;
                for (role_name, doc) in &self.targets {
                    if doc.bytes.is_empty() {
                        continue;
                    }
                    builder
                        .set_file(role_name, &doc.bytes)
                        .map_err(|e| self.metadata_error(role::SNAPSHOT, e))?;
                }
                for role_name in &self.deleted {
                    builder
                        .remove_role(role_name)
                        .map_err(|e| self.metadata_error(role::SNAPSHOT, e))?;
                }
                let mut envelope = builder
                    .build(self.now)
                    .map_err(|e| self.metadata_error(role::SNAPSHOT, e))?;
                if let Some(lifetime) = lifetimes.get(role::SNAPSHOT) {
                    let (mut snapshot, _) = envelope.into_parts();
                    snapshot.expires = lifetime_expiry(role::SNAPSHOT, self.now, *lifetime)
                        .map_err(|e| self.metadata_error(role::SNAPSHOT, e))?;
                    envelope = Envelope::from_signed(snapshot)
                        .map_err(|e| self.metadata_error(role::SNAPSHOT, e))?;
                }
                let bytes = self.sign_with(role::SNAPSHOT, envelope, &signers, &[requirement])?;
                out.files.push((role::SNAPSHOT.to_owned(), bytes));
            }
        }
        Ok(out)
    }

    /// Signs the root with every held key of `requirements` and of the legacy root keys.
    fn sign_root(
        &self,
        crypto: &CryptoService,
        requirements: &[SigningRequirement],
    ) -> Result<Vec<u8>> {
        let envelope = Envelope::from_signed(self.root.signed.clone())
            .map_err(|e| self.metadata_error(role::ROOT, e))?;
        let required: Vec<&PublicKey> = requirements.iter().flat_map(|r| r.keys.values()).collect();
        let mut signers = signers_for(crypto, &self.gun, role::ROOT, required.iter().copied())?;
        if signers.is_empty() {
            return Err(no_keys(&self.gun, role::ROOT, required.iter().copied()));
        }
        let legacy = signers_for(crypto, &self.gun, role::ROOT, self.legacy_root_keys.iter())?;
        for signer in legacy {
            let id = signer.public_key().key_id();
            if !signers.iter().any(|s| s.public_key().key_id() == id) {
                signers.push(signer);
            }
        }
        self.sign_with(role::ROOT, envelope, &signers, requirements)
    }

    pub(super) fn sign_document<T: Metadata>(
        &self,
        crypto: &CryptoService,
        role_name: &str,
        doc: T,
        requirements: &[SigningRequirement],
    ) -> Result<Vec<u8>> {
        let envelope = Envelope::from_signed(doc).map_err(|e| self.metadata_error(role_name, e))?;
        let keys: Vec<&PublicKey> = requirements.iter().flat_map(|r| r.keys.values()).collect();
        let signers = signers_for(crypto, &self.gun, role_name, keys.iter().copied())?;
        if signers.is_empty() {
            return Err(no_keys(&self.gun, role_name, keys.iter().copied()));
        }
        self.sign_with(role_name, envelope, &signers, requirements)
    }

    /// [`sign_document`](Self::sign_document), handing the document back with the file bytes.
    fn sign_document_owned<T: Metadata>(
        &self,
        crypto: &CryptoService,
        role_name: &str,
        doc: T,
        requirements: &[SigningRequirement],
    ) -> Result<(T, Vec<u8>)> {
        let envelope = Envelope::from_signed(doc).map_err(|e| self.metadata_error(role_name, e))?;
        let keys: Vec<&PublicKey> = requirements.iter().flat_map(|r| r.keys.values()).collect();
        let signers = signers_for(crypto, &self.gun, role_name, keys.iter().copied())?;
        if signers.is_empty() {
            return Err(no_keys(&self.gun, role_name, keys.iter().copied()));
        }
        let envelope = self.add_signatures(role_name, envelope, &signers, requirements)?;
        let bytes = envelope
            .to_file_bytes()
            .map_err(|e| self.metadata_error(role_name, e))?;
        Ok((envelope.into_parts().0, bytes))
    }

    fn sign_with<T: Metadata>(
        &self,
        role_name: &str,
        envelope: Envelope<T>,
        signers: &[Arc<dyn Signer>],
        requirements: &[SigningRequirement],
    ) -> Result<Vec<u8>> {
        self.add_signatures(role_name, envelope, signers, requirements)?
            .to_file_bytes()
            .map_err(|e| self.metadata_error(role_name, e))
    }

    /// Signs `envelope` with every signer and checks each requirement is met.
    fn add_signatures<T: Metadata>(
        &self,
        role_name: &str,
        mut envelope: Envelope<T>,
        signers: &[Arc<dyn Signer>],
        requirements: &[SigningRequirement],
    ) -> Result<Envelope<T>> {
        for signer in signers {
            let signature = signer
                .sign(envelope.signing_bytes())
                .map_err(|source| Error::Key {
                    gun: self.gun.clone(),
                    role: role_name.to_owned(),
                    source: Box::new(source),
                })?;
            envelope.add_signature(signature);
        }
        for requirement in requirements {
            authoring::check_requirement(role_name, &envelope, requirement)
                .map_err(|e| self.metadata_error(role_name, e))?;
        }
        Ok(envelope)
    }
}

/// [`authoring::bump`], with the expiry at `now` plus the lifetime `lifetimes` gives `role_name`
/// when it gives one.
fn bump<T: authoring::Resign>(
    doc: &mut T,
    role_name: &str,
    now: DateTime<Utc>,
    lifetimes: &BTreeMap<String, TimeDelta>,
) -> signet_tuf::Result<()> {
    authoring::bump(doc, role_name, now)?;
    if let Some(lifetime) = lifetimes.get(role_name) {
        doc.set_expires(lifetime_expiry(role_name, now, *lifetime)?);
    }
    Ok(())
}

/// `now` plus `lifetime`, the expiry of `role_name`.
fn lifetime_expiry(
    role_name: &str,
    now: DateTime<Utc>,
    lifetime: TimeDelta,
) -> signet_tuf::Result<Expires> {
    now.checked_add_signed(lifetime)
        .map(Expires::from_utc)
        .ok_or_else(|| signet_tuf::Error::InvalidExpiry {
            text: now.to_rfc3339(),
            reason: format!("{role_name} expiry out of range"),
        })
}

/// The signers held for `keys`, once per key.
pub(super) fn signers_for<'a>(
    crypto: &CryptoService,
    gun: &str,
    role_name: &str,
    keys: impl IntoIterator<Item = &'a PublicKey>,
) -> Result<Vec<Arc<dyn Signer>>> {
    crypto.signers_for(keys).map_err(|source| Error::Key {
        gun: gun.to_owned(),
        role: role_name.to_owned(),
        source: Box::new(source),
    })
}

pub(super) fn no_keys<'a>(
    gun: &str,
    role_name: &str,
    keys: impl IntoIterator<Item = &'a PublicKey>,
) -> Error {
    Error::Publish(PublishError::NoSigningKeys {
        gun: gun.to_owned(),
        role: role_name.to_owned(),
        key_ids: keys
            .into_iter()
            .filter_map(|k| k.canonical_key_id().ok())
            .map(|id| id.to_string())
            .collect(),
    })
}

/// Whether any store holds the private key with canonical ID `key_id` (without decrypting).
pub(super) fn holds_key(crypto: &CryptoService, key_id: &KeyId) -> bool {
    crypto.stores().iter().any(|s| s.key_info(key_id).is_ok())
}

/// Removes keys no role of the document's delegations uses (Notary's `RemoveUnusedKeys`).
pub(super) fn remove_unused_keys(doc: &mut Targets) {
    let used: BTreeSet<KeyId> = doc
        .delegations
        .roles
        .iter()
        .flat_map(|r| r.keyids.iter().cloned())
        .collect();
    doc.delegations.keys.retain(|id, _| used.contains(id));
}

fn to_file_meta(meta: &TargetMeta) -> std::result::Result<FileMeta, String> {
    let custom = meta
        .custom
        .as_ref()
        .map(|c| RawValue::from_string(c.as_str().to_owned()).map_err(|e| e.to_string()))
        .transpose()?;
    Ok(FileMeta {
        custom,
        hashes: meta
            .hashes
            .iter()
            .map(|(name, digest)| (name, digest.as_slice()))
            .collect(),
        length: meta.length,
        unknown: serde_json::Map::new(),
    })
}
