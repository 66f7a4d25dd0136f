//! `trust export-sigstore IMAGE[:TAG]`: for each signed tag, a cosign signature of its signed
//! manifest, made with the signer key that signed the tag in Notary, appended to the
//! signature image `IMAGE:sha256-<hex>.sig`.
//!
//! A tag is exported only when a pull would accept it: [`ops::verify`] updates from the trust
//! server (every signature of the trust data checked), finds the tag in `targets/releases` or
//! `targets`, and requires the registry to serve the signed digest (a moved tag fails with
//! [`TrustError::DigestMismatch`](crate::error::TrustError::DigestMismatch)).
//!
//! The key is one held here (trust dir or YubiHSM 2) whose signature is on a role listing the
//! tag with the verified digest; `--key NAME` picks it by its name, its signer name
//! (`targets/NAME`) or its key ID. It must be ECDSA P-256.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use p256::ecdsa::signature::Verifier as _;
use signet_signer::signer::sign_ecdsa_der;
use signet_tuf::PublicKey;
use signet_tuf::role;

use super::error::SigstoreError;
use super::image::{self, MAX_CONFIG_SIZE, NewSignature, SignatureImage};
use super::key::verifying_key;
use crate::error::{Error, Result, TrustError};
use crate::registry::{Digest, ImageReference, RegistryClient, RegistryError};
use crate::repository::Repository;
use crate::trust::{PULL_ROLES, natural_cmp, ops, signatures};

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Sign with this key only: a key name, a signer name or a key ID.
    pub key: Option<String>,
}

/// One tag's signature, written or found already there.
#[derive(Debug, Clone)]
pub struct ExportedTag {
    /// The tag.
    pub tag: String,
    /// The signed (and served) manifest digest.
    pub digest: Digest,
    /// The signature image: `<name>:sha256-<hex>.sig`.
    pub signature: String,
    /// Canonical ID of the signing key.
    pub key_id: String,
    /// The key's name (its label in the key store, else the role it signs).
    pub key_name: String,
    /// The Notary role whose signature the key carried.
    pub role: String,
    /// The signature image's manifest digest after the write; `None` when the signature was
    /// already there and nothing was written.
    pub written: Option<Digest>,
}

/// A tag that could not be exported.
#[derive(Debug)]
pub struct ExportFailure {
    /// The tag.
    pub tag: String,
    /// Why.
    pub error: Error,
}

/// The outcome of [`export`].
#[derive(Debug, Default)]
pub struct ExportReport {
    /// The tags exported (or already exported), in docker's tag order.
    pub exported: Vec<ExportedTag>,
    /// The tags that failed, when every signed tag was asked for (a single tag's failure is
    /// the call's error).
    pub failed: Vec<ExportFailure>,
}

/// A key held here that signed a tag.
struct Candidate {
    key: PublicKey,
    key_id: String,
    name: String,
    role: String,
}

/// Exports the tag of `image`, or every tag signed in `targets/releases` or `targets` when it
/// has none.
///
/// # Errors
///
/// [`TrustError::DigestReference`] for a digest reference; [`TrustError::NoSignedTags`] when
/// nothing is signed; with a tag, that tag's failure (see the module documentation);
/// update errors.
pub async fn export(
    repo: &mut Repository,
    registry: &RegistryClient,
    image: &ImageReference,
    options: &ExportOptions,
) -> Result<ExportReport> {
    if image.digest().is_some() {
        return Err(Error::Trust(TrustError::DigestReference {
            reference: image.to_string(),
        }));
    }
    let held = ops::held_keys(repo)?;
    let mut report = ExportReport::default();
    if let Some(tag) = image.tag() {
        let exported = export_tag(repo, registry, image, tag, &held, options).await?;
        report.exported.push(exported);
        return Ok(report);
    }
    repo.update().await?;
    let mut tags: Vec<String> = signatures::occurrences(repo, None)?
        .into_iter()
        .filter(|t| PULL_ROLES.contains(&t.role.name.as_str()))
        .map(|t| t.name)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if tags.is_empty() {
        return Err(Error::Trust(TrustError::NoSignedTags {
            gun: repo.gun().to_string(),
        }));
    }
    tags.sort_by(|a, b| natural_cmp(a, b));
    for tag in tags {
        match export_tag(repo, registry, image, &tag, &held, options).await {
            Ok(exported) => report.exported.push(exported),
            Err(error) => report.failed.push(ExportFailure { tag, error }),
        }
    }
    Ok(report)
}

async fn export_tag(
    repo: &mut Repository,
    registry: &RegistryClient,
    image: &ImageReference,
    tag: &str,
    held: &BTreeMap<String, String>,
    options: &ExportOptions,
) -> Result<ExportedTag> {
    let tagged = image.with_tag(tag).map_err(RegistryError::from)?;
    let verified = ops::verify(repo, registry, &tagged).await?;
    let digest = verified.digest;
    let candidate = choose_key(repo, tag, &digest, held, options.key.as_deref())?;
    let verifying = verifying_key(&candidate.key)?;

    let payload = image::payload(&image::docker_reference(image), &digest);
    let key_error = |e: signet_signer::Error| Error::Key {
        gun: repo.gun().to_string(),
        role: candidate.role.clone(),
        source: Box::new(e),
    };
    let signer = repo
        .crypto()
        .require_signer_for(&candidate.key)
        .map_err(key_error)?;
    let der = sign_ecdsa_der(signer.as_ref(), &payload).map_err(key_error)?;
    p256::ecdsa::Signature::from_der(&der)
        .map_err(|e| e.to_string())
        .and_then(|s| verifying.verify(&payload, &s).map_err(|e| e.to_string()))
        .map_err(|reason| {
            Error::Sigstore(SigstoreError::SignatureCheck {
                key_id: candidate.key_id.clone(),
                reason,
            })
        })?;

    let signature_ref = image
        .with_tag(&image::signature_tag(&digest))
        .map_err(RegistryError::from)?;
    let reference = signature_ref.to_string();
    let mut signature_image = match registry.fetch_manifest(&signature_ref).await {
        Ok(existing) => {
            let content_type = existing.descriptor.media_type.as_deref();
            let config_digest =
                SignatureImage::config_digest(&reference, &existing.bytes, content_type)?;
            let config = registry
                .fetch_blob(&signature_ref, &config_digest, MAX_CONFIG_SIZE)
                .await?;
            SignatureImage::from_existing(&reference, &existing.bytes, content_type, &config)?
        }
        Err(e) if e.is_not_found() => SignatureImage::empty(),
        Err(e) => return Err(e.into()),
    };
    let added = signature_image.append(
        NewSignature {
            payload: &payload,
            signature_der: &der,
        },
        &verifying,
    );
    let written = if added {
        registry
            .push_blob(&signature_ref, Bytes::from(payload))
            .await?;
        registry
            .push_blob(&signature_ref, Bytes::from(signature_image.config_bytes()))
            .await?;
        Some(
            registry
                .push_manifest(
                    &signature_ref,
                    signature_image.media_type(),
                    Bytes::from(signature_image.manifest_bytes()),
                )
                .await?,
        )
    } else {
        None
    };
    Ok(ExportedTag {
        tag: tag.to_owned(),
        digest,
        signature: reference,
        key_id: candidate.key_id,
        key_name: candidate.name,
        role: candidate.role,
        written,
    })
}

/// The key held here that signed `tag` with `digest`: among the signatures on the roles that
/// list it, those of held keys (named `wanted`, when given); exactly one P-256 key must
/// remain.
fn choose_key(
    repo: &Repository,
    tag: &str,
    digest: &Digest,
    held: &BTreeMap<String, String>,
    wanted: Option<&str>,
) -> Result<Candidate> {
    let gun = repo.gun().to_string();
    let mut signed_by = BTreeSet::new();
    let mut candidates: Vec<Candidate> = Vec::new();
    for target in signatures::occurrences(repo, Some(tag))? {
        let signs_digest = target
            .meta
            .hashes
            .get("sha256")
            .is_some_and(|hash| hex::encode(hash) == digest.hex());
        if !signs_digest {
            continue;
        }
        for signature in &target.signatures {
            let Some(key) = target.role.keys.get(&signature.keyid) else {
                continue;
            };
            let Ok(key_id) = key.canonical_key_id() else {
                continue;
            };
            let key_id = key_id.to_string();
            signed_by.insert(key_id.clone());
            let Some(label) = held.get(&key_id) else {
                continue;
            };
            let signer_name = target
                .role
                .name
                .strip_prefix("targets/")
                .filter(|name| !name.contains('/') && *name != "releases");
            let named = wanted.is_none_or(|wanted| {
                label == wanted
                    || signer_name == Some(wanted)
                    || key_id == wanted
                    || (target.role.name == role::TARGETS && wanted == role::TARGETS)
            });
            if named && !candidates.iter().any(|c| c.key_id == key_id) {
                candidates.push(Candidate {
                    key: key.clone(),
                    name: if label.is_empty() {
                        signer_name.unwrap_or(&target.role.name).to_owned()
                    } else {
                        label.clone()
                    },
                    key_id,
                    role: target.role.name.clone(),
                });
            }
        }
    }
    let mut usable = Vec::new();
    let mut refused = None;
    for candidate in candidates {
        match verifying_key(&candidate.key) {
            Ok(_) => usable.push(candidate),
            Err(e) => {
                refused.get_or_insert(e);
            }
        }
    }
    match usable.len() {
        1 => Ok(usable.remove(0)),
        0 => Err(refused.unwrap_or_else(|| {
            Error::Sigstore(SigstoreError::NoSignerKey {
                gun,
                tag: tag.to_owned(),
                named: wanted.map(str::to_owned),
                signed_by: signed_by.into_iter().collect(),
            })
        })),
        _ => Err(Error::Sigstore(SigstoreError::AmbiguousKey {
            gun,
            tag: tag.to_owned(),
            keys: usable
                .iter()
                .map(|c| format!("{} ({})", c.name, c.key_id))
                .collect(),
        })),
    }
}
