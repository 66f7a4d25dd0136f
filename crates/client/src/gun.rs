//! Globally Unique Names (GUNs): the name of a trusted collection, such as
//! `docker.io/library/alpine`.
//!
//! A GUN is used verbatim as a relative path below `<trust dir>/tuf/` (split on `/`) and inside
//! server URLs, so it is validated once, here, and every other module takes a [`Gun`]. The rules
//! keep every GUN inside the trust directory while accepting everything Notary and Docker
//! produce (including `:` for registry ports):
//!
//! * not empty, at most [`MAX_GUN_LEN`] bytes (the server's column size);
//! * no leading or trailing `/` and no empty component (`a//b`);
//! * no `.` or `..` component;
//! * no NUL or other ASCII control character and no `\` (a path separator on Windows);
//! * no `*` (the server's route pattern `[^*]+` cannot address such a GUN).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

pub use signet_tuf::notary::gun::MAX_GUN_LEN;

/// A validated Globally Unique Name.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gun(String);

impl Gun {
    /// Validates `gun` (see the module documentation for the rules).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidGun`] naming the broken rule.
    pub fn new(gun: impl Into<String>) -> Result<Self> {
        let gun = gun.into();
        match violation(&gun) {
            None => Ok(Self(gun)),
            Some(reason) => Err(Error::InvalidGun { gun, reason }),
        }
    }

    /// The GUN as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The GUN's `/`-separated components, in order.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

fn violation(gun: &str) -> Option<&'static str> {
    if gun.is_empty() {
        return Some("it is empty");
    }
    if gun.len() > MAX_GUN_LEN {
        return Some("it is longer than 255 bytes");
    }
    if gun.starts_with('/') {
        return Some("it is an absolute path");
    }
    if gun.bytes().any(|b| b == 0) {
        return Some("it contains a NUL byte");
    }
    if gun.bytes().any(|b| b.is_ascii_control()) {
        return Some("it contains a control character");
    }
    if gun.contains('\\') {
        return Some("it contains a backslash");
    }
    if gun.contains('*') {
        return Some("it contains '*'");
    }
    for component in gun.split('/') {
        match component {
            "" => return Some("it has an empty path component"),
            "." | ".." => return Some("it has a '.' or '..' path component"),
            _ => {}
        }
    }
    None
}

impl fmt::Display for Gun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Gun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gun({:?})", self.0)
    }
}

impl FromStr for Gun {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::new(s)
    }
}

impl AsRef<str> for Gun {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_notary_and_docker_produce() {
        for ok in [
            "docker.io/library/alpine",
            "registry.local:5000/team/img",
            "example.com/org/app",
            "a",
            "a..b/c.d",
            "UPPER/Case_-1",
        ] {
            let gun = Gun::new(ok).unwrap();
            assert_eq!(gun.as_str(), ok);
        }
        let gun: Gun = "x/y/z".parse().unwrap();
        assert_eq!(gun.components().collect::<Vec<_>>(), ["x", "y", "z"]);
    }

    #[test]
    fn rejects_names_that_could_escape_the_trust_dir() {
        for bad in [
            "",
            "/etc/passwd",
            "..",
            "../x",
            "a/../../b",
            "a/./b",
            ".",
            "a//b",
            "a/",
            "a\0b",
            "a\nb",
            "a\\..\\b",
            "a*",
        ] {
            let err = Gun::new(bad).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidGun { gun, .. } if gun == bad),
                "{bad:?}: {err}"
            );
        }
        assert!(Gun::new("a".repeat(255)).is_ok());
        assert!(Gun::new("a".repeat(256)).is_err());
    }
}
