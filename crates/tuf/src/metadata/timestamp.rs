//! The timestamp document.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::snapshot::check_required_meta;
use super::{Expires, FileMeta, Metadata, check_type, check_version_at_least_one};
use crate::error::Result;
use crate::gonull::or_empty;
use crate::role;

/// `signed` of `timestamp.json`: `{"_type":"Timestamp","expires","meta":{"snapshot":FileMeta},
/// "version"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timestamp {
    /// `_type`; must be `Timestamp`.
    #[serde(rename = "_type")]
    pub typ: String,
    /// Expiry time.
    pub expires: Expires,
    /// File metadata of the current snapshot, under `snapshot` (`null` reads as none).
    #[serde(default, deserialize_with = "or_empty")]
    pub meta: BTreeMap<String, FileMeta>,
    /// Version, at least 1.
    #[serde(default)]
    pub version: i64,
    /// Fields this crate does not model.
    #[serde(flatten)]
    pub unknown: Map<String, Value>,
}

impl_metadata!(Timestamp);

impl Timestamp {
    /// A timestamp pointing at a snapshot file with metadata `snapshot`.
    pub fn new(version: i64, expires: Expires, snapshot: FileMeta) -> Self {
        let mut meta = BTreeMap::new();
        meta.insert(role::SNAPSHOT.to_owned(), snapshot);
        Self {
            typ: Self::TYPE.to_owned(),
            expires,
            meta,
            version,
            unknown: Map::new(),
        }
    }

    /// The snapshot's file metadata, if present.
    pub fn snapshot_meta(&self) -> Option<&FileMeta> {
        self.meta.get(role::SNAPSHOT)
    }

    /// Notary's structural checks (`IsValidTimestampStructure`): `_type` is `Timestamp`,
    /// version ≥ 1, and `meta.snapshot` carries a `sha256` hash, with every supported hash of
    /// the right size.
    ///
    /// # Errors
    ///
    /// [`crate::Error::WrongType`] or [`crate::Error::InvalidMetadata`].
    pub fn validate(&self) -> Result<()> {
        check_type(role::TIMESTAMP, Self::TYPE, &self.typ)?;
        check_version_at_least_one(role::TIMESTAMP, self.version)?;
        check_required_meta(role::TIMESTAMP, &self.meta, role::SNAPSHOT)
    }
}
