//! Step 6 of upload validation: an uploaded snapshot.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use signet_tuf::authoring::check_snapshot_matches;
use signet_tuf::metadata::{Envelope, Root, Snapshot};
use signet_tuf::verify::{check_expiry, verify_snapshot};

use super::{Fail, LoadedTargets, tuf_msg};
use crate::error::ServiceError;
use crate::service::{MetadataService, UploadedFile};

/// Checks an uploaded snapshot: signatures of root's snapshot role, expiry, the checksums
/// of every loaded role, and that every other file it names exists (so the upload cannot
/// leave the repository unverifiable) and is the current version of its role (so it cannot
/// roll a role back). Entries unchanged since the previous snapshot name the current files
/// already and are trusted without a lookup, so the cost grows with what changed.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn validate_uploaded(
    repo: &MetadataService,
    gun: &str,
    up: &UploadedFile,
    root: &Root,
    root_bytes: &[u8],
    loaded: &BTreeMap<String, LoadedTargets>,
    previous: Option<&Snapshot>,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let fail = Fail(gun);
    let env = Envelope::<Snapshot>::parse(&up.data).map_err(|e| fail.snapshot(tuf_msg(&e)))?;
    verify_snapshot(&env, root).map_err(|e| fail.snapshot(tuf_msg(&e)))?;
    let snap = env.signed();
    check_expiry("snapshot", &snap.expires, now).map_err(|e| fail.snapshot(tuf_msg(&e)))?;
    let files = std::iter::once(("root", root_bytes))
        .chain(loaded.iter().map(|(name, t)| (name.as_str(), &t.bytes[..])));
    check_snapshot_matches(snap, files).map_err(|e| fail.snapshot(tuf_msg(&e)))?;
    for (name, meta) in &snap.meta {
        if name == "root" || loaded.contains_key(name) {
            continue;
        }
        if previous.and_then(|p| p.meta.get(name)) == Some(meta) {
            continue;
        }
        let Some(sha) = meta.sha256().filter(|s| s.len() == 32) else {
            return Err(fail.snapshot(format!("missing {name} sha256 checksum information")));
        };
        let found = repo.by_checksum(gun, name, &hex::encode(sha)).await?;
        let Some(found) = found.filter(|f| meta.check_length(name, &f.file.data).is_ok()) else {
            return Err(fail.snapshot(format!(
                "snapshot names a {name} file that was neither uploaded nor stored \
                 (sha256 {})",
                hex::encode(sha)
            )));
        };
        // A role's version never goes back: naming an older stored file would serve it as
        // current again (a rollback by whoever holds the snapshot key).
        let current = repo.latest_version(gun, name).await?;
        if found.file.version < current {
            return Err(fail.snapshot(format!(
                "snapshot names {name} version {}, older than the current version {current}: \
                 a role's version never goes back",
                found.file.version
            )));
        }
    }
    Ok(())
}
