//! Reads of the last successful update: targets, lookups and delegations.

use signet_tuf::update::{self, ResolvedRole, TargetRef, TargetSigned, TargetWithRole};

use crate::error::{Error, Result};

use super::Repository;

impl Repository {
    /// The repository verified by the last [`update`](Self::update).
    ///
    /// # Errors
    ///
    /// [`Error::NotInitialized`] before a successful update.
    pub fn verified(&self) -> Result<&update::TrustedMetadata> {
        self.verified.as_ref().ok_or_else(|| Error::NotInitialized {
            gun: self.gun.to_string(),
        })
    }

    pub(super) fn lookup_error(&self, source: update::Error) -> Error {
        Error::Update {
            gun: self.gun.to_string(),
            source: Box::new(source),
        }
    }

    /// `notary list`: every target visible from `roles` (empty = `targets`), sorted by name.
    ///
    /// # Errors
    ///
    /// [`Error::NotInitialized`] before a successful update; [`Error::NoSuchRole`] for a role
    /// of `roles` that is neither `targets` nor a delegation of the repository.
    pub fn list_targets(&self, roles: &[&str]) -> Result<Vec<TargetWithRole>> {
        self.check_roles(roles)?;
        Ok(self.verified()?.list_targets(roles))
    }

    /// [`list_targets`](Self::list_targets) without copying: the same targets in the same
    /// order, borrowed from the verified documents (for large repositories).
    ///
    /// # Errors
    ///
    /// [`Error::NotInitialized`] before a successful update; [`Error::NoSuchRole`] for a role
    /// of `roles` that is neither `targets` nor a delegation of the repository.
    pub fn list_target_refs(&self, roles: &[&str]) -> Result<Vec<TargetRef<'_>>> {
        self.check_roles(roles)?;
        Ok(self.verified()?.list_target_refs(roles))
    }

    /// Checks that every role of `roles` is `targets` or a delegation declared by a loaded
    /// role (an empty delegation is a role too: it just lists nothing).
    fn check_roles(&self, roles: &[&str]) -> Result<()> {
        let unknown = |role: &&str| *role != "targets";
        if !roles.iter().any(unknown) {
            return Ok(());
        }
        let known: Vec<String> = std::iter::once("targets".to_owned())
            .chain(self.delegations()?.into_iter().map(|role| role.name))
            .collect();
        match roles.iter().find(|role| !known.iter().any(|k| k == *role)) {
            None => Ok(()),
            Some(role) => Err(Error::NoSuchRole {
                gun: self.gun.to_string(),
                role: (*role).to_owned(),
                known,
            }),
        }
    }

    /// `notary lookup`: the first role (breadth-first, in `roles` priority order; empty =
    /// `targets`) that lists `name`.
    ///
    /// # Errors
    ///
    /// [`Error::Update`] wrapping "No valid trust data for …" when no role lists it.
    pub fn lookup(&self, name: &str, roles: &[&str]) -> Result<TargetWithRole> {
        self.verified()?
            .get_target_by_name(name, roles)
            .map_err(|e| self.lookup_error(e))
    }

    /// Every occurrence of `name` in the tree with its role's signatures (`""` = every
    /// target), as `docker trust inspect` uses it.
    ///
    /// # Errors
    ///
    /// As [`lookup`](Self::lookup).
    pub fn all_target_metadata_by_name(&self, name: &str) -> Result<Vec<TargetSigned>> {
        self.verified()?
            .all_target_metadata_by_name(name)
            .map_err(|e| self.lookup_error(e))
    }

    /// `notary delegation list`: every delegation declared by a loaded role, with its keys,
    /// threshold and effective paths, in walk order.
    ///
    /// # Errors
    ///
    /// [`Error::NotInitialized`] before a successful update.
    pub fn delegations(&self) -> Result<Vec<ResolvedRole>> {
        let verified = self.verified()?;
        let mut roles = Vec::new();
        verified.walk("", "", &[], |doc, role| {
            for child in role.children(doc.signed()) {
                if !roles.iter().any(|r: &ResolvedRole| r.name == child.name) {
                    roles.push(child);
                }
            }
            std::ops::ControlFlow::Continue(())
        });
        Ok(roles)
    }
}
