//! Updating a repository: the cached trust data as the trusted state, the server's answers
//! verified over it, and the verified cache when the server cannot be used.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use signet_tuf::metadata::{Envelope, Root};
use signet_tuf::role;
use signet_tuf::update::{self, FetchResult, Need, TrustedState, UpdateConfig, Updater};

use crate::error::{Error, Result};
use crate::pinning;
use crate::progress::ProgressEvent;
use crate::remote::{MAX_DOWNLOAD_SIZE, MAX_TIMESTAMP_SIZE};

use super::{RepoWarning, Repository};

impl Repository {
    pub(super) fn cached_state(&self) -> Result<TrustedState> {
        let cache = self.repo_dir.cache();
        let mut state = TrustedState {
            root: cache.get(role::ROOT, MAX_DOWNLOAD_SIZE)?,
            timestamp: cache.get(role::TIMESTAMP, MAX_TIMESTAMP_SIZE)?,
            snapshot: cache.get(role::SNAPSHOT, MAX_DOWNLOAD_SIZE)?,
            targets: cache.get(role::TARGETS, MAX_DOWNLOAD_SIZE)?,
            delegations: BTreeMap::new(),
        };
        for name in cache.roles()? {
            if role::is_delegation(&name)
                && let Some(bytes) = cache.get(&name, MAX_DOWNLOAD_SIZE)?
            {
                state.delegations.insert(name, bytes);
            }
        }
        Ok(state)
    }

    pub(super) async fn fetch(&self, request: &update::Request) -> Result<FetchResult> {
        let limit = request.max_len.saturating_add(1);
        match self.remote.get_meta(&self.gun, &request.name, limit).await {
            Ok(bytes) => Ok(FetchResult::Bytes(bytes)),
            Err(e) if e.is_not_found() => Ok(FetchResult::NotFound),
            Err(e) if e.is_unavailable() => Ok(FetchResult::Unavailable(e.to_string())),
            Err(e) => Err(e),
        }
    }

    pub(super) fn write_cache(
        &self,
        writes: Vec<update::CacheWrite>,
        warnings: &mut Vec<RepoWarning>,
    ) {
        let cache = self.repo_dir.cache();
        for write in writes {
            if let Err(e) = cache.set(&write.role, &write.bytes) {
                warnings.push(RepoWarning::CacheWrite {
                    role: write.role,
                    reason: e.to_string(),
                });
            }
        }
    }

    pub(super) fn update_error(&self, source: update::Error) -> Error {
        match source {
            // As Notary: a missing root (bootstrap, or the newest root after `init` left one
            // in the cache) means the server has no trust data for the GUN.
            update::Error::RepositoryNotFound { .. } => Error::RepositoryNotExist {
                host: self.remote.server_host(),
                gun: self.gun.to_string(),
            },
            update::Error::NotFound { ref role, .. } if role == role::ROOT => {
                Error::RepositoryNotExist {
                    host: self.remote.server_host(),
                    gun: self.gun.to_string(),
                }
            }
            source => Error::Update {
                gun: self.gun.to_string(),
                source: Box::new(source),
            },
        }
    }

    /// Fetches and verifies the repository (Notary's update), writing verified downloads to the
    /// cache. When the server cannot be used, the verified cache is used and the returned
    /// warnings say so.
    ///
    /// # Errors
    ///
    /// [`Error::RepositoryNotExist`] when the server has no trust data (and nothing is cached),
    /// [`Error::Update`] for verification failures, remote errors that are not "unavailable",
    /// [`ConfigError::PinnedCa`](crate::error::ConfigError::PinnedCa) for an unusable pinned CA.
    pub async fn update(&mut self) -> Result<Vec<RepoWarning>> {
        let mut warnings = Vec::new();
        if let Some(offline) = self.remote.offline_error() {
            if let Some(reason) = self.remote.offline_reason() {
                warnings.push(RepoWarning::Offline {
                    reason: reason.to_owned(),
                });
            }
            return match self.update_from_cache(&mut warnings)? {
                true => Ok(warnings),
                false => Err(offline),
            };
        }
        match self.update_online(&mut warnings).await {
            Err(Error::Update { gun, source })
                if matches!(*source, update::Error::Unavailable { .. }) =>
            {
                // The server went away mid-update: fall back to the verified cache.
                let mut offline = vec![RepoWarning::Offline {
                    reason: source.to_string(),
                }];
                if self.update_from_cache(&mut offline)? {
                    warnings.extend(offline);
                    Ok(warnings)
                } else {
                    Err(Error::Update { gun, source })
                }
            }
            Err(e) => Err(e),
            Ok(()) => Ok(warnings),
        }
    }

    pub(super) async fn update_online(&mut self, warnings: &mut Vec<RepoWarning>) -> Result<()> {
        let now = Self::now();
        let mut config = UpdateConfig::new(self.gun.as_str(), now);
        config.trusted = self.cached_state()?;
        config.pinning = pinning::update_pinning(&self.pinning, &self.gun, now)?;
        let mut updater = Updater::new(config).map_err(|e| self.update_error(e))?;
        let mut fetched = 0_usize;
        while let Need::Fetch(request) = updater.next_request() {
            let answer = self.fetch(&request).await;
            fetched = fetched.saturating_add(1);
            self.report(ProgressEvent::Fetched {
                file: request.path(),
                count: fetched,
            });
            let answer = match answer {
                Ok(answer) => answer,
                Err(e) => {
                    self.write_cache(updater.cache_writes(), warnings);
                    return Err(e);
                }
            };
            if let Err(e) = updater.provide(&request, answer) {
                self.write_cache(updater.cache_writes(), warnings);
                return Err(self.update_error(e));
            }
        }
        let outcome = updater.finish().map_err(|e| self.update_error(e))?;
        self.write_cache(outcome.cache_writes, warnings);
        warnings.extend(outcome.warnings.into_iter().map(RepoWarning::Update));
        self.verified = Some(outcome.trusted);
        Ok(())
    }

    /// Verifies the cached metadata without the server (signatures, hashes and versions as an
    /// update checks them). When the cache has expired, it is verified as of just before the
    /// first expiry and an [`RepoWarning::ExpiredCache`] says so. Returns `false` when nothing
    /// usable is cached.
    pub(super) fn update_from_cache(&mut self, warnings: &mut Vec<RepoWarning>) -> Result<bool> {
        let trusted = self.cached_state()?;
        let Some(root_bytes) = trusted.root.clone() else {
            return Ok(false);
        };
        if trusted.timestamp.is_none() {
            return Ok(false);
        }
        let mut now = Self::now();
        if let Some((role_name, expired)) = first_expiry(&trusted)
            && expired <= now
        {
            warnings.push(RepoWarning::ExpiredCache {
                role: role_name,
                expired,
            });
            now = expired - chrono::TimeDelta::seconds(1);
        }
        let mut config = UpdateConfig::new(self.gun.as_str(), now);
        config.trusted = trusted;
        config.pinning = pinning::update_pinning(&self.pinning, &self.gun, now)?;
        let mut updater = Updater::new(config).map_err(|e| self.update_error(e))?;
        while let Need::Fetch(request) = updater.next_request() {
            let answer = if request.name == role::ROOT {
                FetchResult::Bytes(root_bytes.clone())
            } else {
                FetchResult::Unavailable("the trust server cannot be reached".to_owned())
            };
            if updater.provide(&request, answer).is_err() {
                return Ok(false);
            }
        }
        let Ok(outcome) = updater.finish() else {
            return Ok(false);
        };
        warnings.extend(outcome.warnings.into_iter().map(RepoWarning::Update));
        self.verified = Some(outcome.trusted);
        Ok(true)
    }
}

/// The cached role that expires first, and when (documents whose expiry cannot be read are
/// skipped; the update reports them).
fn first_expiry(state: &TrustedState) -> Option<(String, DateTime<Utc>)> {
    let named = [
        (role::ROOT, &state.root),
        (role::TIMESTAMP, &state.timestamp),
        (role::SNAPSHOT, &state.snapshot),
        (role::TARGETS, &state.targets),
    ];
    let base = named
        .into_iter()
        .filter_map(|(name, bytes)| Some((name.to_owned(), bytes.as_ref()?)));
    let delegations = state.delegations.iter().map(|(n, b)| (n.clone(), b));
    let documents = base.chain(delegations).filter_map(|(name, bytes)| {
        let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
        let text = value.get("signed")?.get("expires")?.as_str()?;
        let expires = signet_tuf::metadata::Expires::parse(text).ok()?;
        Some((name, expires.utc()))
    });
    // The root role's certificates expire too (Notary's trust anchors are x509 keys).
    let certificates = state
        .root
        .as_ref()
        .and_then(|bytes| Envelope::<Root>::parse(bytes).ok())
        .map(|root| {
            let root = root.signed();
            root.roles
                .get(role::ROOT)
                .map(|r| {
                    r.keyids
                        .iter()
                        .filter_map(|id| root.keys.get(id))
                        .filter_map(|key| {
                            let bundle = signet_tuf::x509::parse_bundle(key.public()).ok()?;
                            let earliest = bundle.iter().map(|c| c.not_after()).min()?;
                            Some((format!("{} certificate", role::ROOT), earliest))
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .unwrap_or_default();
    documents.chain(certificates).min_by_key(|(_, at)| *at)
}
