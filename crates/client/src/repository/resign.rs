//! Re-signing roles to push their expiry forward (`signet resign`, an extension: Notary has no
//! such command).
//!
//! The latest trust data is fetched and verified; each chosen role whose key is held is
//! re-signed with its version bumped and a fresh expiry (the defaults of Notary: root ten
//! years, targets and delegations three years, a client-held snapshot three years), and
//! everything is uploaded in one POST. The server re-signs the timestamp (and a snapshot whose
//! key it holds) on every upload. Metadata that has already expired is verified as of just
//! before its expiry, so that it can be re-signed; the report says so.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use signet_tuf::metadata::Expires;
use signet_tuf::repo::SigningRequirement;
use signet_tuf::role;
use signet_tuf::update::{self, FetchResult, Need, UpdateConfig, Updater};

use super::working::holds_key;
use super::{RepoWarning, Repository};
use crate::error::{Error, Result};
use crate::pinning;
use crate::remote::MAX_DOWNLOAD_SIZE;

/// How many times an update is retried with the clock moved before an expiry.
const EXPIRY_RETRIES: usize = 8;

/// Who signed a re-signed role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedBy {
    /// This client, with a held key.
    Client,
    /// The server (timestamp, and a server-managed snapshot).
    Server,
}

impl SignedBy {
    /// `client` or `server`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
        }
    }
}

/// One role before and after a re-sign.
#[derive(Debug, Clone)]
pub struct ResignedRole {
    /// The role.
    pub role: String,
    /// Who signed the new version.
    pub signed_by: SignedBy,
    /// The version before.
    pub old_version: i64,
    /// The version now.
    pub new_version: i64,
    /// The expiry before.
    pub old_expires: DateTime<Utc>,
    /// The expiry now.
    pub new_expires: DateTime<Utc>,
}

/// What a re-sign did.
#[derive(Debug, Clone, Default)]
pub struct ResignReport {
    /// Every role with a new version, in the order root, targets, delegations, snapshot,
    /// timestamp.
    pub roles: Vec<ResignedRole>,
    /// Roles left as they were because none of their keys is held (only when no roles were
    /// requested), with the canonical IDs of their keys.
    pub skipped: Vec<(String, Vec<String>)>,
    /// Non-fatal findings.
    pub warnings: Vec<RepoWarning>,
}

/// `(version, expires)` of every role of a verified repository.
fn versions(repo: &update::Repository) -> BTreeMap<String, (i64, DateTime<Utc>)> {
    let mut out = BTreeMap::new();
    let root = repo.root().signed();
    out.insert(role::ROOT.to_owned(), (root.version, root.expires.utc()));
    let snapshot = repo.snapshot().signed();
    out.insert(
        role::SNAPSHOT.to_owned(),
        (snapshot.version, snapshot.expires.utc()),
    );
    let timestamp = repo.timestamp().signed();
    out.insert(
        role::TIMESTAMP.to_owned(),
        (timestamp.version, timestamp.expires.utc()),
    );
    for (name, doc) in repo.all_targets_roles() {
        let signed = doc.signed();
        out.insert(name.clone(), (signed.version, signed.expires.utc()));
    }
    out
}

/// The order roles are reported in.
fn rank(name: &str) -> (u8, &str) {
    match name {
        role::ROOT => (0, name),
        role::TARGETS => (1, name),
        role::SNAPSHOT => (3, name),
        role::TIMESTAMP => (4, name),
        _ => (2, name),
    }
}

impl Repository {
    /// Re-signs `roles` (empty = every role whose key is held) with bumped versions and fresh
    /// expiries and publishes them in one upload (see the module documentation). Staged
    /// changes are neither published nor cleared. A root certificate near expiry is renewed as
    /// on every publish.
    ///
    /// # Errors
    ///
    /// [`Error::RepositoryNotExist`] when the server has no trust data for the GUN,
    /// [`Error::ResignUnknownRole`] for a role the repository does not have,
    /// [`Error::ResignKeyMissing`] for a requested role none of whose keys is held,
    /// [`Error::ResignNothingToSign`] when no client-signed role is left, and the errors of
    /// an update and a publish.
    pub async fn resign(&mut self, roles: &[String]) -> Result<ResignReport> {
        let gun = self.gun.to_string();
        match self
            .remote
            .get_meta(&self.gun, role::ROOT, MAX_DOWNLOAD_SIZE)
            .await
        {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {
                return Err(Error::RepositoryNotExist {
                    host: self.remote.server_host(),
                    gun,
                });
            }
            Err(e) => return Err(e),
        }
        let mut warnings = self.update_for_resign().await?;
        let before = versions(self.verified()?);
        let mut working = self.working_from_verified()?;
        self.crypto.reload();

        let mut candidates: Vec<String> = vec![
            role::ROOT.to_owned(),
            role::TARGETS.to_owned(),
            role::SNAPSHOT.to_owned(),
            role::TIMESTAMP.to_owned(),
        ];
        candidates.extend(
            working
                .targets
                .keys()
                .filter(|name| role::is_delegation(name))
                .cloned(),
        );
        for requested in roles {
            if !candidates.contains(requested) {
                return Err(Error::ResignUnknownRole {
                    gun,
                    role: requested.clone(),
                });
            }
        }

        let mut report = ResignReport::default();
        let mut client_roles = 0_usize;
        for name in &candidates {
            let requested = roles.is_empty() || roles.contains(name);
            if !requested {
                continue;
            }
            let requirement = if role::is_base_role(name) {
                SigningRequirement::of_root_role(&working.root.signed, name)
            } else {
                working.resolve(name).map(|r| SigningRequirement {
                    keys: r.keys,
                    threshold: r.threshold,
                })
            };
            let key_ids: Vec<String> = requirement
                .iter()
                .flat_map(|r| r.keys.values())
                .filter_map(|k| k.canonical_key_id().ok())
                .map(|id| id.to_string())
                .collect();
            let held = requirement
                .iter()
                .flat_map(|r| r.keys.values())
                .filter_map(|k| k.canonical_key_id().ok())
                .any(|id| holds_key(&self.crypto, &id));
            match name.as_str() {
                role::TIMESTAMP => {}
                role::SNAPSHOT if !held => {}
                role::SNAPSHOT => client_roles = client_roles.saturating_add(1),
                _ if held => {
                    client_roles = client_roles.saturating_add(1);
                    if name == role::ROOT {
                        working.root.dirty = true;
                    } else if let Some(doc) = working.targets.get_mut(name) {
                        doc.dirty = true;
                    }
                }
                _ if roles.is_empty() => report.skipped.push((name.clone(), key_ids)),
                _ => {
                    return Err(Error::ResignKeyMissing {
                        gun,
                        role: name.clone(),
                        key_ids,
                    });
                }
            }
        }
        if client_roles == 0 {
            return Err(Error::ResignNothingToSign { gun });
        }

        self.prepare_root(&mut working, false, &mut warnings)
            .await?;
        let signed = working.sign(&self.crypto, false)?;
        self.remote.publish(&self.gun, &signed.files).await?;

        // Read back what the server now serves (its new timestamp and snapshot included).
        warnings.extend(self.update().await?);
        let after = versions(self.verified()?);
        let uploaded: Vec<&str> = signed.files.iter().map(|(r, _)| r.as_str()).collect();
        let mut changed: Vec<ResignedRole> = after
            .iter()
            .filter_map(|(name, (version, expires))| {
                let (old_version, old_expires) = before.get(name)?;
                if old_version == version {
                    return None;
                }
                let signed_by = if uploaded.contains(&name.as_str()) {
                    SignedBy::Client
                } else {
                    SignedBy::Server
                };
                Some(ResignedRole {
                    role: name.clone(),
                    signed_by,
                    old_version: *old_version,
                    new_version: *version,
                    old_expires: *old_expires,
                    new_expires: *expires,
                })
            })
            .collect();
        changed.sort_by(|a, b| rank(&a.role).cmp(&rank(&b.role)));
        report.roles = changed;
        report.warnings = warnings;
        Ok(report)
    }

    /// [`update`](Self::update), except that metadata which has expired is verified as of just
    /// before its expiry (so that it can be re-signed), with a warning naming it.
    async fn update_for_resign(&mut self) -> Result<Vec<RepoWarning>> {
        let mut now = Utc::now();
        let mut warnings = Vec::new();
        for _ in 0..EXPIRY_RETRIES {
            match self.update_as_of(now).await {
                Ok(found) => {
                    let skipped = found.iter().find_map(|w| match w {
                        RepoWarning::Update(update::Warning::DelegationSkipped {
                            role,
                            reason: update::SkipReason::Expired { expires, .. },
                        }) => Some((role.clone(), expires.clone())),
                        _ => None,
                    });
                    let Some((role_name, expires)) = skipped else {
                        warnings.extend(found);
                        return Ok(warnings);
                    };
                    now = self.before_expiry(&role_name, &expires, &mut warnings)?;
                }
                Err(Error::Update { source, .. })
                    if matches!(*source, update::Error::Expired { .. }) =>
                {
                    let update::Error::Expired { role, expires, .. } = *source else {
                        continue;
                    };
                    now = self.before_expiry(&role, &expires, &mut warnings)?;
                }
                Err(e) => return Err(e),
            }
        }
        self.update_as_of(now).await
    }

    /// The instant just before `expires` (the expiry text of `role_name`), noting the expiry.
    fn before_expiry(
        &self,
        role_name: &str,
        expires: &str,
        warnings: &mut Vec<RepoWarning>,
    ) -> Result<DateTime<Utc>> {
        let at = Expires::parse(expires)
            .map_err(|e| Error::Metadata {
                gun: self.gun.to_string(),
                role: role_name.to_owned(),
                source: Box::new(e),
            })?
            .utc();
        warnings.push(RepoWarning::ExpiredResigned {
            role: role_name.to_owned(),
            expired: at,
        });
        Ok(at - TimeDelta::seconds(1))
    }

    /// An online update verifying expiries against `now` (verified downloads are cached).
    async fn update_as_of(&mut self, now: DateTime<Utc>) -> Result<Vec<RepoWarning>> {
        let mut warnings = Vec::new();
        let mut config = UpdateConfig::new(self.gun.as_str(), now);
        config.trusted = self.cached_state()?;
        config.pinning = pinning::update_pinning(&self.pinning, &self.gun, now)?;
        let mut updater = Updater::new(config).map_err(|e| self.update_error(e))?;
        while let Need::Fetch(request) = updater.next_request() {
            let answer: FetchResult = self.fetch(&request).await?;
            updater
                .provide(&request, answer)
                .map_err(|e| self.update_error(e))?;
        }
        let outcome = updater.finish().map_err(|e| self.update_error(e))?;
        self.write_cache(outcome.cache_writes, &mut warnings);
        warnings.extend(outcome.warnings.into_iter().map(RepoWarning::Update));
        self.verified = Some(outcome.repository);
        Ok(warnings)
    }
}
