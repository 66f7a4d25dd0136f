//! Loading timestamp, snapshot, targets and delegations, and finishing a pass.

use std::sync::Arc;

use chrono::Months;

use super::{DelegationLoad, Phase, Updater};
use crate::metadata::{Envelope, FileMeta, Metadata, Root, Snapshot, Targets, Timestamp};
use crate::role;
use crate::update::delegation::ResolvedRole;
use crate::update::error::{Error, Result};
use crate::update::trusted::{TrustedMetadata, Verified};
use crate::update::warning::{SkipReason, Warning};
use crate::verify::{self, RoleKeySet};
use crate::x509;

impl Updater {
    pub(super) fn trusted_root(&self) -> Result<&Verified<Root>> {
        self.root.as_ref().ok_or_else(|| Error::Failed {
            gun: self.gun.clone(),
        })
    }

    pub(super) fn snapshot_meta(&self) -> Result<(FileMeta, i64)> {
        let ts = self.pass.timestamp.as_ref().ok_or_else(|| Error::Failed {
            gun: self.gun.clone(),
        })?;
        // A validated timestamp always has it.
        let meta = ts.signed().snapshot_meta().cloned().ok_or_else(|| {
            self.invalid(
                role::TIMESTAMP,
                Some(ts.version()),
                crate::Error::InvalidMetadata {
                    role: role::TIMESTAMP.into(),
                    reason: "missing snapshot sha256 checksum information".into(),
                },
            )
        })?;
        Ok((meta, ts.version()))
    }

    pub(super) fn meta_from_snapshot(&self, name: &str) -> Result<(FileMeta, i64)> {
        let sn = self.pass.snapshot.as_ref().ok_or_else(|| Error::Failed {
            gun: self.gun.clone(),
        })?;
        let meta = sn.signed().meta.get(name).cloned().ok_or_else(|| {
            self.invalid(
                role::SNAPSHOT,
                Some(sn.version()),
                crate::Error::InvalidMetadata {
                    role: role::SNAPSHOT.into(),
                    reason: format!("missing {name} sha256 checksum information"),
                },
            )
        })?;
        Ok((meta, sn.version()))
    }

    pub(super) fn load_timestamp(
        &self,
        bytes: Arc<Vec<u8>>,
        min: i64,
    ) -> Result<Verified<Timestamp>> {
        let root = self.trusted_root()?.signed();
        let env = self.load_base(role::TIMESTAMP, &bytes, min, |env| {
            verify::verify_timestamp(env, root)
        })?;
        Ok(Verified::new(env, bytes))
    }

    pub(super) fn load_snapshot(
        &mut self,
        bytes: Arc<Vec<u8>>,
        min: i64,
    ) -> Result<Verified<Snapshot>> {
        let root = self.trusted_root()?;
        let env = self.load_base(role::SNAPSHOT, &bytes, min, |env| {
            verify::verify_snapshot(env, root.signed())
        })?;
        let version = env.signed().version;
        let root_meta = env.signed().meta.get(role::ROOT).cloned();
        let root_bytes = Arc::clone(root.shared_bytes());
        if let Some(meta) = root_meta {
            self.pass.next_root_checksum = Some((meta.clone(), version));
            self.check_expected(role::ROOT, role::SNAPSHOT, version, &meta, &root_bytes)?;
        }
        Ok(Verified::new(env, bytes))
    }

    pub(super) fn load_targets(&self, bytes: Arc<Vec<u8>>, min: i64) -> Result<Verified<Targets>> {
        let root = self.trusted_root()?.signed();
        let env = self.load_base(role::TARGETS, &bytes, min, |env| {
            verify::verify_targets(env, root)
        })?;
        Ok(Verified::new(env, bytes))
    }

    /// Parse, signatures and structure, version floor, expiry.
    pub(super) fn load_base<T: Metadata>(
        &self,
        role_name: &str,
        bytes: &Arc<Vec<u8>>,
        min: i64,
        verify: impl FnOnce(&Envelope<T>) -> crate::Result<u64>,
    ) -> Result<Envelope<T>> {
        let env =
            Envelope::<T>::parse_shared(bytes).map_err(|e| self.invalid(role_name, None, e))?;
        let version = env.signed().version();
        verify(&env).map_err(|e| self.invalid(role_name, Some(version), e))?;
        if version < min {
            return Err(self.rollback(role_name, version, min));
        }
        self.check_expiry(role_name, env.signed())?;
        Ok(env)
    }

    pub(super) fn accept_targets(&mut self, v: Verified<Targets>, write: bool) {
        if write {
            self.writes
                .insert(role::TARGETS.into(), Arc::clone(v.shared_bytes()));
        }
        let children = self
            .root
            .as_ref()
            .and_then(|r| ResolvedRole::top_level(r.signed()))
            .map(|top| top.children(v.signed()))
            .unwrap_or_default();
        self.pass.targets.insert(role::TARGETS.into(), v);
        self.pass.queue = children.into();
        self.phase = Phase::Delegations(None);
    }

    // ---- delegations ---------------------------------------------------------------------

    pub(super) fn load_delegation(
        &self,
        bytes: Arc<Vec<u8>>,
        current: &ResolvedRole,
        min: i64,
    ) -> Result<DelegationLoad> {
        let name = current.name.as_str();
        let env =
            Envelope::<Targets>::parse_shared(&bytes).map_err(|e| self.invalid(name, None, e))?;
        let version = env.signed().version;
        env.signed()
            .validate(name)
            .map_err(|e| self.invalid(name, Some(version), e))?;
        if version < min {
            return Err(self.rollback(name, version, min));
        }
        let set = RoleKeySet {
            role: name.to_owned(),
            keys: current.keys.clone(),
            threshold: current.threshold,
        };
        match set.verify_envelope(&env) {
            Ok(_) => {}
            Err(e @ (crate::Error::ThresholdNotMet { .. } | crate::Error::NoSignatures { .. })) => {
                return Ok(DelegationLoad::Skipped(SkipReason::Threshold {
                    version,
                    error: e.to_string(),
                }));
            }
            Err(e) => return Err(self.invalid(name, Some(version), e)),
        }
        if env.signed().expires.is_expired(self.now) {
            return Ok(DelegationLoad::Skipped(SkipReason::Expired {
                version,
                expires: env.signed().expires.as_str().to_owned(),
            }));
        }
        Ok(DelegationLoad::Loaded(Box::new(Verified::new(env, bytes))))
    }

    pub(super) fn accept_delegation(
        &mut self,
        current: &ResolvedRole,
        v: Verified<Targets>,
        write: bool,
    ) {
        if write {
            self.writes
                .insert(current.name.clone(), Arc::clone(v.shared_bytes()));
        }
        for child in current.children(v.signed()).into_iter().rev() {
            self.pass.queue.push_front(child);
        }
        self.pass.delegations_loaded += 1;
        self.pass.targets.insert(current.name.clone(), v);
    }

    pub(super) fn finish_pass(&mut self) -> Result<()> {
        let pass = std::mem::take(&mut self.pass);
        let root = self.trusted_root()?.clone();
        let (Some(timestamp), Some(snapshot)) = (pass.timestamp, pass.snapshot) else {
            return Err(Error::Failed {
                gun: self.gun.clone(),
            });
        };
        self.warnings.extend(pass.warnings);
        let near = |role: &str, expires: &crate::metadata::Expires| {
            crate::authoring::near_expiry(expires, self.now).then(|| Warning::NearExpiry {
                role: role.to_owned(),
                expires: expires.as_str().to_owned(),
            })
        };
        let mut late = Vec::new();
        late.extend(near(role::ROOT, &root.signed().expires));
        late.extend(near(role::SNAPSHOT, &snapshot.signed().expires));
        for (name, t) in &pass.targets {
            late.extend(near(name, &t.signed().expires));
        }
        if let Some(limit) = self.now.checked_add_months(Months::new(6)) {
            for (key_id, key) in x509::root_certificate_keys(root.signed(), &self.gun, None) {
                let leaf_end = x509::parse_bundle(key.public())
                    .ok()
                    .and_then(|b| b.first().map(x509::Certificate::not_after));
                if let Some(not_after) = leaf_end
                    && not_after < limit
                {
                    late.push(Warning::CertificateNearExpiry { key_id, not_after });
                }
            }
        }
        self.warnings.extend(late);
        let repository =
            TrustedMetadata::new(self.gun.clone(), root, timestamp, snapshot, pass.targets);
        self.phase = Phase::Done(Box::new(repository));
        self.pending = None;
        Ok(())
    }
}
