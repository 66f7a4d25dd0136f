//! Version floors from the cache, byte checks against recorded metadata, and error helpers.

use sha2::{Digest as _, Sha256, Sha512};

use super::{Updater, parse};
use crate::metadata::{Envelope, FileMeta, Metadata, Snapshot, Targets, Timestamp};
use crate::role;
use crate::update::delegation::ResolvedRole;
use crate::update::error::{Error, Result};
use crate::update::request::{Expected, Request};
use crate::update::trusted::Verified;
use crate::verify::{self, RoleKeySet};

impl Updater {
    /// The version of the cached copy of a base role, if it verifies against the cached root
    /// or the trusted root (expiry ignored); 1 otherwise.
    pub(super) fn floor(&self, role_name: &str) -> i64 {
        let Some(bytes) = self.cache.get(role_name) else {
            return 1;
        };
        let roots = [
            self.cached_root.as_ref().map(Envelope::signed),
            self.root.as_ref().map(Verified::signed),
        ];
        for root in roots.into_iter().flatten() {
            let version = match role_name {
                role::TIMESTAMP => parse::<Timestamp>(bytes)
                    .ok()
                    .filter(|e| verify::verify_timestamp(e, root).is_ok())
                    .map(|e| e.signed().version),
                role::SNAPSHOT => parse::<Snapshot>(bytes)
                    .ok()
                    .filter(|e| verify::verify_snapshot(e, root).is_ok())
                    .map(|e| e.signed().version),
                _ => parse::<Targets>(bytes)
                    .ok()
                    .filter(|e| verify::verify_targets(e, root).is_ok())
                    .map(|e| e.signed().version),
            };
            if let Some(v) = version {
                return v;
            }
        }
        1
    }

    /// The version of the cached copy of a delegation, if it verifies against the keys its
    /// cached parent declares or the keys the role has now; 1 otherwise.
    pub(super) fn delegation_floor(&mut self, current: &ResolvedRole) -> i64 {
        let Some(bytes) = self.cache.delegations.get(&current.name).cloned() else {
            return 1;
        };
        let Ok(env) = parse::<Targets>(&bytes) else {
            return 1;
        };
        let version = env.signed().version;
        let now_keys = RoleKeySet {
            role: current.name.clone(),
            keys: current.keys.clone(),
            threshold: current.threshold,
        };
        if env.signed().validate(&current.name).is_ok() && now_keys.verify_envelope(&env).is_ok() {
            return version;
        }
        let old_parent = role::parent(&current.name).and_then(|p| self.old_targets_doc(p));
        match old_parent {
            Some(parent) if verify::verify_delegation(&env, &parent, &current.name).is_ok() => {
                version
            }
            _ => 1,
        }
    }

    /// The cached document of a targets role, verified down from the cached root (expiry
    /// ignored).
    pub(super) fn old_targets_doc(&mut self, name: &str) -> Option<Targets> {
        if let Some(known) = self.old_targets.get(name) {
            return known.clone();
        }
        let doc = if name == role::TARGETS {
            let root = self.cached_root.as_ref()?.signed().clone();
            self.cache
                .targets
                .as_deref()
                .and_then(|b| parse::<Targets>(b).ok())
                .filter(|e| verify::verify_targets(e, &root).is_ok())
                .map(|e| e.signed().clone())
        } else {
            let parent_name = role::parent(name)?.to_owned();
            let parent = self.old_targets_doc(&parent_name)?;
            self.cache
                .delegations
                .get(name)
                .and_then(|b| parse::<Targets>(b).ok())
                .filter(|e| verify::verify_delegation(e, &parent, name).is_ok())
                .map(|e| e.signed().clone())
        };
        self.old_targets.insert(name.to_owned(), doc.clone());
        doc
    }

    // ---- checks and errors -----------------------------------------------------------------

    pub(super) fn check_expiry<T: Metadata>(&self, role_name: &str, doc: &T) -> Result<()> {
        if doc.expires().is_expired(self.now) {
            return Err(Error::Expired {
                gun: self.gun.clone(),
                role: role_name.to_owned(),
                version: doc.version(),
                expires: doc.expires().as_str().to_owned(),
            });
        }
        Ok(())
    }

    pub(super) fn check_expected(
        &self,
        role_name: &str,
        referrer: &'static str,
        referrer_version: i64,
        meta: &FileMeta,
        bytes: &[u8],
    ) -> Result<()> {
        check_bytes(meta, bytes).map_err(|m| match m {
            BytesMismatch::NoHash => self.invalid(
                role_name,
                None,
                crate::Error::InvalidHashes {
                    role: role_name.to_owned(),
                    reason: format!(
                        "{referrer} version {referrer_version} records no sha256 or sha512 for it"
                    ),
                },
            ),
            BytesMismatch::Differs {
                algorithm,
                expected,
                found,
            } => Error::Mismatch {
                gun: self.gun.clone(),
                role: role_name.to_owned(),
                referrer,
                referrer_version,
                algorithm,
                expected: expected.into(),
                found: found.into(),
            },
        })
    }

    pub(super) fn invalid(
        &self,
        role_name: &str,
        version: Option<i64>,
        source: crate::Error,
    ) -> Error {
        Error::Invalid {
            gun: self.gun.clone(),
            role: role_name.to_owned(),
            version,
            source: Box::new(source),
        }
    }

    pub(super) fn rollback(&self, role_name: &str, found: i64, trusted: i64) -> Error {
        Error::Rollback {
            gun: self.gun.clone(),
            role: role_name.to_owned(),
            found,
            trusted,
        }
    }
}

pub(super) enum BytesMismatch {
    NoHash,
    Differs {
        algorithm: &'static str,
        expected: String,
        found: String,
    },
}

/// Length and every supported digest (at least one must be present).
pub(super) fn check_bytes(meta: &FileMeta, bytes: &[u8]) -> std::result::Result<(), BytesMismatch> {
    let len = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    if len != meta.length {
        return Err(BytesMismatch::Differs {
            algorithm: "length",
            expected: meta.length.to_string(),
            found: len.to_string(),
        });
    }
    let mut checked = false;
    if let Some(expected) = meta.sha256() {
        let found = Sha256::digest(bytes);
        if found[..] != *expected {
            return Err(BytesMismatch::Differs {
                algorithm: "sha256",
                expected: hex::encode(expected),
                found: hex::encode(found),
            });
        }
        checked = true;
    }
    if let Some(expected) = meta.sha512() {
        let found = Sha512::digest(bytes);
        if found[..] != *expected {
            return Err(BytesMismatch::Differs {
                algorithm: "sha512",
                expected: hex::encode(expected),
                found: hex::encode(found),
            });
        }
        checked = true;
    }
    if checked {
        Ok(())
    } else {
        Err(BytesMismatch::NoHash)
    }
}

/// The request for the file `meta` describes: `<role>.<sha256 hex>` when a sha256 is known,
/// the plain role name otherwise; limited to the recorded length.
pub(super) fn request_for(role_name: &str, meta: &FileMeta) -> Request {
    let name = match meta.sha256() {
        Some(h) => format!("{role_name}.{}", hex::encode(h)),
        None => role_name.to_owned(),
    };
    Request {
        role: role_name.to_owned(),
        name,
        max_len: u64::try_from(meta.length).unwrap_or(0),
        expected: Some(Expected {
            length: u64::try_from(meta.length).unwrap_or(0),
            sha256: meta.sha256().and_then(|h| h.try_into().ok()),
            sha512: meta.sha512().and_then(|h| h.try_into().ok()),
        }),
    }
}
