//! A trusted collection as the client sees it: update from the server with the cache as trusted
//! state, target lookups, initialisation, publishing staged changes and key rotation.
//!
//! * [`Repository::update`] drives `signet_tuf::update::Updater` over the [`RemoteStore`]:
//!   the cache (`tuf/<gun>/metadata`) is the trusted state, verified downloads are written
//!   back, and when the server cannot be used the verified cache is used with a warning.
//! * Reads ([`list_targets`](Repository::list_targets), [`lookup`](Repository::lookup),
//!   [`all_target_metadata_by_name`](Repository::all_target_metadata_by_name),
//!   [`delegations`](Repository::delegations)) answer from the last successful update.
//! * [`Repository::publish`] is Notary's publish: check that the server knows the GUN (else an
//!   initial publish from the cache, initialising the repository when there is nothing local
//!   either), update, apply the changelist, re-sign what changed (root too when it is within six
//!   months of expiry), re-sign the snapshot when its key is held, upload everything in one
//!   multipart POST, then clear the applied changes. After the upload the cache is refreshed
//!   with the server's new trust data, verified (`refresh.rs`; Notary leaves it as it was).
//! * [`Repository::initialize`], [`Repository::rotate_key`], [`Repository::delete`].

mod refresh;
mod renewal;
mod resign;
mod working;

pub use resign::{Lifetime, MAX_LIFETIME, MIN_LIFETIME, ResignReport, ResignedRole, SignedBy};

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use signet_signer::{CryptoService, KeyAlgorithm, PrivateKey, rotation};
use signet_tuf::key::{KeyId, PublicKey};
use signet_tuf::metadata::{Envelope, RoleKeys, Root, Snapshot, Targets};
use signet_tuf::repo::{self, SnapshotBuilder};
use signet_tuf::role;
use signet_tuf::update::{
    self, FetchResult, Need, ResolvedRole, TargetRef, TargetSigned, TargetWithRole, TrustedState,
    UpdateConfig, Updater,
};

use crate::changelist::{Change, ChangelistWarning, FileChangelist};
use crate::config::TrustPinning;
use crate::error::{Error, Result};
use crate::gun::Gun;
use crate::pinning;
use crate::progress::{ProgressCallback, ProgressEvent};
use crate::remote::{MAX_DOWNLOAD_SIZE, MAX_TIMESTAMP_SIZE, RemoteStore};
use crate::trust_dir::{RepoDir, TrustDir};

use working::{Doc, Working};

/// Something the caller may want to tell the user; nothing here is fatal.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RepoWarning {
    /// The server could not be reached; cached metadata was used.
    Offline {
        /// Why.
        reason: String,
    },
    /// A finding of the update (cached timestamp used, delegation skipped, near expiry, …).
    Update(update::Warning),
    /// A verified file could not be written to the cache.
    CacheWrite {
        /// The role.
        role: String,
        /// Why.
        reason: String,
    },
    /// A changelist file was skipped.
    Changelist(ChangelistWarning),
    /// A delegation purge skipped a role whose key is not held.
    PurgeSkipped {
        /// The role left unchanged.
        role: String,
    },
    /// A delegation has fewer keys than its threshold and cannot be used until keys are added.
    BelowThreshold {
        /// The role.
        role: String,
        /// How many keys it has.
        keys: usize,
        /// Its threshold.
        threshold: i64,
    },
    /// The repository was initialised by the publish (nothing existed locally or remotely).
    Initialized,
    /// Offline, the cached metadata was used although `role` expired at `expired`; the
    /// listing is what the cache held then and may be stale.
    ExpiredCache {
        /// The first cached role to expire.
        role: String,
        /// When it expired.
        expired: DateTime<Utc>,
    },
    /// A root certificate that expired or expires within six months was renewed for the same
    /// private key; root lists the new certificate key (a root rotation).
    RootCertificateRenewed {
        /// The TUF key ID of the old certificate key.
        old_key_id: KeyId,
        /// The TUF key ID of the new certificate key.
        new_key_id: KeyId,
        /// When the old certificate expires (or expired).
        old_expires: DateTime<Utc>,
        /// When the new certificate expires.
        new_expires: DateTime<Utc>,
    },
    /// A root certificate expires within six months but could not be renewed (its root key is
    /// not held, or a CA issued it).
    RootCertificateNotRenewed {
        /// The canonical ID of the root key.
        key_id: String,
        /// When the certificate expires.
        expires: DateTime<Utc>,
    },
    /// A re-sign found `role` expired at `expired`; it was verified as of just before its
    /// expiry and re-signed (when its key is held).
    ExpiredResigned {
        /// The expired role.
        role: String,
        /// When it expired.
        expired: DateTime<Utc>,
    },
    /// On an initial publish, root listed a timestamp key the server does not hold; the
    /// server's timestamp key replaced it.
    TimestampKeyReplaced {
        /// The timestamp keys root listed.
        old_key_ids: Vec<KeyId>,
        /// The server's timestamp key.
        new_key_id: KeyId,
    },
    /// After a publish, the server's new trust data could not be fetched and verified; the
    /// cache keeps the trust data from before the publish until the next update.
    CacheNotRefreshed {
        /// Why.
        reason: String,
    },
}

impl fmt::Display for RepoWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Offline { reason } => write!(f, "{reason}; continuing in offline mode"),
            Self::Update(w) => write!(f, "{w}"),
            Self::CacheWrite { role, reason } => {
                write!(f, "could not cache the {role} metadata: {reason}")
            }
            Self::Changelist(w) => write!(f, "{w}"),
            Self::PurgeSkipped { role } => write!(
                f,
                "role {role} contains keys being purged but you do not have the necessary keys present to sign it; keys will not be purged from {role} or its immediate children"
            ),
            Self::BelowThreshold {
                role,
                threshold,
                ..
            } => write!(
                f,
                "role {role} has fewer keys than its threshold of {threshold}; it will not be usable until keys are added to it"
            ),
            Self::ExpiredCache { role, expired } => write!(
                f,
                "the cached {role} metadata expired at {expired}; the trust server cannot be reached, so the expired cached trust data is shown"
            ),
            Self::Initialized => f.write_str(
                "No TUF data found locally or remotely - initializing repository for the first time",
            ),
            Self::RootCertificateRenewed {
                old_key_id,
                new_key_id,
                old_expires,
                new_expires,
            } => {
                let past = if *old_expires <= Utc::now() {
                    "expired"
                } else {
                    "expires"
                };
                write!(
                    f,
                    "the root certificate {old_key_id} {past} at {old_expires}; renewed it for the same root key as {new_key_id}, valid until {new_expires} (root is rotated to the new certificate key and signed by both)"
                )
            }
            Self::RootCertificateNotRenewed { key_id, expires } => write!(
                f,
                "the certificate of root key {key_id} expires at {expires} and cannot be renewed here (the root key is not held, or a CA issued it); renew it, or rotate the root key with `signet key rotate <GUN> root`"
            ),
            Self::ExpiredResigned { role, expired } => write!(
                f,
                "the {role} metadata expired at {expired}; it was verified as of its expiry so that it can be re-signed"
            ),
            Self::TimestampKeyReplaced {
                old_key_ids,
                new_key_id,
            } => {
                let old: Vec<String> = old_key_ids.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "the server does not hold the timestamp key root lists ({}); root now lists the server's timestamp key {new_key_id}",
                    old.join(", ")
                )
            }
            Self::CacheNotRefreshed { reason } => write!(
                f,
                "the changes were published, but the cached trust data could not be refreshed ({reason}); it is refreshed by the next update"
            ),
        }
    }
}

/// What a publish uploaded.
#[derive(Debug, Clone, Default)]
pub struct PublishReport {
    /// The roles uploaded, in upload order.
    pub roles: Vec<String>,
    /// Whether this was the first publish of the repository.
    pub initial: bool,
    /// Non-fatal findings.
    pub warnings: Vec<RepoWarning>,
}

/// How to initialise a repository.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// Canonical IDs of existing root keys to use; empty = the existing root key with the
    /// smallest ID, or a new one.
    pub root_key_ids: Vec<KeyId>,
    /// Root certificates (`ecdsa-x509`/`rsa-x509` keys) to use instead of generating them;
    /// each must belong to a held root key.
    pub root_certificates: Vec<PublicKey>,
    /// Let the server manage the snapshot key (what docker does).
    pub server_managed_snapshot: bool,
}

/// What a key rotation did.
#[derive(Debug, Clone)]
pub struct RotationReport {
    /// The role's (first) new key as listed in root.
    pub new_key: PublicKey,
    /// Every new key of the role as listed in root.
    pub new_keys: Vec<PublicKey>,
    /// The publish that carried the new root.
    pub publish: PublishReport,
}

/// One trusted collection: its trust dir, server, trust pinning and keys.
pub struct Repository {
    gun: Gun,
    repo_dir: RepoDir,
    trust_dir: TrustDir,
    remote: RemoteStore,
    pinning: TrustPinning,
    crypto: CryptoService,
    progress: Option<ProgressCallback>,
    verified: Option<update::Repository>,
}

impl fmt::Debug for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repository")
            .field("gun", &self.gun)
            .field("trust_dir", &self.trust_dir)
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

impl Repository {
    /// Opens `gun` in `trust_dir` (creating `tuf/<gun>/metadata` and `changelist`, as Notary
    /// does) with `remote` as its server, `pinning` for first-time trust and `crypto` for keys.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the directories cannot be created.
    pub fn open(
        trust_dir: &TrustDir,
        gun: Gun,
        remote: RemoteStore,
        pinning: TrustPinning,
        crypto: CryptoService,
    ) -> Result<Self> {
        let repo_dir = trust_dir.repo(&gun);
        repo_dir.create()?;
        Ok(Self {
            gun,
            repo_dir,
            trust_dir: trust_dir.clone(),
            remote,
            pinning,
            crypto,
            progress: None,
            verified: None,
        })
    }

    /// Reports the progress of updates and publishes to `callback`.
    #[must_use]
    pub fn with_progress(mut self, callback: ProgressCallback) -> Self {
        self.progress = Some(callback);
        self
    }

    fn report(&self, event: ProgressEvent) {
        if let Some(callback) = &self.progress {
            callback(&event);
        }
    }

    /// The GUN.
    pub fn gun(&self) -> &Gun {
        &self.gun
    }

    /// The server.
    pub fn remote(&self) -> &RemoteStore {
        &self.remote
    }

    /// The key stores.
    pub fn crypto(&self) -> &CryptoService {
        &self.crypto
    }

    /// The staged changes.
    pub fn changelist(&self) -> FileChangelist {
        self.repo_dir.changelist()
    }

    /// Stages `change` for the next publish.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the change file cannot be written.
    pub fn stage(&self, change: &Change) -> Result<String> {
        self.changelist().add(change)
    }

    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    fn cached_state(&self) -> Result<TrustedState> {
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

    async fn fetch(&self, request: &update::Request) -> Result<FetchResult> {
        let limit = request.max_len.saturating_add(1);
        match self.remote.get_meta(&self.gun, &request.name, limit).await {
            Ok(bytes) => Ok(FetchResult::Bytes(bytes)),
            Err(e) if e.is_not_found() => Ok(FetchResult::NotFound),
            Err(e) if e.is_unavailable() => Ok(FetchResult::Unavailable(e.to_string())),
            Err(e) => Err(e),
        }
    }

    fn write_cache(&self, writes: Vec<update::CacheWrite>, warnings: &mut Vec<RepoWarning>) {
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

    fn update_error(&self, source: update::Error) -> Error {
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
    /// [`Error::PinnedCa`] for an unusable pinned CA.
    pub async fn update(&mut self) -> Result<Vec<RepoWarning>> {
        let mut warnings = Vec::new();
        if let Some(reason) = self.remote.offline_reason() {
            warnings.push(RepoWarning::Offline {
                reason: reason.to_owned(),
            });
            return match self.update_from_cache(&mut warnings)? {
                true => Ok(warnings),
                false => Err(Error::Update {
                    gun: self.gun.to_string(),
                    source: Box::new(update::Error::Unavailable {
                        gun: self.gun.to_string(),
                        role: role::ROOT.to_owned(),
                        file: format!("{}.json", role::ROOT),
                        reason: "client is offline".to_owned(),
                    }),
                }),
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

    async fn update_online(&mut self, warnings: &mut Vec<RepoWarning>) -> Result<()> {
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
        self.verified = Some(outcome.repository);
        Ok(())
    }

    /// Verifies the cached metadata without the server (signatures, hashes and versions as an
    /// update checks them). When the cache has expired, it is verified as of just before the
    /// first expiry and an [`RepoWarning::ExpiredCache`] says so. Returns `false` when nothing
    /// usable is cached.
    fn update_from_cache(&mut self, warnings: &mut Vec<RepoWarning>) -> Result<bool> {
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
        self.verified = Some(outcome.repository);
        Ok(true)
    }

    /// The repository verified by the last [`update`](Self::update).
    ///
    /// # Errors
    ///
    /// [`Error::NotInitialized`] before a successful update.
    pub fn verified(&self) -> Result<&update::Repository> {
        self.verified.as_ref().ok_or_else(|| Error::NotInitialized {
            gun: self.gun.to_string(),
        })
    }

    fn lookup_error(&self, source: update::Error) -> Error {
        Error::Update {
            gun: self.gun.to_string(),
            source: Box::new(source),
        }
    }

    /// `notary list`: every target visible from `roles` (empty = `targets`), sorted by name.
    ///
    /// # Errors
    ///
    /// [`Error::NotInitialized`] before a successful update.
    pub fn list_targets(&self, roles: &[&str]) -> Result<Vec<TargetWithRole>> {
        Ok(self.verified()?.list_targets(roles))
    }

    /// [`list_targets`](Self::list_targets) without copying: the same targets in the same
    /// order, borrowed from the verified documents (for large repositories).
    ///
    /// # Errors
    ///
    /// [`Error::NotInitialized`] before a successful update.
    pub fn list_target_refs(&self, roles: &[&str]) -> Result<Vec<TargetRef<'_>>> {
        Ok(self.verified()?.list_target_refs(roles))
    }

    /// `notary lookup`: the first role (breadth-first, in `roles` priority order; empty =
    /// `targets`) that lists `name`.
    ///
    /// # Errors
    ///
    /// [`Error::Update`] wrapping "No valid trust data for …" when no role lists it.
    pub fn lookup(&self, name: &str, roles: &[&str]) -> Result<TargetWithRole> {
        self.verified()?
            .get_target_by_name(name, roles)
            .map_err(|e| self.lookup_error(e))
    }

    /// Every occurrence of `name` in the tree with its role's signatures (`""` = every
    /// target), as `docker trust inspect` uses it.
    ///
    /// # Errors
    ///
    /// As [`lookup`](Self::lookup).
    pub fn all_target_metadata_by_name(&self, name: &str) -> Result<Vec<TargetSigned>> {
        self.verified()?
            .all_target_metadata_by_name(name)
            .map_err(|e| self.lookup_error(e))
    }

    /// `notary delegation list`: every delegation declared by a loaded role, with its keys,
    /// threshold and effective paths, in walk order.
    ///
    /// # Errors
    ///
    /// [`Error::NotInitialized`] before a successful update.
    pub fn delegations(&self) -> Result<Vec<ResolvedRole>> {
        let verified = self.verified()?;
        let mut roles = Vec::new();
        verified.walk("", "", &[], |doc, role| {
            for child in role.children(doc.signed()) {
                if !roles.iter().any(|r: &ResolvedRole| r.name == child.name) {
                    roles.push(child);
                }
            }
            std::ops::ControlFlow::Continue(())
        });
        Ok(roles)
    }

    /// Creates the repository locally (Notary's `Initialize`): root key(s) with certificates,
    /// a new targets key, a snapshot key (local, or the server's), the server's timestamp key;
    /// root v1, targets v1 and (local snapshot) snapshot v1 are signed and written to the
    /// cache. Nothing is uploaded until [`publish`](Self::publish).
    ///
    /// # Errors
    ///
    /// Key store errors, remote errors fetching the server keys, [`Error::NoSigningKeys`] when
    /// a requested root key is not held.
    pub async fn initialize(&mut self, options: InitOptions) -> Result<()> {
        let gun = self.gun.to_string();
        let now = Self::now();
        let key_error = |role: &str, source: signet_signer::Error| Error::Key {
            gun: gun.clone(),
            role: role.to_owned(),
            source: Box::new(source),
        };
        let metadata_error = |role: &str, source: signet_tuf::Error| Error::Metadata {
            gun: gun.clone(),
            role: role.to_owned(),
            source: Box::new(source),
        };

        // Keys another process (or another `Repository` on the same trust dir) created since
        // the stores were opened.
        self.crypto.reload();
        let timestamp_key = self.remote.get_key(&self.gun, role::TIMESTAMP).await?;
        let root_keys = self.root_keys_for_init(&options)?;
        let targets_signer = self
            .crypto
            .create(KeyAlgorithm::Ecdsa, role::TARGETS, Some(&gun))
            .map_err(|e| key_error(role::TARGETS, e))?;
        let snapshot_key = if options.server_managed_snapshot {
            self.remote.get_key(&self.gun, role::SNAPSHOT).await?
        } else {
            self.crypto
                .create(KeyAlgorithm::Ecdsa, role::SNAPSHOT, Some(&gun))
                .map_err(|e| key_error(role::SNAPSHOT, e))?
                .public_key()
                .clone()
        };

        let mut root = Root::new(
            repo::default_expires(role::ROOT, now).map_err(|e| metadata_error(role::ROOT, e))?,
        );
        let mut add_role = |name: &str, keys: &[PublicKey]| {
            let ids: Vec<KeyId> = keys.iter().map(PublicKey::key_id).collect();
            for key in keys {
                root.keys.insert(key.key_id(), key.clone());
            }
            root.roles.insert(name.to_owned(), RoleKeys::new(ids, 1));
        };
        add_role(role::ROOT, &root_keys);
        add_role(role::TARGETS, &[targets_signer.public_key().clone()]);
        add_role(role::SNAPSHOT, &[snapshot_key]);
        add_role(role::TIMESTAMP, &[timestamp_key]);
        root.validate().map_err(|e| metadata_error(role::ROOT, e))?;

        let targets = Targets::new(
            1,
            repo::default_expires(role::TARGETS, now)
                .map_err(|e| metadata_error(role::TARGETS, e))?,
        );
        let mut working = Working {
            gun: gun.clone(),
            now,
            loaded_root: root.clone(),
            root: Doc::loaded(root, Vec::new()),
            targets: BTreeMap::new(),
            deleted: Default::default(),
            snapshot: None,
            retired_keys: Vec::new(),
            legacy_root_keys: Vec::new(),
        };
        let root_requirement =
            repo::SigningRequirement::of_root_role(&working.root.signed, role::ROOT)
                .into_iter()
                .collect::<Vec<_>>();
        let root_bytes = sign_new(
            &working,
            &self.crypto,
            role::ROOT,
            working.root.signed.clone(),
            &root_requirement,
        )?;
        working.root.bytes = root_bytes.clone();
        let targets_requirement =
            repo::SigningRequirement::of_root_role(&working.root.signed, role::TARGETS)
                .into_iter()
                .collect::<Vec<_>>();
        let targets_bytes = sign_new(
            &working,
            &self.crypto,
            role::TARGETS,
            targets,
            &targets_requirement,
        )?;

        let cache = self.repo_dir.cache();
        cache.remove(role::TIMESTAMP)?;
        cache.remove(role::SNAPSHOT)?;
        if !options.server_managed_snapshot {
            let mut builder = SnapshotBuilder::new(None);
            builder
                .set_file(role::ROOT, &root_bytes)
                .and_then(|b| b.set_file(role::TARGETS, &targets_bytes))
                .map_err(|e| metadata_error(role::SNAPSHOT, e))?;
            let snapshot = builder
                .build(now)
                .map_err(|e| metadata_error(role::SNAPSHOT, e))?;
            let snapshot_requirement =
                repo::SigningRequirement::of_root_role(&working.root.signed, role::SNAPSHOT)
                    .into_iter()
                    .collect::<Vec<_>>();
            let snapshot_bytes = sign_new(
                &working,
                &self.crypto,
                role::SNAPSHOT,
                snapshot.signed().clone(),
                &snapshot_requirement,
            )?;
            cache.set(role::SNAPSHOT, &snapshot_bytes)?;
        }
        cache.set(role::ROOT, &root_bytes)?;
        cache.set(role::TARGETS, &targets_bytes)?;
        self.verified = None;
        Ok(())
    }

    /// The root keys of a new repository, as TUF keys (certificates).
    fn root_keys_for_init(&self, options: &InitOptions) -> Result<Vec<PublicKey>> {
        let gun = self.gun.to_string();
        let key_error = |source: signet_signer::Error| Error::Key {
            gun: gun.clone(),
            role: role::ROOT.to_owned(),
            source: Box::new(source),
        };
        let mut ids = options.root_key_ids.clone();
        if ids.is_empty() && options.root_certificates.is_empty() {
            let mut existing: Vec<KeyId> = self
                .crypto
                .list_keys()
                .map_err(key_error)?
                .into_iter()
                .filter(|k| k.role == role::ROOT)
                .map(|k| k.key_id)
                .collect();
            existing.sort();
            ids.extend(existing.into_iter().take(1));
        }
        let mut keys = Vec::new();
        for cert in &options.root_certificates {
            let canonical = cert.canonical_key_id().map_err(|e| Error::Metadata {
                gun: gun.clone(),
                role: role::ROOT.to_owned(),
                source: Box::new(e),
            })?;
            if !working::holds_key(&self.crypto, &canonical) {
                return Err(Error::NoSigningKeys {
                    gun: gun.clone(),
                    role: role::ROOT.to_owned(),
                    key_ids: vec![canonical.to_string()],
                });
            }
            ids.retain(|id| *id != canonical);
            keys.push(cert.clone());
        }
        for id in ids {
            let signer = self
                .crypto
                .signer_by_id(&id)
                .map_err(key_error)?
                .ok_or_else(|| Error::NoSigningKeys {
                    gun: gun.clone(),
                    role: role::ROOT.to_owned(),
                    key_ids: vec![id.to_string()],
                })?;
            let cert = signet_signer::cert::generate_root_certificate(signer.as_ref(), &gun)
                .map_err(key_error)?;
            keys.push(cert.public_key);
        }
        if keys.is_empty() {
            let signer = self
                .crypto
                .create(KeyAlgorithm::Ecdsa, role::ROOT, None)
                .map_err(key_error)?;
            let cert = signet_signer::cert::generate_root_certificate(signer.as_ref(), &gun)
                .map_err(key_error)?;
            keys.push(cert.public_key);
        }
        Ok(keys)
    }

    /// The local state for an initial publish: cached root and targets (required; expiry and
    /// signatures are not checked, as Notary does), cached snapshot if any.
    fn load_local(&self) -> Result<Option<Working>> {
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

    fn working_from_verified(&self) -> Result<Working> {
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
    /// [`Error::ChangeUnreadable`] for a change file that cannot be parsed, the errors of
    /// [`update`](Self::update), [`Error::ChangeRejected`] / [`Error::NoSigningKeys`] when a
    /// change cannot be applied or signed, and the server's answer to the upload.
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
    async fn publish_changes(
        &mut self,
        changes: &[Change],
    ) -> Result<(PublishReport, Vec<(String, PublicKey)>)> {
        self.publish_changes_with_legacy(changes, 0).await
    }

    /// As [`publish_changes`](Self::publish_changes), also signing a re-signed root with the
    /// held keys of the `legacy_versions` previous root versions.
    async fn publish_changes_with_legacy(
        &mut self,
        changes: &[Change],
        legacy_versions: u32,
    ) -> Result<(PublishReport, Vec<(String, PublicKey)>)> {
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

    /// `notary key rotate`: new keys for base role `role` — the given `new_keys` (several
    /// become several keys of the role), a generated one when none are given, or with
    /// `server_managed` the server's — put into root by a publish of just that change (staged
    /// changes stay staged). The new root is also signed with the held root keys of the
    /// `legacy_versions` root versions before the current one (`<v>.root.json` from the
    /// server; versions or private keys that are missing are skipped). Replaced private keys
    /// of non-root roles are removed from the key stores after the publish succeeded; old
    /// root keys are kept.
    ///
    /// Supplied keys are stored in the first key store that accepts them, and a generated key
    /// is made by the first store that accepts it (a hardware store listed first gets it); see
    /// [`rotate_key_with`](Self::rotate_key_with) to rotate to a key a store already holds.
    ///
    /// The remote should have been set up with [`Access::Admin`](crate::remote::Access) for a
    /// server-managed rotation.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] with Notary's message for combinations Notary refuses (including keys
    /// given with `server_managed`), and every publish error.
    pub async fn rotate_key(
        &mut self,
        role_name: &str,
        server_managed: bool,
        new_keys: Vec<PrivateKey>,
        legacy_versions: u32,
    ) -> Result<RotationReport> {
        let new_keys = new_keys
            .into_iter()
            .map(|key| rotation::NewKey::Supplied(Box::new(key)))
            .collect();
        self.rotate_key_with(role_name, server_managed, new_keys, legacy_versions)
            .await
    }

    /// [`rotate_key`](Self::rotate_key) with the new keys given as
    /// [`NewKey`](rotation::NewKey)s: generated in, added to, or already held by (for example
    /// a YubiHSM 2 key, by key ID) the key stores of the crypto service, searched in order. An
    /// empty `new_keys` generates one ECDSA P-256 key.
    ///
    /// # Errors
    ///
    /// As [`rotate_key`](Self::rotate_key); [`Error::Key`] wrapping
    /// [`KeyNotInStores`](signet_signer::Error::KeyNotInStores) for a held key no store has.
    pub async fn rotate_key_with(
        &mut self,
        role_name: &str,
        server_managed: bool,
        mut new_keys: Vec<rotation::NewKey>,
        legacy_versions: u32,
    ) -> Result<RotationReport> {
        let gun = self.gun.to_string();
        let key_error = |source: signet_signer::Error| Error::Key {
            gun: gun.clone(),
            role: role_name.to_owned(),
            source: Box::new(source),
        };
        rotation::check_rotation(&gun, role_name, server_managed).map_err(key_error)?;
        let new_publics = if server_managed {
            if !new_keys.is_empty() {
                return Err(key_error(signet_signer::Error::Rotation {
                    gun: gun.clone(),
                    role: role_name.to_owned(),
                    reason: "a server-managed key cannot be given with --key".to_owned(),
                }));
            }
            vec![self.remote.rotate_key(&self.gun, role_name).await?]
        } else {
            // Keys another process added (to the trust dir or a device) are candidates too.
            self.crypto.reload();
            if new_keys.is_empty() {
                new_keys.push(rotation::NewKey::default());
            }
            let mut publics = Vec::new();
            for new_key in new_keys {
                publics.push(
                    rotation::rotate(&self.crypto, &gun, role_name, new_key)
                        .map_err(key_error)?
                        .public_key,
                );
            }
            publics
        };
        let change = Change::replace_root_role_keys(role_name, new_publics.clone());
        let (publish, retired) = self
            .publish_changes_with_legacy(&[change], legacy_versions)
            .await?;
        let old_ids: Vec<KeyId> = retired
            .iter()
            .filter_map(|(_, key)| key.canonical_key_id().ok())
            .collect();
        for store in self.crypto.stores() {
            rotation::retire_old_keys(store.as_ref(), role_name, &old_ids).map_err(key_error)?;
        }
        let new_key = new_publics
            .first()
            .cloned()
            .ok_or_else(|| Error::NotInitialized { gun: gun.clone() })?;
        Ok(RotationReport {
            new_key,
            new_keys: new_publics,
            publish,
        })
    }

    /// Root keys of the `count` root versions before `current` as the server has them
    /// (`<v>.root.json`); versions the server does not have are skipped.
    async fn legacy_root_keys(&self, current: i64, count: u32) -> Result<Vec<PublicKey>> {
        let mut keys: Vec<PublicKey> = Vec::new();
        let oldest = current.saturating_sub(i64::from(count)).max(1);
        for version in (oldest..current).rev() {
            let name = format!("{version}.{}", role::ROOT);
            let bytes = match self
                .remote
                .get_meta(&self.gun, &name, MAX_DOWNLOAD_SIZE)
                .await
            {
                Ok(bytes) => bytes,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            let root = Envelope::<Root>::parse(&bytes).map_err(|e| Error::Metadata {
                gun: self.gun.to_string(),
                role: name.clone(),
                source: Box::new(e),
            })?;
            if let Some(requirement) =
                repo::SigningRequirement::of_root_role(root.signed(), role::ROOT)
            {
                for key in requirement.keys.into_values() {
                    if !keys.iter().any(|k| k.key_id() == key.key_id()) {
                        keys.push(key);
                    }
                }
            }
        }
        Ok(keys)
    }

    /// `notary delete`: removes the local trust data (`tuf/<gun>`, never keys) and, with
    /// `remote`, the server's (`DELETE`, admin access).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] and remote errors.
    pub async fn delete(self, remote: bool) -> Result<()> {
        self.trust_dir.delete_repo(&self.gun)?;
        if remote {
            self.remote.delete_repo(&self.gun).await?;
        }
        Ok(())
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

/// Signs a brand-new document (no version bump) for `role_name`.
fn sign_new<T: signet_tuf::metadata::Metadata>(
    working: &Working,
    crypto: &CryptoService,
    role_name: &str,
    doc: T,
    requirements: &[repo::SigningRequirement],
) -> Result<Vec<u8>> {
    working.sign_document(crypto, role_name, doc, requirements)
}

#[cfg(test)]
mod tests;
