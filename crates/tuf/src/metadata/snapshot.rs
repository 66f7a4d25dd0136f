//! The snapshot document.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Expires, FileMeta, Metadata, SHA256, check_type, check_version_at_least_one};
use crate::error::{Error, Result};
use crate::gonull::or_empty;
use crate::role;

/// `signed` of `snapshot.json`: `{"_type":"Snapshot","expires","meta":{role→FileMeta},
/// "version"}`. `meta` holds root, targets and every delegation file, by version-less role name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// `_type`; must be `Snapshot`.
    #[serde(rename = "_type")]
    pub typ: String,
    /// Expiry time.
    pub expires: Expires,
    /// File metadata of every other role's current file (`null` reads as none).
    #[serde(default, deserialize_with = "or_empty")]
    pub meta: BTreeMap<String, FileMeta>,
    /// Version, at least 1.
    #[serde(default)]
    pub version: i64,
    /// Fields this crate does not model.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

impl_metadata!(Snapshot);

impl Snapshot {
    /// An empty snapshot with the given version and expiry.
    pub fn new(version: i64, expires: Expires) -> Self {
        Self {
            typ: Self::TYPE.to_owned(),
            expires,
            meta: BTreeMap::new(),
            version,
            unknown: Map::new(),
        }
    }

    /// Notary's structural checks (`IsValidSnapshotStructure`): `_type` is `Snapshot`,
    /// version ≥ 1, and `meta.root` and `meta.targets` both carry a `sha256` hash, with every
    /// supported hash of the right size.
    ///
    /// # Errors
    ///
    /// [`Error::WrongType`] or [`Error::InvalidMetadata`].
    pub fn validate(&self) -> Result<()> {
        check_type(role::SNAPSHOT, Self::TYPE, &self.typ)?;
        check_version_at_least_one(role::SNAPSHOT, self.version)?;
        for name in [role::ROOT, role::TARGETS] {
            check_required_meta(role::SNAPSHOT, &self.meta, name)?;
        }
        Ok(())
    }
}

/// `meta[name]` must exist with a sha256 hash and well-formed supported hashes.
pub(crate) fn check_required_meta(
    containing: &str,
    meta: &BTreeMap<String, FileMeta>,
    name: &str,
) -> Result<()> {
    let invalid = |reason: String| Error::InvalidMetadata {
        role: containing.to_owned(),
        reason,
    };
    let fm = meta
        .get(name)
        .filter(|fm| fm.hashes.contains_key(SHA256))
        .ok_or_else(|| invalid(format!("missing {name} sha256 checksum information")))?;
    fm.check_hash_structure(name)
        .map_err(|e| invalid(format!("invalid {name} checksum information, {e}")))
}
