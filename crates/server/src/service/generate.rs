//! Server-generated snapshots and timestamps, on upload and when a GET finds them expired.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use signet_signer::Signer;
use signet_tuf::key::KeyId;
use signet_tuf::metadata::{Envelope, Expires, FileMeta, Metadata, Root, Snapshot, Timestamp};

use super::{MetadataService, Served};
use crate::cache::CachedFile;
use crate::error::ServiceError;
use crate::store::{FileUpdate, StoredFile};

/// Lifetime of a server-generated snapshot (Notary's default: three years).
pub(crate) fn snapshot_expiry(now: DateTime<Utc>) -> Expires {
    Expires::from_utc(now + Duration::days(3 * 365))
}

/// Lifetime of a server-generated timestamp (Notary's default: fourteen days).
pub(crate) fn timestamp_expiry(now: DateTime<Utc>) -> Expires {
    Expires::from_utc(now + Duration::days(14))
}

/// Why the server could not sign a document.
#[derive(Debug)]
pub(crate) enum SignError {
    /// The server holds fewer keys of the role than its threshold.
    Insufficient {
        /// Keys held.
        held: usize,
        /// Threshold needed.
        needed: i64,
    },
    /// Anything else (a store error, a key that does not open, a document that cannot be
    /// written).
    Failed(ServiceError),
}

impl From<ServiceError> for SignError {
    fn from(e: ServiceError) -> Self {
        Self::Failed(e)
    }
}

/// A stored file that re-signing starts from does not parse.
fn resign_source(gun: &str, role: &str, e: &signet_tuf::Error) -> ServiceError {
    ServiceError::ResignSource {
        gun: gun.to_owned(),
        role: role.to_owned(),
        reason: e.to_string(),
    }
}

/// A document signed by the server, ready to store.
#[derive(Debug)]
pub(crate) struct Signed {
    /// The file bytes.
    pub(crate) bytes: Vec<u8>,
    /// The document version.
    pub(crate) version: i64,
    /// The key IDs that signed.
    pub(crate) keys: Vec<KeyId>,
}

/// Signs `doc` with every signer and writes the file bytes.
fn sign_with<T: Metadata>(
    gun: &str,
    role: &str,
    doc: T,
    signers: &[Arc<dyn Signer>],
) -> Result<Signed, ServiceError> {
    let failed = |reason: String| ServiceError::Signing {
        gun: gun.to_owned(),
        role: role.to_owned(),
        reason,
    };
    let version = doc.version();
    let mut env = Envelope::from_signed(doc).map_err(|e| failed(e.to_string()))?;
    let mut keys = Vec::with_capacity(signers.len());
    for s in signers {
        let sig = s
            .sign(env.signing_bytes())
            .map_err(|e| failed(e.to_string()))?;
        keys.push(sig.keyid.clone());
        env.add_signature(sig);
    }
    let bytes = env.to_file_bytes().map_err(|e| failed(e.to_string()))?;
    Ok(Signed {
        bytes,
        version,
        keys,
    })
}

impl MetadataService {
    /// Signs `doc` for `role` with the keys of `root`'s `role` that the server holds; at
    /// least the role's threshold of them.
    ///
    /// Signing with keys held in the YubiHSM 2 runs on the blocking pool: each signature is a
    /// device round trip.
    pub(crate) async fn sign_role<T: Metadata + Send + 'static>(
        &self,
        gun: &str,
        role: &str,
        root: &Root,
        doc: T,
    ) -> Result<Signed, SignError> {
        let Some(listed) = root.role(role) else {
            return Err(SignError::Insufficient { held: 0, needed: 1 });
        };
        let (signers, on_device) = self.held_signers(gun, role, &listed.keyids).await?;
        let needed = listed.threshold.max(1);
        if i64::try_from(signers.len()).unwrap_or(i64::MAX) < needed {
            return Err(SignError::Insufficient {
                held: signers.len(),
                needed,
            });
        }
        if on_device {
            let (owned_gun, owned_role) = (gun.to_owned(), role.to_owned());
            let signed = tokio::task::spawn_blocking(move || {
                sign_with(&owned_gun, &owned_role, doc, &signers)
            })
            .await
            .map_err(|e| ServiceError::Signing {
                gun: gun.to_owned(),
                role: role.to_owned(),
                reason: format!("the signing task ended abnormally: {e}"),
            })?;
            return Ok(signed?);
        }
        Ok(sign_with(gun, role, doc, &signers)?)
    }

    /// A new timestamp for `snapshot_bytes`, version `prev + 1`.
    pub(crate) async fn make_timestamp(
        &self,
        gun: &str,
        root: &Root,
        snapshot_bytes: &[u8],
        prev_version: i64,
        now: DateTime<Utc>,
    ) -> Result<Signed, SignError> {
        let doc = Timestamp::new(
            prev_version.saturating_add(1),
            timestamp_expiry(now),
            FileMeta::from_bytes(snapshot_bytes),
        );
        self.sign_role(gun, "timestamp", root, doc).await
    }

    /// The highest stored version of `role` (0 when there is none).
    pub(crate) async fn latest_version(&self, gun: &str, role: &str) -> Result<i64, ServiceError> {
        Ok(self
            .store()
            .latest(gun, role)
            .await
            .map_err(|e| ServiceError::from_store_read(gun, e))?
            .map_or(0, |f| f.version))
    }

    /// `GET timestamp.json` / `GET snapshot.json`: the current timestamp (or the snapshot it
    /// names), after re-signing an expired timestamp, and an expired snapshot when the server
    /// holds its key. When re-signing is impossible the stored files are served as they are,
    /// so clients report the expiry themselves.
    pub async fn get_timestamp_or_snapshot(
        &self,
        gun: &str,
        role: &str,
    ) -> Result<Served, ServiceError> {
        let not_found = || ServiceError::not_found(gun, role);
        let ts = self.latest_timestamp(gun).await?.ok_or_else(not_found)?;
        let snap = self
            .referenced(gun, &ts, "snapshot")
            .await?
            .ok_or_else(not_found)?;
        let now = Utc::now();
        let fresh = !ts.pointers().expired_at(now) && !snap.pointers().expired_at(now);
        let (ts, snap, last_modified) = if fresh {
            (ts, snap, None)
        } else {
            match self.refresh(gun, &ts, &snap, now).await {
                Ok(Some((new_ts, new_snap))) => (new_ts, new_snap, Some(now)),
                Ok(None) => (ts, snap, None),
                Err(e) => {
                    if matches!(e, ServiceError::Unavailable { .. }) {
                        return Err(e);
                    }
                    tracing::warn!(%gun, error = %e, "cannot re-sign expired metadata; serving it as stored");
                    (ts, snap, None)
                }
            }
        };
        let file = if role == "timestamp" { ts } else { snap };
        if file.pointers().expired_at(now) {
            // Only timestamp and snapshot reach here: a bounded label.
            metrics::counter!("signet_server_expired_metadata_served_total", "role" => role.to_owned())
                .increment(1);
        }
        Ok(match last_modified {
            Some(t) if role == "timestamp" => Served {
                file,
                last_modified: t,
            },
            _ => Served::stored(file),
        })
    }

    /// Re-signs an expired snapshot (when the server holds its key) and the timestamp, and
    /// stores them. `None` when nothing could be re-signed.
    async fn refresh(
        &self,
        gun: &str,
        ts: &Arc<CachedFile>,
        snap: &Arc<CachedFile>,
        now: DateTime<Utc>,
    ) -> Result<Option<(Arc<CachedFile>, Arc<CachedFile>)>, ServiceError> {
        let Some(root_file) = self.referenced(gun, snap, "root").await? else {
            return Ok(None);
        };
        let root = Envelope::<Root>::parse(&root_file.file.data)
            .map_err(|e| resign_source(gun, "root", &e))?;
        let root = root.signed();
        let mut updates = Vec::new();
        let mut new_snapshot: Option<Signed> = None;
        if snap.pointers().expired_at(now) {
            let mut doc = Envelope::<Snapshot>::parse(&snap.file.data)
                .map_err(|e| resign_source(gun, "snapshot", &e))?
                .into_parts()
                .0;
            doc.version = self
                .latest_version(gun, "snapshot")
                .await?
                .saturating_add(1);
            doc.expires = snapshot_expiry(now);
            match self.sign_role(gun, "snapshot", root, doc).await {
                Ok(s) => new_snapshot = Some(s),
                Err(SignError::Insufficient { .. }) => {
                    tracing::warn!(%gun, "snapshot expired and the server holds no snapshot key");
                }
                Err(SignError::Failed(e)) => return Err(e),
            }
        }
        let snapshot_bytes = new_snapshot
            .as_ref()
            .map_or(&snap.file.data[..], |s| &s.bytes[..]);
        let prev_ts = ts.file.version;
        let new_ts = match self
            .make_timestamp(gun, root, snapshot_bytes, prev_ts, now)
            .await
        {
            Ok(t) => t,
            Err(SignError::Insufficient { .. }) => {
                tracing::warn!(%gun, "timestamp expired and the server holds no timestamp key");
                return Ok(None);
            }
            Err(SignError::Failed(e)) => return Err(e),
        };
        if let Some(s) = &new_snapshot {
            updates.push(FileUpdate::new("snapshot", s.version, s.bytes.clone()));
        }
        updates.push(FileUpdate::new(
            "timestamp",
            new_ts.version,
            new_ts.bytes.clone(),
        ));
        let stored = self.store_updates(gun, updates).await;
        match stored {
            Ok(()) => {}
            Err(e @ crate::store::StoreError::OldVersion { .. }) => {
                // Another writer refreshed or updated first: serve what it stored.
                tracing::debug!(%gun, error = %e, "refresh lost a race");
                let Some(ts) = self.latest_timestamp(gun).await? else {
                    return Ok(None);
                };
                let Some(snap) = self.referenced(gun, &ts, "snapshot").await? else {
                    return Ok(None);
                };
                return Ok(Some((ts, snap)));
            }
            Err(e) => return Err(ServiceError::from_store_write(gun, e)),
        }
        if let Some(s) = &new_snapshot {
            self.note_keys_used(gun, "snapshot", &s.keys).await;
        }
        self.note_keys_used(gun, "timestamp", &new_ts.keys).await;
        let as_file = |role: &str, s: Signed| {
            use sha2::Digest as _;
            let mut sha = [0u8; 32];
            sha.copy_from_slice(&sha2::Sha256::digest(&s.bytes));
            CachedFile::new(StoredFile {
                role: role.to_owned(),
                version: s.version,
                sha256: sha,
                data: s.bytes.into(),
                created_at: now,
            })
        };
        let snap_file = match new_snapshot {
            Some(s) => as_file("snapshot", s),
            None => Arc::clone(snap),
        };
        Ok(Some((as_file("timestamp", new_ts), snap_file)))
    }
}
