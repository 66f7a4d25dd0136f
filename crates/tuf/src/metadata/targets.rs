//! The targets document (top-level targets and delegations).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::root::check_role_keys;
use super::{Expires, FileMeta, Metadata, check_type, check_version_at_least_one};
use crate::error::{Error, Result};
use crate::gonull::or_empty;
use crate::key::{KeyId, PublicKey};
use crate::role;

/// One delegated role: `{"keyids","name","paths"(omitted if empty),"path_hash_prefixes"
/// (optional),"threshold"}`.
///
/// Go notary does not model `path_hash_prefixes` and drops it when it re-serialises; this crate
/// keeps it when present so documents from other TUF writers round-trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DelegationRole {
    /// The IDs of the keys that may sign for the role (keys in `delegations.keys`; `null`, as
    /// Go writes it once every key is removed, reads as none).
    #[serde(default, deserialize_with = "or_empty")]
    pub keyids: Vec<KeyId>,
    /// The full role name, `targets/...`.
    pub name: String,
    /// Target path prefixes the role may sign for; `[""]` means every path (`null` reads as
    /// none).
    #[serde(
        default,
        deserialize_with = "or_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub paths: Vec<String>,
    /// TUF hashed-bin prefixes, kept verbatim when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hash_prefixes: Option<Vec<String>>,
    /// How many distinct keys must sign.
    #[serde(default)]
    pub threshold: i64,
    /// Fields this crate does not model.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

impl DelegationRole {
    /// A delegation with the given name, keys, threshold and paths.
    pub fn new(
        name: impl Into<String>,
        keyids: Vec<KeyId>,
        threshold: i64,
        paths: Vec<String>,
    ) -> Self {
        Self {
            keyids,
            name: name.into(),
            paths,
            path_hash_prefixes: None,
            threshold,
            unknown: Map::new(),
        }
    }

    /// Whether `target` lies under one of the role's paths (Notary: plain string prefix; the
    /// empty path matches everything).
    pub fn allows_path(&self, target: &str) -> bool {
        self.paths.iter().any(|p| target.starts_with(p.as_str()))
    }
}

/// `delegations`: the keys and roles a targets document delegates to. Always written; the
/// empty form is `{"keys":{},"roles":[]}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Delegations {
    /// Keys of the delegated roles, by TUF key ID (`null` reads as none).
    #[serde(default, deserialize_with = "or_empty")]
    pub keys: BTreeMap<KeyId, PublicKey>,
    /// The delegated roles, in priority order (`null`, as Go writes it once the last
    /// delegation is removed, reads as none).
    #[serde(default, deserialize_with = "or_empty")]
    pub roles: Vec<DelegationRole>,
    /// Fields this crate does not model.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

/// `signed` of `targets.json` and of every delegation file: `{"_type":"Targets",
/// "delegations","expires","targets":{name→FileMeta},"version"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Targets {
    /// `_type`; must be `Targets`, for delegations too.
    #[serde(rename = "_type")]
    pub typ: String,
    /// Delegated roles and their keys (`null` reads as none).
    #[serde(default, deserialize_with = "or_empty")]
    pub delegations: Delegations,
    /// Expiry time.
    pub expires: Expires,
    /// Targets by name (`null` reads as none).
    #[serde(default, deserialize_with = "or_empty")]
    pub targets: BTreeMap<String, FileMeta>,
    /// Version, at least 1.
    #[serde(default)]
    pub version: i64,
    /// Fields this crate does not model.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

impl_metadata!(Targets);

impl Targets {
    /// An empty targets document with the given version and expiry.
    pub fn new(version: i64, expires: Expires) -> Self {
        Self {
            typ: Self::TYPE.to_owned(),
            delegations: Delegations::default(),
            expires,
            targets: BTreeMap::new(),
            version,
            unknown: Map::new(),
        }
    }

    /// The delegation named `name`, if this document declares it.
    pub fn delegation(&self, name: &str) -> Option<&DelegationRole> {
        self.delegations.roles.iter().find(|r| r.name == name)
    }

    /// Notary's structural checks (`isValidTargetsStructure`) for the document of `role`:
    /// `role` is `targets` or a valid delegation; `_type` is `Targets`; version ≥ 1; every
    /// delegated role is a valid delegation name and a direct child of `role`, with
    /// threshold ≥ 1 and every key ID present in `delegations.keys`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRole`], [`Error::WrongType`] or [`Error::InvalidMetadata`].
    pub fn validate(&self, role: &str) -> Result<()> {
        if role != role::TARGETS {
            role::check_delegation(role)?;
        }
        check_type(role, Self::TYPE, &self.typ)?;
        check_version_at_least_one(role, self.version)?;
        for d in &self.delegations.roles {
            if !role::is_direct_child(role, &d.name) {
                return Err(Error::InvalidMetadata {
                    role: role.to_owned(),
                    reason: format!("delegation role {} invalid", d.name),
                });
            }
            check_role_keys(
                role,
                &d.name,
                &d.keyids,
                d.threshold,
                &self.delegations.keys,
            )?;
        }
        Ok(())
    }
}
