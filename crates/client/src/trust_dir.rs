//! The notary / docker trust directory layout and the per-GUN metadata cache.
//!
//! ```text
//! <base>/
//!   config.json                      notary CLI only (see crate::config)
//!   private/<key id>.key             owned by signet-signer's FileKeyStore
//!   tuf/<gun>/metadata/<role>.json   latest copy of each role; delegations as sub-dirs
//!   tuf/<gun>/changelist/*.change    staged changes (see crate::changelist)
//! ```
//!
//! Directories are created 0700 and files written 0600, atomically (temporary file + rename).
//! The GUN is split on `/` into nested directories, verbatim (`:` included); [`Gun`] guarantees
//! it cannot leave `tuf/`. Only the latest copy of each role is kept, under its plain name
//! (never `<role>.<hash>.json` or `<n>.root.json`).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

use crate::changelist::FileChangelist;
use crate::error::{Error, Result};
use crate::fsutil::{self, ReadLimited};
use crate::gun::Gun;

/// Name of the key directory below the trust dir.
pub const PRIVATE_DIR: &str = "private";
/// Name of the metadata directory below the trust dir.
pub const TUF_DIR: &str = "tuf";
/// Name of the per-GUN metadata cache directory.
pub const METADATA_DIR: &str = "metadata";
/// Name of the per-GUN changelist directory.
pub const CHANGELIST_DIR: &str = "changelist";
/// Name of the notary CLI's configuration file inside the default trust dir.
pub const CONFIG_FILE: &str = "config.json";

/// Default notary trust dir name below `$HOME`.
const NOTARY_DIR: &str = ".notary";
/// Default docker config dir name below `$HOME`.
const DOCKER_DIR: &str = ".docker";

/// The notary CLI's default trust dir: `$HOME/.notary`, or `./.notary` below `cwd` when
/// `home` is unset or empty (the notary CLI warns and does the same).
pub fn notary_default_dir(home: Option<&Path>, cwd: &Path) -> PathBuf {
    match home {
        Some(home) if !home.as_os_str().is_empty() => home.join(NOTARY_DIR),
        _ => cwd.join(NOTARY_DIR),
    }
}

/// Docker's config dir: `$DOCKER_CONFIG` when set and not empty, else `$HOME/.docker` (below
/// `cwd` when `home` is unset). Relative values are resolved against `cwd`.
pub fn docker_config_dir(docker_config: Option<&Path>, home: Option<&Path>, cwd: &Path) -> PathBuf {
    match (docker_config, home) {
        (Some(dir), _) if !dir.as_os_str().is_empty() => cwd.join(dir),
        (_, Some(home)) if !home.as_os_str().is_empty() => cwd.join(home).join(DOCKER_DIR),
        _ => cwd.join(DOCKER_DIR),
    }
}

/// Docker's trust dir: `<docker config dir>/trust`.
pub fn docker_trust_dir(docker_config: Option<&Path>, home: Option<&Path>, cwd: &Path) -> PathBuf {
    docker_config_dir(docker_config, home, cwd).join("trust")
}

fn env_path(name: &str) -> Option<PathBuf> {
    env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn current_dir() -> PathBuf {
    env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

/// A notary or docker trust directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustDir {
    base: PathBuf,
}

impl TrustDir {
    /// The trust dir at `path`; a relative path is resolved against the current directory.
    /// Nothing is created until something is written.
    pub fn new(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        let base = if path.is_absolute() {
            path.to_path_buf()
        } else {
            current_dir().join(path)
        };
        Self { base }
    }

    /// The notary CLI's default, `$HOME/.notary` (see [`notary_default_dir`]).
    pub fn notary_default() -> Self {
        Self::new(notary_default_dir(
            env_path("HOME").as_deref(),
            &current_dir(),
        ))
    }

    /// Docker's default, `$DOCKER_CONFIG/trust` or `$HOME/.docker/trust` (see
    /// [`docker_trust_dir`]).
    pub fn docker_default() -> Self {
        Self::new(docker_trust_dir(
            env_path("DOCKER_CONFIG").as_deref(),
            env_path("HOME").as_deref(),
            &current_dir(),
        ))
    }

    /// The base directory.
    pub fn path(&self) -> &Path {
        &self.base
    }

    /// `<base>/private`, the key store directory.
    pub fn private_dir(&self) -> PathBuf {
        self.base.join(PRIVATE_DIR)
    }

    /// `<base>/tuf`.
    pub fn tuf_dir(&self) -> PathBuf {
        self.base.join(TUF_DIR)
    }

    /// The directories of one trusted collection (nothing is created).
    pub fn repo(&self, gun: &Gun) -> RepoDir {
        let mut dir = self.tuf_dir();
        for component in gun.components() {
            dir.push(component);
        }
        RepoDir {
            gun: gun.clone(),
            dir,
        }
    }

    /// Removes `tuf/<gun>` (cached metadata and staged changes). Keys are never touched. A GUN
    /// with no local data is not an error.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the directory exists but cannot be removed.
    pub fn delete_repo(&self, gun: &Gun) -> Result<()> {
        fsutil::remove_dir_all_if_exists(self.repo(gun).path())
    }
}

/// The directories of one trusted collection: `<base>/tuf/<gun>/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoDir {
    gun: Gun,
    dir: PathBuf,
}

impl RepoDir {
    /// The collection's GUN.
    pub fn gun(&self) -> &Gun {
        &self.gun
    }

    /// `tuf/<gun>`.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `tuf/<gun>/metadata`.
    pub fn metadata_dir(&self) -> PathBuf {
        self.dir.join(METADATA_DIR)
    }

    /// `tuf/<gun>/changelist`.
    pub fn changelist_dir(&self) -> PathBuf {
        self.dir.join(CHANGELIST_DIR)
    }

    /// Creates `metadata/` and `changelist/` (0700), as opening a repository does in Notary.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when a directory cannot be created.
    pub fn create(&self) -> Result<()> {
        fsutil::create_private_dir(&self.metadata_dir())?;
        Ok(fsutil::create_private_dir(&self.changelist_dir())?)
    }

    /// The metadata cache of this collection.
    pub fn cache(&self) -> MetadataCache {
        MetadataCache {
            gun: self.gun.clone(),
            dir: self.metadata_dir(),
        }
    }

    /// The on-disk changelist of this collection.
    pub fn changelist(&self) -> FileChangelist {
        FileChangelist::new(self.changelist_dir())
    }
}

/// Whether `role` can name a cache file: a base role, or a delegation name as Notary accepts
/// it (`targets/` followed by `[-a-z0-9_/]`, path-clean, shorter than 256 bytes).
pub fn is_valid_role_name(role: &str) -> bool {
    if matches!(role, "root" | "targets" | "snapshot" | "timestamp") {
        return true;
    }
    let Some(rest) = role.strip_prefix("targets/") else {
        return false;
    };
    role.len() < 256
        && rest
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'/'))
        && rest.split('/').all(|c| !c.is_empty())
}

/// The cached metadata of one collection: `tuf/<gun>/metadata/<role>.json`, latest copy only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataCache {
    gun: Gun,
    dir: PathBuf,
}

impl MetadataCache {
    /// The cache directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The file holding `role` (delegation names become sub-directories).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRole`] when `role` is not a valid role name.
    pub fn role_path(&self, role: &str) -> Result<PathBuf> {
        if !is_valid_role_name(role) {
            return Err(Error::InvalidRole {
                gun: self.gun.to_string(),
                role: role.to_owned(),
            });
        }
        let mut path = self.dir.clone();
        let mut components = role.split('/').peekable();
        while let Some(component) = components.next() {
            if components.peek().is_some() {
                path.push(component);
            } else {
                path.push(format!("{component}.json"));
            }
        }
        Ok(path)
    }

    /// The cached bytes of `role`, if present and no larger than `max_len` (an oversize cache
    /// file is treated as absent, as Notary does).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRole`] for an invalid role name, [`Error::Io`] when the file exists but
    /// cannot be read.
    pub fn get(&self, role: &str, max_len: u64) -> Result<Option<Vec<u8>>> {
        let path = self.role_path(role)?;
        match fsutil::read_limited(&path, max_len)? {
            ReadLimited::Bytes(bytes) => Ok(Some(bytes)),
            ReadLimited::Missing | ReadLimited::TooLarge => Ok(None),
        }
    }

    /// Stores `bytes` as the latest copy of `role` (atomically, 0600).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRole`] for an invalid role name, [`Error::Io`] on write failure.
    pub fn set(&self, role: &str, bytes: &[u8]) -> Result<()> {
        Ok(fsutil::write_private_file(&self.role_path(role)?, bytes)?)
    }

    /// Removes the cached copy of `role` (absent is fine).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRole`] for an invalid role name, [`Error::Io`] on failure.
    pub fn remove(&self, role: &str) -> Result<()> {
        fsutil::remove_file_if_exists(&self.role_path(role)?)
    }

    /// Removes every cached role.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the directory exists but cannot be removed.
    pub fn clear(&self) -> Result<()> {
        fsutil::remove_dir_all_if_exists(&self.dir)
    }

    /// The names of every cached role, sorted (files that are not `*.json` or whose name is not
    /// a valid role are ignored).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the directory cannot be read.
    pub fn roles(&self) -> Result<Vec<String>> {
        let mut roles = Vec::new();
        if fs::symlink_metadata(&self.dir).is_ok_and(|m| m.is_dir()) {
            collect_roles(&self.dir, "", &mut roles)?;
        }
        roles.retain(|r| is_valid_role_name(r));
        roles.sort();
        Ok(roles)
    }
}

fn collect_roles(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io("read directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read directory", dir, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            collect_roles(&entry.path(), &format!("{prefix}{name}/"), out)?;
        } else if kind.is_file()
            && let Some(role) = name.strip_suffix(".json")
        {
            out.push(format!("{prefix}{role}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gun(s: &str) -> Gun {
        Gun::new(s).unwrap()
    }

    #[test]
    fn layout_matches_notary() {
        let td = TrustDir::new("/base");
        let repo = td.repo(&gun("registry.local:5000/team/img"));
        assert_eq!(
            repo.path(),
            Path::new("/base/tuf/registry.local:5000/team/img")
        );
        assert_eq!(
            repo.metadata_dir(),
            Path::new("/base/tuf/registry.local:5000/team/img/metadata")
        );
        assert_eq!(
            repo.changelist_dir(),
            Path::new("/base/tuf/registry.local:5000/team/img/changelist")
        );
        assert_eq!(td.private_dir(), Path::new("/base/private"));
        let cache = repo.cache();
        assert_eq!(
            cache.role_path("targets/releases/qa").unwrap(),
            Path::new("/base/tuf/registry.local:5000/team/img/metadata/targets/releases/qa.json")
        );
        assert_eq!(
            cache.role_path("root").unwrap(),
            Path::new("/base/tuf/registry.local:5000/team/img/metadata/root.json")
        );
    }

    #[test]
    fn relative_trust_dir_is_resolved_against_cwd() {
        let td = TrustDir::new("rel/dir");
        assert_eq!(td.path(), current_dir().join("rel/dir"));
    }

    #[test]
    fn default_dirs() {
        let cwd = Path::new("/cwd");
        assert_eq!(
            notary_default_dir(Some(Path::new("/home/u")), cwd),
            Path::new("/home/u/.notary")
        );
        assert_eq!(notary_default_dir(None, cwd), Path::new("/cwd/.notary"));
        assert_eq!(
            notary_default_dir(Some(Path::new("")), cwd),
            Path::new("/cwd/.notary")
        );
        assert_eq!(
            docker_trust_dir(None, Some(Path::new("/home/u")), cwd),
            Path::new("/home/u/.docker/trust")
        );
        assert_eq!(
            docker_trust_dir(Some(Path::new("/etc/dc")), Some(Path::new("/home/u")), cwd),
            Path::new("/etc/dc/trust")
        );
        assert_eq!(
            docker_trust_dir(Some(Path::new("dc")), None, cwd),
            Path::new("/cwd/dc/trust")
        );
        assert_eq!(
            docker_config_dir(Some(Path::new("")), None, cwd),
            Path::new("/cwd/.docker")
        );
    }

    #[test]
    fn role_names() {
        for ok in [
            "root",
            "targets",
            "snapshot",
            "timestamp",
            "targets/a",
            "targets/a-b_c/d9",
        ] {
            assert!(is_valid_role_name(ok), "{ok}");
        }
        for bad in [
            "",
            "foo",
            "targets/",
            "targets/A",
            "targets/../x",
            "targets//x",
            "targets/x/",
            "targets/*",
            "root.json",
            "/targets",
            "../targets",
        ] {
            assert!(!is_valid_role_name(bad), "{bad}");
        }
        let td = TrustDir::new("/base");
        let err = td.repo(&gun("g")).cache().role_path("../x").unwrap_err();
        assert!(matches!(err, Error::InvalidRole { role, .. } if role == "../x"));
    }

    #[test]
    fn cache_round_trip_limits_and_delete() {
        let tmp = tempfile::tempdir().unwrap();
        let td = TrustDir::new(tmp.path());
        let g = gun("example.com/org/app");
        let repo = td.repo(&g);
        repo.create().unwrap();
        assert!(repo.metadata_dir().is_dir());
        assert!(repo.changelist_dir().is_dir());

        let cache = repo.cache();
        assert_eq!(cache.get("root", 100).unwrap(), None);
        cache.set("root", b"{\"r\":1}").unwrap();
        cache.set("targets/releases", b"rel").unwrap();
        cache.set("root", b"{\"r\":2}").unwrap();
        assert_eq!(cache.get("root", 100).unwrap().unwrap(), b"{\"r\":2}");
        assert_eq!(
            cache.get("root", 3).unwrap(),
            None,
            "oversize counts as absent"
        );
        assert!(repo.metadata_dir().join("targets/releases.json").is_file());
        assert_eq!(cache.roles().unwrap(), ["root", "targets/releases"]);

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(repo.metadata_dir().join("root.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }

        cache.remove("targets/releases").unwrap();
        cache.remove("targets/releases").unwrap();
        assert_eq!(cache.roles().unwrap(), ["root"]);

        // Keys survive a delete of the repository.
        fs::create_dir_all(td.private_dir()).unwrap();
        fs::write(td.private_dir().join("k.key"), b"key").unwrap();
        td.delete_repo(&g).unwrap();
        assert!(!repo.path().exists());
        assert!(td.private_dir().join("k.key").is_file());
        assert!(tmp.path().join("tuf/example.com/org").is_dir());
        td.delete_repo(&g).unwrap();
    }
}
