//! The trusted metadata an update ends in ([`TrustedMetadata`]), and Notary's target resolution
//! over it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::ControlFlow;
use std::sync::Arc;

use super::delegation::ResolvedRole;
use super::error::{Error, Result};
use crate::metadata::{Envelope, FileMeta, Metadata, Root, Snapshot, Targets, Timestamp};
use crate::role;
use crate::signature::Signature;

/// A verified metadata file: the parsed envelope and the exact bytes it was read from.
///
/// The bytes are shared (not copied) with the [`CacheWrite`](super::CacheWrite) that stores
/// them, so a large targets file is held once.
#[derive(Debug, Clone)]
pub struct Verified<T> {
    envelope: Envelope<T>,
    bytes: Arc<Vec<u8>>,
}

impl<T: Metadata> Verified<T> {
    pub(crate) fn new(envelope: Envelope<T>, bytes: Arc<Vec<u8>>) -> Self {
        Self { envelope, bytes }
    }

    /// The envelope and the bytes (copied only when they are still shared).
    pub fn into_parts(self) -> (Envelope<T>, Vec<u8>) {
        (self.envelope, Arc::unwrap_or_clone(self.bytes))
    }

    /// The typed document.
    pub fn signed(&self) -> &T {
        self.envelope.signed()
    }

    /// The envelope (document, canonical signing bytes and signatures).
    pub fn envelope(&self) -> &Envelope<T> {
        &self.envelope
    }

    /// The signatures, in file order.
    pub fn signatures(&self) -> &[Signature] {
        self.envelope.signatures()
    }

    /// The exact file bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The exact file bytes, shared.
    pub fn shared_bytes(&self) -> &Arc<Vec<u8>> {
        &self.bytes
    }

    /// The document version.
    pub fn version(&self) -> i64 {
        self.signed().version()
    }
}

/// A target found in a role ([`TrustedMetadata::get_target_by_name`], [`TrustedMetadata::list_targets`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TargetWithRole {
    /// The target name.
    pub name: String,
    /// Its length, hashes and custom data.
    pub meta: FileMeta,
    /// The role that lists it.
    pub role: String,
}

/// A target found in a role, borrowed from the repository ([`TrustedMetadata::list_target_refs`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetRef<'a> {
    /// The target name.
    pub name: &'a str,
    /// Its length, hashes and custom data.
    pub meta: &'a FileMeta,
    /// The role that lists it.
    pub role: &'a str,
}

/// One occurrence of a target with the role listing it and that role's signatures
/// ([`TrustedMetadata::all_target_metadata_by_name`], used by `docker trust inspect`).
#[derive(Debug, Clone, PartialEq)]
pub struct TargetSigned {
    /// The target name.
    pub name: String,
    /// Its length, hashes and custom data.
    pub meta: FileMeta,
    /// The role that lists it, with its keys, threshold and effective paths.
    pub role: ResolvedRole,
    /// The signatures on that role's document.
    pub signatures: Vec<Signature>,
}

/// Everything an update verified: root, timestamp, snapshot, top-level targets and every
/// delegation that could be loaded.
#[derive(Debug, Clone)]
pub struct TrustedMetadata {
    gun: String,
    root: Verified<Root>,
    timestamp: Verified<Timestamp>,
    snapshot: Verified<Snapshot>,
    targets: BTreeMap<String, Verified<Targets>>,
}

impl TrustedMetadata {
    pub(crate) fn new(
        gun: String,
        root: Verified<Root>,
        timestamp: Verified<Timestamp>,
        snapshot: Verified<Snapshot>,
        targets: BTreeMap<String, Verified<Targets>>,
    ) -> Self {
        Self {
            gun,
            root,
            timestamp,
            snapshot,
            targets,
        }
    }

    /// The GUN.
    pub fn gun(&self) -> &str {
        &self.gun
    }

    /// The trusted root.
    pub fn root(&self) -> &Verified<Root> {
        &self.root
    }

    /// The trusted timestamp.
    pub fn timestamp(&self) -> &Verified<Timestamp> {
        &self.timestamp
    }

    /// The trusted snapshot.
    pub fn snapshot(&self) -> &Verified<Snapshot> {
        &self.snapshot
    }

    /// The top-level targets document.
    pub fn targets(&self) -> Option<&Verified<Targets>> {
        self.targets.get(role::TARGETS)
    }

    /// The document of a targets role (`targets` or a delegation), if it was loaded.
    pub fn targets_role(&self, name: &str) -> Option<&Verified<Targets>> {
        self.targets.get(name)
    }

    /// Every loaded targets role (`targets` and delegations), by name.
    pub fn all_targets_roles(&self) -> &BTreeMap<String, Verified<Targets>> {
        &self.targets
    }

    /// Notary's `WalkTargets`: a breadth-first walk from `targets` over loaded roles, following
    /// only valid delegations (direct children, paths restricted by the parent).
    ///
    /// Roles that are ancestors of `role_path` are passed through without a visit. Other roles
    /// are visited when their paths allow `target_path` (or it is empty), they lie in the subtree
    /// of `role_path` (or it is empty) and they are not in `skip`; a visit returning
    /// [`ControlFlow::Continue`] queues the role's children, [`ControlFlow::Break`] ends the
    /// walk. Skipped roles hide their whole subtree. Each role is visited at most once.
    pub fn walk<'s, F>(&'s self, target_path: &str, role_path: &str, skip: &[&str], mut visit: F)
    where
        F: FnMut(&'s Verified<Targets>, &ResolvedRole) -> ControlFlow<()>,
    {
        let Some(start) = ResolvedRole::top_level(self.root.signed()) else {
            return;
        };
        let mut queue = VecDeque::from([start]);
        let mut seen = BTreeSet::new();
        while let Some(current) = queue.pop_front() {
            if !seen.insert(current.name.clone()) {
                continue;
            }
            let Some(doc) = self.targets.get(&current.name) else {
                continue;
            };
            if role_path
                .strip_prefix(current.name.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
            {
                queue.extend(current.children(doc.signed()));
                continue;
            }
            let path_ok = target_path.is_empty() || current.allows(target_path);
            if path_ok && is_in_subtree(&current.name, role_path) && !skip.contains(&&*current.name)
            {
                if visit(doc, &current).is_break() {
                    return;
                }
                queue.extend(current.children(doc.signed()));
            }
        }
    }

    /// Notary's `GetTargetByName`: `roles` in priority order (empty = `["targets"]`); for each,
    /// a breadth-first walk of its subtree that skips the other listed roles, visiting only
    /// roles whose paths allow `name`; the first role listing `name` wins.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchTarget`] when no visited role lists `name`.
    pub fn get_target_by_name(&self, name: &str, roles: &[&str]) -> Result<TargetWithRole> {
        let roles = default_roles(roles);
        for (i, &start) in roles.iter().enumerate() {
            let skip = others(&roles, i);
            let mut found = None;
            self.walk(name, start, &skip, |doc, r| {
                if let Some(meta) = doc.signed().targets.get(name) {
                    found = Some(TargetWithRole {
                        name: name.to_owned(),
                        meta: meta.clone(),
                        role: r.name.clone(),
                    });
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            });
            if let Some(t) = found {
                return Ok(t);
            }
        }
        Err(Error::NoSuchTarget {
            gun: self.gun.clone(),
            name: name.to_owned(),
        })
    }

    /// Notary's `ListTargets`: every target name, each taken from the first role (in `roles`
    /// priority order, then walk order; empty `roles` = `["targets"]`) that lists it and whose
    /// paths allow it. Sorted by name.
    pub fn list_targets(&self, roles: &[&str]) -> Vec<TargetWithRole> {
        self.list_target_refs(roles)
            .into_iter()
            .map(|t| TargetWithRole {
                name: t.name.to_owned(),
                meta: t.meta.clone(),
                role: t.role.to_owned(),
            })
            .collect()
    }

    /// [`list_targets`](Self::list_targets) without copying: the same targets in the same
    /// order, borrowed from the verified documents. For large repositories this avoids a second
    /// copy of every name and [`FileMeta`].
    pub fn list_target_refs(&self, roles: &[&str]) -> Vec<TargetRef<'_>> {
        let roles = default_roles(roles);
        let mut found: BTreeMap<&str, (&FileMeta, &str)> = BTreeMap::new();
        for (i, &start) in roles.iter().enumerate() {
            let skip = others(&roles, i);
            self.walk("", start, &skip, |doc, r| {
                // Every visited role is loaded, so its name is found.
                let Some(role) = self.role_name(&r.name) else {
                    return ControlFlow::Continue(());
                };
                for (name, meta) in &doc.signed().targets {
                    if found.contains_key(name.as_str()) || !r.allows(name) {
                        continue;
                    }
                    found.insert(name.as_str(), (meta, role));
                }
                ControlFlow::Continue(())
            });
        }
        found
            .into_iter()
            .map(|(name, (meta, role))| TargetRef { name, meta, role })
            .collect()
    }

    /// The name of a loaded role, borrowed from the repository.
    fn role_name(&self, name: &str) -> Option<&str> {
        self.targets.get_key_value(name).map(|(k, _)| k.as_str())
    }

    /// Notary's `GetAllTargetMetadataByName`: every occurrence of `name` in every role of the
    /// tree whose paths allow it, in walk order, with the role's signatures. An empty `name`
    /// lists every target of every role (only those the role's paths allow; Notary would also
    /// list the others).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchTarget`] when there is no occurrence.
    pub fn all_target_metadata_by_name(&self, name: &str) -> Result<Vec<TargetSigned>> {
        let mut out = Vec::new();
        self.walk(name, "", &[], |doc, r| {
            let signatures = doc.signatures().to_vec();
            if name.is_empty() {
                for (n, meta) in doc.signed().targets.iter().filter(|(n, _)| r.allows(n)) {
                    out.push(TargetSigned {
                        name: n.clone(),
                        meta: meta.clone(),
                        role: r.clone(),
                        signatures: signatures.clone(),
                    });
                }
            } else if let Some(meta) = doc.signed().targets.get(name) {
                out.push(TargetSigned {
                    name: name.to_owned(),
                    meta: meta.clone(),
                    role: r.clone(),
                    signatures,
                });
            }
            ControlFlow::Continue(())
        });
        if out.is_empty() {
            return Err(Error::NoSuchTarget {
                gun: self.gun.clone(),
                name: name.to_owned(),
            });
        }
        Ok(out)
    }
}

fn default_roles<'a>(roles: &[&'a str]) -> Vec<&'a str> {
    if roles.is_empty() {
        vec![role::TARGETS]
    } else {
        roles.to_vec()
    }
}

fn others<'a>(roles: &[&'a str], index: usize) -> Vec<&'a str> {
    let current = roles[index];
    roles.iter().copied().filter(|r| *r != current).collect()
}

/// Go's `isAncestorRole(child, ancestor)`: `ancestor` is empty, equal to `child`, or a path
/// prefix of it.
fn is_in_subtree(child: &str, ancestor: &str) -> bool {
    ancestor.is_empty()
        || child == ancestor
        || child
            .strip_prefix(ancestor)
            .is_some_and(|rest| rest.starts_with('/'))
}
