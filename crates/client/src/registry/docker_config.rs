//! Registry credentials from docker's `config.json` (`$DOCKER_CONFIG/config.json` or
//! `~/.docker/config.json`).
//!
//! Only the `auths` section's `auth` field (standard base64 of `user:password`) is used, as
//! docker decodes it: the password is cut at the first `:` and stripped of NUL bytes; an entry
//! whose `auth` is empty means "no credentials". Docker Hub's entry is keyed
//! `https://index.docker.io/v1/`; other registries by `host[:port]`, with keys written as URLs
//! (`https://host:port/…`) matched by their host part, as docker's file store does.
//!
//! Credential helpers (`credsStore`, `credHelpers`) are not run: when one applies to a registry
//! and no `auth` entry exists, the lookup says so and the caller reports
//! [`RegistryError::CredentialHelper`] if the registry asks for credentials.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::error::RegistryError;
use super::reference::DOCKER_HUB_DOMAIN;
use crate::http::Credentials;

/// The config file's name inside the docker config dir.
pub const DOCKER_CONFIG_FILE: &str = "config.json";
/// The `auths` key docker uses for Docker Hub.
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";
/// Largest config file read.
pub const MAX_DOCKER_CONFIG_SIZE: u64 = 4 << 20;

/// What the docker config holds for one registry.
#[derive(Clone, Debug)]
pub enum StoredCredentials {
    /// An `auths` entry with a user name and password.
    Found(Credentials),
    /// No usable `auths` entry, and a credential helper (`docker-credential-<name>`) is
    /// configured for the registry.
    Helper(String),
    /// Nothing for this registry.
    Missing,
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    auths: BTreeMap<String, RawAuth>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RawAuth {
    #[serde(default)]
    auth: Option<String>,
}

/// Decoded `user:password` of one `auths` entry.
#[derive(Clone)]
struct AuthEntry {
    username: String,
    password: Zeroizing<String>,
}

/// The registry credentials of a docker config file.
#[derive(Clone, Default)]
pub struct DockerConfig {
    path: Option<PathBuf>,
    auths: BTreeMap<String, AuthEntry>,
    creds_store: Option<String>,
    cred_helpers: BTreeMap<String, String>,
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerConfig")
            .field("path", &self.path)
            .field("auths", &self.auths.keys().collect::<Vec<_>>())
            .field("creds_store", &self.creds_store)
            .field("cred_helpers", &self.cred_helpers)
            .finish()
    }
}

impl DockerConfig {
    /// Reads `<dir>/config.json`; a missing file gives an empty configuration.
    ///
    /// # Errors
    ///
    /// [`RegistryError::DockerConfig`] for an unreadable or invalid file (docker refuses such a
    /// file too).
    pub fn load_from_dir(dir: &Path) -> Result<Self, RegistryError> {
        Self::load(&dir.join(DOCKER_CONFIG_FILE))
    }

    /// Reads a config file; a missing file gives an empty configuration.
    ///
    /// # Errors
    ///
    /// As [`load_from_dir`](Self::load_from_dir).
    pub fn load(path: &Path) -> Result<Self, RegistryError> {
        let fail = |reason: String| RegistryError::DockerConfig {
            path: path.to_path_buf(),
            reason,
        };
        let file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    path: Some(path.to_path_buf()),
                    ..Self::default()
                });
            }
            Err(e) => return Err(fail(e.to_string())),
        };
        let mut bytes = Zeroizing::new(Vec::new());
        file.take(MAX_DOCKER_CONFIG_SIZE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| fail(e.to_string()))?;
        if bytes.len() as u64 > MAX_DOCKER_CONFIG_SIZE {
            return Err(fail(format!("larger than {MAX_DOCKER_CONFIG_SIZE} bytes")));
        }
        Self::parse(&bytes, path)
    }

    /// Parses config file contents; `path` is only used in errors.
    ///
    /// # Errors
    ///
    /// [`RegistryError::DockerConfig`] for invalid JSON or an `auth` value that is not
    /// base64 of `user:password` with a non-empty user.
    pub fn parse(json: &[u8], path: &Path) -> Result<Self, RegistryError> {
        let fail = |reason: String| RegistryError::DockerConfig {
            path: path.to_path_buf(),
            reason,
        };
        let raw: RawConfig = serde_json::from_slice(json).map_err(|e| fail(e.to_string()))?;
        let mut auths = BTreeMap::new();
        for (key, entry) in raw.auths {
            let Some(auth) = entry.auth.filter(|a| !a.is_empty()) else {
                continue;
            };
            let decoded = decode_auth(&auth).map_err(|reason| fail(format!("{key}: {reason}")))?;
            auths.insert(key, decoded);
        }
        Ok(Self {
            path: Some(path.to_path_buf()),
            auths,
            creds_store: raw.creds_store.filter(|s| !s.is_empty()),
            cred_helpers: raw.cred_helpers,
        })
    }

    /// The file this configuration was read from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The `auths` key docker uses for a registry: [`DOCKER_HUB_AUTH_KEY`] for `docker.io`,
    /// else the registry's `host[:port]`.
    pub fn auth_key(domain: &str) -> &str {
        if domain == DOCKER_HUB_DOMAIN {
            DOCKER_HUB_AUTH_KEY
        } else {
            domain
        }
    }

    /// The stored credentials for a registry (`docker.io`, `registry.local:5000`).
    pub fn lookup(&self, domain: &str) -> StoredCredentials {
        let key = Self::auth_key(domain);
        let entry = self.auths.get(key).or_else(|| {
            self.auths
                .iter()
                .find(|(candidate, _)| convert_to_hostname(candidate) == key)
                .map(|(_, entry)| entry)
        });
        if let Some(entry) = entry {
            return StoredCredentials::Found(Credentials::new(
                entry.username.clone(),
                entry.password.as_str(),
            ));
        }
        match self.cred_helpers.get(key).or(self.creds_store.as_ref()) {
            Some(helper) if !helper.is_empty() => StoredCredentials::Helper(helper.clone()),
            _ => StoredCredentials::Missing,
        }
    }
}

/// docker's `ConvertToHostname`: drops a `scheme://` prefix and anything after the first `/`.
fn convert_to_hostname(key: &str) -> &str {
    let stripped = key.split_once("://").map_or(key, |(_, rest)| rest);
    stripped.split_once('/').map_or(stripped, |(host, _)| host)
}

/// docker's `decodeAuth`.
fn decode_auth(auth: &str) -> Result<AuthEntry, String> {
    let decoded = Zeroizing::new(
        STANDARD
            .decode(auth.trim())
            .map_err(|e| format!("auth is not base64: {e}"))?,
    );
    let text = std::str::from_utf8(&decoded).map_err(|_| "auth is not UTF-8".to_owned())?;
    match text.split_once(':') {
        Some((user, password)) if !user.is_empty() => Ok(AuthEntry {
            username: user.to_owned(),
            password: Zeroizing::new(password.trim_matches('\0').to_owned()),
        }),
        _ => Err("invalid auth configuration file".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> DockerConfig {
        DockerConfig::parse(json.as_bytes(), Path::new("config.json")).unwrap()
    }

    fn found(lookup: StoredCredentials) -> (String, String) {
        match lookup {
            StoredCredentials::Found(c) => (c.username().to_owned(), c.password().to_owned()),
            other => panic!("expected credentials, got {other:?}"),
        }
    }

    #[test]
    fn decodes_auth_entries() {
        let hub = STANDARD.encode("hubuser:hub:pass\0\0");
        let local = STANDARD.encode("alice:s3cret");
        let legacy = STANDARD.encode("bob:pw");
        let cfg = config(&format!(
            r#"{{"auths": {{
                "https://index.docker.io/v1/": {{"auth": "{hub}"}},
                "localhost:5000": {{"auth": "{local}", "email": "x"}},
                "https://registry.example.com:8443/v2/": {{"auth": "{legacy}"}},
                "empty.example.com": {{"auth": ""}},
                "noauth.example.com": {{}}
            }}}}"#
        ));
        assert_eq!(
            found(cfg.lookup("docker.io")),
            ("hubuser".to_owned(), "hub:pass".to_owned())
        );
        assert_eq!(
            found(cfg.lookup("localhost:5000")),
            ("alice".to_owned(), "s3cret".to_owned())
        );
        assert_eq!(
            found(cfg.lookup("registry.example.com:8443")),
            ("bob".to_owned(), "pw".to_owned())
        );
        for missing in [
            "empty.example.com",
            "noauth.example.com",
            "localhost:5001",
            "localhost",
        ] {
            assert!(
                matches!(cfg.lookup(missing), StoredCredentials::Missing),
                "{missing}"
            );
        }
        assert!(!format!("{cfg:?}").contains("s3cret"));
    }

    #[test]
    fn reports_credential_helpers() {
        let inline = STANDARD.encode("u:p");
        let cfg = config(&format!(
            r#"{{"credsStore": "desktop",
                "credHelpers": {{"gcr.io": "gcloud"}},
                "auths": {{"inline.example.com": {{"auth": "{inline}"}}, "gcr.io": {{}}}}}}"#
        ));
        assert!(matches!(cfg.lookup("gcr.io"), StoredCredentials::Helper(h) if h == "gcloud"));
        assert!(matches!(cfg.lookup("docker.io"), StoredCredentials::Helper(h) if h == "desktop"));
        assert_eq!(found(cfg.lookup("inline.example.com")).0, "u");
    }

    #[test]
    fn rejects_what_docker_rejects() {
        for bad in [
            r#"{"auths": {"x": {"auth": "!!!"}}}"#,
            &format!(
                r#"{{"auths": {{"x": {{"auth": "{}"}}}}}}"#,
                STANDARD.encode("nocolon")
            ),
            &format!(
                r#"{{"auths": {{"x": {{"auth": "{}"}}}}}}"#,
                STANDARD.encode(":pw")
            ),
            "not json",
        ] {
            let error =
                DockerConfig::parse(bad.as_bytes(), Path::new("/cfg/config.json")).unwrap_err();
            assert!(
                matches!(error, RegistryError::DockerConfig { .. }),
                "{bad}: {error}"
            );
            assert!(error.to_string().contains("/cfg/config.json"), "{error}");
        }
    }

    #[test]
    fn missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = DockerConfig::load_from_dir(dir.path()).unwrap();
        assert!(matches!(
            cfg.lookup("docker.io"),
            StoredCredentials::Missing
        ));
        std::fs::write(
            dir.path().join(DOCKER_CONFIG_FILE),
            format!(
                r#"{{"auths": {{"localhost:5000": {{"auth": "{}"}}}}}}"#,
                STANDARD.encode("a:b")
            ),
        )
        .unwrap();
        let cfg = DockerConfig::load_from_dir(dir.path()).unwrap();
        assert_eq!(found(cfg.lookup("localhost:5000")).0, "a");
        assert_eq!(cfg.path().unwrap(), dir.path().join(DOCKER_CONFIG_FILE));
    }
}
