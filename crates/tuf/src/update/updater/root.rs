//! Fetching and validating the newest root, walking intermediate versions, trust pinning.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Phase, Updater, parse};
use crate::metadata::{Envelope, Root};
use crate::role;
use crate::update::error::{Error, Result};
use crate::update::pinning::PinMode;
use crate::update::trusted::Verified;
use crate::verify::RoleKeySet;
use crate::x509;

impl Updater {
    pub(super) fn on_newest_root(&mut self, bytes: Vec<u8>) -> Result<()> {
        let Phase::Root(walk) = &self.phase else {
            return Ok(());
        };
        if let Some((meta, sn_version)) = &walk.expected {
            self.check_expected(role::ROOT, role::SNAPSHOT, *sn_version, meta, &bytes)?;
        }
        let env = parse::<Root>(&bytes).map_err(|e| self.invalid(role::ROOT, None, e))?;
        let version = env.signed().version;
        if version < self.root_floor {
            return Err(self.rollback(role::ROOT, version, self.root_floor));
        }
        if let Some(prev) = &walk.prev
            && let Err(source) = rotation_check(&env, prev.signed(), &self.gun)
        {
            let prev_version = prev.signed().version;
            if version > prev_version.saturating_add(1) {
                if let Phase::Root(walk) = &mut self.phase {
                    walk.next_version = prev_version + 1;
                    walk.newest = Some((env, bytes));
                }
                return Ok(());
            }
            return Err(Error::RootRotation {
                gun: self.gun.clone(),
                version,
                trusted_version: prev_version,
                source: Box::new(source),
            });
        }
        self.accept_newest_root(env, bytes)
    }

    pub(super) fn on_intermediate_root(&mut self, bytes: Vec<u8>) -> Result<()> {
        let Phase::Root(walk) = &self.phase else {
            return Ok(());
        };
        let expected = walk.next_version;
        let file = format!("{expected}.root.json");
        let env = parse::<Root>(&bytes).map_err(|e| self.invalid(role::ROOT, None, e))?;
        let version = env.signed().version;
        if version != expected {
            return Err(Error::RootVersion {
                gun: self.gun.clone(),
                file,
                expected,
                found: version,
            });
        }
        if let Some(prev) = &walk.prev {
            rotation_check(&env, prev.signed(), &self.gun).map_err(|source| {
                Error::RootRotation {
                    gun: self.gun.clone(),
                    version,
                    trusted_version: prev.signed().version,
                    source: Box::new(source),
                }
            })?;
        }
        // Intermediate roots may have expired, and so may their certificates.
        root_self_check(&env, &self.gun, None)
            .map_err(|e| self.invalid(role::ROOT, Some(version), e))?;
        let Phase::Root(walk) = &mut self.phase else {
            return Ok(());
        };
        walk.prev = Some(env);
        walk.next_version = expected + 1;
        let Some((newest, newest_bytes)) = walk.newest.take() else {
            return Ok(());
        };
        if walk.next_version < newest.signed().version {
            walk.newest = Some((newest, newest_bytes));
            return Ok(());
        }
        if let Some(prev) = &walk.prev {
            rotation_check(&newest, prev.signed(), &self.gun).map_err(|source| {
                Error::RootRotation {
                    gun: self.gun.clone(),
                    version: newest.signed().version,
                    trusted_version: prev.signed().version,
                    source: Box::new(source),
                }
            })?;
        }
        self.accept_newest_root(newest, newest_bytes)
    }

    pub(super) fn accept_newest_root(&mut self, env: Envelope<Root>, bytes: Vec<u8>) -> Result<()> {
        let Phase::Root(walk) = &self.phase else {
            return Ok(());
        };
        let pinned = walk.pinned;
        let first_use = walk.prev.is_none();
        let version = env.signed().version;
        root_self_check(&env, &self.gun, Some(self.now))
            .map_err(|e| self.invalid(role::ROOT, Some(version), e))?;
        if pinned {
            self.check_pinning(&env, first_use)?;
        }
        if version < self.root_floor {
            return Err(self.rollback(role::ROOT, version, self.root_floor));
        }
        self.check_expiry(role::ROOT, env.signed())?;
        let bytes = Arc::new(bytes);
        if self.cache.root.as_deref() != Some(bytes.as_slice()) {
            self.writes.insert(role::ROOT.into(), Arc::clone(&bytes));
        }
        self.root = Some(Verified::new(env, bytes));
        self.root_pinned = pinned;
        self.phase = Phase::Timestamp;
        Ok(())
    }

    pub(super) fn check_pinning(&self, env: &Envelope<Root>, first_use: bool) -> Result<()> {
        let reject = |reason: &str| Error::TrustPinning {
            gun: self.gun.clone(),
            reason: reason.to_owned(),
        };
        let root = env.signed();
        let keys = x509::root_certificate_keys(root, &self.gun, Some(self.now));
        let pinned: BTreeMap<_, _> = match self.pinning.mode_for(&self.gun) {
            PinMode::Tofu { disabled } => {
                return if disabled && first_use {
                    Err(reject("invalid trust pinning specified"))
                } else {
                    Ok(())
                };
            }
            PinMode::Certs(ids) => keys
                .into_iter()
                .filter(|(id, _)| ids.iter().any(|p| p == id.as_str()))
                .collect(),
            PinMode::Ca(validator) => keys
                .into_iter()
                .filter(|(_, key)| {
                    let Ok(bundle) = x509::parse_bundle(key.public()) else {
                        return false;
                    };
                    x509::split_leaf(&bundle)
                        .is_some_and(|(leaf, ints)| validator.chains_to_ca(leaf, &ints, self.now))
                })
                .collect(),
        };
        if pinned.is_empty() {
            return Err(reject(
                "unable to match any certificates to trust_pinning config",
            ));
        }
        let set = RoleKeySet {
            role: role::ROOT.into(),
            keys: pinned,
            threshold: root.role(role::ROOT).map_or(0, |r| r.threshold),
        };
        set.verify_envelope(env)
            .map(|_| ())
            .map_err(|_| reject("failed to validate integrity of roots"))
    }
}

/// A root's structure and its signatures by its own usable root certificates (validity checked
/// at `cert_time`, or not at all).
pub(super) fn root_self_check(
    env: &Envelope<Root>,
    gun: &str,
    cert_time: Option<DateTime<Utc>>,
) -> crate::Result<()> {
    let root = env.signed();
    root.validate()?;
    let keys = x509::root_certificate_keys(root, gun, cert_time);
    if keys.is_empty() {
        return Err(crate::Error::RootRejected {
            gun: gun.to_owned(),
            reason: "could not validate the path to a trusted root: unable to retrieve valid leaf certificates".into(),
        });
    }
    let set = RoleKeySet {
        role: role::ROOT.into(),
        keys,
        threshold: root.role(role::ROOT).map_or(0, |r| r.threshold),
    };
    set.verify_envelope(env).map(|_| ())
}

/// Whether `new` carries signatures from the previous root's certificate keys (expiry not
/// checked) meeting the previous root threshold.
pub(super) fn rotation_check(new: &Envelope<Root>, prev: &Root, gun: &str) -> crate::Result<()> {
    let set = RoleKeySet {
        role: role::ROOT.into(),
        keys: x509::root_certificate_keys(prev, gun, None),
        threshold: prev.role(role::ROOT).map_or(0, |r| r.threshold),
    };
    set.verify_envelope(new).map(|_| ())
}
