//! Authoring metadata, shared by the server and the publishing client: building snapshots
//! and timestamps from exact file bytes, re-signing bookkeeping (version and expiry), root key
//! replacement and rotation signing requirements, and the checks that keep a repository
//! verifiable.
//!
//! Nothing here signs: each builder produces an unsigned [`Envelope`] whose
//! [`signing_bytes`](Envelope::signing_bytes) a signer signs; signatures go back in with
//! [`Envelope::add_signature`] and [`Envelope::to_file_bytes`] gives the file.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Months, TimeDelta, Utc};

use crate::error::{Error, Result};
use crate::key::{KeyId, PublicKey};
use crate::metadata::{
    Envelope, Expires, FileMeta, Metadata, RoleKeys, Root, Snapshot, Targets, Timestamp,
};
use crate::role;
use crate::verify::RoleKeySet;

/// Notary's default root lifetime: 10 × 365 days.
pub const ROOT_EXPIRY: TimeDelta = TimeDelta::days(10 * 365);
/// Notary's default lifetime of targets and every delegation: 3 × 365 days.
pub const TARGETS_EXPIRY: TimeDelta = TimeDelta::days(3 * 365);
/// Notary's default snapshot lifetime: 3 × 365 days.
pub const SNAPSHOT_EXPIRY: TimeDelta = TimeDelta::days(3 * 365);
/// Notary's default timestamp lifetime: 14 days.
pub const TIMESTAMP_EXPIRY: TimeDelta = TimeDelta::days(14);
/// How close to its expiry a role counts as "near expiry" (Notary: 6 calendar months); a
/// publishing client re-signs a root that is this close.
pub const NEAR_EXPIRY_MONTHS: u32 = 6;

/// The default lifetime of `role` (delegations use the targets lifetime), or `None` for names
/// that are not roles.
pub fn default_lifetime(role: &str) -> Option<TimeDelta> {
    match role {
        role::ROOT => Some(ROOT_EXPIRY),
        role::TARGETS => Some(TARGETS_EXPIRY),
        role::SNAPSHOT => Some(SNAPSHOT_EXPIRY),
        role::TIMESTAMP => Some(TIMESTAMP_EXPIRY),
        _ if role::is_delegation(role) => Some(TARGETS_EXPIRY),
        _ => None,
    }
}

/// `now` plus the default lifetime of `role`, with full nanosecond precision, written in UTC.
///
/// # Errors
///
/// [`Error::InvalidRole`] for names that are not roles and [`Error::InvalidExpiry`] if the sum
/// is out of range.
pub fn default_expires(role: &str, now: DateTime<Utc>) -> Result<Expires> {
    let lifetime = default_lifetime(role).ok_or_else(|| Error::InvalidRole {
        role: role.to_owned(),
        reason: "not a base role or delegation".into(),
    })?;
    let at = now
        .checked_add_signed(lifetime)
        .ok_or_else(|| Error::InvalidExpiry {
            text: now.to_rfc3339(),
            reason: format!("{role} expiry out of range"),
        })?;
    Ok(Expires::from_utc(at))
}

/// Whether `expires` falls within six calendar months of `now` (or is already past): the
/// point where Notary warns and a publishing client re-signs root.
pub fn near_expiry(expires: &Expires, now: DateTime<Utc>) -> bool {
    match now.checked_add_months(Months::new(NEAR_EXPIRY_MONTHS)) {
        Some(limit) => expires.utc() < limit,
        None => true,
    }
}

/// A document whose version and expiry can be reset for re-signing.
pub trait Resign: Metadata {
    /// Sets the version.
    fn set_version(&mut self, version: i64);
    /// Sets the expiry.
    fn set_expires(&mut self, expires: Expires);
}

macro_rules! impl_resign {
    ($($t:ty),*) => {$(
        impl Resign for $t {
            fn set_version(&mut self, version: i64) {
                self.version = version;
            }
            fn set_expires(&mut self, expires: Expires) {
                self.expires = expires;
            }
        }
    )*};
}
impl_resign!(Root, Targets, Snapshot, Timestamp);

/// Prepares `doc`, the document of `role`, for re-signing as Notary does on every re-sign:
/// version + 1 and expiry reset to `now` plus the role's default lifetime. New documents start
/// at version 0 so that their first signature gives version 1.
///
/// # Errors
///
/// As [`default_expires`], and [`Error::InvalidMetadata`] if the version would overflow.
pub fn bump<T: Resign>(doc: &mut T, role: &str, now: DateTime<Utc>) -> Result<()> {
    let expires = default_expires(role, now)?;
    let version = doc
        .version()
        .checked_add(1)
        .ok_or_else(|| Error::InvalidMetadata {
            role: role.to_owned(),
            reason: "version overflows".into(),
        })?;
    doc.set_version(version);
    doc.set_expires(expires);
    Ok(())
}

/// [`bump`]s `doc` and wraps it in an unsigned envelope: the document to sign, its canonical
/// signing bytes ([`Envelope::signing_bytes`]) and a place for the signatures.
///
/// # Errors
///
/// As [`bump`] and [`Envelope::from_signed`].
pub fn prepare<T: Resign>(mut doc: T, role: &str, now: DateTime<Utc>) -> Result<Envelope<T>> {
    bump(&mut doc, role, now)?;
    Envelope::from_signed(doc)
}

/// Builds the next snapshot from the exact bytes of role files.
///
/// Starts from the previous snapshot (all its entries are kept, as Notary does) or from an
/// empty one; [`set_file`](Self::set_file) records `{length, sha256, sha512}` of the exact bytes
/// of a role file; [`remove_role`](Self::remove_role) drops a deleted delegation;
/// [`build`](Self::build) bumps version and expiry and returns the unsigned envelope.
#[derive(Debug, Clone)]
pub struct SnapshotBuilder {
    snapshot: Snapshot,
}

impl SnapshotBuilder {
    /// Starts from `prev` (its entries, version and unknown fields), or from an empty snapshot
    /// at version 0.
    pub fn new(prev: Option<&Snapshot>) -> Self {
        let snapshot = match prev {
            Some(p) => p.clone(),
            None => Snapshot::new(0, Expires::from_utc(DateTime::<Utc>::UNIX_EPOCH)),
        };
        Self { snapshot }
    }

    /// Records the metadata of `bytes`, the exact file of `role` (`root`, `targets` or a
    /// delegation).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRole`] for `snapshot`, `timestamp` and invalid names.
    pub fn set_file(&mut self, role: &str, bytes: &[u8]) -> Result<&mut Self> {
        check_snapshot_entry(role)?;
        self.snapshot
            .meta
            .insert(role.to_owned(), FileMeta::from_bytes(bytes));
        Ok(self)
    }

    /// Removes the entry of a deleted delegation; a no-op when absent.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRole`] unless `role` is a delegation (root and targets cannot go).
    pub fn remove_role(&mut self, role: &str) -> Result<&mut Self> {
        role::check_delegation(role)?;
        self.snapshot.meta.remove(role);
        Ok(self)
    }

    /// Removes every delegation entry for which `keep` returns false (for example, the roles
    /// no longer declared by any parent).
    pub fn retain_delegations(&mut self, mut keep: impl FnMut(&str) -> bool) -> &mut Self {
        self.snapshot
            .meta
            .retain(|name, _| !role::is_delegation(name) || keep(name));
        self
    }

    /// The snapshot as built so far (not yet bumped).
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Bumps version and expiry (`now` + 3 years), checks the structure (root and targets must
    /// be recorded) and returns the unsigned envelope.
    ///
    /// # Errors
    ///
    /// The structural errors of [`Snapshot::validate`], and those of [`bump`] and
    /// [`Envelope::from_signed`].
    pub fn build(mut self, now: DateTime<Utc>) -> Result<Envelope<Snapshot>> {
        bump(&mut self.snapshot, role::SNAPSHOT, now)?;
        self.snapshot.validate()?;
        Envelope::from_signed(self.snapshot)
    }
}

fn check_snapshot_entry(name: &str) -> Result<()> {
    if name == role::ROOT || name == role::TARGETS || role::is_delegation(name) {
        Ok(())
    } else {
        Err(Error::InvalidRole {
            role: name.to_owned(),
            reason: "snapshot meta lists only root, targets and delegations".into(),
        })
    }
}

/// The next timestamp for the snapshot file `snapshot_bytes`: version `prev + 1` (1 without a
/// previous timestamp), expiry `now` + 14 days, `meta.snapshot` = length, sha256 and sha512 of
/// the exact bytes. Unknown fields of `prev` are kept.
///
/// # Errors
///
/// As [`bump`] and [`Envelope::from_signed`].
pub fn build_timestamp(
    prev: Option<&Timestamp>,
    snapshot_bytes: &[u8],
    now: DateTime<Utc>,
) -> Result<Envelope<Timestamp>> {
    let meta = FileMeta::from_bytes(snapshot_bytes);
    let mut ts = match prev {
        Some(p) => {
            let mut t = p.clone();
            t.meta.clear();
            t.meta.insert(role::SNAPSHOT.to_owned(), meta);
            t
        }
        None => Timestamp::new(0, Expires::from_utc(DateTime::<Utc>::UNIX_EPOCH), meta),
    };
    bump(&mut ts, role::TIMESTAMP, now)?;
    ts.validate()?;
    Envelope::from_signed(ts)
}

/// Checks that the snapshot records exactly these files: for each `(role, bytes)`, the entry
/// must exist, have the byte length and match every supported hash. This is the server's check
/// that an uploaded snapshot does not leave the repository unverifiable.
///
/// # Errors
///
/// [`Error::InvalidMetadata`] for a missing entry, [`Error::ChecksumMismatch`] for a wrong
/// length or digest, [`Error::InvalidHashes`] when an entry has no supported hash.
pub fn check_snapshot_matches<'a>(
    snapshot: &Snapshot,
    files: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<()> {
    for (name, bytes) in files {
        let fm = snapshot
            .meta
            .get(name)
            .ok_or_else(|| Error::InvalidMetadata {
                role: role::SNAPSHOT.into(),
                reason: format!("missing {name} checksum information"),
            })?;
        fm.check_hashes(name, bytes)?;
        fm.check_length(name, bytes)?;
    }
    Ok(())
}

/// Checks that the timestamp records the snapshot file `snapshot_bytes`.
///
/// # Errors
///
/// As [`check_snapshot_matches`].
pub fn check_timestamp_matches(timestamp: &Timestamp, snapshot_bytes: &[u8]) -> Result<()> {
    let fm = timestamp
        .snapshot_meta()
        .ok_or_else(|| Error::InvalidMetadata {
            role: role::TIMESTAMP.into(),
            reason: "missing snapshot checksum information".into(),
        })?;
    fm.check_hashes(role::SNAPSHOT, snapshot_bytes)?;
    fm.check_length(role::SNAPSHOT, snapshot_bytes)
}

/// Notary's rule for an uploaded root: its version must equal the current one or exceed it
/// by exactly one (`current` is 1 when no root is stored).
///
/// # Errors
///
/// [`Error::InvalidMetadata`] with Notary's message "Root modifications must increment the
/// version. Current `cur`, new `v`".
pub fn check_root_version_step(current: Option<i64>, new: i64) -> Result<()> {
    let cur = current.unwrap_or(1);
    if new == cur || Some(new) == cur.checked_add(1) {
        Ok(())
    } else {
        Err(Error::InvalidMetadata {
            role: role::ROOT.into(),
            reason: format!(
                "Root modifications must increment the version. Current {cur}, new {new}"
            ),
        })
    }
}

/// Checks that the holder of `held` keys can sign for `role` of `root`: at least the role's
/// threshold of distinct keys it lists. The server uses this before accepting an update it must
/// complete with its own snapshot or timestamp signature.
///
/// # Errors
///
/// [`Error::InvalidMetadata`] when root does not list the role, [`Error::InvalidThreshold`] for
/// a threshold below one, and [`Error::ThresholdNotMet`] (`valid` = usable keys held) otherwise.
pub fn check_can_sign(root: &Root, role_name: &str, held: &BTreeSet<KeyId>) -> Result<()> {
    let rk = root.role(role_name).ok_or_else(|| Error::InvalidMetadata {
        role: role::ROOT.into(),
        reason: format!("missing {role_name} role specification"),
    })?;
    let threshold = role::check_threshold(role_name, rk.threshold)?;
    let listed: BTreeSet<&KeyId> = rk.keyids.iter().collect();
    let usable = listed.iter().filter(|id| held.contains(**id)).count() as u64;
    if usable >= threshold {
        Ok(())
    } else {
        Err(Error::ThresholdNotMet {
            role: role_name.to_owned(),
            threshold,
            valid: usable,
        })
    }
}

/// Notary's `ReplaceBaseKeys`: makes `keys` the only keys of base role `role_name` in `root`.
///
/// The previous key IDs of the role leave its `keyids`; the new keys join `keys` and `keyids`;
/// keys no longer used by any role are removed from `keys`, **except root keys**, which stay
/// (old root certificates remain listed so older roots can be verified). Returns the IDs of the
/// keys removed from `keys`; the threshold is left unchanged.
///
/// # Errors
///
/// [`Error::InvalidRole`] unless `role_name` is a base role, [`Error::InvalidMetadata`] when
/// `keys` is empty.
pub fn replace_base_keys(
    root: &mut Root,
    role_name: &str,
    keys: &[PublicKey],
) -> Result<Vec<KeyId>> {
    if !role::is_base_role(role_name) {
        return Err(Error::InvalidRole {
            role: role_name.to_owned(),
            reason: "only base roles are listed in root".into(),
        });
    }
    if keys.is_empty() {
        return Err(Error::InvalidMetadata {
            role: role_name.to_owned(),
            reason: "at least one key is needed".into(),
        });
    }
    let old: Vec<KeyId> = root
        .roles
        .get(role_name)
        .map(|r| r.keyids.clone())
        .unwrap_or_default();
    let mut new_ids = Vec::with_capacity(keys.len());
    for k in keys {
        let id = k.key_id();
        root.keys.insert(id.clone(), k.clone());
        if !new_ids.contains(&id) {
            new_ids.push(id);
        }
    }
    let threshold = root.roles.get(role_name).map_or(1, |r| r.threshold);
    match root.roles.get_mut(role_name) {
        Some(r) => r.keyids = new_ids,
        None => {
            root.roles
                .insert(role_name.to_owned(), RoleKeys::new(new_ids, threshold));
        }
    }
    let mut removed = Vec::new();
    if role_name != role::ROOT {
        let in_use: BTreeSet<&KeyId> = root.roles.values().flat_map(|r| &r.keyids).collect();
        let unused: Vec<KeyId> = old.into_iter().filter(|id| !in_use.contains(id)).collect();
        for id in unused {
            if root.keys.remove(&id).is_some() {
                removed.push(id);
            }
        }
    }
    Ok(removed)
}

/// A set of keys of which `threshold` distinct ones must sign.
#[derive(Debug, Clone, PartialEq)]
pub struct SigningRequirement {
    /// The keys, by TUF key ID.
    pub keys: BTreeMap<KeyId, PublicKey>,
    /// How many distinct keys of the set must sign.
    pub threshold: i64,
}

impl SigningRequirement {
    /// The keys and threshold `root` lists for `role_name`, if it lists the role (key IDs
    /// without a key in `root.keys` are left out).
    pub fn of_root_role(root: &Root, role_name: &str) -> Option<Self> {
        let (keys, threshold) = root.role_keys(role_name)?;
        Some(Self { keys, threshold })
    }
}

/// Notary's `SignRoot` rule: who must sign the root `new` when the trusted root was `loaded`.
/// If the root role changed (other keys or another threshold), the old root role's keys must
/// sign to the old threshold **and** the new role's keys to the new threshold; otherwise only
/// the new role. The first entry is the old role when present.
///
/// # Errors
///
/// [`Error::InvalidMetadata`] when either root lacks a root role.
pub fn root_signing_requirements(loaded: &Root, new: &Root) -> Result<Vec<SigningRequirement>> {
    let missing = || Error::InvalidMetadata {
        role: role::ROOT.into(),
        reason: "missing root role specification".into(),
    };
    let old = SigningRequirement::of_root_role(loaded, role::ROOT).ok_or_else(missing)?;
    let cur = SigningRequirement::of_root_role(new, role::ROOT).ok_or_else(missing)?;
    let old_ids: BTreeSet<&KeyId> = old.keys.keys().collect();
    let cur_ids: BTreeSet<&KeyId> = cur.keys.keys().collect();
    if old_ids != cur_ids || old.threshold != cur.threshold {
        Ok(vec![old, cur])
    } else {
        Ok(vec![cur])
    }
}

/// Checks that `envelope`'s signatures satisfy `requirement` with Notary's rules
/// ([`RoleKeySet::verify`]): at least `threshold` distinct keys of the set with a signature
/// that verifies over the signing bytes; signatures by other keys are ignored.
///
/// # Errors
///
/// [`Error::NoSignatures`], [`Error::InvalidThreshold`], [`Error::KeyIdMismatch`] or
/// [`Error::ThresholdNotMet`].
pub fn check_requirement<T: Metadata>(
    role_name: &str,
    envelope: &Envelope<T>,
    requirement: &SigningRequirement,
) -> Result<()> {
    RoleKeySet {
        role: role_name.to_owned(),
        keys: requirement.keys.clone(),
        threshold: requirement.threshold,
    }
    .verify_envelope(envelope)
    .map(|_| ())
}
