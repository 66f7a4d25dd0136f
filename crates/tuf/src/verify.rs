//! Signature, threshold, structure, version and expiry checks, following Notary
//! (`tuf/signed/verify.go`, `tuf/builder.go`, `trustpinning/certs.go`).
//!
//! Signature rules ([`RoleKeySet::verify`]):
//!
//! * no signatures at all is an error;
//! * signatures by key IDs the role does not list are ignored;
//! * a listed key whose content hashes to a different ID than the one it is listed under is a
//!   hard error as soon as a signature names it;
//! * distinct key IDs with a valid signature are counted against the threshold.
//!
//! Signatures always cover the canonical bytes of `signed` ([`Envelope::signing_bytes`]).
//! Expiry and version checks are separate functions because callers apply them differently
//! (the server allows expired stored roles, the client walks expired intermediate roots).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::key::{KeyId, PublicKey};
use crate::metadata::{Envelope, Expires, Metadata, Root, Snapshot, Targets, Timestamp};
use crate::role;
use crate::signature::Signature;
use crate::x509;

/// The keys and threshold a role's signatures are checked against (Notary's `BaseRole`).
#[derive(Debug, Clone, PartialEq)]
pub struct RoleKeySet {
    /// The role's name, used in errors.
    pub role: String,
    /// The role's keys by the ID they are listed under.
    pub keys: BTreeMap<KeyId, PublicKey>,
    /// How many distinct keys must have signed.
    pub threshold: i64,
}

impl RoleKeySet {
    /// The keys of a role listed in `root.roles` (a base role or any other role root lists).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidMetadata`] when root does not list the role or lists a key ID without a
    /// key.
    pub fn from_root(root: &Root, role_name: &str) -> Result<Self> {
        let rk = root.role(role_name).ok_or_else(|| Error::InvalidMetadata {
            role: role::ROOT.into(),
            reason: format!("missing {role_name} role specification"),
        })?;
        Ok(Self {
            role: role_name.to_owned(),
            keys: collect_keys(role_name, &rk.keyids, &root.keys)?,
            threshold: rk.threshold,
        })
    }

    /// The keys of the delegation `role_name` declared in `parent` (the targets document of
    /// the role's direct parent).
    ///
    /// # Errors
    ///
    /// [`Error::DelegationNotFound`] when `parent` does not declare the role, and
    /// [`Error::InvalidMetadata`] when it lists a key ID without a key.
    pub fn from_delegation(parent: &Targets, role_name: &str) -> Result<Self> {
        let d = parent
            .delegation(role_name)
            .ok_or_else(|| Error::DelegationNotFound {
                role: role_name.to_owned(),
            })?;
        Ok(Self {
            role: role_name.to_owned(),
            keys: collect_keys(role_name, &d.keyids, &parent.delegations.keys)?,
            threshold: d.threshold,
        })
    }

    /// Verifies `signatures` over `msg`; returns the number of distinct keys with a valid
    /// signature.
    ///
    /// # Errors
    ///
    /// [`Error::NoSignatures`], [`Error::InvalidThreshold`], [`Error::KeyIdMismatch`] or
    /// [`Error::ThresholdNotMet`].
    pub fn verify(&self, msg: &[u8], signatures: &[Signature]) -> Result<u64> {
        if signatures.is_empty() {
            return Err(Error::NoSignatures {
                role: self.role.clone(),
            });
        }
        let threshold = role::check_threshold(&self.role, self.threshold)?;
        let mut valid: BTreeSet<&KeyId> = BTreeSet::new();
        for sig in signatures {
            let Some(key) = self.keys.get(&sig.keyid) else {
                continue;
            };
            let computed = key.key_id();
            if computed != sig.keyid {
                return Err(Error::KeyIdMismatch {
                    role: self.role.clone(),
                    key_id: sig.keyid.to_string(),
                    computed: computed.to_string(),
                });
            }
            if valid.contains(&sig.keyid) {
                continue;
            }
            if key.verify(&sig.method, msg, &sig.sig).is_ok() {
                valid.insert(&sig.keyid);
            }
        }
        let found = valid.len() as u64;
        if found < threshold {
            return Err(Error::ThresholdNotMet {
                role: self.role.clone(),
                threshold,
                valid: found,
            });
        }
        Ok(found)
    }

    /// Verifies the signatures of an envelope over its canonical `signed` bytes.
    ///
    /// # Errors
    ///
    /// As [`verify`](Self::verify).
    pub fn verify_envelope<T: Metadata>(&self, envelope: &Envelope<T>) -> Result<u64> {
        self.verify(envelope.signing_bytes(), envelope.signatures())
    }
}

fn collect_keys(
    role_name: &str,
    keyids: &[KeyId],
    keys: &BTreeMap<KeyId, PublicKey>,
) -> Result<BTreeMap<KeyId, PublicKey>> {
    keyids
        .iter()
        .map(|id| {
            keys.get(id)
                .map(|k| (id.clone(), k.clone()))
                .ok_or_else(|| Error::InvalidMetadata {
                    role: role_name.to_owned(),
                    reason: format!(
                        "key ID {id} specified in {role_name} without corresponding key"
                    ),
                })
        })
        .collect()
}

/// Structure of root plus its signatures against its own `roles.root` keys, **without** the
/// certificate rules of [`verify_root`] (useful for cached roots and non-certificate roots).
///
/// # Errors
///
/// Structural errors, then signature errors.
pub fn verify_root_self_signed(envelope: &Envelope<Root>) -> Result<u64> {
    envelope.signed().validate()?;
    RoleKeySet::from_root(envelope.signed(), role::ROOT)?.verify_envelope(envelope)
}

/// Notary's root validation (`ValidateRoot` with TOFU trust pinning) of `new` for `gun` at
/// `now`:
///
/// 1. the structure of `new` is valid;
/// 2. `new`'s root keys yield at least one usable certificate key
///    ([`x509::root_certificate_keys`], certificate validity checked at `now`);
/// 3. with a `previous` trusted root: `new` carries valid signatures from at least
///    `previous.roles.root.threshold` of the previous root's certificate keys (certificate
///    expiry **not** checked for them);
/// 4. `new` carries valid signatures from at least its own root threshold of its own usable
///    certificate keys.
///
/// The root's own version and expiry are not checked here; use [`check_min_version`] and
/// [`check_expiry`].
///
/// # Errors
///
/// Structural errors, or [`Error::RootRejected`] with Notary's message for the failed step.
pub fn verify_root(
    new: &Envelope<Root>,
    previous: Option<&Root>,
    gun: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let root = new.signed();
    root.validate()?;
    let reject = |reason: &str| Error::RootRejected {
        gun: gun.to_owned(),
        reason: reason.to_owned(),
    };
    let own = x509::root_certificate_keys(root, gun, Some(now));
    if own.is_empty() {
        return Err(reject(
            "could not validate the path to a trusted root: unable to retrieve valid leaf certificates",
        ));
    }
    if let Some(prev) = previous {
        let trusted = x509::root_certificate_keys(prev, gun, None);
        if trusted.is_empty() {
            return Err(reject(
                "could not validate the path to a trusted root: could not retrieve trusted certs from previous root role data",
            ));
        }
        let threshold = prev
            .role(role::ROOT)
            .ok_or_else(|| {
                reject("could not validate the path to a trusted root: could not retrieve previous root role data")
            })?
            .threshold;
        let set = RoleKeySet {
            role: role::ROOT.into(),
            keys: trusted,
            threshold,
        };
        set.verify_envelope(new).map_err(|_| {
            reject("could not rotate trust to a new trusted root: failed to validate data with current trusted certificates")
        })?;
    }
    let threshold = root.role(role::ROOT).map_or(0, |r| r.threshold);
    let set = RoleKeySet {
        role: role::ROOT.into(),
        keys: own,
        threshold,
    };
    set.verify_envelope(new).map_err(|_| {
        reject(
            "could not validate the path to a trusted root: failed to validate integrity of roots",
        )
    })?;
    Ok(())
}

/// Structure of the top-level targets plus its signatures against root's `targets` role.
///
/// # Errors
///
/// Structural errors, then signature errors.
pub fn verify_targets(envelope: &Envelope<Targets>, root: &Root) -> Result<u64> {
    envelope.signed().validate(role::TARGETS)?;
    RoleKeySet::from_root(root, role::TARGETS)?.verify_envelope(envelope)
}

/// Structure of the delegation `role_name` plus its signatures against the keys its direct
/// parent declares for it. `parent` is the targets document of `role::parent(role_name)`.
///
/// # Errors
///
/// Structural errors, [`Error::DelegationNotFound`], then signature errors.
pub fn verify_delegation(
    envelope: &Envelope<Targets>,
    parent: &Targets,
    role_name: &str,
) -> Result<u64> {
    envelope.signed().validate(role_name)?;
    RoleKeySet::from_delegation(parent, role_name)?.verify_envelope(envelope)
}

/// Structure of the snapshot plus its signatures against root's `snapshot` role.
///
/// # Errors
///
/// Structural errors, then signature errors.
pub fn verify_snapshot(envelope: &Envelope<Snapshot>, root: &Root) -> Result<u64> {
    envelope.signed().validate()?;
    RoleKeySet::from_root(root, role::SNAPSHOT)?.verify_envelope(envelope)
}

/// Structure of the timestamp plus its signatures against root's `timestamp` role.
///
/// # Errors
///
/// Structural errors, then signature errors.
pub fn verify_timestamp(envelope: &Envelope<Timestamp>, root: &Root) -> Result<u64> {
    envelope.signed().validate()?;
    RoleKeySet::from_root(root, role::TIMESTAMP)?.verify_envelope(envelope)
}

/// Fails when `expires` is before `now` (no grace period), naming the role.
///
/// # Errors
///
/// [`Error::Expired`], whose `expires` uses Go's `Mon Jan 2 15:04:05 UTC 2006` layout.
pub fn check_expiry(role_name: &str, expires: &Expires, now: DateTime<Utc>) -> Result<()> {
    if expires.is_expired(now) {
        Err(Error::Expired {
            role: role_name.to_owned(),
            expires: expires.go_display(),
        })
    } else {
        Ok(())
    }
}

/// Fails when `version` is below `min` (equal is allowed), naming the role.
///
/// # Errors
///
/// [`Error::LowVersion`].
pub fn check_min_version(role_name: &str, version: i64, min: i64) -> Result<()> {
    if version < min {
        Err(Error::LowVersion {
            role: role_name.to_owned(),
            version,
            current: min,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
