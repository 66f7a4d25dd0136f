//! Role names and thresholds as Notary defines them (`tuf/data/roles.go`).
//!
//! The base roles are `root`, `targets`, `snapshot` and `timestamp`. A delegation is named
//! `targets/<path>`: it must match `^[-a-z0-9_/]+$`, be shorter than 256 bytes and already be
//! path-clean (no empty, `.` or `..` segment, no trailing `/`). Its parent is the name up to the
//! last `/`.

use crate::error::{Error, Result};

/// The root role.
pub const ROOT: &str = "root";
/// The top-level targets role.
pub const TARGETS: &str = "targets";
/// The snapshot role.
pub const SNAPSHOT: &str = "snapshot";
/// The timestamp role.
pub const TIMESTAMP: &str = "timestamp";
/// The four base roles, in the order Notary lists them.
pub const BASE_ROLES: [&str; 4] = [ROOT, TARGETS, SNAPSHOT, TIMESTAMP];

/// The delegation docker signs released tags into.
pub const RELEASES_ROLE: &str = "targets/releases";

/// The signer name `docker trust inspect` shows for tags signed by `targets` or
/// [`RELEASES_ROLE`]: the repository's administrative keys.
pub const RELEASED_ROLE_NAME: &str = "Repo Admin";

/// Whether docker counts a target of `role` as released: `targets` or [`RELEASES_ROLE`].
pub fn is_released_role(role: &str) -> bool {
    role == TARGETS || role == RELEASES_ROLE
}

/// The signer name of a delegation role: the role without its `targets/` prefix.
pub fn signer_name(role: &str) -> &str {
    role.strip_prefix("targets/").unwrap_or(role)
}

/// Who signed a target of `role`, as `docker trust inspect` names it:
/// [`RELEASED_ROLE_NAME`] for a released role, else the [`signer_name`].
pub fn docker_signer(role: &str) -> &str {
    if is_released_role(role) {
        RELEASED_ROLE_NAME
    } else {
        signer_name(role)
    }
}

/// Longest delegation name allowed, exclusive (Notary's database column limit).
pub const MAX_ROLE_NAME_LEN: usize = 256;

/// Whether `name` is one of the four base roles.
pub fn is_base_role(name: &str) -> bool {
    BASE_ROLES.contains(&name)
}

/// Whether `name` is a valid delegation name.
pub fn is_delegation(name: &str) -> bool {
    check_delegation(name).is_ok()
}

/// Whether `name` is a base role or a valid delegation name.
pub fn is_valid_role(name: &str) -> bool {
    is_base_role(name) || is_delegation(name)
}

/// Checks that `name` is a valid delegation name.
///
/// # Errors
///
/// [`Error::InvalidRole`] saying which rule is broken.
pub fn check_delegation(name: &str) -> Result<()> {
    let invalid = |reason: &str| {
        Err(Error::InvalidRole {
            role: name.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if !name.starts_with("targets/") {
        return invalid("a delegation name must start with \"targets/\"");
    }
    if !name
        .bytes()
        .all(|b| matches!(b, b'-' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'/'))
    {
        return invalid("only lowercase letters, digits, '-', '_' and '/' are allowed");
    }
    if name.len() >= MAX_ROLE_NAME_LEN {
        return invalid("role names must be shorter than 256 characters");
    }
    if !is_path_clean(name) {
        return invalid("role name is not a clean path (empty segment or trailing '/')");
    }
    Ok(())
}

/// Go's `path.Clean(p) == p` for relative paths: no empty, `.` or `..` segment and no trailing
/// slash.
fn is_path_clean(p: &str) -> bool {
    !p.is_empty()
        && p.split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

/// The parent of a role (Go's `path.Dir`): `targets/a/b` → `targets/a`, `targets/a` →
/// `targets`. `None` for names without a `/`.
pub fn parent(name: &str) -> Option<&str> {
    name.rsplit_once('/').map(|(p, _)| p)
}

/// Number of path segments of a role name (`targets` → 1, `targets/a` → 2).
pub fn depth(name: &str) -> usize {
    name.split('/').count()
}

/// Whether `child` is a valid delegation whose parent is exactly `parent`.
pub fn is_direct_child(parent_role: &str, child: &str) -> bool {
    is_delegation(child) && parent(child) == Some(parent_role)
}

/// The `_type` value a document of `role` must carry: `Root`, `Targets` (also for every
/// delegation), `Snapshot` or `Timestamp`. `None` for invalid role names.
pub fn expected_type(role: &str) -> Option<&'static str> {
    match role {
        ROOT => Some("Root"),
        TARGETS => Some("Targets"),
        SNAPSHOT => Some("Snapshot"),
        TIMESTAMP => Some("Timestamp"),
        _ if is_delegation(role) => Some("Targets"),
        _ => None,
    }
}

/// Checks a role threshold (at least 1) and returns it as a count.
///
/// # Errors
///
/// [`Error::InvalidThreshold`] for thresholds below 1.
pub fn check_threshold(role: &str, threshold: i64) -> Result<u64> {
    match u64::try_from(threshold) {
        Ok(t) if t >= 1 => Ok(t),
        _ => Err(Error::InvalidThreshold {
            role: role.to_owned(),
            threshold,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_signer_names() {
        assert_eq!(docker_signer("targets"), RELEASED_ROLE_NAME);
        assert_eq!(docker_signer("targets/releases"), RELEASED_ROLE_NAME);
        assert_eq!(docker_signer("targets/alice"), "alice");
        assert_eq!(signer_name("targets/releases"), "releases");
        assert!(!is_released_role("targets/alice"));
    }

    #[test]
    fn base_roles() {
        for r in BASE_ROLES {
            assert!(is_base_role(r));
            assert!(is_valid_role(r));
            assert!(!is_delegation(r));
        }
        assert!(!is_base_role("Targets"));
        assert_eq!(expected_type("root"), Some("Root"));
        assert_eq!(expected_type("targets/a"), Some("Targets"));
        assert_eq!(expected_type("snapshot"), Some("Snapshot"));
        assert_eq!(expected_type("timestamp"), Some("Timestamp"));
        assert_eq!(expected_type("mirror"), None);
    }

    #[test]
    fn delegation_names() {
        for ok in ["targets/releases", "targets/a/b-c_d/0", "targets/x"] {
            assert!(is_delegation(ok), "{ok}");
        }
        let long = format!("targets/{}", "a".repeat(248));
        assert_eq!(long.len(), 256);
        let just_ok = &long[..255];
        for bad in [
            "targets",
            "targets/",
            "targets//a",
            "targets/a/",
            "targets/Foo",
            "targets/a.b",
            "targets/../x",
            "root/a",
            "/targets/a",
            "targets/a b",
            "targets/*",
            long.as_str(),
        ] {
            assert!(!is_delegation(bad), "{bad}");
            assert!(matches!(
                check_delegation(bad),
                Err(Error::InvalidRole { .. })
            ));
        }
        assert!(is_delegation(just_ok));
    }

    #[test]
    fn parents_and_children() {
        assert_eq!(parent("targets/a/b"), Some("targets/a"));
        assert_eq!(parent("targets/a"), Some("targets"));
        assert_eq!(parent("targets"), None);
        assert!(is_direct_child("targets", "targets/a"));
        assert!(is_direct_child("targets/a", "targets/a/b"));
        assert!(!is_direct_child("targets", "targets/a/b"));
        assert!(!is_direct_child("targets/a", "targets/ab"));
        assert!(!is_direct_child("targets/a", "targets/a/B"));
    }

    #[test]
    fn thresholds() {
        assert_eq!(check_threshold("root", 1).unwrap(), 1);
        assert_eq!(check_threshold("root", 3).unwrap(), 3);
        for bad in [0, -1, i64::MIN] {
            assert!(matches!(
                check_threshold("targets/x", bad),
                Err(Error::InvalidThreshold { threshold, .. }) if threshold == bad
            ));
        }
    }

    #[test]
    fn base_roles_and_delegations_are_valid() {
        for r in [
            "root",
            "targets",
            "snapshot",
            "timestamp",
            "targets/a",
            "targets/a-b_c/0",
        ] {
            assert!(is_valid_role(r), "{r}");
        }
    }

    #[test]
    fn bad_role_names_are_refused() {
        for r in [
            "",
            "foo",
            "targets/",
            "targets/Foo",
            "../targets",
            "/targets",
            "targets//a",
            "targets/a/",
            "targets/a.b",
            "targets/a b",
            "Targets",
            "timestamp/a",
        ] {
            assert!(!is_valid_role(r), "{r}");
        }
        let long = format!("targets/{}", "a".repeat(248));
        assert!(!is_valid_role(&long));
        let ok = format!("targets/{}", "a".repeat(247));
        assert!(is_valid_role(&ok));
    }

    #[test]
    fn parents_and_depths() {
        assert_eq!(parent("targets/a/b"), Some("targets/a"));
        assert_eq!(parent("targets/a"), Some("targets"));
        assert_eq!(parent("targets"), None);
        assert_eq!(depth("targets/a/b"), 3);
    }
}
