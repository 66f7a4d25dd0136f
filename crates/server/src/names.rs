//! Role names and GUNs as the Notary server accepts them.

/// The longest GUN the server stores, in bytes (the width of the `gun` column).
pub const MAX_GUN_LEN: usize = 255;

/// The four top-level roles.
pub const BASE_ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

/// Whether `name` is a delegation role name Notary accepts: it starts with `targets/`, uses
/// only `[-a-z0-9_/]`, is shorter than 256 bytes and has no empty segment or trailing slash.
pub fn is_delegation(name: &str) -> bool {
    name.len() < 256
        && name.starts_with("targets/")
        && name
            .bytes()
            .all(|b| matches!(b, b'-' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'/'))
        && !name.ends_with('/')
        && !name.contains("//")
}

/// Whether `name` is a role a client may upload or ask for: a base role or a delegation.
pub fn is_valid_role(name: &str) -> bool {
    BASE_ROLES.contains(&name) || is_delegation(name)
}

/// The parent of a delegation role (`targets/a/b` → `targets/a`), or `None` for a base role.
pub fn parent_role(name: &str) -> Option<&str> {
    if !is_delegation(name) {
        return None;
    }
    name.rfind('/').map(|i| &name[..i])
}

/// Number of path segments of a role name (`targets` → 1, `targets/a` → 2).
pub fn role_depth(name: &str) -> usize {
    name.split('/').count()
}

/// Whether a GUN prefix from the configuration is well formed: it ends in `/`, does not start
/// with `/` or `..`, and is already in clean path form.
pub fn is_valid_gun_prefix(prefix: &str) -> bool {
    if !prefix.ends_with('/') || prefix.starts_with('/') || prefix.starts_with("..") {
        return false;
    }
    let trimmed = &prefix[..prefix.len() - 1];
    !trimmed.is_empty() && crate::http::route::clean_path(trimmed) == trimmed
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(parent_role("targets/a/b"), Some("targets/a"));
        assert_eq!(parent_role("targets/a"), Some("targets"));
        assert_eq!(parent_role("targets"), None);
        assert_eq!(role_depth("targets/a/b"), 3);
    }

    #[test]
    fn gun_prefix_rules() {
        assert!(is_valid_gun_prefix("docker.io/"));
        assert!(is_valid_gun_prefix("docker.io/library/"));
        assert!(!is_valid_gun_prefix("docker.io"));
        assert!(!is_valid_gun_prefix("/docker.io/"));
        assert!(!is_valid_gun_prefix("../x/"));
        assert!(!is_valid_gun_prefix("a//b/"));
        assert!(!is_valid_gun_prefix("a/./b/"));
    }
}
