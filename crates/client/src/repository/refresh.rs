//! Refreshing the cache after a successful upload, so that an offline `list` right after a
//! publish shows what was published.
//!
//! Notary's publish leaves the cache as the update before the upload found it: until the next
//! online update, a client that cannot reach the server lists the trust data as it was before
//! its own publish. Writing the uploaded files into the cache as they are would not do: the
//! timestamp (and a server-managed snapshot) that covers them is made by the server, so the
//! cache would hold targets that its snapshot and timestamp do not describe, and nothing would
//! verify.
//!
//! Instead, the server's new trust data is fetched and verified like any update, with the
//! uploaded files standing in for the cached ones: a file the server's snapshot describes with
//! exactly the uploaded bytes is verified without downloading it again, so the refresh costs the
//! timestamp, a server-made snapshot and a rotated root. Only when the whole update verifies is
//! the cache written, and then with exactly the verified repository; otherwise the cache stays
//! as it was (consistent, if older) and a warning says so.

use chrono::Utc;
use signet_tuf::role;
use signet_tuf::update::{self, FetchResult, Need, UpdateConfig, Updater};

use super::{RepoWarning, Repository};
use crate::error::Result;
use crate::pinning;
use crate::remote::{MAX_DOWNLOAD_SIZE, MAX_TIMESTAMP_SIZE};

/// `(role, bytes)` of every document of a verified repository.
fn documents(repo: &update::TrustedMetadata) -> Vec<(String, &[u8])> {
    let mut out = vec![
        (role::ROOT.to_owned(), repo.root().bytes()),
        (role::TIMESTAMP.to_owned(), repo.timestamp().bytes()),
        (role::SNAPSHOT.to_owned(), repo.snapshot().bytes()),
    ];
    out.extend(
        repo.all_targets_roles()
            .iter()
            .map(|(name, doc)| (name.clone(), doc.bytes())),
    );
    out
}

impl Repository {
    /// After the server accepted `uploaded` (`(role, bytes)`), fetches and verifies the
    /// server's trust data with the uploaded files standing in for cached ones, and on success
    /// writes the verified repository to the cache and keeps it as
    /// [`verified`](Self::verified) (see the module documentation). Returns whether it did; on
    /// failure the cache is left as it was and `warnings` says why.
    pub(super) async fn refresh_after_publish(
        &mut self,
        uploaded: &[(String, Vec<u8>)],
        warnings: &mut Vec<RepoWarning>,
    ) -> bool {
        match self.verify_published(uploaded).await {
            Ok(repo) => {
                self.cache_verified(&repo, warnings);
                self.verified = Some(repo);
                true
            }
            Err(e) => {
                warnings.push(RepoWarning::CacheNotRefreshed {
                    reason: e.to_string(),
                });
                false
            }
        }
    }

    /// The update of [`refresh_after_publish`](Self::refresh_after_publish), writing nothing.
    async fn verify_published(
        &self,
        uploaded: &[(String, Vec<u8>)],
    ) -> Result<update::TrustedMetadata> {
        let now = Utc::now();
        let mut config = UpdateConfig::new(self.gun.as_str(), now);
        config.trusted = self.cached_state()?;
        for (name, bytes) in uploaded {
            // The cached root stays the trust anchor: a rotated root is fetched and verified
            // against it as on any update.
            match name.as_str() {
                role::ROOT => {}
                role::SNAPSHOT => config.trusted.snapshot = Some(bytes.clone()),
                role::TARGETS => config.trusted.targets = Some(bytes.clone()),
                _ => {
                    config
                        .trusted
                        .delegations
                        .insert(name.clone(), bytes.clone());
                }
            }
        }
        config.pinning = pinning::update_pinning(&self.pinning, &self.gun, now)?;
        let mut updater = Updater::new(config).map_err(|e| self.update_error(e))?;
        while let Need::Fetch(request) = updater.next_request() {
            let answer = self.fetch(&request).await?;
            // The cached timestamp is what the refresh is meant to replace: without the
            // server's, nothing is refreshed.
            if let FetchResult::Unavailable(reason) = answer {
                return Err(self.update_error(update::Error::Unavailable {
                    gun: self.gun.to_string(),
                    role: request.name.clone(),
                    file: request.path(),
                    reason,
                }));
            }
            updater
                .provide(&request, answer)
                .map_err(|e| self.update_error(e))?;
        }
        let outcome = updater.finish().map_err(|e| self.update_error(e))?;
        Ok(outcome.trusted)
    }

    /// Writes every document of `repo` that the cache does not already hold as is.
    fn cache_verified(&self, repo: &update::TrustedMetadata, warnings: &mut Vec<RepoWarning>) {
        let cache = self.repo_dir.cache();
        for (name, bytes) in documents(repo) {
            let limit = if name == role::TIMESTAMP {
                MAX_TIMESTAMP_SIZE
            } else {
                MAX_DOWNLOAD_SIZE
            };
            if matches!(cache.get(&name, limit), Ok(Some(cached)) if cached == bytes) {
                continue;
            }
            if let Err(e) = cache.set(&name, bytes) {
                warnings.push(RepoWarning::CacheWrite {
                    role: name,
                    reason: e.to_string(),
                });
            }
        }
    }
}
