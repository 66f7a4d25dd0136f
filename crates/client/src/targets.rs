//! Target changes as `notary add` / `addhash` stage them: which roles a target goes to, and
//! its metadata from the file contents or from given digests.

use std::collections::BTreeMap;

use signet_tuf::metadata::FileMeta;
use signet_tuf::role;

use crate::changelist::{Change, RawJson, TargetMeta};
use crate::error::{Error, Result, StagingError};

/// The roles a target change applies to: `roles`, or `targets` when none are given; each must
/// be `targets` or a delegation role.
///
/// # Errors
///
/// [`StagingError::InvalidTargetRole`] naming the first role that is neither.
pub fn target_roles(roles: &[String]) -> Result<Vec<String>> {
    if roles.is_empty() {
        return Ok(vec![role::TARGETS.to_owned()]);
    }
    if let Some(r) = roles.iter().find(|r| !is_target_role(r)) {
        return Err(Error::Staging(StagingError::InvalidTargetRole {
            role: r.clone(),
        }));
    }
    Ok(roles.to_vec())
}

/// Whether targets can be added to `role`: `targets` or a delegation role.
pub fn is_target_role(role: &str) -> bool {
    role == role::TARGETS || role::is_delegation(role)
}

/// The metadata of a target with `contents`: its length and SHA-256 / SHA-512 digests.
pub fn meta_from_contents(contents: &[u8], custom: Option<RawJson>) -> TargetMeta {
    let file_meta = FileMeta::from_bytes(contents);
    TargetMeta {
        length: file_meta.length,
        hashes: file_meta
            .hashes
            .iter()
            .map(|(name, digest)| (name.to_owned(), digest.to_vec()))
            .collect(),
        custom,
    }
}

/// The metadata of a target given by `length` and digests (`addhash`); at least one digest
/// must be given.
///
/// # Errors
///
/// [`StagingError::InvalidTargetMeta`] naming `target` when no digest is given, a digest has the
/// wrong length for its algorithm or the length is negative.
pub fn meta_from_digests(
    target: &str,
    length: i64,
    sha256: Option<&[u8]>,
    sha512: Option<&[u8]>,
    custom: Option<RawJson>,
) -> Result<TargetMeta> {
    let invalid = |reason: &str| {
        Error::Staging(StagingError::InvalidTargetMeta {
            target: target.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if length < 0 {
        return Err(invalid("the length is negative"));
    }
    let mut hashes = BTreeMap::new();
    if let Some(digest) = sha256 {
        if digest.len() != 32 {
            return Err(invalid("a sha256 digest is 32 bytes"));
        }
        hashes.insert("sha256".to_owned(), digest.to_vec());
    }
    if let Some(digest) = sha512 {
        if digest.len() != 64 {
            return Err(invalid("a sha512 digest is 64 bytes"));
        }
        hashes.insert("sha512".to_owned(), digest.to_vec());
    }
    if hashes.is_empty() {
        return Err(invalid("at least one of sha256 and sha512 is needed"));
    }
    Ok(TargetMeta {
        length,
        hashes,
        custom,
    })
}

/// The changes that add `target` with `meta` to each of `roles` (validated as
/// [`target_roles`] does), in order.
///
/// # Errors
///
/// As [`target_roles`].
pub fn add_target_changes(
    target: &str,
    roles: &[String],
    meta: &TargetMeta,
) -> Result<Vec<Change>> {
    Ok(target_roles(roles)?
        .into_iter()
        .map(|r| Change::add_target(r, target, meta))
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn roles_default_and_validate() {
        assert_eq!(target_roles(&[]).unwrap(), ["targets"]);
        let roles = vec!["targets/releases".to_owned(), "targets".to_owned()];
        assert_eq!(target_roles(&roles).unwrap(), roles);
        for bad in ["root", "foo", "targets/", "snapshot"] {
            assert!(
                matches!(
                    target_roles(&[bad.to_owned()]),
                    Err(Error::Staging(StagingError::InvalidTargetRole { role })) if role == bad
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn meta_from_contents_and_digests() {
        let meta = meta_from_contents(b"hello", None);
        assert_eq!(meta.length, 5);
        assert_eq!(
            hex_of(&meta.hashes["sha256"]),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(meta.hashes["sha512"].len(), 64);

        let by_digest =
            meta_from_digests("t", 5, Some(&meta.hashes["sha256"]), None, None).unwrap();
        assert_eq!(by_digest.hashes.len(), 1);
        assert!(meta_from_digests("t", 5, None, None, None).is_err());
        assert!(meta_from_digests("t", -1, Some(&[0; 32]), None, None).is_err());
        assert!(meta_from_digests("t", 1, Some(&[0; 31]), None, None).is_err());
        assert!(meta_from_digests("t", 1, None, Some(&[0; 32]), None).is_err());

        let changes =
            add_target_changes("t", &["targets/a".to_owned(), "targets".to_owned()], &meta)
                .unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].scope.as_str(), "targets/a");
        assert_eq!(changes[1].target_meta().unwrap(), meta);
    }

    fn hex_of(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
