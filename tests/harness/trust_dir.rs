//! Temporary trust directories for notary-compatible clients.

use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::error::{HarnessError, Result};

/// A temporary directory holding a trust dir (`trust/`), a `HOME` for the client (`home/`, so
/// no user configuration leaks in) and a scratch folder (`files/`) for payloads and key files.
/// Everything is deleted on drop.
#[derive(Debug)]
pub struct TrustDir {
    root: TempDir,
}

impl TrustDir {
    /// An empty trust dir.
    pub fn new() -> Result<Self> {
        let root = tempfile::Builder::new()
            .prefix("signet-e2e-trust-")
            .tempdir()
            .map_err(|e| HarnessError::io("create temporary trust dir", e))?;
        for sub in ["trust", "home", "files"] {
            let path = root.path().join(sub);
            fs::create_dir(&path)
                .map_err(|e| HarnessError::io(format!("create {}", path.display()), e))?;
        }
        Ok(Self { root })
    }

    /// A trust dir holding a copy of `source` (for example a fixture's `trust/` folder).
    pub fn copy_of(source: &Path) -> Result<Self> {
        let dir = Self::new()?;
        copy_dir_all(source, &dir.path())?;
        Ok(dir)
    }

    /// The trust dir itself (what `notary -d` gets).
    pub fn path(&self) -> PathBuf {
        self.root.path().join("trust")
    }

    /// The `HOME` to give the client.
    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// A scratch folder beside the trust dir.
    pub fn files(&self) -> PathBuf {
        self.root.path().join("files")
    }

    /// Writes `contents` to `files/<name>` and returns its path.
    pub fn write_file(&self, name: &str, contents: &[u8]) -> Result<PathBuf> {
        let path = self.files().join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| HarnessError::io(format!("create {}", parent.display()), e))?;
        }
        fs::write(&path, contents)
            .map_err(|e| HarnessError::io(format!("write {}", path.display()), e))?;
        Ok(path)
    }
}

/// Recursively copies the contents of directory `from` into `to` (created if missing).
pub fn copy_dir_all(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).map_err(|e| HarnessError::io(format!("create {}", to.display()), e))?;
    let entries =
        fs::read_dir(from).map_err(|e| HarnessError::io(format!("read {}", from.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| HarnessError::io(format!("read {}", from.display()), e))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let file_type = entry
            .file_type()
            .map_err(|e| HarnessError::io(format!("stat {}", source.display()), e))?;
        if file_type.is_dir() {
            copy_dir_all(&source, &target)?;
        } else {
            fs::copy(&source, &target).map_err(|e| {
                HarnessError::io(
                    format!("copy {} to {}", source.display(), target.display()),
                    e,
                )
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_of_reproduces_nested_files() {
        let source = TrustDir::new().unwrap();
        source.write_file("a/b/c.txt", b"deep").unwrap();
        source.write_file("top.txt", b"top").unwrap();
        let copy = TrustDir::copy_of(&source.files()).unwrap();
        assert_eq!(fs::read(copy.path().join("a/b/c.txt")).unwrap(), b"deep");
        assert_eq!(fs::read(copy.path().join("top.txt")).unwrap(), b"top");
    }

    #[test]
    fn directories_are_removed_on_drop() {
        let dir = TrustDir::new().unwrap();
        let trust = dir.path();
        assert!(trust.is_dir() && dir.home().is_dir() && dir.files().is_dir());
        drop(dir);
        assert!(!trust.exists());
    }
}
