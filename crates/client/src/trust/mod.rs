//! Docker content trust over a Notary repository, with `docker trust`'s semantics
//! (docker/cli v28): the GUN is the image's normalised name, tags are targets whose hashes are
//! the manifest's sha256 and whose length is the manifest's size, `targets/releases` and the
//! signer roles `targets/<name>` are the delegations docker manages, and new repositories get
//! a server-managed snapshot key.
//!
//! * [`inspect`]: the `docker trust inspect` document and its `--pretty` tables.
//! * [`keys`]: `trust key generate` and `trust key load`.
//! * [`ops`]: sign, revoke, signer add / remove and the pull-time verification.
//! * [`signatures`]: which roles sign a tag, and what a removal leaves unsigned.
//!
//! Helpers here: signer name validation, docker's "signable roles", natural ordering of tags
//! and the trusted digest of a signed target.

pub mod inspect;
pub mod keys;
pub mod ops;
pub mod signatures;

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::path::Path;

use signet_tuf::role;
use signet_tuf::update::{ResolvedRole, TargetWithRole};

use crate::error::{ConfigError, Error, Result, TrustError};
use crate::http::{TlsOptions, tls};
use crate::registry::{Digest, RegistryError};

pub use signet_tuf::role::{RELEASES_ROLE, is_released_role, signer_name};

/// The roles a pull trusts, in lookup order.
pub const PULL_ROLES: [&str; 2] = [RELEASES_ROLE, role::TARGETS];

impl From<RegistryError> for Error {
    fn from(error: RegistryError) -> Self {
        Self::Registry(Box::new(error))
    }
}

/// Docker's TLS settings for a trust server: the CAs (`*.crt`, added to the system roots) and
/// client pair (`*.cert` + `*.key`) of `<docker config dir>/tls/<host[:port]>/`. The
/// certificate is always verified (docker skips the check when the image's registry is
/// insecure; signet does not).
///
/// # Errors
///
/// [`ConfigError::ServerUrl`] for an unparsable URL,
/// [`RemoteError::Tls`](crate::error::RemoteError::Tls) for unusable files.
pub fn docker_tls_options(docker_config_dir: &Path, server: &str) -> Result<TlsOptions> {
    let url = reqwest::Url::parse(server).map_err(|_| {
        Error::Config(ConfigError::ServerUrl {
            url: server.to_owned(),
        })
    })?;
    match tls::docker_certs_dir(docker_config_dir, &url) {
        Some(dir) => TlsOptions::from_docker_certs_dir(&dir),
        None => Ok(TlsOptions::default()),
    }
}

/// The delegation role of signer `name`: `targets/<name>`.
pub fn signer_role(name: &str) -> String {
    format!("{}/{name}", role::TARGETS)
}

/// Whether `name` matches docker's signer / key name rule `^[a-z0-9][a-z0-9_-]*$`.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Checks a signer name: docker's rule, and `releases` is reserved.
///
/// # Errors
///
/// [`TrustError::InvalidName`] with docker's message.
pub fn validate_signer_name(name: &str) -> Result<()> {
    validate_key_name(name)?;
    if name == "releases" {
        return Err(Error::Trust(TrustError::InvalidName {
            name: name.to_owned(),
            reason: "releases is a reserved keyword, use a different signer name".to_owned(),
        }));
    }
    Ok(())
}

/// Checks a key name (`trust key generate` / `load --name`): docker's rule.
///
/// # Errors
///
/// [`TrustError::InvalidName`] with docker's message.
pub fn validate_key_name(name: &str) -> Result<()> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(Error::Trust(TrustError::InvalidName {
            name: name.to_owned(),
            reason: format!(
                "name \"{name}\" must start with lowercase alphanumeric characters and can include \"-\" or \"_\" after the first character"
            ),
        }))
    }
}

/// Docker's signable roles for `tag`: `targets` when the repository has no delegations;
/// otherwise every direct child of `targets` whose paths allow the tag and that lists a key
/// whose canonical ID is in `held` (the `targets` role itself is then not signed).
///
/// # Errors
///
/// [`TrustError::NoSignableRoles`] when delegations exist but none qualifies.
pub fn signable_roles(
    gun: &str,
    delegations: &[ResolvedRole],
    tag: &str,
    held: &BTreeSet<String>,
) -> Result<Vec<String>> {
    if delegations.is_empty() {
        return Ok(vec![role::TARGETS.to_owned()]);
    }
    let mut roles = Vec::new();
    for delegation in delegations {
        let direct_child = delegation
            .name
            .strip_prefix("targets/")
            .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'));
        if !direct_child || !delegation.allows(tag) || roles.contains(&delegation.name) {
            continue;
        }
        if inspect::canonical_key_ids(delegation).any(|id| held.contains(&id)) {
            roles.push(delegation.name.clone());
        }
    }
    if roles.is_empty() {
        return Err(Error::Trust(TrustError::NoSignableRoles {
            gun: gun.to_owned(),
            tag: tag.to_owned(),
        }));
    }
    Ok(roles)
}

/// The sha256 digest a trusted target pins.
///
/// # Errors
///
/// [`TrustError::NoSha256`] when the target has no (valid) sha256 hash.
pub fn trusted_digest(gun: &str, target: &TargetWithRole) -> Result<Digest> {
    let no_hash = || {
        Error::Trust(TrustError::NoSha256 {
            gun: gun.to_owned(),
            tag: target.name.clone(),
            role: target.role.clone(),
        })
    };
    let bytes = target.meta.hashes.get("sha256").ok_or_else(no_hash)?;
    Digest::parse(&format!("sha256:{}", hex::encode(bytes))).map_err(|_| no_hash())
}

/// Compares the signed digest with the one the registry serves.
///
/// # Errors
///
/// [`TrustError::DigestMismatch`] naming both digests when they differ.
pub fn check_registry_digest(
    name: &str,
    tag: &str,
    role: &str,
    trusted: &Digest,
    registry: &Digest,
) -> Result<()> {
    if trusted == registry {
        Ok(())
    } else {
        Err(Error::Trust(TrustError::DigestMismatch {
            name: name.to_owned(),
            tag: tag.to_owned(),
            trusted: trusted.to_string(),
            registry: registry.to_string(),
            role: role.to_owned(),
        }))
    }
}

/// Natural order of strings (`v2` before `v10`), as docker sorts tags: runs of digits compare
/// by their numeric value, everything else byte by byte; ties are broken by plain order.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let na = trim_zeros(&ab[si..i]);
            let nb = trim_zeros(&bb[sj..j]);
            let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if ord != Ordering::Equal {
                return ord;
            }
        } else {
            let ord = ab[i].cmp(&bb[j]);
            if ord != Ordering::Equal {
                return ord;
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j)).then_with(|| a.cmp(b))
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let start = digits
        .iter()
        .position(|d| *d != b'0')
        .unwrap_or(digits.len());
    &digits[start..]
}

#[cfg(test)]
mod tests {

    use signet_tuf::metadata::FileMeta;
    use signet_tuf::{KeyType, PublicKey};

    use super::*;

    pub(crate) fn key(byte: u8) -> PublicKey {
        PublicKey::new(KeyType::Ed25519, vec![byte; 32])
    }

    pub(crate) fn delegation(name: &str, keys: &[PublicKey], paths: &[&str]) -> ResolvedRole {
        ResolvedRole {
            name: name.to_owned(),
            keys: keys.iter().map(|k| (k.key_id(), k.clone())).collect(),
            threshold: 1,
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            path_hash_prefixes: Vec::new(),
        }
    }

    fn held(keys: &[&PublicKey]) -> BTreeSet<String> {
        keys.iter().map(|k| k.key_id().to_string()).collect()
    }

    #[test]
    fn names_follow_docker() {
        for ok in ["alice", "a", "0x", "a_b-c", "releases2"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "Alice", "_a", "-a", "a b", "a/b", "a.b", "é"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        assert!(validate_signer_name("alice").is_ok());
        let err = validate_signer_name("releases").unwrap_err().to_string();
        assert!(err.contains("reserved"), "{err}");
        let err = validate_key_name("Bob").unwrap_err().to_string();
        assert!(err.contains("\"Bob\" must start with lowercase"), "{err}");
        assert_eq!(signer_role("alice"), "targets/alice");
        assert_eq!(signer_name("targets/alice"), "alice");
    }

    #[test]
    fn signable_roles_without_delegations_is_targets() {
        let roles = signable_roles("g", &[], "v1", &BTreeSet::new()).unwrap();
        assert_eq!(roles, vec!["targets"]);
    }

    #[test]
    fn signable_roles_are_direct_children_with_held_keys_and_paths() {
        let (a, b, c) = (key(1), key(2), key(3));
        let delegations = vec![
            delegation("targets/releases", &[a.clone(), b.clone()], &[""]),
            delegation("targets/alice", std::slice::from_ref(&a), &[""]),
            delegation("targets/bob", std::slice::from_ref(&b), &[""]),
            delegation("targets/alice/nested", std::slice::from_ref(&a), &[""]),
            delegation("targets/carol", std::slice::from_ref(&a), &["v2"]),
            delegation("targets/dave", &[c], &[""]),
        ];
        let roles = signable_roles("g", &delegations, "v1", &held(&[&a])).unwrap();
        assert_eq!(roles, vec!["targets/releases", "targets/alice"]);
        let roles = signable_roles("g", &delegations, "v2", &held(&[&a])).unwrap();
        assert_eq!(
            roles,
            vec!["targets/releases", "targets/alice", "targets/carol"]
        );
        let err = signable_roles("g", &delegations, "v1", &BTreeSet::new()).unwrap_err();
        assert!(
            matches!(err, Error::Trust(TrustError::NoSignableRoles { ref tag, .. }) if tag == "v1")
        );
        assert!(
            err.to_string()
                .contains("no valid signing keys for delegation roles")
        );
    }

    #[test]
    fn trusted_digest_needs_sha256() {
        let mut meta = FileMeta {
            custom: None,
            hashes: signet_tuf::metadata::Hashes::new(),
            length: 10,
            unknown: serde_json::Map::new(),
        };
        let target = |meta: &FileMeta| TargetWithRole {
            name: "v1".to_owned(),
            meta: meta.clone(),
            role: "targets".to_owned(),
        };
        let err = trusted_digest("g", &target(&meta)).unwrap_err();
        assert!(err.to_string().contains("expecting sha256"), "{err}");
        meta.hashes.insert("sha256", vec![0xab; 32]);
        let digest = trusted_digest("g", &target(&meta)).unwrap();
        assert_eq!(digest.to_string(), format!("sha256:{}", "ab".repeat(32)));
        meta.hashes.insert("sha256", vec![0xab; 3]);
        assert!(trusted_digest("g", &target(&meta)).is_err());
    }

    #[test]
    fn digest_comparison_names_both() {
        let one = Digest::sha256_of(b"one");
        let two = Digest::sha256_of(b"two");
        check_registry_digest("r/app", "v1", "targets", &one, &one).unwrap();
        let err = check_registry_digest("r/app", "v1", "targets", &one, &two)
            .unwrap_err()
            .to_string();
        assert!(err.contains(&one.to_string()), "{err}");
        assert!(err.contains(&two.to_string()), "{err}");
        assert!(err.contains("r/app:v1"), "{err}");
    }

    #[test]
    fn natural_order() {
        let mut tags = vec!["v10", "v2", "latest", "v1", "1.10", "1.9", "a", "v02"];
        tags.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            tags,
            vec!["1.9", "1.10", "a", "latest", "v1", "v02", "v2", "v10"]
        );
    }
}
