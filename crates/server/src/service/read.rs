//! Reads: files by checksum and version, and the current-metadata chain
//! timestamp → snapshot (by checksum) → role (by checksum).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::MetadataService;
use crate::cache::CachedFile;
use crate::error::ServiceError;
use crate::store::{Change, StoreResult, StoredFile, TrustCursor, TrustPage};

/// A file to send, with the time to report as `Last-Modified`.
#[derive(Debug, Clone)]
pub struct Served {
    /// The stored file.
    pub file: Arc<CachedFile>,
    /// When the file was stored (or generated, for a just re-signed timestamp).
    pub last_modified: DateTime<Utc>,
}

impl Served {
    /// Serves a stored file with its storage time.
    pub fn stored(file: Arc<CachedFile>) -> Self {
        let last_modified = file.file.created_at;
        Self {
            file,
            last_modified,
        }
    }
}

impl MetadataService {
    /// The stored timestamp with the highest version (cached for a short time).
    pub(crate) async fn latest_timestamp(
        &self,
        gun: &str,
    ) -> Result<Option<Arc<CachedFile>>, ServiceError> {
        let cache = self.cache();
        if let Some(hit) = cache.timestamp(gun) {
            return Ok(hit);
        }
        let ticket = cache.ticket(gun);
        let file = self
            .store()
            .latest(gun, "timestamp")
            .await
            .map_err(|e| ServiceError::from_store_read(gun, e))?
            .map(CachedFile::new);
        cache.put_timestamp(gun, file.clone(), ticket);
        Ok(file)
    }

    /// The file of `role` whose SHA-256 is `sha256_hex` (lowercase hex), if stored.
    pub async fn by_checksum(
        &self,
        gun: &str,
        role: &str,
        sha256_hex: &str,
    ) -> Result<Option<Arc<CachedFile>>, ServiceError> {
        if let Some(hit) = self.cache().by_checksum(gun, role, sha256_hex) {
            return Ok(Some(hit));
        }
        self.read_and_cache(gun, self.store().by_checksum(gun, role, sha256_hex))
            .await
    }

    /// The file of `role` at `version`, if stored.
    pub async fn by_version(
        &self,
        gun: &str,
        role: &str,
        version: i64,
    ) -> Result<Option<Arc<CachedFile>>, ServiceError> {
        if let Some(hit) = self.cache().by_version(gun, role, version) {
            return Ok(Some(hit));
        }
        self.read_and_cache(gun, self.store().by_version(gun, role, version))
            .await
    }

    /// Runs the store read `read` of an immutable file of `gun` after a cache miss, and
    /// caches what it finds under a ticket taken before the read starts.
    async fn read_and_cache(
        &self,
        gun: &str,
        read: impl Future<Output = StoreResult<Option<StoredFile>>>,
    ) -> Result<Option<Arc<CachedFile>>, ServiceError> {
        let cache = self.cache();
        let ticket = cache.ticket(gun);
        let file = read
            .await
            .map_err(|e| ServiceError::from_store_read(gun, e))?
            .map(CachedFile::new);
        if let Some(f) = &file {
            cache.put_file(gun, f, ticket);
        }
        Ok(file)
    }

    /// The file a snapshot or timestamp names for `role`, if both exist.
    pub(crate) async fn referenced(
        &self,
        gun: &str,
        from: &CachedFile,
        role: &str,
    ) -> Result<Option<Arc<CachedFile>>, ServiceError> {
        match from.pointers().sha256.get(role) {
            Some(hex) => self.by_checksum(gun, role, hex).await,
            None => Ok(None),
        }
    }

    /// The current snapshot: the one the latest timestamp names.
    pub(crate) async fn chain_snapshot(
        &self,
        gun: &str,
    ) -> Result<Option<Arc<CachedFile>>, ServiceError> {
        match self.latest_timestamp(gun).await? {
            Some(ts) => self.referenced(gun, &ts, "snapshot").await,
            None => Ok(None),
        }
    }

    /// The current file of a role other than timestamp and snapshot: the one the current
    /// snapshot names. A role the snapshot does not list is not found.
    pub async fn current_role(&self, gun: &str, role: &str) -> Result<Served, ServiceError> {
        let snapshot = self
            .chain_snapshot(gun)
            .await?
            .ok_or_else(|| ServiceError::not_found(gun, role))?;
        self.referenced(gun, &snapshot, role)
            .await?
            .map(Served::stored)
            .ok_or_else(|| ServiceError::not_found(gun, role))
    }

    /// The current file of `role`, or `None`; like [`MetadataService::current_role`] without the error.
    pub(crate) async fn current_file(
        &self,
        gun: &str,
        role: &str,
    ) -> Result<Option<Arc<CachedFile>>, ServiceError> {
        match self.chain_snapshot(gun).await? {
            Some(s) if role == "snapshot" => Ok(Some(s)),
            Some(s) => self.referenced(gun, &s, role).await,
            None => Ok(None),
        }
    }

    /// The exact bytes of the current root, if the GUN has one.
    pub(crate) async fn current_root_file(
        &self,
        gun: &str,
    ) -> Result<Option<bytes::Bytes>, ServiceError> {
        Ok(self
            .current_file(gun, "root")
            .await?
            .map(|f| f.file.data.clone()))
    }

    /// `GET <role>.<checksum>.json`.
    pub async fn get_by_checksum(
        &self,
        gun: &str,
        role: &str,
        checksum: &str,
    ) -> Result<Served, ServiceError> {
        // Only lowercase SHA-256 is indexed; other forms never match (as in Go).
        if checksum.len() != 64 || checksum.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ServiceError::not_found(gun, role));
        }
        self.by_checksum(gun, role, checksum)
            .await?
            .map(Served::stored)
            .ok_or_else(|| ServiceError::not_found(gun, role))
    }

    /// `GET <version>.<role>.json`.
    pub async fn get_by_version(
        &self,
        gun: &str,
        role: &str,
        version: i64,
    ) -> Result<Served, ServiceError> {
        self.by_version(gun, role, version)
            .await?
            .map(Served::stored)
            .ok_or_else(|| ServiceError::not_found(gun, role))
    }

    /// The changefeed: up to `records` changes after `change_id` (before it, for a
    /// negative `records`), of `gun` only when one is given (see [`Store::changes`]).
    ///
    /// [`Store::changes`]: crate::store::Store::changes
    pub async fn changes(
        &self,
        gun: Option<&str>,
        change_id: i64,
        records: i64,
    ) -> Result<Vec<Change>, ServiceError> {
        self.store()
            .changes(gun, change_id, records)
            .await
            .map_err(|e| ServiceError::from_store_read(gun.unwrap_or_default(), e))
    }

    /// One page of the roles whose current metadata trusts `key_id` (see
    /// [`Store::trusted_by`]).
    ///
    /// [`Store::trusted_by`]: crate::store::Store::trusted_by
    pub async fn trusted_by(
        &self,
        key_id: &str,
        after: Option<&TrustCursor>,
        limit: u32,
    ) -> Result<TrustPage, ServiceError> {
        self.store()
            .trusted_by(key_id, after, limit)
            .await
            .map_err(|e| ServiceError::from_store_read("", e))
    }

    /// `DELETE`: removes every file of exactly `gun`.
    pub async fn delete(&self, gun: &str) -> Result<(), ServiceError> {
        self.delete_gun(gun)
            .await
            .map(|_| ())
            .map_err(|e| ServiceError::from_store_write(gun, e))
    }
}
