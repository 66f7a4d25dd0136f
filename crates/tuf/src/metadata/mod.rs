//! Typed Notary metadata documents and the signed envelope around them.
//!
//! Every document type keeps fields it does not model in an `unknown` map (serde `flatten`),
//! so unknown fields survive parse → sign → write. Missing optional collections default to
//! empty, as Go's zero values do, and so does `null`, which Go writes for a nil slice or map.
//! The typed value then holds the empty collection, while [`Envelope`] still checks signatures
//! over the `null` as written.
//!
//! `_type` is checked case-sensitively against the capitalised names Notary uses, per role:
//! `Root` for root, `Targets` for targets **and every delegation**, `Snapshot`, `Timestamp`.
//! The check happens in each type's `validate` method (not while parsing), so a document with the
//! wrong `_type` still parses and the error names the role and the type found, as Notary's does.

/// Implements [`Metadata`] for a document type whose `_type` value is the type's own name and
/// whose `typ`, `version` and `expires` fields hold the common values.
macro_rules! impl_metadata {
    ($name:ident) => {
        impl Metadata for $name {
            const TYPE: &'static str = stringify!($name);

            fn type_name(&self) -> &str {
                &self.typ
            }

            fn version(&self) -> i64 {
                self.version
            }

            fn expires(&self) -> &Expires {
                &self.expires
            }
        }
    };
}

mod envelope;
mod expires;
mod filemeta;
mod hashes;
mod root;
mod snapshot;
mod targets;
mod timestamp;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use envelope::{Envelope, signing_bytes};
pub use expires::{Expires, parse_go_rfc3339};
pub use filemeta::FileMeta;
pub use hashes::{Hashes, Iter as HashesIter, SHA256, SHA512};
pub use root::{RoleKeys, Root};
pub use snapshot::Snapshot;
pub use targets::{DelegationRole, Delegations, Targets};
pub use timestamp::Timestamp;

use crate::error::{Error, Result};

/// What every metadata document type has in common.
pub trait Metadata: Serialize + DeserializeOwned + Clone {
    /// The `_type` value this document type must carry.
    const TYPE: &'static str;

    /// The `_type` value found in the document.
    fn type_name(&self) -> &str;

    /// The document version.
    fn version(&self) -> i64;

    /// The expiry time.
    fn expires(&self) -> &Expires;
}

/// Notary's `_type` check: exact, case-sensitive comparison.
pub(crate) fn check_type(role: &str, expected: &'static str, found: &str) -> Result<()> {
    if found == expected {
        Ok(())
    } else {
        Err(Error::WrongType {
            role: role.to_owned(),
            expected,
            found: found.to_owned(),
        })
    }
}

/// Notary's version check: at least 1.
pub(crate) fn check_version_at_least_one(role: &str, version: i64) -> Result<()> {
    if version < 1 {
        Err(Error::InvalidMetadata {
            role: role.to_owned(),
            reason: "version cannot be less than one".into(),
        })
    } else {
        Ok(())
    }
}
