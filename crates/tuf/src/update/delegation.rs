//! Delegated roles as the client sees them: keys, threshold and the paths they may sign for
//! after restriction by every ancestor.

use std::collections::BTreeMap;

use sha2::{Digest as _, Sha256};

use crate::key::{KeyId, PublicKey};
use crate::metadata::{Root, Targets};
use crate::role;

/// A targets role ready for verification and target lookups: its keys and threshold (from root
/// for `targets`, from the parent's `delegations` otherwise) and its effective paths.
///
/// Paths follow Notary (`DelegationRole.Restrict`): a delegated path is kept only if one of the
/// parent's effective paths is a string prefix of it; `targets` itself has the path `""`
/// (everything). `path_hash_prefixes`, which Notary ignores, are honoured here when present: a
/// target must then also hash (SHA-256 of its name, lowercase hex) to one of the prefixes of
/// the role and of every ancestor that lists some.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedRole {
    /// The role name (`targets` or `targets/...`).
    pub name: String,
    /// The keys that may sign for the role, by TUF key ID.
    pub keys: BTreeMap<KeyId, PublicKey>,
    /// How many distinct keys must sign.
    pub threshold: i64,
    /// The effective path prefixes (`""` = every path).
    pub paths: Vec<String>,
    /// Hash-prefix constraints of this role and its ancestors; a target must satisfy each
    /// inner list (match one prefix of it).
    pub path_hash_prefixes: Vec<Vec<String>>,
}

impl ResolvedRole {
    /// The top-level `targets` role of `root`: its keys and threshold, every path. `None` if
    /// root does not list the role (a validated root always does).
    pub fn top_level(root: &Root) -> Option<Self> {
        let (keys, threshold) = root.role_keys(role::TARGETS)?;
        Some(Self {
            name: role::TARGETS.to_owned(),
            keys,
            threshold,
            paths: vec![String::new()],
            path_hash_prefixes: Vec::new(),
        })
    }

    /// Whether the role may sign for `target`.
    pub fn allows(&self, target: &str) -> bool {
        if !self.paths.iter().any(|p| target.starts_with(p.as_str())) {
            return false;
        }
        if self.path_hash_prefixes.is_empty() {
            return true;
        }
        let digest = hex::encode(Sha256::digest(target.as_bytes()));
        self.path_hash_prefixes
            .iter()
            .all(|set| set.iter().any(|p| digest.starts_with(p.as_str())))
    }

    /// The valid delegations declared by `doc`, the document of this role, in listed order
    /// (Notary's `GetValidDelegations`): only direct children whose keys are all present,
    /// with paths restricted by this role. Repeated names are kept once (the first).
    pub fn children(&self, doc: &Targets) -> Vec<Self> {
        let mut out: Vec<Self> = Vec::new();
        for d in &doc.delegations.roles {
            if !role::is_direct_child(&self.name, &d.name) || out.iter().any(|c| c.name == d.name) {
                continue;
            }
            let mut keys = BTreeMap::new();
            let mut complete = true;
            for id in &d.keyids {
                match doc.delegations.keys.get(id) {
                    Some(k) => {
                        keys.insert(id.clone(), k.clone());
                    }
                    None => complete = false,
                }
            }
            if !complete {
                continue;
            }
            let paths = d
                .paths
                .iter()
                .filter(|p| self.paths.iter().any(|pp| p.starts_with(pp.as_str())))
                .cloned()
                .collect();
            let mut path_hash_prefixes = self.path_hash_prefixes.clone();
            if let Some(prefixes) = &d.path_hash_prefixes {
                // Hex digests are lowercase; compare prefixes the same way.
                path_hash_prefixes.push(prefixes.iter().map(|p| p.to_ascii_lowercase()).collect());
            }
            out.push(Self {
                name: d.name.clone(),
                keys,
                threshold: d.threshold,
                paths,
                path_hash_prefixes,
            });
        }
        out
    }

    /// Number of delegation levels below `targets` (`targets` = 0, `targets/a/b` = 2).
    pub fn depth(&self) -> usize {
        self.name.matches('/').count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{DelegationRole, Expires};

    fn key(n: u8) -> (KeyId, PublicKey) {
        let k = PublicKey::new(crate::KeyType::Ed25519, vec![n; 32]);
        (k.key_id(), k)
    }

    fn parent(paths: &[&str]) -> ResolvedRole {
        ResolvedRole {
            name: "targets".into(),
            keys: BTreeMap::new(),
            threshold: 1,
            paths: paths.iter().map(|s| (*s).to_owned()).collect(),
            path_hash_prefixes: Vec::new(),
        }
    }

    fn doc(roles: Vec<DelegationRole>, keys: &[(KeyId, PublicKey)]) -> Targets {
        let mut t = Targets::new(1, Expires::parse("2030-01-01T00:00:00Z").unwrap());
        t.delegations.roles = roles;
        t.delegations.keys = keys.iter().cloned().collect();
        t
    }

    #[test]
    fn restricts_paths_by_string_prefix() {
        let (id, k) = key(1);
        let d = DelegationRole::new(
            "targets/a",
            vec![id.clone()],
            1,
            vec![
                "team/".into(),
                "team".into(),
                "other/".into(),
                "team/qa/".into(),
            ],
        );
        let kids = parent(&["team/"]).children(&doc(vec![d], &[(id, k)]));
        assert_eq!(kids.len(), 1);
        assert_eq!(
            kids[0].paths,
            vec!["team/".to_owned(), "team/qa/".to_owned()]
        );
        assert!(kids[0].allows("team/x"));
        assert!(!kids[0].allows("teamx"));
        assert!(!kids[0].allows("other/x"));
    }

    #[test]
    fn skips_grandchildren_missing_keys_and_duplicates() {
        let (id, k) = key(1);
        let (missing, _) = key(2);
        let all = vec![String::new()];
        let roles = vec![
            DelegationRole::new("targets/a/b", vec![id.clone()], 1, all.clone()),
            DelegationRole::new("targets/c", vec![missing], 1, all.clone()),
            DelegationRole::new("targets/d", vec![id.clone()], 1, all.clone()),
            DelegationRole::new("targets/d", vec![id.clone()], 2, vec![]),
            DelegationRole::new("targets", vec![id.clone()], 1, all),
        ];
        let kids = parent(&[""]).children(&doc(roles, &[(id, k)]));
        assert_eq!(kids.len(), 1);
        assert_eq!(kids[0].name, "targets/d");
        assert_eq!(kids[0].threshold, 1);
        assert_eq!(kids[0].depth(), 1);
    }

    #[test]
    fn empty_paths_allow_nothing() {
        let (id, k) = key(1);
        let d = DelegationRole::new("targets/a", vec![id.clone()], 1, vec![]);
        let kids = parent(&[""]).children(&doc(vec![d], &[(id, k)]));
        assert!(!kids[0].allows(""));
        assert!(!kids[0].allows("x"));
    }

    #[test]
    fn hash_prefixes_are_honoured_through_ancestors() {
        let (id, k) = key(1);
        let name = "some/target";
        let digest = hex::encode(Sha256::digest(name.as_bytes()));
        let mut d = DelegationRole::new("targets/a", vec![id.clone()], 1, vec![String::new()]);
        d.path_hash_prefixes = Some(vec![digest[..2].to_uppercase()]);
        let kids = parent(&[""]).children(&doc(vec![d], &[(id.clone(), k.clone())]));
        assert!(kids[0].allows(name));
        let other = (0..)
            .map(|i| format!("t{i}"))
            .find(|t| !hex::encode(Sha256::digest(t.as_bytes())).starts_with(&digest[..2]))
            .unwrap();
        assert!(!kids[0].allows(&other));

        // A grandchild without prefixes still inherits the parent's constraint.
        let g = DelegationRole::new("targets/a/b", vec![id.clone()], 1, vec![String::new()]);
        let grandkids = kids[0].children(&doc(vec![g], &[(id, k)]));
        assert!(grandkids[0].allows(name));
        assert!(!grandkids[0].allows(&other));
    }
}
