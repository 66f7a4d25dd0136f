//! Owner-only directories and files (Notary's 0700 / 0600 modes): the one home of these
//! writes for the signer, the client's trust dir and the CLI's exported files.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use ring::rand::SecureRandom as _;

pub use crate::error::FsError;

/// Mode of private directories (Notary's `PrivExecPerms`).
pub const DIR_MODE: u32 = 0o700;
/// Mode of private files (Notary's `PrivNoExecPerms`).
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and any missing parents with mode 0700 (existing directories are left as they
/// are).
///
/// # Errors
///
/// [`FsError`] (action `create directory`).
pub fn create_private_dir(dir: &Path) -> Result<(), FsError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(DIR_MODE);
    }
    builder
        .create(dir)
        .map_err(|e| FsError::new("create directory", dir, e))
}

/// Writes `contents` to `path` atomically: a mode 0600 temporary file in the same directory is
/// written, flushed to disk and renamed over `path`. Parent directories are created 0700.
///
/// # Errors
///
/// [`FsError`] naming the step that failed; no temporary file is left behind.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), FsError> {
    let dir = path.parent().ok_or_else(|| {
        FsError::new(
            "write",
            path,
            std::io::Error::other("path has no parent directory"),
        )
    })?;
    create_private_dir(dir)?;
    let temp = temp_path(path)?;
    let result = write_new_file(&temp, contents)
        .and_then(|()| fs::rename(&temp, path).map_err(|e| FsError::new("rename", path, e)));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Writes `contents` to a new file `path` (mode 0600) that must not exist yet, synced to disk.
///
/// # Errors
///
/// [`FsError`] (actions `create`, `write`, `sync`); an existing file is an `AlreadyExists`
/// error and is left untouched.
pub fn write_new_file(path: &Path, contents: &[u8]) -> Result<(), FsError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(FILE_MODE);
    }
    let mut file = options
        .open(path)
        .map_err(|e| FsError::new("create", path, e))?;
    file.write_all(contents)
        .map_err(|e| FsError::new("write", path, e))?;
    file.sync_all().map_err(|e| FsError::new("sync", path, e))
}

/// Writes `contents` to `path` in place, for files written where the user asked (exported
/// keys, generated key pairs): a new file is created with mode 0600, an existing one keeps its
/// mode and is truncated.
///
/// # Errors
///
/// [`FsError`] (actions `open`, `write`).
pub fn overwrite_private_file(path: &Path, contents: &[u8]) -> Result<(), FsError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(FILE_MODE);
    }
    let mut file = options
        .open(path)
        .map_err(|e| FsError::new("open", path, e))?;
    file.write_all(contents)
        .and_then(|()| file.flush())
        .map_err(|e| FsError::new("write", path, e))
}

fn temp_path(path: &Path) -> Result<PathBuf, FsError> {
    let mut random = [0u8; 8];
    ring::rand::SystemRandom::new()
        .fill(&mut random)
        .map_err(|_| {
            FsError::new(
                "write",
                path,
                std::io::Error::other("no randomness for temp file"),
            )
        })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(path.with_file_name(format!(".{name}.tmp-{}", hex::encode(random))))
}

/// Every regular file under `base` whose name ends in `.{extension}`, as paths relative to
/// `base`, sorted. Symbolic links (to files or directories, including `base` itself) are
/// ignored, as are entries that cannot be read — the behaviour of Go's `filepath.Walk` in
/// Notary's key store.
pub(crate) fn list_files(base: &Path, extension: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let is_real_dir = fs::symlink_metadata(base).is_ok_and(|m| m.is_dir());
    if is_real_dir {
        walk(base, Path::new(""), extension, &mut found);
    }
    found.sort();
    found
}

fn walk(dir: &Path, relative: &Path, extension: &str, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let name = entry.file_name();
        let rel = relative.join(&name);
        if file_type.is_symlink() {
            continue;
        }
        if file_type.is_dir() {
            walk(&entry.path(), &rel, extension, found);
        } else if file_type.is_file()
            && Path::new(&name).extension().is_some_and(|e| e == extension)
        {
            found.push(rel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_private_and_replace_existing_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/file.key");
        write_private_file(&path, b"one").unwrap();
        write_private_file(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&dir.path().join("a")), 0o700);
            assert_eq!(mode(&dir.path().join("a/b")), 0o700);
        }
        assert_eq!(
            fs::read_dir(dir.path().join("a/b")).unwrap().count(),
            1,
            "no temp files left"
        );
    }

    #[cfg(unix)]
    #[test]
    fn listing_skips_symlinks_and_other_extensions() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("private");
        write_private_file(&base.join("x.key"), b"").unwrap();
        write_private_file(&base.join("sub/y.key"), b"").unwrap();
        write_private_file(&base.join("z.pem"), b"").unwrap();
        write_private_file(&dir.path().join("outside/w.key"), b"").unwrap();
        std::os::unix::fs::symlink(base.join("x.key"), base.join("link.key")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside"), base.join("linkdir")).unwrap();
        assert_eq!(
            list_files(&base, "key"),
            vec![PathBuf::from("sub/y.key"), PathBuf::from("x.key")]
        );
        let linked = dir.path().join("linked-private");
        std::os::unix::fs::symlink(&base, &linked).unwrap();
        assert!(list_files(&linked, "key").is_empty());
    }
}
