//! Checks made before database work: upload batches, names and versions.

use std::collections::{BTreeMap, HashSet};

use sha2::{Digest, Sha256};

use super::error::{StoreError, StoreResult};
use super::types::{FileUpdate, TIMESTAMP_ROLE, sha256_hex};

/// The longest GUN, role or key ID the `varchar(255)` columns hold, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 255;

/// One row ready to insert.
#[derive(Debug)]
pub(crate) struct Row<'a> {
    pub(crate) role: &'a str,
    pub(crate) version: i32,
    pub(crate) data: &'a [u8],
    pub(crate) sha256: String,
}

impl Row<'_> {
    pub(crate) fn is_timestamp(&self) -> bool {
        self.role == TIMESTAMP_ROLE
    }
}

/// A checked batch: rows in upload order and the lowest new version of each role.
#[derive(Debug)]
pub(crate) struct Batch<'a> {
    pub(crate) rows: Vec<Row<'a>>,
    pub(crate) min_version: BTreeMap<&'a str, i32>,
}

impl Batch<'_> {
    /// The error for an upload that lost to a stored row: names the first row of the batch
    /// (used when a unique constraint fires and the database does not say which row).
    pub(crate) fn first_conflict(&self, gun: &str) -> StoreError {
        let (role, version) = self
            .rows
            .first()
            .map_or(("", 0), |r| (r.role, i64::from(r.version)));
        StoreError::OldVersion {
            gun: gun.to_owned(),
            role: role.to_owned(),
            version,
        }
    }

    /// Compares the highest stored version of a role with this batch.
    pub(crate) fn check_stored(
        &self,
        gun: &str,
        role: &str,
        stored_max: Option<i64>,
    ) -> StoreResult<()> {
        let Some(&min) = self.min_version.get(role) else {
            return Ok(());
        };
        match stored_max {
            Some(max) if max >= i64::from(min) => Err(StoreError::OldVersion {
                gun: gun.to_owned(),
                role: role.to_owned(),
                version: i64::from(min),
            }),
            _ => Ok(()),
        }
    }
}

/// Refuses a name its column cannot hold.
pub(crate) fn check_name(gun: &str, what: &'static str, value: &str) -> StoreResult<()> {
    let reason = if value.contains('\0') {
        "contains a NUL character"
    } else if value.chars().count() > MAX_NAME_CHARS {
        "is longer than 255 characters"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidName {
        gun: gun.to_owned(),
        what,
        value: value.to_owned(),
        reason,
    })
}

/// Whether no stored row can have this name (reads of it find nothing).
pub(crate) fn unstorable(name: &str) -> bool {
    name.contains('\0')
}

/// Checks names, versions and duplicates, and hashes every file.
pub(crate) fn prepare<'a>(gun: &str, updates: &'a [FileUpdate]) -> StoreResult<Batch<'a>> {
    check_name(gun, "GUN", gun)?;
    let mut seen = HashSet::with_capacity(updates.len());
    let mut rows = Vec::with_capacity(updates.len());
    let mut min_version: BTreeMap<&str, i32> = BTreeMap::new();
    for u in updates {
        check_name(gun, "role", &u.role)?;
        let version = i32::try_from(u.version).map_err(|_| StoreError::VersionOutOfRange {
            gun: gun.to_owned(),
            role: u.role.clone(),
            version: u.version,
        })?;
        if !seen.insert((u.role.as_str(), version)) {
            return Err(StoreError::OldVersion {
                gun: gun.to_owned(),
                role: u.role.clone(),
                version: u.version,
            });
        }
        min_version
            .entry(u.role.as_str())
            .and_modify(|m| *m = (*m).min(version))
            .or_insert(version);
        rows.push(Row {
            role: &u.role,
            version,
            data: &u.data,
            sha256: sha256_hex(&u.data),
        });
    }
    Ok(Batch { rows, min_version })
}

/// Refuses over-long names of a server key.
pub(crate) fn check_key_names(gun: &str, role: &str, key_id: &str) -> StoreResult<()> {
    check_name(gun, "GUN", gun)?;
    check_name(gun, "role", role)?;
    check_name(gun, "key ID", key_id)
}

/// The error for a key update that matched no row.
/// The device reference of a server key row from its `hsm_object_id` and `hsm_label`
/// columns; [`StoreError::Corrupt`] for an object ID outside 1–65535.
pub(crate) fn hsm_ref(
    gun: &str,
    role: &str,
    object_id: Option<i64>,
    label: Option<String>,
) -> StoreResult<Option<crate::store::HsmKeyRef>> {
    let Some(id) = object_id else {
        return Ok(None);
    };
    match u16::try_from(id) {
        Ok(object_id) if object_id != 0 => Ok(Some(crate::store::HsmKeyRef {
            object_id,
            label: label.unwrap_or_default(),
        })),
        _ => Err(StoreError::Corrupt {
            gun: gun.to_owned(),
            role: role.to_owned(),
            detail: format!("server key: YubiHSM 2 object ID {id} is out of range"),
        }),
    }
}

pub(crate) fn found_key(rows: u64, gun: &str, role: &str, key_id: &str) -> StoreResult<()> {
    if rows == 0 {
        return Err(StoreError::KeyNotFound {
            gun: gun.to_owned(),
            role: role.to_owned(),
            key_id: key_id.to_owned(),
        });
    }
    Ok(())
}

/// The PostgreSQL advisory-lock key serialising writers of one GUN: the first four bytes
/// of SHA-256 of the GUN. Two GUNs sharing a key only wait for each other.
pub(crate) fn gun_lock_key(gun: &str) -> i32 {
    let d = Sha256::digest(gun.as_bytes());
    i32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn up(role: &str, version: i64) -> FileUpdate {
        FileUpdate::new(role, version, format!("{role}-{version}").into_bytes())
    }

    #[test]
    fn duplicate_role_version_is_old_version() {
        let ups = [up("targets", 2), up("targets", 2)];
        let err = prepare("g", &ups).unwrap_err();
        assert!(
            matches!(err, StoreError::OldVersion { version: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn min_version_per_role() {
        let ups = [up("targets", 4), up("targets", 3), up("snapshot", 9)];
        let b = prepare("g", &ups).unwrap();
        assert_eq!(b.min_version.get("targets"), Some(&3));
        assert_eq!(b.min_version.get("snapshot"), Some(&9));
        assert!(b.check_stored("g", "targets", Some(2)).is_ok());
        assert!(b.check_stored("g", "targets", Some(3)).is_err());
        assert!(b.check_stored("g", "targets", None).is_ok());
        assert_eq!(b.rows[0].sha256, sha256_hex(b"targets-4"));
    }

    #[test]
    fn out_of_range_and_long_names() {
        let ups = [up("root", i64::from(i32::MAX) + 1)];
        assert!(matches!(
            prepare("g", &ups),
            Err(StoreError::VersionOutOfRange { .. })
        ));
        let long = "x".repeat(256);
        assert!(matches!(
            prepare(&long, &[]),
            Err(StoreError::InvalidName { what: "GUN", .. })
        ));
        assert!(matches!(
            prepare("g", &[up(&long, 1)]),
            Err(StoreError::InvalidName { what: "role", .. })
        ));
        assert!(prepare(&"é".repeat(255), &[]).is_ok());
        assert!(matches!(
            prepare("g\0", &[]),
            Err(StoreError::InvalidName {
                what: "GUN",
                reason: "contains a NUL character",
                ..
            })
        ));
    }

    #[test]
    fn lock_key_is_stable() {
        assert_eq!(gun_lock_key("a"), gun_lock_key("a"));
        assert_ne!(gun_lock_key("a"), gun_lock_key("ab"));
    }
}
