//! What the import and export need from signet's own database, through [`Store`]'s
//! operations: where stored roots list the keys, every server-held key, and inserting keys
//! with their original state, creation and last-use times.

use std::collections::{BTreeSet, HashMap, HashSet};

use futures_util::TryStreamExt as _;
use serde::Deserialize;

use crate::error::NotarySignerError;
use crate::service::MetadataService;
use crate::store::{ServerKey, Store, StoreError};

/// The roles whose keys the server holds.
pub(crate) const SERVER_ROLES: [&str; 2] = ["timestamp", "snapshot"];

/// A (GUN, role) pair.
pub(crate) type Place = (String, String);

/// Where stored roots list some key IDs.
#[derive(Debug, Default)]
pub(crate) struct Listings {
    /// Key ID → the (GUN, role)s whose *current* root lists it for `timestamp`/`snapshot`.
    pub(crate) current: HashMap<String, BTreeSet<Place>>,
    /// Key ID → the (GUN, role)s any stored root version lists it for.
    pub(crate) any: HashMap<String, BTreeSet<Place>>,
    /// Roots that could not be read (GUN, version, why).
    pub(crate) unreadable: Vec<(String, i64, String)>,
}

#[derive(Deserialize)]
struct RootFile {
    signed: RootSigned,
}

#[derive(Deserialize)]
struct RootSigned {
    #[serde(default)]
    roles: HashMap<String, RoleEntry>,
}

#[derive(Deserialize)]
struct RoleEntry {
    #[serde(default)]
    keyids: Vec<String>,
}

/// The (role, key ID) pairs of a root's `timestamp` and `snapshot` roles that are `wanted`.
fn listed(data: &[u8], wanted: &HashSet<String>) -> Result<Vec<(String, String)>, String> {
    let root: RootFile = serde_json::from_slice(data).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for role in SERVER_ROLES {
        if let Some(entry) = root.signed.roles.get(role) {
            for id in &entry.keyids {
                if wanted.contains(id) {
                    out.push((role.to_owned(), id.clone()));
                }
            }
        }
    }
    Ok(out)
}

fn store_error(context: &str) -> impl FnOnce(StoreError) -> NotarySignerError + '_ {
    move |source| NotarySignerError::Store {
        context: context.to_owned(),
        source,
    }
}

/// Reads every stored root (streaming, one row at a time) and records where the `wanted`
/// key IDs are listed.
///
/// The current root of a GUN is the one signet (like Go notary-server) serves: the root the
/// current snapshot names, the snapshot the newest timestamp names ([`MetadataService`]). A GUN whose
/// chain does not resolve (no timestamp yet) falls back to its highest root version.
pub(crate) async fn listings(
    store: &Store,
    repo: &MetadataService,
    wanted: &HashSet<String>,
) -> Result<Listings, NotarySignerError> {
    let context = "reading the stored roots";
    let mut out = Listings::default();
    // GUN → (highest version, what it lists), the fallback for the current root.
    let mut newest: HashMap<String, (i64, Vec<(String, String)>)> = HashMap::new();
    let mut note = |gun: String, version: i64, data: &[u8]| {
        let found = match listed(data, wanted) {
            Ok(found) => found,
            Err(e) => {
                out.unreadable.push((gun.clone(), version, e));
                Vec::new()
            }
        };
        for (role, id) in &found {
            out.any
                .entry(id.clone())
                .or_default()
                .insert((gun.clone(), role.clone()));
        }
        match newest.get_mut(&gun) {
            Some((v, _)) if *v >= version => {}
            Some(slot) => *slot = (version, found),
            None => {
                newest.insert(gun, (version, found));
            }
        }
    };
    let mut roots = store.roots();
    while let Some(root) = roots.try_next().await.map_err(store_error(context))? {
        note(root.gun, root.version, &root.data);
    }
    drop(roots);
    for (gun, (_, fallback)) in newest {
        let current =
            repo.current_file(&gun, "root")
                .await
                .map_err(|e| NotarySignerError::Metadata {
                    gun: gun.clone(),
                    reason: e.to_string(),
                })?;
        let found = match current {
            Some(file) => {
                listed(&file.file.data, wanted).map_err(|reason| NotarySignerError::Metadata {
                    gun: gun.clone(),
                    reason: format!("the current root cannot be read: {reason}"),
                })?
            }
            None => fallback,
        };
        for (role, id) in found {
            out.current
                .entry(id)
                .or_default()
                .insert((gun.clone(), role));
        }
    }
    Ok(out)
}

/// Every server-held key, in any state.
pub(crate) async fn all_server_keys(store: &Store) -> Result<Vec<ServerKey>, NotarySignerError> {
    store
        .all_server_keys()
        .await
        .map_err(store_error("reading the server keys"))
}

/// Inserts `keys` (with their state and original times) in one transaction, leaving any
/// (GUN, role, key ID) already stored as it is. Returns the (GUN, role, key ID)s actually
/// inserted.
pub(crate) async fn insert_keys(
    store: &Store,
    keys: &[ServerKey],
) -> Result<HashSet<(String, String, String)>, NotarySignerError> {
    let inserted = store
        .put_server_keys_if_absent(keys)
        .await
        .map_err(store_error("storing the imported keys"))?;
    Ok(keys
        .iter()
        .zip(inserted)
        .filter(|(_, inserted)| *inserted)
        .map(|(k, _)| (k.gun.clone(), k.role.clone(), k.key_id.clone()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_listing_reads_only_server_roles() {
        let wanted: HashSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let root = br#"{"signed":{"_type":"Root","roles":{
            "root":{"keyids":["a"],"threshold":1},
            "timestamp":{"keyids":["b","x"],"threshold":1},
            "snapshot":{"keyids":["c"],"threshold":1}}},"signatures":[]}"#;
        let got = listed(root, &wanted).unwrap();
        assert_eq!(
            got,
            vec![
                ("timestamp".to_owned(), "b".to_owned()),
                ("snapshot".to_owned(), "c".to_owned())
            ]
        );
        assert!(listed(b"not json", &wanted).is_err());
        assert!(listed(br#"{"signed":{}}"#, &wanted).unwrap().is_empty());
    }
}
