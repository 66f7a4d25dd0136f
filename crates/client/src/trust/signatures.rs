//! Which roles sign a tag, whether the keys held here can sign each of them, and which tags a
//! removal leaves without any signature: what keeps `revoke` and `signer remove` from
//! reporting more than they did.

use std::collections::{BTreeMap, BTreeSet};

use signet_tuf::update::{self, TargetSigned};

use super::inspect::canonical_key_ids;
use crate::error::{Error, Result, StillSigned};
use crate::repository::Repository;

/// Every occurrence of `tag` (every target when `None`) in the verified tree, with the role
/// that lists it; empty when there is none.
///
/// # Errors
///
/// [`Error::NotInitialized`] before a successful update.
pub fn occurrences(repo: &Repository, tag: Option<&str>) -> Result<Vec<TargetSigned>> {
    match repo.all_target_metadata_by_name(tag.unwrap_or("")) {
        Ok(targets) => Ok(targets),
        Err(Error::Update { source, .. })
            if matches!(*source, update::Error::NoSuchTarget { .. }) =>
        {
            Ok(Vec::new())
        }
        Err(e) => Err(e),
    }
}

/// Whether a key in `held` (canonical IDs) may sign the role that lists `target`.
pub fn can_sign(target: &TargetSigned, held: &BTreeSet<String>) -> bool {
    canonical_key_ids(&target.role).any(|id| held.contains(&id))
}

/// The occurrence as a [`StillSigned`]: the tag, its role and the keys that can sign it.
pub fn still_signed(target: &TargetSigned) -> StillSigned {
    let key_ids: BTreeSet<String> = canonical_key_ids(&target.role).collect();
    StillSigned {
        tag: target.name.clone(),
        role: target.role.name.clone(),
        key_ids: key_ids.into_iter().collect(),
        threshold: target.role.threshold,
    }
}

/// Whether `role` is `removed` or one of its descendants (a delegation's children go with it).
fn goes_with(role: &str, removed: &str) -> bool {
    role == removed
        || role
            .strip_prefix(removed)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The tags of `targets` (every occurrence in the tree) that no role lists any more once the
/// roles `removed`, and their descendants, no longer count; sorted in docker's natural order.
pub fn unsigned_after(targets: &[TargetSigned], removed: &[String]) -> Vec<String> {
    let mut kept: BTreeMap<&str, bool> = BTreeMap::new();
    for target in targets {
        let survives = !removed.iter().any(|r| goes_with(&target.role.name, r));
        *kept.entry(target.name.as_str()).or_default() |= survives;
    }
    let mut tags: Vec<String> = kept
        .into_iter()
        .filter(|(_, survives)| !survives)
        .map(|(tag, _)| tag.to_owned())
        .collect();
    tags.sort_by(|a, b| super::natural_cmp(a, b));
    tags
}

#[cfg(test)]
mod tests {
    use signet_tuf::metadata::{FileMeta, Hashes};

    use super::super::tests::{delegation, key};
    use super::*;

    fn signed(name: &str, role: &str, keys: &[signet_tuf::PublicKey]) -> TargetSigned {
        TargetSigned {
            name: name.to_owned(),
            meta: FileMeta {
                custom: None,
                hashes: Hashes::new(),
                length: 1,
                unknown: serde_json::Map::new(),
            },
            role: delegation(role, keys, &[""]),
            signatures: Vec::new(),
        }
    }

    #[test]
    fn signing_needs_a_key_of_the_listing_role() {
        let (admin, bob) = (key(1), key(2));
        let target = signed("1.0", "targets", std::slice::from_ref(&admin));
        let held_bob: BTreeSet<String> = [bob.key_id().to_string()].into();
        let held_admin: BTreeSet<String> = [admin.key_id().to_string()].into();
        assert!(!can_sign(&target, &held_bob));
        assert!(can_sign(&target, &held_admin));
        let still = still_signed(&target);
        assert_eq!(still.role, "targets");
        assert_eq!(still.key_ids, vec![admin.key_id().to_string()]);
        assert_eq!(still.threshold, 1);
    }

    #[test]
    fn tags_left_unsigned_by_a_removal() {
        let k = key(1);
        let targets = vec![
            signed("v1", "targets/alice", std::slice::from_ref(&k)),
            signed("v1", "targets/releases", std::slice::from_ref(&k)),
            signed("v2", "targets/alice", std::slice::from_ref(&k)),
            signed("v3", "targets/alice/ci", std::slice::from_ref(&k)),
            signed("v4", "targets/alicea", std::slice::from_ref(&k)),
            signed("v10", "targets/alice", std::slice::from_ref(&k)),
        ];
        let alice = vec!["targets/alice".to_owned()];
        assert_eq!(unsigned_after(&targets, &alice), vec!["v2", "v3", "v10"]);
        let both = vec!["targets/alice".to_owned(), "targets/releases".to_owned()];
        assert_eq!(
            unsigned_after(&targets, &both),
            vec!["v1", "v2", "v3", "v10"]
        );
        assert!(unsigned_after(&targets, &[]).is_empty());
    }
}
