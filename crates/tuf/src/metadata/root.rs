//! The root document.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Expires, Metadata, check_type, check_version_at_least_one};
use crate::error::{Error, Result};
use crate::gonull::or_empty;
use crate::key::{KeyId, PublicKey};
use crate::role;

/// Key IDs and threshold of one role, as listed in root (`roles.<name>`) or in a delegation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleKeys {
    /// The IDs of the keys that may sign for the role (`null` reads as none).
    #[serde(default, deserialize_with = "or_empty")]
    pub keyids: Vec<KeyId>,
    /// How many distinct keys must sign.
    #[serde(default)]
    pub threshold: i64,
    /// Fields this crate does not model.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

impl RoleKeys {
    /// A role with the given keys and threshold.
    pub fn new(keyids: Vec<KeyId>, threshold: i64) -> Self {
        Self {
            keyids,
            threshold,
            unknown: Map::new(),
        }
    }
}

/// `signed` of `root.json`: `{"_type":"Root","consistent_snapshot",…,"expires","keys",
/// "roles","version"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Root {
    /// `_type`; must be `Root`.
    #[serde(rename = "_type")]
    pub typ: String,
    /// Always `false` from Notary clients; ignored by Notary servers.
    #[serde(default)]
    pub consistent_snapshot: bool,
    /// Expiry time.
    pub expires: Expires,
    /// Every key used by any role, by TUF key ID (`null` reads as none).
    #[serde(default, deserialize_with = "or_empty")]
    pub keys: BTreeMap<KeyId, PublicKey>,
    /// `root`, `targets`, `snapshot`, `timestamp` (and possibly others; `null` reads as none).
    #[serde(default, deserialize_with = "or_empty")]
    pub roles: BTreeMap<String, RoleKeys>,
    /// Version, at least 1.
    #[serde(default)]
    pub version: i64,
    /// Fields this crate does not model.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

impl_metadata!(Root);

impl Root {
    /// An empty root (version 1, no keys, no roles) expiring at `expires`.
    pub fn new(expires: Expires) -> Self {
        Self {
            typ: Self::TYPE.to_owned(),
            consistent_snapshot: false,
            expires,
            keys: BTreeMap::new(),
            roles: BTreeMap::new(),
            version: 1,
            unknown: Map::new(),
        }
    }

    /// The key IDs and threshold of `role`, if listed.
    pub fn role(&self, role: &str) -> Option<&RoleKeys> {
        self.roles.get(role)
    }

    /// The keys root lists for `role` (key IDs without a key in `keys` are left out) and the
    /// role's threshold; `None` if root does not list the role.
    pub fn role_keys(&self, role: &str) -> Option<(BTreeMap<KeyId, PublicKey>, i64)> {
        let rk = self.role(role)?;
        let keys = rk
            .keyids
            .iter()
            .filter_map(|id| self.keys.get(id).map(|k| (id.clone(), k.clone())))
            .collect();
        Some((keys, rk.threshold))
    }

    /// Notary's structural checks (`isValidRootStructure`): `_type` is `Root`, version ≥ 1, and
    /// the four base roles are present, each with threshold ≥ 1 and every key ID in `keys`.
    /// Other roles are allowed and not checked.
    ///
    /// # Errors
    ///
    /// [`Error::WrongType`] or [`Error::InvalidMetadata`] naming the broken rule.
    pub fn validate(&self) -> Result<()> {
        check_type(role::ROOT, Self::TYPE, &self.typ)?;
        check_version_at_least_one(role::ROOT, self.version)?;
        for name in role::BASE_ROLES {
            let rk = self.roles.get(name).ok_or_else(|| Error::InvalidMetadata {
                role: role::ROOT.into(),
                reason: format!("missing {name} role specification"),
            })?;
            check_role_keys(role::ROOT, name, &rk.keyids, rk.threshold, &self.keys)?;
        }
        Ok(())
    }
}

/// Notary's `isValidRootRoleStructure`: threshold ≥ 1 and every key ID present in `keys`.
pub(crate) fn check_role_keys(
    containing: &str,
    name: &str,
    keyids: &[KeyId],
    threshold: i64,
    keys: &BTreeMap<KeyId, PublicKey>,
) -> Result<()> {
    if threshold < 1 {
        return Err(Error::InvalidMetadata {
            role: containing.to_owned(),
            reason: format!("invalid threshold specified for {name}: {threshold} "),
        });
    }
    if let Some(missing) = keyids.iter().find(|id| !keys.contains_key(*id)) {
        return Err(Error::InvalidMetadata {
            role: containing.to_owned(),
            reason: format!("key ID {missing} specified in {name} without corresponding key"),
        });
    }
    Ok(())
}
