//! Step 5 of upload validation: targets and delegations.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use signet_tuf::metadata::{Envelope, Root, Targets};
use signet_tuf::role;
use signet_tuf::verify::{check_expiry, verify_delegation, verify_targets};

use super::{Fail, LoadedTargets, tuf_msg};
use crate::error::ServerError;
use crate::names::role_depth;
use crate::repo::{Repo, UploadedFile};

/// Loads a stored targets role into `loaded` (no-op when loaded already or not stored).
async fn load_stored(
    repo: &Repo,
    gun: &str,
    name: &str,
    loaded: &mut BTreeMap<String, LoadedTargets>,
) -> Result<(), ServerError> {
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
    repo: &Repo,
    gun: &str,
    files: BTreeMap<String, UploadedFile>,
    root: &Root,
    now: DateTime<Utc>,
) -> Result<(BTreeMap<String, LoadedTargets>, Vec<String>), ServerError> {
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
            // Stricter than Go: every target must lie within the delegated paths.
            if let Some(d) = parent_doc.delegation(name)
                && let Some(outside) = env.signed().targets.keys().find(|t| !d.allows_path(t))
            {
                return Err(fail.targets(
                    name,
                    format!("target {outside:?} is outside the paths delegated to {name}"),
                ));
            }
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

/// After a root change without a targets upload: the stored targets must verify against
/// the new root, or every client would fail on it.
pub(crate) fn check_stored_targets_still_verify(
    gun: &str,
    stored: &[u8],
    root: &Root,
) -> Result<(), ServerError> {
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

    #[test]
    fn ancestors_top_down() {
        assert_eq!(ancestors("targets/a/b"), vec!["targets", "targets/a"]);
        assert_eq!(ancestors("targets/a"), vec!["targets"]);
        assert!(ancestors("targets").is_empty());
    }
}
