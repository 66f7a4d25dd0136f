//! Recovery from leaked keys (`signet key compromised`): one plan, one upload.
//!
//! [`Repository::plan_recovery`] works out from the verified trust data which roles trust each
//! leaked key and what must change ([`RecoveryPlan`]):
//!
//! * every base role with a leaked key gets a new key: root (the new root is signed by the old
//!   and the new root keys, so clients that trust only the old root follow), targets, snapshot
//!   (locally, or by the server when asked or when the server already holds it) and, when
//!   asked or when its key leaked, the server's timestamp key;
//! * the leaked keys leave every delegation that lists them, at any depth. A delegation left
//!   with keys is re-signed with one of them when it is held here (and its threshold lowered
//!   to the keys left); a delegation left with no key is removed, with everything below it;
//! * the targets only the removed delegations signed are *orphaned*: re-signed, if the user
//!   says so ([`RecoveryPlan::resign_orphans`]), in the role above the removed delegation
//!   (which this recovery signs anyway), or no longer trusted.
//!
//! [`Repository::recover_from_leak`] then carries the plan out through the publish of
//! [`publish.rs`](super::publish): new keys first, then one upload of root, the targets roles and
//! the snapshot, so clients never see half of it. A failure removes every key the attempt
//! created (unless the server took the upload) and changes nothing in the trust dir; only
//! after the upload was accepted are the leaked private keys moved out of the key stores into
//! `<trust dir>/quarantine/<UTC time>/`, with a `manifest.json` saying what was moved and why.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::Utc;
use signet_signer::{CryptoService, private_fs, rotation};
use signet_tuf::key::{KeyId, PublicKey};
use signet_tuf::metadata::FileMeta;
use signet_tuf::role;

use super::working::{Working, holds_key, remove_unused_keys};
use super::{PublishReport, RepoWarning, Repository};
use crate::changelist::Change;
use crate::error::{Error, PublishError, RecoveryError, Result};

/// Name of the folder of the trust dir that receives leaked private keys.
pub const QUARANTINE_DIR: &str = "quarantine";
/// The file of a quarantine folder that lists what was moved there and why.
pub const MANIFEST: &str = "manifest.json";

/// What a recovery does besides replacing the leaked keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryOptions {
    /// A rotated snapshot key goes to the server (`-r`); a snapshot key the server already
    /// holds stays with it in any case.
    pub server_managed_snapshot: bool,
    /// Also ask the server for a new timestamp key (done anyway when it leaked).
    pub rotate_timestamp: bool,
}

/// A leaked key and the roles that trust it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakedKey {
    /// Canonical key ID.
    pub key_id: KeyId,
    /// The roles that list it (base roles and delegations), sorted.
    pub roles: Vec<String>,
}

/// A base role that gets a new key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRotation {
    /// `root`, `targets`, `snapshot` or `timestamp`.
    pub role: String,
    /// Canonical IDs of the keys it has now (all replaced).
    pub old_keys: Vec<KeyId>,
    /// Whether the server makes and holds the new key.
    pub server_managed: bool,
}

/// What happens to a delegation that lists a leaked key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegationRepair {
    /// The delegation.
    pub role: String,
    /// The role whose document lists it (re-signed).
    pub parent: String,
    /// Canonical IDs of the leaked keys it loses.
    pub removed_keys: Vec<KeyId>,
    /// Canonical IDs of the keys it keeps.
    pub remaining_keys: Vec<KeyId>,
    /// Its threshold now.
    pub threshold: i64,
    /// Its threshold after the recovery (lowered to the number of keys left when needed).
    pub new_threshold: i64,
    /// Whether the whole delegation (and everything below it) is removed: no key is left.
    pub removed: bool,
    /// Whether its document is re-signed here with a key it keeps. `false` for a delegation
    /// kept whose remaining keys are not held here: a holder must re-sign it.
    pub resigned: bool,
}

/// A target that only removed delegations signed.
#[derive(Debug, Clone, PartialEq)]
pub struct OrphanedTarget {
    /// The target name.
    pub name: String,
    /// The removed delegation that lists it.
    pub role: String,
    /// The role that re-signs it when asked: the role above the removed delegations.
    pub into: String,
    /// Its length, hashes and custom data.
    pub meta: FileMeta,
}

/// What a recovery will do, worked out from the verified trust data. See the
/// [module documentation](self).
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryPlan {
    /// The collection.
    pub gun: String,
    /// The current versions of root, targets and snapshot.
    pub versions: RoleVersions,
    /// The leaked keys the repository trusts.
    pub leaked: Vec<LeakedKey>,
    /// The base roles that get new keys.
    pub rotations: Vec<PlannedRotation>,
    /// The delegations that list a leaked key, parents first.
    pub delegations: Vec<DelegationRepair>,
    /// Targets only removed delegations signed.
    pub orphaned: Vec<OrphanedTarget>,
    /// Whether the orphaned targets are re-signed (stay trusted); decided by the caller.
    pub resign_orphans: bool,
    /// The options the plan was made with.
    pub options: RecoveryOptions,
}

/// Versions of root, targets and snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoleVersions {
    /// `root.json`.
    pub root: i64,
    /// `targets.json`.
    pub targets: i64,
    /// `snapshot.json` (0 when unknown).
    pub snapshot: i64,
}

/// A base role after the recovery.
#[derive(Debug, Clone)]
pub struct RotatedRole {
    /// The role.
    pub role: String,
    /// Canonical IDs of its keys before.
    pub old_keys: Vec<KeyId>,
    /// Its keys now, as listed in root.
    pub new_keys: Vec<PublicKey>,
    /// Whether the server holds the new key.
    pub server_managed: bool,
}

/// Where a leaked private key went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyDisposal {
    /// Moved into the quarantine folder, to this file.
    Quarantined(PathBuf),
    /// Held by a store that cannot move keys out (a YubiHSM 2): still there, to be deleted.
    StillInStore {
        /// The store (as `key list` names it).
        store: String,
    },
    /// No key store here holds it.
    NotHeld,
    /// Moving it failed (the recovery itself was published).
    Failed {
        /// Why.
        reason: String,
    },
}

/// What [`Repository::recover_from_leak`] did.
#[derive(Debug, Clone)]
pub struct RecoveryReport {
    /// The upload.
    pub publish: PublishReport,
    /// The base roles with new keys.
    pub rotated: Vec<RotatedRole>,
    /// Versions of root, targets and snapshot on the server after the recovery, when they could
    /// be read back.
    pub versions: Option<RoleVersions>,
    /// The quarantine folder, when a key was moved there.
    pub quarantine: Option<PathBuf>,
    /// Each leaked key and where its private key went.
    pub disposals: Vec<(KeyId, KeyDisposal)>,
    /// Why the quarantine folder's `manifest.json` could not be written, if it could not.
    pub manifest_error: Option<String>,
}

/// The quarantine folder, where each leaked key went, and a manifest failure.
type Quarantine = (Option<PathBuf>, Vec<(KeyId, KeyDisposal)>, Option<String>);

/// Every key the repository trusts: canonical ID → roles, and any ID (TUF or canonical) →
/// canonical ID.
#[derive(Debug, Default)]
struct TrustedKeys {
    roles: BTreeMap<KeyId, BTreeSet<String>>,
    canonical: BTreeMap<KeyId, KeyId>,
}

impl TrustedKeys {
    fn add(&mut self, role_name: &str, tuf_id: &KeyId, key: &PublicKey) {
        let canonical = key.canonical_key_id().unwrap_or_else(|_| tuf_id.clone());
        self.canonical.insert(tuf_id.clone(), canonical.clone());
        self.canonical.insert(canonical.clone(), canonical.clone());
        self.roles
            .entry(canonical)
            .or_default()
            .insert(role_name.to_owned());
    }

    /// `<canonical ID> (<roles>)` for each key.
    fn describe(&self) -> Vec<String> {
        self.roles
            .iter()
            .map(|(id, roles)| {
                format!(
                    "{id} ({})",
                    roles.iter().cloned().collect::<Vec<_>>().join(", ")
                )
            })
            .collect()
    }
}

/// Canonical IDs of `keys`.
fn canonical_ids<'a>(keys: impl IntoIterator<Item = (&'a KeyId, &'a PublicKey)>) -> Vec<KeyId> {
    keys.into_iter()
        .map(|(id, key)| key.canonical_key_id().unwrap_or_else(|_| id.clone()))
        .collect()
}

impl Working {
    fn trusted_keys(&self) -> TrustedKeys {
        let mut trusted = TrustedKeys::default();
        for base in role::BASE_ROLES {
            if let Some((keys, _)) = self.root.signed.role_keys(base) {
                for (id, key) in &keys {
                    trusted.add(base, id, key);
                }
            }
        }
        for doc in self.targets.values() {
            for delegation in &doc.signed.delegations.roles {
                for id in &delegation.keyids {
                    if let Some(key) = doc.signed.delegations.keys.get(id) {
                        trusted.add(&delegation.name, id, key);
                    }
                }
            }
        }
        trusted
    }

    fn version_of(&self, role_name: &str) -> i64 {
        self.targets.get(role_name).map_or(0, |d| d.signed.version)
    }
}

impl RecoveryPlan {
    /// The plan for `leaked` (canonical or TUF key IDs) against `working`, the verified
    /// repository; `holds` says whether a private key is held here.
    ///
    /// # Errors
    ///
    /// [`RecoveryError::UntrustedKey`] for a key the repository does not trust,
    /// [`RecoveryError::NothingLeaked`] when `leaked` is empty, and
    /// [`PublishError::NoSigningKeys`] when a delegation that lists a leaked key sits in a
    /// role whose remaining keys are not held here (its document cannot be re-signed).
    pub(super) fn build(
        working: &Working,
        leaked: &[KeyId],
        holds: &dyn Fn(&KeyId) -> bool,
        options: &RecoveryOptions,
    ) -> Result<Self> {
        let gun = working.gun.clone();
        let trusted = working.trusted_keys();
        let mut leaked_set: BTreeSet<KeyId> = BTreeSet::new();
        for id in leaked {
            let canonical = trusted.canonical.get(id).ok_or_else(|| {
                Error::Recovery(RecoveryError::UntrustedKey {
                    gun: gun.clone(),
                    key_id: id.to_string(),
                    trusted: trusted.describe(),
                })
            })?;
            leaked_set.insert(canonical.clone());
        }
        if leaked_set.is_empty() {
            return Err(Error::Recovery(RecoveryError::NothingLeaked {
                gun,
                held_here: false,
                trusted: trusted.describe(),
            }));
        }
        let leaked_keys = leaked_set
            .iter()
            .map(|id| LeakedKey {
                key_id: id.clone(),
                roles: trusted
                    .roles
                    .get(id)
                    .map(|r| r.iter().cloned().collect())
                    .unwrap_or_default(),
            })
            .collect();

        // Base roles.
        let root = &working.root.signed;
        let mut rotations = Vec::new();
        for base in role::BASE_ROLES {
            let old_keys = root
                .role_keys(base)
                .map(|(keys, _)| canonical_ids(&keys))
                .unwrap_or_default();
            let leaked_here = old_keys.iter().any(|id| leaked_set.contains(id));
            let wanted = leaked_here || (base == role::TIMESTAMP && options.rotate_timestamp);
            if !wanted {
                continue;
            }
            let server_managed = match base {
                role::TIMESTAMP => true,
                role::SNAPSHOT => options.server_managed_snapshot || !old_keys.iter().any(holds),
                _ => false,
            };
            rotations.push(PlannedRotation {
                role: base.to_owned(),
                old_keys,
                server_managed,
            });
        }
        let targets_rotated = rotations.iter().any(|r| r.role == role::TARGETS);

        // Delegations, parents before children (a parent's name sorts first).
        let mut delegations: Vec<DelegationRepair> = Vec::new();
        let below_removed = |name: &str, repairs: &[DelegationRepair]| {
            repairs
                .iter()
                .any(|r| r.removed && name.starts_with(&format!("{}/", r.role)))
        };
        for (parent, doc) in &working.targets {
            if below_removed(parent, &delegations)
                || delegations.iter().any(|r| r.removed && &r.role == parent)
            {
                continue;
            }
            for delegation in &doc.signed.delegations.roles {
                let keys = canonical_ids(
                    delegation
                        .keyids
                        .iter()
                        .filter_map(|id| doc.signed.delegations.keys.get_key_value(id)),
                );
                let (removed_keys, remaining_keys): (Vec<KeyId>, Vec<KeyId>) =
                    keys.into_iter().partition(|id| leaked_set.contains(id));
                if removed_keys.is_empty() {
                    continue;
                }
                // The parent's document changes: one of its keys that stays must be held.
                let parent_signable = if parent == role::TARGETS {
                    targets_rotated
                        || root.role_keys(role::TARGETS).is_some_and(|(keys, _)| {
                            canonical_ids(&keys)
                                .iter()
                                .any(|id| !leaked_set.contains(id) && holds(id))
                        })
                } else {
                    Self::keys_of(working, parent)
                        .iter()
                        .any(|id| !leaked_set.contains(id) && holds(id))
                };
                if !parent_signable {
                    return Err(Error::Publish(PublishError::NoSigningKeys {
                        gun,
                        role: parent.clone(),
                        key_ids: Self::keys_of(working, parent)
                            .iter()
                            .filter(|id| !leaked_set.contains(id))
                            .map(ToString::to_string)
                            .collect(),
                    }));
                }
                let removed = remaining_keys.is_empty();
                let count = i64::try_from(remaining_keys.len()).unwrap_or(i64::MAX);
                delegations.push(DelegationRepair {
                    role: delegation.name.clone(),
                    parent: parent.clone(),
                    threshold: delegation.threshold,
                    new_threshold: if removed {
                        0
                    } else {
                        delegation.threshold.min(count).max(1)
                    },
                    resigned: !removed
                        && working.targets.contains_key(&delegation.name)
                        && remaining_keys.iter().any(holds),
                    removed_keys,
                    remaining_keys,
                    removed,
                });
            }
        }
        // A repair inside a removed subtree goes with it.
        let snapshot_of = delegations.clone();
        delegations.retain(|r| !below_removed(&r.role, &snapshot_of));

        let orphaned = Self::orphans(working, &delegations);
        Ok(Self {
            versions: RoleVersions {
                root: root.version,
                targets: working.version_of(role::TARGETS),
                snapshot: working.snapshot.as_ref().map_or(0, |s| s.version),
            },
            gun,
            leaked: leaked_keys,
            rotations,
            delegations,
            orphaned,
            resign_orphans: false,
            options: options.clone(),
        })
    }

    /// Canonical IDs of the keys of delegation `name` as its parent lists them.
    fn keys_of(working: &Working, name: &str) -> Vec<KeyId> {
        let parent = role::parent(name).unwrap_or(role::TARGETS);
        let Some(doc) = working.targets.get(parent) else {
            return Vec::new();
        };
        let Some(delegation) = doc.signed.delegation(name) else {
            return Vec::new();
        };
        canonical_ids(
            delegation
                .keyids
                .iter()
                .filter_map(|id| doc.signed.delegations.keys.get_key_value(id)),
        )
    }

    /// The targets of the removed subtrees that no surviving role lists with the same meta and
    /// that the role above the removed delegation may sign.
    fn orphans(working: &Working, repairs: &[DelegationRepair]) -> Vec<OrphanedTarget> {
        let removed: Vec<&DelegationRepair> = repairs.iter().filter(|r| r.removed).collect();
        let gone = |name: &str| {
            removed
                .iter()
                .any(|r| name == r.role || name.starts_with(&format!("{}/", r.role)))
        };
        let mut out: Vec<OrphanedTarget> = Vec::new();
        for repair in &removed {
            let into = working.resolve(&repair.parent);
            for (name, doc) in &working.targets {
                if name != &repair.role && !name.starts_with(&format!("{}/", repair.role)) {
                    continue;
                }
                for (target, meta) in &doc.signed.targets {
                    let kept = working.targets.iter().any(|(other, d)| {
                        !gone(other) && d.signed.targets.get(target) == Some(meta)
                    });
                    let allowed = into.as_ref().is_some_and(|r| r.allows(target));
                    if kept || !allowed || out.iter().any(|o| &o.name == target) {
                        continue;
                    }
                    out.push(OrphanedTarget {
                        name: target.clone(),
                        role: name.clone(),
                        into: repair.parent.clone(),
                        meta: meta.clone(),
                    });
                }
            }
        }
        out
    }

    /// Whether anything is left untrusted: orphaned targets that are not re-signed.
    pub fn untrusted_targets(&self) -> &[OrphanedTarget] {
        if self.resign_orphans {
            &[]
        } else {
            &self.orphaned
        }
    }

    /// Applies the plan to `working`: `new_keys` (role → keys) replace the rotated roles'
    /// keys, then the delegations are repaired and the orphaned targets re-signed if asked.
    pub(super) fn apply(
        &self,
        working: &mut Working,
        crypto: &CryptoService,
        new_keys: &[(String, Vec<PublicKey>)],
        warnings: &mut Vec<RepoWarning>,
    ) -> Result<()> {
        for (role_name, keys) in new_keys {
            working.apply(
                &Change::replace_root_role_keys(role_name.clone(), keys.clone()),
                crypto,
                warnings,
            )?;
        }
        let leaked: BTreeSet<&KeyId> = self.leaked.iter().map(|k| &k.key_id).collect();
        for repair in &self.delegations {
            if repair.removed {
                working.apply(
                    &Change::remove_delegation(repair.role.clone()),
                    crypto,
                    warnings,
                )?;
                continue;
            }
            if let Some(doc) = working.targets.get_mut(&repair.parent) {
                let leaked_ids: Vec<KeyId> = doc
                    .signed
                    .delegations
                    .keys
                    .iter()
                    .filter(|(id, key)| {
                        leaked.contains(&key.canonical_key_id().unwrap_or_else(|_| (*id).clone()))
                    })
                    .map(|(id, _)| id.clone())
                    .collect();
                for entry in &mut doc.signed.delegations.roles {
                    if entry.name == repair.role {
                        entry.keyids.retain(|id| !leaked_ids.contains(id));
                        entry.threshold = repair.new_threshold;
                    }
                }
                remove_unused_keys(&mut doc.signed);
                doc.dirty = true;
            }
            if repair.resigned
                && let Some(doc) = working.targets.get_mut(&repair.role)
            {
                doc.dirty = true;
            }
        }
        if self.resign_orphans {
            for orphan in &self.orphaned {
                working.ensure_doc(&orphan.into)?;
                if let Some(doc) = working.targets.get_mut(&orphan.into) {
                    doc.signed
                        .targets
                        .insert(orphan.name.clone(), orphan.meta.clone());
                    doc.dirty = true;
                }
            }
        }
        Ok(())
    }

    /// Whether `other` plans the same changes (ignoring the re-signing decision).
    fn same_changes(&self, other: &Self) -> bool {
        self.versions == other.versions
            && self.leaked == other.leaked
            && self.rotations == other.rotations
            && self.delegations == other.delegations
            && self.orphaned == other.orphaned
    }
}

impl Repository {
    /// Plans the recovery from the leak of `leaked` (canonical or TUF key IDs) after an update
    /// from the server (see the [module documentation](self)). Nothing is changed.
    ///
    /// # Errors
    ///
    /// The errors of [`update`](Self::update), and those of planning:
    /// [`RecoveryError::UntrustedKey`], [`RecoveryError::NothingLeaked`],
    /// [`PublishError::NoSigningKeys`].
    pub async fn plan_recovery(
        &mut self,
        leaked: &[KeyId],
        options: &RecoveryOptions,
    ) -> Result<(RecoveryPlan, Vec<RepoWarning>)> {
        let warnings = self.update().await?;
        let working = self.working_from_verified()?;
        self.crypto.reload();
        let crypto = &self.crypto;
        let plan = RecoveryPlan::build(&working, leaked, &|id| holds_key(crypto, id), options)?;
        Ok((plan, warnings))
    }

    /// Which of `candidates` (canonical IDs of keys held here) the verified repository trusts,
    /// from the last update: the keys of `--all-local`.
    ///
    /// # Errors
    ///
    /// [`Error::NotInitialized`] before an update; [`RecoveryError::NothingLeaked`] when none
    /// is trusted.
    pub fn trusted_among(&self, candidates: &[KeyId]) -> Result<Vec<KeyId>> {
        let working = self.working_from_verified()?;
        let trusted = working.trusted_keys();
        let found: Vec<KeyId> = candidates
            .iter()
            .filter(|id| trusted.canonical.contains_key(id))
            .cloned()
            .collect();
        if found.is_empty() {
            return Err(Error::Recovery(RecoveryError::NothingLeaked {
                gun: self.gun.to_string(),
                held_here: true,
                trusted: trusted.describe(),
            }));
        }
        Ok(found)
    }

    /// Carries out `plan` (from [`plan_recovery`](Self::plan_recovery)) in one upload, then
    /// moves the leaked private keys into the quarantine folder.
    ///
    /// # Errors
    ///
    /// [`RecoveryError::Changed`] when the repository is no longer what the plan was made
    /// from, key and publish errors. On every error, the keys this attempt created are removed
    /// again (unless the server took the upload), and no key is moved.
    pub async fn recover_from_leak(&mut self, plan: &RecoveryPlan) -> Result<RecoveryReport> {
        let gun = self.gun.to_string();
        self.crypto.reload();
        let mut created: Vec<(String, Vec<KeyId>)> = Vec::new();
        let mut new_keys: Vec<(String, Vec<PublicKey>)> = Vec::new();
        for planned in &plan.rotations {
            let key = if planned.server_managed {
                self.remote.rotate_key(&self.gun, &planned.role).await
            } else {
                rotation::rotate(
                    &self.crypto,
                    &gun,
                    &planned.role,
                    rotation::NewKey::default(),
                )
                .map(|rotated| {
                    created.push((planned.role.clone(), rotated.created.into_iter().collect()));
                    rotated.public_key
                })
                .map_err(|source| Error::Key {
                    gun: gun.clone(),
                    role: planned.role.clone(),
                    source: Box::new(source),
                })
            };
            match key {
                Ok(key) => new_keys.push((planned.role.clone(), vec![key])),
                Err(e) => {
                    for (_, ids) in &created {
                        rotation::discard(&self.crypto, ids);
                    }
                    return Err(e);
                }
            }
        }
        let leaked: Vec<KeyId> = plan.leaked.iter().map(|k| k.key_id.clone()).collect();
        let published = self
            .publish_edited(&[], 0, |working, crypto, warnings| {
                let mut current = RecoveryPlan::build(
                    working,
                    &leaked,
                    &|id| holds_key(crypto, id),
                    &plan.options,
                )?;
                current.resign_orphans = plan.resign_orphans;
                if !current.same_changes(plan) {
                    return Err(Error::Recovery(RecoveryError::Changed {
                        gun: working.gun.clone(),
                        planned_root: plan.versions.root,
                        current_root: current.versions.root,
                    }));
                }
                plan.apply(working, crypto, &new_keys, warnings)
            })
            .await;
        let (publish, retired) = match published {
            Ok(done) => done,
            Err(e) => {
                for (role_name, ids) in &created {
                    self.discard_unpublished(role_name, ids, &e).await;
                }
                return Err(e);
            }
        };
        // Replaced keys that did not leak go as a rotation retires them; leaked ones are kept
        // in quarantine below.
        let retired_ids: Vec<(String, KeyId)> = retired
            .iter()
            .filter_map(|(r, key)| key.canonical_key_id().ok().map(|id| (r.clone(), id)))
            .filter(|(_, id)| !leaked.contains(id))
            .collect();
        for (role_name, id) in &retired_ids {
            for store in self.crypto.stores() {
                // Best effort, as after a rotation: the recovery is published already.
                let _ =
                    rotation::retire_old_keys(store.as_ref(), role_name, std::slice::from_ref(id));
            }
        }
        let (quarantine, disposals, manifest_error) = self.quarantine(plan);
        let versions = match self.update().await {
            Ok(_) => self.verified().ok().map(|v| RoleVersions {
                root: v.root().signed().version,
                targets: v.targets().map_or(0, |t| t.signed().version),
                snapshot: v.snapshot().signed().version,
            }),
            Err(_) => None,
        };
        let rotated = plan
            .rotations
            .iter()
            .zip(new_keys)
            .map(|(planned, (_, keys))| RotatedRole {
                role: planned.role.clone(),
                old_keys: planned.old_keys.clone(),
                new_keys: keys,
                server_managed: planned.server_managed,
            })
            .collect();
        Ok(RecoveryReport {
            publish,
            rotated,
            versions,
            quarantine,
            disposals,
            manifest_error,
        })
    }

    /// Moves the leaked private keys of `plan` out of the key stores into a new folder
    /// `<trust dir>/quarantine/<UTC time>/` with a `manifest.json`; keys a store cannot move
    /// out are reported.
    fn quarantine(&self, plan: &RecoveryPlan) -> Quarantine {
        let now = Utc::now();
        let base = self.trust_dir.path().join(QUARANTINE_DIR);
        let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
        let mut dir = base.join(&stamp);
        let mut n = 1u32;
        while dir.exists() {
            n = n.saturating_add(1);
            dir = base.join(format!("{stamp}-{n}"));
        }
        let mut disposals = Vec::new();
        for leaked in &plan.leaked {
            let holders: Vec<_> = self
                .crypto
                .stores()
                .iter()
                .filter(|s| s.key_info(&leaked.key_id).is_ok())
                .collect();
            if holders.is_empty() {
                disposals.push((leaked.key_id.clone(), KeyDisposal::NotHeld));
            }
            for store in holders {
                let disposal = match store.quarantine_key(&leaked.key_id, &dir) {
                    Ok(Some(path)) => KeyDisposal::Quarantined(path),
                    Ok(None) => KeyDisposal::StillInStore {
                        store: store.name().to_owned(),
                    },
                    Err(e) => KeyDisposal::Failed {
                        reason: e.to_string(),
                    },
                };
                disposals.push((leaked.key_id.clone(), disposal));
            }
        }
        if !disposals
            .iter()
            .any(|(_, d)| matches!(d, KeyDisposal::Quarantined(_)))
        {
            return (None, disposals, None);
        }
        let manifest = serde_json::json!({
            "gun": plan.gun,
            "moved_at": now.to_rfc3339(),
            "reason": "these private keys leaked; signet key compromised replaced them in the \
                       repository and moved them here. They are no longer trusted by the \
                       repository and must not be used again.",
            "keys": disposals
                .iter()
                .filter_map(|(id, d)| match d {
                    KeyDisposal::Quarantined(path) => Some(serde_json::json!({
                        "key_id": id.as_str(),
                        "file": path.file_name().map(|f| f.to_string_lossy().into_owned()),
                        "roles": plan
                            .leaked
                            .iter()
                            .find(|k| &k.key_id == id)
                            .map(|k| k.roles.clone())
                            .unwrap_or_default(),
                    })),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        });
        let written = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                private_fs::write_private_file(&dir.join(MANIFEST), &bytes)
                    .map_err(|e| e.to_string())
            });
        (Some(dir), disposals, written.err())
    }
}

#[cfg(test)]
mod tests {
    use signet_signer::KeyAlgorithm;
    use signet_tuf::metadata::{Envelope, Root};

    use super::super::tests::{Fixture, add_delegation, apply, fixture, meta};
    use super::*;
    use crate::changelist::{Action, DelegationChange};

    fn holds(f: &Fixture) -> impl Fn(&KeyId) -> bool + '_ {
        |id| holds_key(&f.crypto, id)
    }

    fn plan(f: &Fixture, leaked: &[KeyId]) -> Result<RecoveryPlan> {
        RecoveryPlan::build(&f.working, leaked, &holds(f), &RecoveryOptions::default())
    }

    fn canonical(key: &PublicKey) -> KeyId {
        key.canonical_key_id().unwrap()
    }

    fn base_key(f: &Fixture, role_name: &str) -> PublicKey {
        let (keys, _) = f.working.root.signed.role_keys(role_name).unwrap();
        keys.into_values().next().unwrap()
    }

    /// A fixture with `targets/apps` (one key, `apps/x`) and below it `targets/apps/web`
    /// (another key, `apps/web/index`); returns their keys.
    fn with_delegations() -> (Fixture, PublicKey, PublicKey) {
        let mut f = fixture(true);
        let apps = add_delegation(&mut f, "targets/apps", &["apps/"]);
        apply(
            &mut f,
            &Change::add_target("targets/apps", "apps/x", &meta(1)),
        )
        .unwrap();
        let web = add_delegation(&mut f, "targets/apps/web", &["apps/web/"]);
        apply(
            &mut f,
            &Change::add_target("targets/apps/web", "apps/web/index", &meta(2)),
        )
        .unwrap();
        (f, apps, web)
    }

    #[test]
    fn a_leaked_targets_key_rotates_targets_only() {
        let f = fixture(true);
        let targets = base_key(&f, "targets");
        let plan = plan(&f, &[targets.key_id()]).unwrap();
        assert_eq!(plan.leaked.len(), 1);
        assert_eq!(plan.leaked[0].key_id, canonical(&targets));
        assert_eq!(plan.leaked[0].roles, vec!["targets".to_owned()]);
        assert_eq!(
            plan.rotations,
            vec![PlannedRotation {
                role: "targets".to_owned(),
                old_keys: vec![canonical(&targets)],
                server_managed: false,
            }]
        );
        assert!(plan.delegations.is_empty());
        assert!(plan.orphaned.is_empty());
    }

    #[test]
    fn a_leaked_root_key_is_found_by_its_certificate_or_canonical_id() {
        let f = fixture(true);
        let root = base_key(&f, "root");
        for id in [root.key_id(), canonical(&root)] {
            let plan = plan(&f, &[id]).unwrap();
            assert_eq!(plan.leaked[0].key_id, canonical(&root));
            let roles: Vec<&str> = plan.rotations.iter().map(|r| r.role.as_str()).collect();
            assert_eq!(roles, ["root"]);
        }
    }

    #[test]
    fn snapshot_and_timestamp_go_to_the_server_when_asked_or_already_there() {
        let f = fixture(true);
        let snapshot = base_key(&f, "snapshot");
        let options = RecoveryOptions {
            server_managed_snapshot: true,
            rotate_timestamp: true,
        };
        let plan =
            RecoveryPlan::build(&f.working, &[snapshot.key_id()], &holds(&f), &options).unwrap();
        let rotations: Vec<(&str, bool)> = plan
            .rotations
            .iter()
            .map(|r| (r.role.as_str(), r.server_managed))
            .collect();
        assert_eq!(rotations, [("snapshot", true), ("timestamp", true)]);
        // A snapshot key not held here is the server's: it stays with the server.
        let plan = RecoveryPlan::build(
            &f.working,
            &[snapshot.key_id()],
            &|_| false,
            &RecoveryOptions::default(),
        );
        // (Nothing else to sign, so the plan itself is fine.)
        let plan = plan.unwrap();
        assert_eq!(plan.rotations[0].role, "snapshot");
        assert!(plan.rotations[0].server_managed);
    }

    #[test]
    fn a_delegation_whose_every_key_leaked_is_removed_and_its_targets_orphaned() {
        let (mut f, apps, _) = with_delegations();
        let plan = plan(&f, &[apps.key_id()]).unwrap();
        assert!(plan.rotations.is_empty());
        assert_eq!(plan.delegations.len(), 1, "the child goes with its parent");
        let repair = &plan.delegations[0];
        assert_eq!(repair.role, "targets/apps");
        assert_eq!(repair.parent, "targets");
        assert!(repair.removed);
        assert_eq!(repair.removed_keys, vec![canonical(&apps)]);
        let orphaned: Vec<(&str, &str, &str)> = plan
            .orphaned
            .iter()
            .map(|o| (o.name.as_str(), o.role.as_str(), o.into.as_str()))
            .collect();
        assert_eq!(
            orphaned,
            [
                ("apps/x", "targets/apps", "targets"),
                ("apps/web/index", "targets/apps/web", "targets"),
            ]
        );
        assert_eq!(plan.untrusted_targets().len(), 2);

        // Re-signed: the targets role lists them, the delegations are gone.
        let mut resigned = plan.clone();
        resigned.resign_orphans = true;
        assert!(resigned.untrusted_targets().is_empty());
        let mut warnings = Vec::new();
        resigned
            .apply(&mut f.working, &f.crypto, &[], &mut warnings)
            .unwrap();
        let targets = &f.working.targets["targets"];
        assert!(targets.dirty);
        assert!(targets.signed.targets.contains_key("apps/x"));
        assert!(targets.signed.targets.contains_key("apps/web/index"));
        assert!(targets.signed.delegations.roles.is_empty());
        assert!(targets.signed.delegations.keys.is_empty());
        assert!(!f.working.targets.contains_key("targets/apps"));
        assert!(f.working.deleted.contains("targets/apps/web"));
        f.working.sign(&f.crypto, false).unwrap();
    }

    #[test]
    fn not_resigned_orphans_are_left_out() {
        let (mut f, apps, _) = with_delegations();
        let plan = plan(&f, &[apps.key_id()]).unwrap();
        plan.apply(&mut f.working, &f.crypto, &[], &mut Vec::new())
            .unwrap();
        let targets = &f.working.targets["targets"];
        assert!(targets.signed.targets.is_empty());
        assert!(targets.signed.delegations.roles.is_empty());
    }

    #[test]
    fn a_target_another_role_still_signs_is_not_orphaned() {
        let (mut f, apps, _) = with_delegations();
        apply(&mut f, &Change::add_target("targets", "apps/x", &meta(1))).unwrap();
        let plan = plan(&f, &[apps.key_id()]).unwrap();
        let names: Vec<&str> = plan.orphaned.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["apps/web/index"]);
    }

    #[test]
    fn a_delegation_keeping_keys_loses_the_leaked_one_and_is_resigned() {
        let (mut f, _, web) = with_delegations();
        // A second key for targets/apps/web, threshold 2.
        let second = f
            .crypto
            .create(KeyAlgorithm::Ecdsa, "targets/apps/web", None)
            .unwrap()
            .public_key()
            .clone();
        apply(
            &mut f,
            &Change::delegation(
                Action::Update,
                "targets/apps/web",
                &DelegationChange {
                    add_keys: vec![second.clone()],
                    ..DelegationChange::default()
                },
            ),
        )
        .unwrap();
        if let Some(doc) = f.working.targets.get_mut("targets/apps") {
            for r in &mut doc.signed.delegations.roles {
                r.threshold = 2;
            }
        }
        let plan = plan(&f, &[web.key_id()]).unwrap();
        assert_eq!(plan.leaked[0].roles, vec!["targets/apps/web".to_owned()]);
        assert_eq!(
            plan.delegations,
            vec![DelegationRepair {
                role: "targets/apps/web".to_owned(),
                parent: "targets/apps".to_owned(),
                removed_keys: vec![canonical(&web)],
                remaining_keys: vec![canonical(&second)],
                threshold: 2,
                new_threshold: 1,
                removed: false,
                resigned: true,
            }]
        );
        assert!(plan.orphaned.is_empty());
        plan.apply(&mut f.working, &f.crypto, &[], &mut Vec::new())
            .unwrap();
        let parent = &f.working.targets["targets/apps"].signed;
        let entry = parent.delegation("targets/apps/web").unwrap();
        assert_eq!(entry.keyids, vec![second.key_id()]);
        assert_eq!(entry.threshold, 1);
        assert!(!parent.delegations.keys.contains_key(&web.key_id()));
        assert!(f.working.targets["targets/apps/web"].dirty);
        f.working.sign(&f.crypto, false).unwrap();
    }

    #[test]
    fn a_delegation_below_a_role_nobody_here_can_sign_is_refused() {
        let (f, apps, web) = with_delegations();
        f.crypto.remove_key(&canonical(&apps)).unwrap();
        let err = plan(&f, &[web.key_id()]).unwrap_err();
        assert!(
            matches!(&err, Error::Publish(PublishError::NoSigningKeys { role, .. }) if role == "targets/apps"),
            "{err}"
        );
    }

    #[test]
    fn an_untrusted_key_is_named_with_the_trusted_ones() {
        let f = fixture(true);
        let trusted_one = base_key(&f, "targets").key_id();
        let other = signet_signer::PrivateKey::generate_ecdsa()
            .unwrap()
            .public_key()
            .key_id();
        let err = plan(&f, &[trusted_one, other.clone()]).unwrap_err();
        let Error::Recovery(RecoveryError::UntrustedKey {
            key_id, trusted, ..
        }) = &err
        else {
            panic!("{err}");
        };
        assert_eq!(key_id, other.as_str());
        assert_eq!(trusted.len(), 4, "{trusted:?}");
        assert!(
            trusted.iter().any(|t| t.ends_with("(targets)")),
            "{trusted:?}"
        );
        assert!(err.to_string().contains(other.as_str()));
        assert!(matches!(
            plan(&f, &[]),
            Err(Error::Recovery(RecoveryError::NothingLeaked { .. }))
        ));
    }

    #[test]
    fn a_new_root_is_signed_by_the_old_and_the_new_root_keys() {
        let mut f = fixture(true);
        let old_root = base_key(&f, "root");
        let old_targets = base_key(&f, "targets");
        let plan = plan(&f, &[old_root.key_id(), old_targets.key_id()]).unwrap();
        let mut new_keys = Vec::new();
        for r in &plan.rotations {
            let rotated = rotation::rotate(
                &f.crypto,
                GUN_FOR_TESTS,
                &r.role,
                rotation::NewKey::default(),
            )
            .unwrap();
            new_keys.push((r.role.clone(), vec![rotated.public_key]));
        }
        plan.apply(&mut f.working, &f.crypto, &new_keys, &mut Vec::new())
            .unwrap();
        let signed = f.working.sign(&f.crypto, false).unwrap();
        let roles: Vec<&str> = signed.files.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(roles, ["root", "targets", "snapshot"]);
        let root = Envelope::<Root>::parse(&signed.files[0].1).unwrap();
        let signers: Vec<&KeyId> = root.signatures().iter().map(|s| &s.keyid).collect();
        assert!(signers.contains(&&old_root.key_id()), "old root key signs");
        assert!(
            signers.contains(&&new_keys[0].1[0].key_id()),
            "new root key signs"
        );
        assert_eq!(root.signed().version, plan.versions.root + 1);
        let (targets_keys, _) = root.signed().role_keys("targets").unwrap();
        assert!(targets_keys.contains_key(&new_keys[1].1[0].key_id()));
        assert!(!targets_keys.contains_key(&old_targets.key_id()));
    }

    const GUN_FOR_TESTS: &str = super::super::tests::GUN;
}
