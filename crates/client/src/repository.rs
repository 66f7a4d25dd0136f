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
//! * [`Repository::plan_recovery`] and [`Repository::recover_from_leak`]: replacing leaked keys
//!   everywhere the repository trusts them, in one upload (`recovery.rs`).

mod init;
mod publish;
mod reads;
mod recovery;
mod refresh;
mod renewal;
mod resign;
mod rotate;
mod updating;
mod warning;
mod working;

pub use recovery::{
    DelegationRepair, KeyDisposal, LeakedKey, MANIFEST, OrphanedTarget, PlannedRotation,
    QUARANTINE_DIR, RecoveryOptions, RecoveryPlan, RecoveryReport, RoleVersions, RotatedRole,
};
pub use resign::{Lifetime, MAX_LIFETIME, MIN_LIFETIME, ResignReport, ResignedRole, SignedBy};
pub use warning::RepoWarning;

use std::fmt;

use chrono::{DateTime, Utc};
use signet_signer::CryptoService;
use signet_tuf::key::{KeyId, PublicKey};
use signet_tuf::update::{self};

use crate::changelist::{Change, FileChangelist};
use crate::config::TrustPinning;
use crate::error::Result;
use crate::gun::Gun;
use crate::progress::{ProgressCallback, ProgressEvent};
use crate::remote::RemoteStore;
use crate::trust_dir::{RepoDir, TrustDir};

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
    verified: Option<update::TrustedMetadata>,
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

    pub(super) fn report(&self, event: ProgressEvent) {
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

    pub(super) fn now() -> DateTime<Utc> {
        Utc::now()
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

#[cfg(test)]
mod tests;
