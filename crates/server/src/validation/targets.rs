//! Step 5 of upload validation: targets and delegations.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use signet_tuf::metadata::{Delegations, Envelope, Root, Targets};
use signet_tuf::role;
use signet_tuf::verify::{check_expiry, verify_delegation, verify_targets};

use super::{Fail, LoadedTargets, tuf_msg};
use crate::error::ServiceError;
use crate::service::{MetadataService, UploadedFile};
use signet_tuf::role::depth as role_depth;

/// Loads a stored targets role into `loaded` (no-op when loaded already or not stored).
async fn load_stored(
    repo: &MetadataService,
    gun: &str,
    name: &str,
    loaded: &mut BTreeMap<String, LoadedTargets>,
) -> Result<(), ServiceError> {
    if loaded.contains_key(name) {
        return Ok(());
    }
    let Some(file) = repo.current_file(gun, name).await? else {
        return Ok(());
    };
    let env = Envelope::<Targets>::parse(&file.file.data)
        .map_err(|e| Fail(gun).stored(name, tuf_msg(&e)))?;
    loaded.insert(
        name.to_owned(),
        LoadedTargets {
            env,
            bytes: file.file.data.clone(),
            upload_version: None,
        },
    );
    Ok(())
}

/// The ancestors of a delegation, from `targets` down to its parent.
fn ancestors(name: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut cur = role::parent(name);
    while let Some(p) = cur {
        out.push(p);
        cur = role::parent(p);
    }
    out.reverse();
    out
}

/// Validates every uploaded targets role (`files` holds only targets roles by now).
/// Returns the loaded documents (uploaded and stored ancestors) and the upload order.
pub(crate) async fn validate_targets(
    repo: &MetadataService,
    gun: &str,
    files: BTreeMap<String, UploadedFile>,
    root: &Root,
    now: DateTime<Utc>,
) -> Result<(BTreeMap<String, LoadedTargets>, Vec<String>), ServiceError> {
    let fail = Fail(gun);
    let mut order: Vec<String> = files.keys().cloned().collect();
    order.sort_by(|a, b| role_depth(a).cmp(&role_depth(b)).then_with(|| a.cmp(b)));
    let mut files = files;
    let mut loaded: BTreeMap<String, LoadedTargets> = BTreeMap::new();
    for name in &order {
        let Some(up) = files.remove(name) else {
            continue;
        };
        let env =
            Envelope::<Targets>::parse(&up.data).map_err(|e| fail.targets(name, tuf_msg(&e)))?;
        if name == role::TARGETS {
            verify_targets(&env, root).map_err(|e| fail.targets(name, tuf_msg(&e)))?;
        } else {
            for a in ancestors(name) {
                load_stored(repo, gun, a, &mut loaded).await?;
            }
            let parent_name = role::parent(name).unwrap_or(role::TARGETS);
            let parent = loaded.get(parent_name).ok_or_else(|| {
                fail.targets(
                    name,
                    tuf_msg(&signet_tuf::Error::DelegationNotFound { role: name.clone() }),
                )
            })?;
            let parent_doc = parent.env.signed();
            verify_delegation(&env, parent_doc, name)
                .map_err(|e| fail.targets(name, tuf_msg(&e)))?;
            // Stricter than Go: every target must lie within the paths delegated at every
            // level of the chain from `targets` down (clients narrow a child's paths to its
            // parent's, so a wider grandchild must not smuggle targets past its parent).
            let chain: Vec<&str> = ancestors(name)
                .into_iter()
                .chain(std::iter::once(name.as_str()))
                .collect();
            for pair in chain.windows(2) {
                let [delegator, delegated] = pair else {
                    continue;
                };
                let Some(d) = loaded
                    .get(*delegator)
                    .and_then(|l| l.env.signed().delegation(delegated))
                else {
                    continue;
                };
                if let Some(outside) = env.signed().targets.keys().find(|t| !d.allows_path(t)) {
                    return Err(fail.targets(
                        name,
                        format!("target {outside:?} is outside the paths delegated to {delegated}"),
                    ));
                }
            }
        }
        if let Some(msg) = duplicate_delegation(&env.signed().delegations) {
            return Err(fail.targets(name, msg));
        }
        check_expiry(name, &env.signed().expires, now)
            .map_err(|e| fail.targets(name, tuf_msg(&e)))?;
        loaded.insert(
            name.clone(),
            LoadedTargets {
                env,
                bytes: up.data,
                upload_version: Some(up.version),
            },
        );
    }
    Ok((loaded, order))
}

/// Stricter than Go: a delegation listed twice (which entry would a client apply?) or a key
/// listed twice in one delegation (one key counted twice towards a threshold) is refused.
fn duplicate_delegation(delegations: &Delegations) -> Option<String> {
    let mut names = BTreeSet::new();
    for d in &delegations.roles {
        if !names.insert(d.name.as_str()) {
            return Some(format!("delegation {} is listed more than once", d.name));
        }
        let mut ids = BTreeSet::new();
        if let Some(id) = d.keyids.iter().find(|id| !ids.insert(*id)) {
            return Some(format!(
                "delegation {} lists key {id} more than once",
                d.name
            ));
        }
    }
    None
}

/// After a root change without a targets upload: the stored targets must verify against
/// the new root, or every client would fail on it.
pub(crate) fn check_stored_targets_still_verify(
    gun: &str,
    stored: &[u8],
    root: &Root,
) -> Result<(), ServiceError> {
    let fail = Fail(gun);
    let env =
        Envelope::<Targets>::parse(stored).map_err(|e| fail.stored("targets", tuf_msg(&e)))?;
    verify_targets(&env, root).map(|_| ()).map_err(|e| {
        fail.hierarchy(
            "targets",
            format!(
                "the new root's targets keys do not verify the current targets ({}); \
                 upload targets signed with the new keys",
                tuf_msg(&e)
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delegations(json: serde_json::Value) -> Delegations {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn duplicate_delegations_and_keys_are_refused() {
        let id = "a".repeat(64);
        let other = "b".repeat(64);
        let entry = |name: &str, keyids: &[&str]| serde_json::json!({"name": name, "keyids": keyids, "threshold": 1, "paths": [""]});
        let ok = delegations(serde_json::json!({"keys": {}, "roles": [
            entry("targets/a", &[&id, &other]), entry("targets/b", &[&id])]}));
        assert_eq!(duplicate_delegation(&ok), None);
        let twice = delegations(serde_json::json!({"keys": {}, "roles": [
            entry("targets/a", &[&id]), entry("targets/a", &[&other])]}));
        assert!(
            duplicate_delegation(&twice)
                .unwrap()
                .contains("more than once")
        );
        let key_twice = delegations(serde_json::json!({"keys": {}, "roles": [
            entry("targets/a", &[&id, &id])]}));
        assert!(duplicate_delegation(&key_twice).unwrap().contains(&id));
    }

    #[test]
    fn ancestors_top_down() {
        assert_eq!(ancestors("targets/a/b"), vec!["targets", "targets/a"]);
        assert_eq!(ancestors("targets/a"), vec!["targets"]);
        assert!(ancestors("targets").is_empty());
    }
}
