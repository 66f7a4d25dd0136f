//! The `docker trust` operations over a [`Repository`]: sign, revoke, signer add / remove,
//! inspect, and the pull-time verification. The caller opens the repository (trust server,
//! TLS, credentials, keys) and the registry client; nothing here prints.

use std::collections::{BTreeMap, BTreeSet};

use signet_tuf::PublicKey;
use signet_tuf::role;
use signet_tuf::update;

use super::inspect::{self, TrustRepo};
use super::{
    PULL_ROLES, RELEASES_ROLE, check_registry_digest, is_released_role, signable_roles, signatures,
    signer_role, trusted_digest, validate_signer_name,
};
use crate::changelist::{Action, Change, DelegationChange, TargetMeta};
use crate::error::{ConnectFailure, Error, Result, StagingError, StillSigned, TrustError};
use crate::registry::{Digest, ImageReference, RegistryClient};
use crate::repository::{InitOptions, RepoWarning, Repository};

/// Whether the repository exists: `Some(warnings)` after a successful update, `None` when
/// neither the server nor the cache has trust data for it.
///
/// # Errors
///
/// Any other update error.
pub async fn update_if_exists(repo: &mut Repository) -> Result<Option<Vec<RepoWarning>>> {
    match repo.update().await {
        Ok(warnings) => Ok(Some(warnings)),
        Err(Error::RepositoryNotExist { .. } | Error::NotInitialized { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Canonical IDs of every key the repository's key stores hold.
///
/// # Errors
///
/// Key store errors.
pub fn held_key_ids(repo: &Repository) -> Result<BTreeSet<String>> {
    Ok(held_keys(repo)?.into_keys().collect())
}

/// Every key the repository's key stores hold (read again from the stores): canonical ID →
/// the name (role) it is stored under.
///
/// # Errors
///
/// Key store errors.
pub fn held_keys(repo: &Repository) -> Result<BTreeMap<String, String>> {
    repo.crypto().reload();
    let keys = repo.crypto().list_keys().map_err(|e| Error::Key {
        gun: repo.gun().to_string(),
        role: String::new(),
        source: Box::new(e),
    })?;
    Ok(keys
        .into_iter()
        .map(|k| (k.key_id.to_string(), k.role))
        .collect())
}

/// Initialises the repository as docker does: the existing root key with the smallest ID (or
/// a new one), a new targets key, a server-managed snapshot key.
async fn initialize(repo: &mut Repository) -> Result<()> {
    repo.initialize(InitOptions {
        server_managed_snapshot: true,
        ..InitOptions::default()
    })
    .await
}

/// Stages `keys` and the path `""` on `targets/<name>` and `targets/releases`.
fn stage_signer(repo: &Repository, name: &str, keys: &[PublicKey]) -> Result<()> {
    for role_name in [signer_role(name), RELEASES_ROLE.to_owned()] {
        repo.stage(&Change::delegation(
            Action::Create,
            role_name.as_str(),
            &DelegationChange {
                threshold: 1,
                add_keys: keys.to_vec(),
                ..DelegationChange::default()
            },
        ))?;
        repo.stage(&Change::delegation(
            Action::Create,
            role_name.as_str(),
            &DelegationChange {
                add_paths: vec![String::new()],
                ..DelegationChange::default()
            },
        ))?;
    }
    Ok(())
}

/// Publishes, clearing the staged changes when the publish fails (docker clears the
/// changelist around every trust command that publishes).
async fn publish(repo: &mut Repository) -> Result<Vec<RepoWarning>> {
    match repo.publish().await {
        Ok(report) => Ok(report.warnings),
        Err(e) => {
            let _ = repo.changelist().clear();
            Err(e)
        }
    }
}

/// How `sign` should behave.
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    /// Sign the digest the registry serves now even when the tag is already released (docker's
    /// `--local`); otherwise an already released tag is signed again with its released hashes.
    pub local: bool,
    /// The signer docker would create when initialising the repository (the registry user
    /// name); `None` signs a new repository's tag into `targets`.
    pub initial_signer: Option<String>,
}

/// What `sign` did.
#[derive(Debug, Clone)]
pub struct SignReport {
    /// The tag.
    pub tag: String,
    /// The signed digest.
    pub digest: Digest,
    /// The signed length.
    pub size: u64,
    /// The roles the tag was signed into.
    pub roles: Vec<String>,
    /// Whether the repository was initialised.
    pub initialized: bool,
    /// The signer created while initialising, if any.
    pub created_signer: Option<String>,
    /// The released row that existed before (when the tag was signed again).
    pub existing: Option<inspect::SignedTag>,
    /// Non-fatal findings.
    pub warnings: Vec<RepoWarning>,
}

fn tag_of(image: &ImageReference) -> Result<String> {
    if image.digest().is_some() {
        return Err(Error::Trust(TrustError::DigestReference {
            reference: image.to_string(),
        }));
    }
    image
        .tag()
        .map(str::to_owned)
        .ok_or_else(|| Error::Trust(TrustError::NoTag { name: image.name() }))
}

fn target_meta(digest: &Digest, size: u64) -> Result<TargetMeta> {
    let length = i64::try_from(size).map_err(|_| {
        Error::Staging(StagingError::InvalidTargetMeta {
            target: digest.to_string(),
            reason: "size too large".to_owned(),
        })
    })?;
    Ok(TargetMeta {
        length,
        hashes: BTreeMap::from([(digest.algorithm().name().to_owned(), digest.to_bytes())]),
        custom: None,
    })
}

/// `trust sign IMAGE:TAG`: signs the tag's manifest (digest and size from the registry) into
/// the signable roles, initialising the repository first when needed, and publishes.
///
/// # Errors
///
/// [`TrustError::DigestReference`], [`TrustError::NoTag`], registry errors, update and publish
/// errors, [`TrustError::NoSignableRoles`].
pub async fn sign(
    repo: &mut Repository,
    registry: &RegistryClient,
    image: &ImageReference,
    options: &SignOptions,
) -> Result<SignReport> {
    let tag = tag_of(image)?;
    let gun = repo.gun().to_string();
    repo.changelist().clear()?;
    let mut warnings = Vec::new();
    let existing_repo = update_if_exists(repo).await?;
    let initialized = existing_repo.is_none();
    let mut existing = None;
    let (digest, size) = match existing_repo {
        Some(found) => {
            warnings.extend(found);
            let targets = signatures::occurrences(repo, Some(&tag))?;
            let released = targets.iter().find(|t| is_released_role(&t.role.name));
            match released {
                Some(target) if !options.local => {
                    existing = inspect::released_rows(&targets).into_iter().next();
                    let with_role = update::TargetWithRole {
                        name: target.name.clone(),
                        meta: target.meta.clone(),
                        role: target.role.name.clone(),
                    };
                    let digest = trusted_digest(&gun, &with_role)?;
                    (
                        digest,
                        u64::try_from(target.meta.length).unwrap_or_default(),
                    )
                }
                _ => {
                    let manifest = registry.resolve(image).await?;
                    (manifest.digest, manifest.size)
                }
            }
        }
        None => {
            let manifest = registry.resolve(image).await?;
            (manifest.digest, manifest.size)
        }
    };
    let meta = target_meta(&digest, size)?;

    let mut created_signer = None;
    let roles = if initialized {
        initialize(repo).await?;
        match &options.initial_signer {
            Some(name) => {
                let key = signer_key(repo, name)?;
                stage_signer(repo, name, &[key])?;
                created_signer = Some(name.clone());
                vec![signer_role(name), RELEASES_ROLE.to_owned()]
            }
            None => vec![role::TARGETS.to_owned()],
        }
    } else {
        let held = held_key_ids(repo)?;
        signable_roles(&gun, &repo.delegations()?, &tag, &held)?
    };
    for role_name in &roles {
        repo.stage(&Change::add_target(role_name.as_str(), tag.as_str(), &meta))?;
    }
    warnings.extend(publish(repo).await?);
    Ok(SignReport {
        tag,
        digest,
        size,
        roles,
        initialized,
        created_signer,
        existing,
        warnings,
    })
}

/// The public key of the signer `name`: the held key with role `name` (smallest ID), or a new
/// ECDSA key.
fn signer_key(repo: &Repository, name: &str) -> Result<PublicKey> {
    let key_error = |e: signet_signer::Error| Error::Key {
        gun: repo.gun().to_string(),
        role: name.to_owned(),
        source: Box::new(e),
    };
    repo.crypto().reload();
    let mut keys = repo.crypto().list_keys().map_err(key_error)?;
    keys.sort_by(|a, b| a.key_id.cmp(&b.key_id));
    if let Some(info) = keys.iter().find(|k| k.role == name) {
        let signer = repo
            .crypto()
            .require_signer_by_id(&info.key_id)
            .map_err(key_error)?;
        return Ok(signer.public_key().clone());
    }
    let signer = repo
        .crypto()
        .create(signet_signer::KeyAlgorithm::Ecdsa, name, None)
        .map_err(key_error)?;
    Ok(signer.public_key().clone())
}

/// What `revoke` removed.
#[derive(Debug, Clone)]
pub struct RevokeReport {
    /// The tags removed, each with the roles it was removed from.
    pub removed: Vec<(String, Vec<String>)>,
    /// Non-fatal findings.
    pub warnings: Vec<RepoWarning>,
}

/// `trust revoke IMAGE[:TAG]`: removes the tag (every signed tag when `tag` is `None`) from
/// every role that lists it and that a key held here can sign (`targets` and delegations at
/// any depth), publishes, then updates again from the server and checks that no role still
/// signs it. Unlike docker, it never reports a revocation that did not take effect.
///
/// # Errors
///
/// [`Error::RepositoryNotExist`], [`TrustError::TagNotSigned`], [`TrustError::NoSignedTags`],
/// update and publish errors, [`TrustError::ServerUnreachable`] when the published result
/// cannot be read back, and [`TrustError::StillSigned`] naming each role (and the keys it
/// needs) that still signs a revoked tag, after what could be removed was published.
pub async fn revoke(repo: &mut Repository, tag: Option<&str>) -> Result<RevokeReport> {
    let gun = repo.gun().to_string();
    repo.changelist().clear()?;
    let mut warnings = repo.update().await?;
    let found = signatures::occurrences(repo, tag)?;
    if found.is_empty() {
        return Err(Error::Trust(match tag {
            Some(tag) => TrustError::TagNotSigned {
                gun,
                tag: tag.to_owned(),
            },
            None => TrustError::NoSignedTags { gun },
        }));
    }
    let held = held_key_ids(repo)?;
    let mut removed: Vec<(String, Vec<String>)> = Vec::new();
    for target in found.iter().filter(|t| signatures::can_sign(t, &held)) {
        let role_name = target.role.name.clone();
        repo.stage(&Change::remove_target(
            role_name.as_str(),
            target.name.as_str(),
        ))?;
        match removed.iter_mut().find(|(name, _)| *name == target.name) {
            Some((_, roles)) if roles.contains(&role_name) => {}
            Some((_, roles)) => roles.push(role_name),
            None => removed.push((target.name.clone(), vec![role_name])),
        }
    }
    let remaining: Vec<StillSigned> = if removed.is_empty() {
        found.iter().map(signatures::still_signed).collect()
    } else {
        warnings.extend(publish(repo).await?);
        warnings.extend(fresh_update(repo).await?);
        let revoked: BTreeSet<&str> = found.iter().map(|t| t.name.as_str()).collect();
        signatures::occurrences(repo, tag)?
            .iter()
            .filter(|t| revoked.contains(t.name.as_str()))
            .map(signatures::still_signed)
            .collect()
    };
    if !remaining.is_empty() {
        return Err(Error::Trust(TrustError::StillSigned {
            gun,
            remaining,
            removed: removed
                .into_iter()
                .flat_map(|(tag, roles)| roles.into_iter().map(move |r| (tag.clone(), r)))
                .collect(),
        }));
    }
    Ok(RevokeReport { removed, warnings })
}

/// An update that must come from the server (a cached copy is not accepted), for the checks
/// of what was just published.
async fn fresh_update(repo: &mut Repository) -> Result<Vec<RepoWarning>> {
    let unreachable = |repo: &Repository, reason: &str, failure: Option<&ConnectFailure>| {
        Error::Trust(TrustError::ServerUnreachable {
            gun: repo.gun().to_string(),
            server: repo.remote().server_url().to_string(),
            reason: reason.to_owned(),
            failure: failure.map(|f| Box::new(f.clone())),
        })
    };
    if let Some(reason) = repo.remote().offline_reason() {
        return Err(unreachable(repo, reason, repo.remote().offline_failure()));
    }
    let warnings = repo.update().await?;
    for warning in &warnings {
        if let RepoWarning::Offline { reason } = warning {
            return Err(unreachable(repo, reason, None));
        }
    }
    Ok(warnings)
}

/// What `signer add` did.
#[derive(Debug, Clone)]
pub struct AddSignerReport {
    /// Whether the repository was initialised first.
    pub initialized: bool,
    /// Canonical IDs of the keys added.
    pub key_ids: Vec<String>,
    /// Non-fatal findings.
    pub warnings: Vec<RepoWarning>,
}

/// `trust signer add NAME IMAGE --key …`: initialises the repository when needed, then adds
/// the keys and the path `""` to `targets/NAME` and `targets/releases`, and publishes.
///
/// # Errors
///
/// [`TrustError::InvalidName`], update, initialisation and publish errors.
pub async fn add_signer(
    repo: &mut Repository,
    name: &str,
    keys: &[PublicKey],
) -> Result<AddSignerReport> {
    validate_signer_name(name)?;
    repo.changelist().clear()?;
    let mut warnings = Vec::new();
    let initialized = match update_if_exists(repo).await? {
        Some(found) => {
            warnings.extend(found);
            false
        }
        None => {
            initialize(repo).await?;
            true
        }
    };
    stage_signer(repo, name, keys)?;
    warnings.extend(publish(repo).await?);
    let key_ids = keys
        .iter()
        .map(|k| k.canonical_key_id().map(|id| id.to_string()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Metadata {
            gun: repo.gun().to_string(),
            role: signer_role(name),
            source: Box::new(e),
        })?;
    Ok(AddSignerReport {
        initialized,
        key_ids,
        warnings,
    })
}

/// A signer found by [`find_signer`].
#[derive(Debug, Clone)]
pub struct SignerInfo {
    /// Canonical IDs of its keys.
    pub key_ids: Vec<String>,
    /// Whether removing it leaves `targets/releases` signed by fewer keys than its threshold
    /// (it signed the last released version).
    pub last_signer: bool,
    /// The tags that lose every signature when the signer goes: those listed only by its role
    /// (or roles delegated from it) and, when it is the last signer, by `targets/releases`.
    /// In docker's natural order.
    pub unsigned_tags: Vec<String>,
}

/// Updates the repository and finds signer `name` for [`remove_signer`].
///
/// # Errors
///
/// [`TrustError::InvalidName`], [`TrustError::SignerNotFound`], update errors.
pub async fn find_signer(repo: &mut Repository, name: &str) -> Result<SignerInfo> {
    validate_signer_name(name)?;
    repo.update().await?;
    let role_name = signer_role(name);
    let delegation = repo
        .delegations()?
        .into_iter()
        .find(|d| d.name == role_name)
        .ok_or_else(|| {
            Error::Trust(TrustError::SignerNotFound {
                gun: repo.gun().to_string(),
                signer: name.to_owned(),
            })
        })?;
    let key_ids: BTreeSet<String> = inspect::canonical_key_ids(&delegation).collect();
    let raw_ids: BTreeSet<String> = delegation.keys.keys().map(ToString::to_string).collect();
    let verified = repo.verified()?;
    let last_signer = match (
        verified.targets_role(RELEASES_ROLE),
        repo.delegations()?
            .into_iter()
            .find(|d| d.name == RELEASES_ROLE),
    ) {
        (Some(releases), Some(releases_role)) => {
            // Signatures by keys the role still lists (a signer removed earlier may have
            // left its signature behind) and that are not this signer's.
            let listed: BTreeSet<String> =
                releases_role.keys.keys().map(ToString::to_string).collect();
            let others: BTreeSet<&str> = releases
                .signatures()
                .iter()
                .map(|s| s.keyid.as_str())
                .filter(|id| listed.contains(*id))
                .filter(|id| !raw_ids.contains(*id) && !key_ids.contains(*id))
                .collect();
            i64::try_from(others.len()).unwrap_or(i64::MAX) < releases_role.threshold
        }
        _ => false,
    };
    let mut going = vec![role_name];
    if last_signer {
        going.push(RELEASES_ROLE.to_owned());
    }
    let unsigned_tags = signatures::unsigned_after(&signatures::occurrences(repo, None)?, &going);
    Ok(SignerInfo {
        key_ids: key_ids.into_iter().collect(),
        last_signer,
        unsigned_tags,
    })
}

/// `trust signer remove NAME IMAGE` (without docker's bug): removes the signer's keys from
/// `targets/releases`, deletes `targets/NAME` and publishes. Call [`find_signer`] first (on the
/// same repository) to decide whether to ask the user.
///
/// # Errors
///
/// Publish errors.
pub async fn remove_signer(
    repo: &mut Repository,
    name: &str,
    signer: &SignerInfo,
) -> Result<Vec<RepoWarning>> {
    repo.changelist().clear()?;
    if !signer.key_ids.is_empty() {
        repo.stage(&Change::delegation(
            Action::Update,
            RELEASES_ROLE,
            &DelegationChange {
                remove_keys: signer.key_ids.clone(),
                ..DelegationChange::default()
            },
        ))?;
    }
    repo.stage(&Change::remove_delegation(signer_role(name)))?;
    publish(repo).await
}

/// `trust inspect IMAGE[:TAG]`: the inspect document for `name` (the argument as given).
///
/// # Errors
///
/// Update errors (the caller reports them as docker does: "no signatures or cannot access").
pub async fn inspect(repo: &mut Repository, name: &str, tag: Option<&str>) -> Result<TrustRepo> {
    repo.update().await?;
    let targets = signatures::occurrences(repo, tag)?;
    let delegations = repo.delegations()?;
    let root = repo.verified()?.root().signed().clone();
    Ok(inspect::trust_repo(name, &targets, &delegations, &root))
}

/// The outcome of [`verify`].
#[derive(Debug, Clone)]
pub struct VerifiedImage {
    /// The normalised image name (`registry.local:5000/team/app`).
    pub name: String,
    /// The tag.
    pub tag: String,
    /// The trusted (and served) digest.
    pub digest: Digest,
    /// The signed length.
    pub size: i64,
    /// The role the tag was found in (`targets/releases` or `targets`).
    pub role: String,
}

impl VerifiedImage {
    /// The pinned reference: `<name>@sha256:<hex>`.
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.name, self.digest)
    }
}

/// The pull-time check: update from the trust server (which must be reachable; a cached copy
/// is not accepted), find the tag in `targets/releases` then `targets` (only directly in those
/// two roles), require a sha256 hash and compare it with the digest the registry serves.
///
/// # Errors
///
/// [`TrustError::ServerUnreachable`], [`Error::RepositoryNotExist`], [`Error::Update`]
/// (invalid signatures, expired metadata, …), [`TrustError::TagNotSigned`],
/// [`TrustError::NoSha256`], registry errors, [`TrustError::DigestMismatch`].
pub async fn verify(
    repo: &mut Repository,
    registry: &RegistryClient,
    image: &ImageReference,
) -> Result<VerifiedImage> {
    let gun = repo.gun().to_string();
    fresh_update(repo).await?;
    let image = if image.tag().is_none() && image.digest().is_none() {
        image.clone().with_default_tag()
    } else {
        image.clone()
    };
    let tag = tag_of(&image)?;
    let not_signed = || {
        Error::Trust(TrustError::TagNotSigned {
            gun: gun.clone(),
            tag: tag.clone(),
        })
    };
    let found = repo.lookup(&tag, &PULL_ROLES).map_err(|_| not_signed())?;
    if !PULL_ROLES.contains(&found.role.as_str()) {
        return Err(not_signed());
    }
    let trusted = trusted_digest(&gun, &found)?;
    let served = registry.resolve(&image).await?;
    check_registry_digest(&image.name(), &tag, &found.role, &trusted, &served.digest)?;
    Ok(VerifiedImage {
        name: image.name(),
        tag,
        digest: trusted,
        size: found.meta.length,
        role: found.role,
    })
}
