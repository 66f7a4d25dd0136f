//! Keeping a repository publishable: renewing root certificates that have expired or expire
//! within six months, and (on an initial publish) listing the server's timestamp key.
//!
//! A root key appears in `root.json` as a self-signed certificate, and servers and clients
//! refuse a root none of whose certificates is valid. When a certificate of the root role is
//! expired or within [`NEAR_EXPIRY_MONTHS`](signet_tuf::authoring::NEAR_EXPIRY_MONTHS) of expiry
//! and its private key is held, a fresh certificate is issued for the *same* private key (the
//! usual root certificate: `CN=<GUN>`, ten years). The certificate key has a new TUF key ID, so
//! this is a root rotation: the new root lists the new certificate key in place of the old one
//! and is signed by the old key ID (which the previously trusted root requires) and the new
//! one (which the new root requires), both made by the same private key. The old certificate
//! stays in root's `keys`, as after every root rotation.

use chrono::{DateTime, Utc};
use signet_signer::CryptoService;
use signet_tuf::authoring;
use signet_tuf::key::{KeyId, PublicKey};
use signet_tuf::role;
use signet_tuf::x509;

use super::working::{Working, holds_key};
use super::{RepoWarning, Repository};
use crate::error::{Error, PublishError, Result};
use crate::remote::MAX_TIMESTAMP_SIZE;

/// The earliest expiry of the certificates of a root key (`None` for keys that are not
/// certificates or do not parse; root validation ignores those).
fn certificate_expiry(key: &PublicKey) -> Option<DateTime<Utc>> {
    let bundle = x509::parse_bundle(key.public()).ok()?;
    bundle.iter().map(x509::Certificate::not_after).min()
}

/// Whether the key is one self-signed certificate (what signet and notary issue): only those
/// are renewed here; a certificate issued by a CA must be renewed by that CA.
fn is_single_certificate(key: &PublicKey) -> bool {
    x509::parse_bundle(key.public()).is_ok_and(|bundle| bundle.len() == 1)
}

/// Renews the root role's certificates that are expired or near expiry and whose private key
/// is held (see the module documentation), marking root for re-signing. Returns what was done
/// (and which certificates could not be renewed) as warnings for the user.
///
/// # Errors
///
/// [`PublishError::RootCertificateExpired`] when, after renewal, fewer of the root role's
/// certificates are valid than its threshold (the root keys of the expired ones are not held), key
/// store errors, and metadata errors.
pub(super) fn renew_root_certificates(
    working: &mut Working,
    crypto: &CryptoService,
) -> Result<Vec<RepoWarning>> {
    let now = working.now;
    let gun = working.gun.clone();
    let key_error = |source: signet_signer::Error| Error::Key {
        gun: gun.clone(),
        role: role::ROOT.to_owned(),
        source: Box::new(source),
    };
    let Some(role_keys) = working.root.signed.roles.get(role::ROOT) else {
        return Ok(Vec::new());
    };
    let threshold = role_keys.threshold;
    let listed: Vec<(KeyId, PublicKey)> = role_keys
        .keyids
        .iter()
        .filter_map(|id| {
            working
                .root
                .signed
                .keys
                .get(id)
                .map(|k| (id.clone(), k.clone()))
        })
        .collect();

    let mut warnings = Vec::new();
    let mut new_keys = Vec::with_capacity(listed.len());
    let mut renewed_any = false;
    let mut valid = 0_i64;
    let mut unrenewable: Vec<(String, DateTime<Utc>)> = Vec::new();
    for (id, key) in listed {
        let Some(expires) = certificate_expiry(&key) else {
            new_keys.push(key);
            continue;
        };
        let near = authoring::near_expiry(&signet_tuf::metadata::Expires::from_utc(expires), now);
        if !near {
            valid = valid.saturating_add(1);
            new_keys.push(key);
            continue;
        }
        let canonical = key.canonical_key_id().ok();
        let signer = match &canonical {
            Some(canonical) if is_single_certificate(&key) && holds_key(crypto, canonical) => {
                crypto.signer_by_id(canonical).map_err(key_error)?
            }
            _ => None,
        };
        let Some(signer) = signer else {
            let shown = canonical.as_ref().unwrap_or(&id).to_string();
            if expires > now {
                valid = valid.saturating_add(1);
                warnings.push(RepoWarning::RootCertificateNotRenewed {
                    key_id: shown,
                    expires,
                });
            } else {
                unrenewable.push((shown, expires));
            }
            new_keys.push(key);
            continue;
        };
        let cert = signet_signer::cert::generate_root_certificate(signer.as_ref(), &gun)
            .map_err(key_error)?;
        let new_expiry = certificate_expiry(&cert.public_key).unwrap_or(now);
        warnings.push(RepoWarning::RootCertificateRenewed {
            old_key_id: id,
            new_key_id: cert.public_key.key_id(),
            old_expires: expires,
            new_expires: new_expiry,
        });
        valid = valid.saturating_add(1);
        renewed_any = true;
        new_keys.push(cert.public_key);
    }
    if valid < threshold && !unrenewable.is_empty() {
        let expired = unrenewable.iter().map(|(_, at)| *at).min().unwrap_or(now);
        return Err(Error::Publish(PublishError::RootCertificateExpired {
            gun: gun.clone(),
            key_ids: unrenewable.into_iter().map(|(id, _)| id).collect(),
            expired,
        }));
    }
    if renewed_any {
        authoring::replace_base_keys(&mut working.root.signed, role::ROOT, &new_keys).map_err(
            |e| Error::Metadata {
                gun: gun.clone(),
                role: role::ROOT.to_owned(),
                source: Box::new(e),
            },
        )?;
        working.root.dirty = true;
    }
    Ok(warnings)
}

/// On an initial publish the server signs the timestamps with its own key: when root lists
/// another timestamp key (trust data made for another server), the server's key replaces it
/// and root is marked for re-signing.
///
/// # Errors
///
/// Metadata errors replacing the key.
pub(super) fn use_server_timestamp_key(
    working: &mut Working,
    server_key: &PublicKey,
) -> Result<Option<RepoWarning>> {
    let server_id = server_key.key_id();
    let listed: Vec<KeyId> = working
        .root
        .signed
        .roles
        .get(role::TIMESTAMP)
        .map(|r| r.keyids.clone())
        .unwrap_or_default();
    if listed.contains(&server_id) {
        return Ok(None);
    }
    authoring::replace_base_keys(
        &mut working.root.signed,
        role::TIMESTAMP,
        std::slice::from_ref(server_key),
    )
    .map_err(|e| Error::Metadata {
        gun: working.gun.clone(),
        role: role::ROOT.to_owned(),
        source: Box::new(e),
    })?;
    working.root.dirty = true;
    Ok(Some(RepoWarning::TimestampKeyReplaced {
        old_key_ids: listed,
        new_key_id: server_id,
    }))
}

impl Repository {
    /// The root maintenance of every publish, after the changes are applied: on an initial
    /// publish the server's timestamp key replaces one the server does not hold, and root
    /// certificates near expiry are renewed ([`renew_root_certificates`]).
    ///
    /// # Errors
    ///
    /// Remote errors fetching the server's timestamp key, and those of
    /// [`renew_root_certificates`].
    pub(super) async fn prepare_root(
        &self,
        working: &mut Working,
        initial: bool,
        warnings: &mut Vec<RepoWarning>,
    ) -> Result<()> {
        // Only trust data that came from a server before (a cached timestamp: clients never
        // make one) can list a timestamp key this server does not hold. A repository
        // initialised locally already lists the key this server handed out; asking again would
        // make the Go notary-server create yet another key and root would be rotated for
        // nothing.
        // Only its presence matters; an oversize cache file counts as absent, as on reads.
        let cached = self.repo_dir.cache().role_path(role::TIMESTAMP)?;
        let served_before = match std::fs::metadata(&cached) {
            Ok(meta) => meta.is_file() && meta.len() <= MAX_TIMESTAMP_SIZE,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(Error::io("inspect", &cached, e)),
        };
        if initial && served_before {
            let server_key = self.remote.get_key(&self.gun, role::TIMESTAMP).await?;
            warnings.extend(use_server_timestamp_key(working, &server_key)?);
        }
        warnings.extend(renew_root_certificates(working, &self.crypto)?);
        Ok(())
    }
}
