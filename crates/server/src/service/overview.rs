//! The trust state of one repository as the server serves it, for people to look at (the web
//! view): the current file of every role, parsed with the signet-tuf types, and what they
//! say: keys, thresholds, delegations, signed targets and expiries. Reads only; nothing is
//! generated or re-signed.

use std::collections::BTreeMap;
use std::sync::Arc;

use signet_tuf::metadata::{DelegationRole, Envelope, Expires, Root, Snapshot, Targets, Timestamp};
use signet_tuf::role;

use super::MetadataService;
use crate::cache::CachedFile;
use crate::error::ServiceError;
use crate::store::{KeyState, RepositoryQuery};

/// The trust state of one repository.
#[derive(Clone, Debug, PartialEq)]
pub struct RepositoryOverview {
    /// The GUN.
    pub gun: String,
    /// Every current role file: root, targets, the delegations (by name), snapshot,
    /// timestamp.
    pub roles: Vec<RoleState>,
    /// The root role's key IDs and threshold, as root lists them.
    pub root_keys: RoleKeyIds,
    /// The top-level targets role's key IDs and threshold, as root lists them.
    pub targets_keys: RoleKeyIds,
    /// The timestamp and snapshot key IDs root lists, and whether the server holds them.
    pub server_roles: Vec<ServerRoleKeys>,
    /// Every delegation the current targets files declare, in the order they declare them.
    pub delegations: Vec<DelegationState>,
    /// Every signed target, by name and digest, with the roles that sign it.
    pub targets: Vec<SignedTarget>,
    /// Current files that could not be read, with the reason.
    pub unreadable: Vec<(String, String)>,
}

/// The version and expiry of one role's current file.
#[derive(Clone, Debug, PartialEq)]
pub struct RoleState {
    /// The role name.
    pub role: String,
    /// The file's version.
    pub version: i64,
    /// When it expires.
    pub expires: Expires,
    /// Whether the server signs this role (timestamp always; snapshot when it holds the key),
    /// and so re-signs it when it expires.
    pub server_signed: bool,
}

/// The key IDs and threshold of a role.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleKeyIds {
    /// TUF key IDs, in the order they are listed.
    pub key_ids: Vec<String>,
    /// How many of them must sign.
    pub threshold: i64,
}

/// A role whose key the server may hold (timestamp or snapshot).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerRoleKeys {
    /// `timestamp` or `snapshot`.
    pub role: String,
    /// The key IDs and threshold root lists.
    pub keys: RoleKeyIds,
    /// Of those, the ones the server holds, with their state.
    pub held: BTreeMap<String, KeyState>,
}

/// A delegation as a targets file declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelegationState {
    /// The delegated role, `targets/…`.
    pub name: String,
    /// The role whose file declares it.
    pub declared_by: String,
    /// Its key IDs and threshold.
    pub keys: RoleKeyIds,
    /// The target path prefixes it may sign (`""` is every path).
    pub paths: Vec<String>,
}

/// A target name and digest with the roles that sign it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTarget {
    /// The target (tag) name.
    pub name: String,
    /// Lowercase hex SHA-256 (empty when the target has none).
    pub sha256: String,
    /// Length in bytes.
    pub length: i64,
    /// The roles that sign this name with this digest, in the order they were read
    /// (`targets` first).
    pub roles: Vec<String>,
}

impl SignedTarget {
    /// The signer names as `docker trust inspect` shows them: "Repo Admin" for `targets`
    /// and `targets/releases`, the delegation name otherwise; each once.
    pub fn signers(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in &self.roles {
            let name = role::docker_signer(r);
            if !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }
}

impl RoleKeyIds {
    fn of(key_ids: &[signet_tuf::key::KeyId], threshold: i64) -> Self {
        Self {
            key_ids: key_ids.iter().map(ToString::to_string).collect(),
            threshold,
        }
    }
}

/// Parses a current file, recording why it could not be read.
fn parse<T: signet_tuf::metadata::Metadata>(
    file: &CachedFile,
    unreadable: &mut Vec<(String, String)>,
) -> Option<T> {
    match Envelope::<T>::parse(&file.file.data) {
        Ok(env) => Some(env.into_parts().0),
        Err(e) => {
            unreadable.push((file.file.role.clone(), e.to_string()));
            None
        }
    }
}

impl MetadataService {
    /// One page of the repositories with stored metadata (see [`RepositoryQuery`]).
    pub async fn repositories(&self, query: &RepositoryQuery) -> Result<Vec<String>, ServiceError> {
        self.store()
            .repositories(query)
            .await
            .map_err(|e| ServiceError::from_store_read("", e))
    }

    /// The earliest expiry, in Unix seconds, of the metadata the owners of each of `guns`
    /// sign (see [`Store::earliest_expiries`](crate::store::Store::earliest_expiries)).
    pub async fn earliest_expiries(
        &self,
        guns: &[String],
    ) -> Result<BTreeMap<String, i64>, ServiceError> {
        self.store()
            .earliest_expiries(guns)
            .await
            .map_err(|e| ServiceError::from_store_read("", e))
    }

    /// The trust state of `gun` from its current files (the latest timestamp, the snapshot
    /// it names and the files that snapshot names). Not found when the GUN has no timestamp
    /// or snapshot.
    pub async fn overview(&self, gun: &str) -> Result<RepositoryOverview, ServiceError> {
        let not_found = || ServiceError::not_found(gun, "");
        let timestamp_file = self.latest_timestamp(gun).await?.ok_or_else(not_found)?;
        let snapshot_file = self
            .referenced(gun, &timestamp_file, role::SNAPSHOT)
            .await?
            .ok_or_else(not_found)?;
        let mut unreadable = Vec::new();
        let snapshot: Snapshot = parse(&snapshot_file, &mut unreadable).ok_or_else(not_found)?;
        let timestamp: Option<Timestamp> = parse(&timestamp_file, &mut unreadable);

        let mut files: Vec<Arc<CachedFile>> = Vec::new();
        for name in snapshot.meta.keys() {
            match self.referenced(gun, &snapshot_file, name).await? {
                Some(f) => files.push(f),
                None => unreadable.push((name.clone(), "not stored".to_owned())),
            }
        }
        let root = files
            .iter()
            .find(|f| f.file.role == role::ROOT)
            .and_then(|f| parse::<Root>(f, &mut unreadable));
        let mut targets_files: Vec<(String, Targets)> = Vec::new();
        // `targets` first, then the delegations in name order (the snapshot's order).
        for f in files.iter().filter(|f| f.file.role == role::TARGETS) {
            if let Some(t) = parse::<Targets>(f, &mut unreadable) {
                targets_files.push((f.file.role.clone(), t));
            }
        }
        for f in files.iter().filter(|f| role::is_delegation(&f.file.role)) {
            if let Some(t) = parse::<Targets>(f, &mut unreadable) {
                targets_files.push((f.file.role.clone(), t));
            }
        }

        let role_keys = |name: &str| {
            root.as_ref()
                .and_then(|r| r.role(name))
                .map(|rk| RoleKeyIds::of(&rk.keyids, rk.threshold))
                .unwrap_or_default()
        };
        let mut server_roles = Vec::new();
        for name in [role::TIMESTAMP, role::SNAPSHOT] {
            let keys = role_keys(name);
            let held = self
                .store()
                .server_keys(gun, name)
                .await
                .map_err(|e| ServiceError::from_store_read(gun, e))?
                .into_iter()
                .filter(|k| keys.key_ids.contains(&k.key_id))
                .map(|k| (k.key_id, k.state))
                .collect();
            server_roles.push(ServerRoleKeys {
                role: name.to_owned(),
                keys,
                held,
            });
        }
        let server_signs = |name: &str| {
            server_roles
                .iter()
                .any(|s| s.role == name && !s.held.is_empty())
        };

        let mut roles = Vec::new();
        if let Some(r) = &root {
            roles.push(RoleState {
                role: role::ROOT.to_owned(),
                version: r.version,
                expires: r.expires.clone(),
                server_signed: false,
            });
        }
        for (name, t) in &targets_files {
            roles.push(RoleState {
                role: name.clone(),
                version: t.version,
                expires: t.expires.clone(),
                server_signed: false,
            });
        }
        roles.push(RoleState {
            role: role::SNAPSHOT.to_owned(),
            version: snapshot.version,
            expires: snapshot.expires.clone(),
            server_signed: server_signs(role::SNAPSHOT),
        });
        if let Some(t) = &timestamp {
            roles.push(RoleState {
                role: role::TIMESTAMP.to_owned(),
                version: t.version,
                expires: t.expires.clone(),
                server_signed: true,
            });
        }

        let declared: Vec<(&str, &DelegationRole)> = targets_files
            .iter()
            .flat_map(|(name, t)| t.delegations.roles.iter().map(move |d| (name.as_str(), d)))
            .collect();
        let delegations = declared
            .iter()
            .map(|(by, d)| DelegationState {
                name: d.name.clone(),
                declared_by: (*by).to_owned(),
                keys: RoleKeyIds::of(&d.keyids, d.threshold),
                paths: d.paths.clone(),
            })
            .collect();

        Ok(RepositoryOverview {
            gun: gun.to_owned(),
            roles,
            root_keys: role_keys(role::ROOT),
            targets_keys: role_keys(role::TARGETS),
            server_roles,
            delegations,
            targets: signed_targets(&targets_files, &declared),
            unreadable,
        })
    }
}

/// Every target of the targets files that a client would accept from its role (a
/// delegation's targets must lie under the paths its parent gives it), grouped by name and
/// digest, sorted by name.
fn signed_targets(
    files: &[(String, Targets)],
    declared: &[(&str, &DelegationRole)],
) -> Vec<SignedTarget> {
    let mut rows: BTreeMap<(String, String), SignedTarget> = BTreeMap::new();
    for (name, t) in files {
        let delegation = declared
            .iter()
            .find(|(by, d)| d.name == *name && role::parent(name) == Some(*by))
            .map(|(_, d)| *d);
        if name != role::TARGETS && delegation.is_none() {
            continue;
        }
        for (target, meta) in &t.targets {
            if delegation.is_some_and(|d| !d.allows_path(target)) {
                continue;
            }
            let sha256 = meta.sha256().map(hex::encode).unwrap_or_default();
            let row = rows
                .entry((target.clone(), sha256.clone()))
                .or_insert_with(|| SignedTarget {
                    name: target.clone(),
                    sha256,
                    length: meta.length,
                    roles: Vec::new(),
                });
            if !row.roles.contains(name) {
                row.roles.push(name.clone());
            }
        }
    }
    rows.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use signet_tuf::metadata::FileMeta;

    fn targets(names: &[&str]) -> Targets {
        let mut t = Targets::new(1, Expires::parse("2030-01-01T00:00:00Z").unwrap());
        for n in names {
            t.targets
                .insert((*n).to_owned(), FileMeta::from_bytes(n.as_bytes()));
        }
        t
    }

    #[test]
    fn targets_are_grouped_and_limited_to_delegated_paths() {
        let top = targets(&["v1"]);
        let alice = DelegationRole::new("targets/alice", vec![], 1, vec!["v".into()]);
        let releases = DelegationRole::new("targets/releases", vec![], 1, vec![String::new()]);
        let files = vec![
            ("targets".to_owned(), top),
            ("targets/alice".to_owned(), targets(&["v1", "other"])),
            ("targets/releases".to_owned(), targets(&["v1"])),
            ("targets/undeclared".to_owned(), targets(&["v1"])),
        ];
        let declared = vec![("targets", &alice), ("targets", &releases)];
        let rows = signed_targets(&files, &declared);
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].name, "v1");
        assert_eq!(
            rows[0].roles,
            ["targets", "targets/alice", "targets/releases"]
        );
        assert_eq!(rows[0].signers(), ["Repo Admin", "alice"]);
        assert_eq!(rows[0].length, 2);
        assert_eq!(rows[0].sha256.len(), 64);
    }
}
