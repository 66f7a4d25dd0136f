//! What the import and export need from signet's own database beyond [`Store`]'s
//! operations: the key IDs of every stored root, every server-held key, and inserting keys
//! with their original creation and last-use times.
//!
//! These run plain SQL on the store's pools against the tables of `migrations/`.

use std::collections::{BTreeSet, HashMap, HashSet};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt as _;
use serde::Deserialize;
use sqlx::Row as _;

use crate::error::NotarySignerError;
use crate::repo::Repo;
use crate::store::{KeyState, ServerKey, Store, StoreError};

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

fn store_error(context: &str) -> impl FnOnce(sqlx::Error) -> NotarySignerError + '_ {
    move |e| NotarySignerError::Store {
        context: context.to_owned(),
        source: StoreError::from_sqlx(context.to_owned(), e),
    }
}

/// Reads every stored root (streaming, one row at a time) and records where the `wanted`
/// key IDs are listed.
///
/// The current root of a GUN is the one signet (like Go notary-server) serves: the root the
/// current snapshot names, the snapshot the newest timestamp names ([`Repo`]). A GUN whose
/// chain does not resolve (no timestamp yet) falls back to its highest root version.
pub(crate) async fn listings(
    store: &Store,
    repo: &Repo,
    wanted: &HashSet<String>,
) -> Result<Listings, NotarySignerError> {
    const SQL: &str =
        "SELECT gun, version, data FROM tuf_files WHERE role = 'root' AND deleted_at IS NULL";
    let context = "reading the stored roots";
    let mut out = Listings::default();
    // GUN → (highest version, what it lists), the fallback for the current root.
    let mut newest: HashMap<String, (i64, Vec<(String, String)>)> = HashMap::new();
    let mut note = |gun: String, version: i64, data: Vec<u8>| {
        let found = match listed(&data, wanted) {
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
    match store {
        Store::Postgres(pg) => {
            let mut rows = sqlx::query(SQL).fetch(pg.pool());
            while let Some(row) = rows.try_next().await.map_err(store_error(context))? {
                let version: i32 = row.try_get("version").map_err(store_error(context))?;
                note(
                    row.try_get("gun").map_err(store_error(context))?,
                    i64::from(version),
                    row.try_get("data").map_err(store_error(context))?,
                );
            }
        }
        Store::Sqlite(lite) => {
            let mut rows = sqlx::query(SQL).fetch(lite.pool());
            while let Some(row) = rows.try_next().await.map_err(store_error(context))? {
                note(
                    row.try_get("gun").map_err(store_error(context))?,
                    row.try_get("version").map_err(store_error(context))?,
                    row.try_get("data").map_err(store_error(context))?,
                );
            }
        }
    }
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

const ALL_KEYS: &str = "SELECT gun, role, key_id, algorithm, public_key, sealed_private_key, \
     state, created_at, last_used FROM signet_server_keys ORDER BY gun, role, created_at, key_id";

/// Every server-held key, in any state.
pub(crate) async fn all_server_keys(store: &Store) -> Result<Vec<ServerKey>, NotarySignerError> {
    let context = "reading the server keys";
    let corrupt = |gun: &str, role: &str, detail: String| NotarySignerError::Store {
        context: context.to_owned(),
        source: StoreError::Corrupt {
            gun: gun.to_owned(),
            role: role.to_owned(),
            detail,
        },
    };
    macro_rules! decode {
        ($rows:expr) => {
            $rows
                .iter()
                .map(|r| {
                    let gun: String = r.try_get("gun").map_err(store_error(context))?;
                    let role: String = r.try_get("role").map_err(store_error(context))?;
                    let state: String = r.try_get("state").map_err(store_error(context))?;
                    let state: KeyState = state
                        .parse()
                        .map_err(|e| corrupt(&gun, &role, format!("server key: {e}")))?;
                    let public: Vec<u8> = r.try_get("public_key").map_err(store_error(context))?;
                    let sealed: Vec<u8> = r
                        .try_get("sealed_private_key")
                        .map_err(store_error(context))?;
                    Ok(ServerKey {
                        key_id: r.try_get("key_id").map_err(store_error(context))?,
                        algorithm: r.try_get("algorithm").map_err(store_error(context))?,
                        public_key: Bytes::from(public),
                        sealed_private_key: Bytes::from(sealed),
                        state,
                        created_at: r.try_get("created_at").map_err(store_error(context))?,
                        last_used: r.try_get("last_used").map_err(store_error(context))?,
                        gun,
                        role,
                    })
                })
                .collect::<Result<Vec<_>, NotarySignerError>>()
        };
    }
    match store {
        Store::Postgres(pg) => {
            let rows = sqlx::query(ALL_KEYS)
                .fetch_all(pg.pool())
                .await
                .map_err(store_error(context))?;
            decode!(rows)
        }
        Store::Sqlite(lite) => {
            let rows = sqlx::query(ALL_KEYS)
                .fetch_all(lite.pool())
                .await
                .map_err(store_error(context))?;
            decode!(rows)
        }
    }
}

/// A key to insert with its original times.
#[derive(Clone)]
pub(crate) struct ImportedKey {
    pub(crate) gun: String,
    pub(crate) role: String,
    pub(crate) key_id: String,
    pub(crate) algorithm: String,
    pub(crate) public_key: Vec<u8>,
    pub(crate) sealed_private_key: Vec<u8>,
    pub(crate) state: KeyState,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) last_used: Option<DateTime<Utc>>,
}

const PG_INSERT: &str = "INSERT INTO signet_server_keys (gun, role, key_id, algorithm, \
     public_key, sealed_private_key, state, created_at, last_used) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (gun, role, key_id) DO NOTHING";
const SQLITE_INSERT: &str = "INSERT INTO signet_server_keys (gun, role, key_id, algorithm, \
     public_key, sealed_private_key, state, created_at, last_used) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (gun, role, key_id) DO NOTHING";

/// Inserts `keys` in one transaction, leaving any (GUN, role, key ID) already stored as it
/// is. Returns the (GUN, role, key ID)s actually inserted.
pub(crate) async fn insert_keys(
    store: &Store,
    keys: &[ImportedKey],
) -> Result<HashSet<(String, String, String)>, NotarySignerError> {
    let mut inserted = HashSet::new();
    macro_rules! run {
        ($pool:expr, $sql:expr) => {{
            let mut tx = $pool
                .begin()
                .await
                .map_err(store_error("starting a transaction"))?;
            for k in keys {
                let context = format!("storing {} {} key {}", k.gun, k.role, k.key_id);
                let done = sqlx::query($sql)
                    .bind(&k.gun)
                    .bind(&k.role)
                    .bind(&k.key_id)
                    .bind(&k.algorithm)
                    .bind(k.public_key.as_slice())
                    .bind(k.sealed_private_key.as_slice())
                    .bind(k.state.as_str())
                    .bind(k.created_at)
                    .bind(k.last_used)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error(&context))?;
                if done.rows_affected() > 0 {
                    inserted.insert((k.gun.clone(), k.role.clone(), k.key_id.clone()));
                }
            }
            tx.commit().await.map_err(store_error("committing"))?;
        }};
    }
    match store {
        Store::Postgres(pg) => run!(pg.pool(), PG_INSERT),
        Store::Sqlite(lite) => run!(lite.pool(), SQLITE_INSERT),
    }
    Ok(inserted)
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
