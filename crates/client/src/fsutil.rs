//! Trust-dir file helpers: bounded reads, removals that tolerate missing files, randomness, and
//! the owner-only writes of [`signet_signer::private_fs`].

use std::fs;
use std::io::{self, Read as _};
use std::path::Path;

use rand_core::{OsRng, RngCore as _};

use crate::error::{Error, Result};

pub(crate) use signet_signer::private_fs::{
    create_private_dir, write_new_file, write_private_file,
};

/// Reads `path` if it exists. More than `max_len` bytes counts as [`ReadLimited::TooLarge`].
pub(crate) fn read_limited(path: &Path, max_len: u64) -> Result<ReadLimited> {
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ReadLimited::Missing),
        Err(e) => return Err(Error::io("open", path, e)),
    };
    let mut bytes = Vec::new();
    file.take(max_len.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", path, e))?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > max_len {
        return Ok(ReadLimited::TooLarge);
    }
    Ok(ReadLimited::Bytes(bytes))
}

/// Outcome of [`read_limited`].
pub(crate) enum ReadLimited {
    /// The file's contents.
    Bytes(Vec<u8>),
    /// No such file.
    Missing,
    /// The file is larger than the limit.
    TooLarge,
}

/// Removes `path`; a missing file is not an error.
pub(crate) fn remove_file_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", path, e)),
    }
}

/// Removes the directory tree `path`; a missing directory is not an error.
pub(crate) fn remove_dir_all_if_exists(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove directory", path, e)),
    }
}

/// `N` random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use signet_signer::private_fs::{DIR_MODE, FILE_MODE};

    #[test]
    fn atomic_write_creates_private_parents_and_replaces() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b/file.json");
        write_private_file(&path, b"one").unwrap();
        write_private_file(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, ["file.json"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), FILE_MODE);
            assert_eq!(mode(&tmp.path().join("a")), DIR_MODE);
            assert_eq!(mode(&tmp.path().join("a/b")), DIR_MODE);
        }
    }

    #[test]
    fn read_limited_reports_missing_and_oversize() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("f");
        assert!(matches!(
            read_limited(&path, 10).unwrap(),
            ReadLimited::Missing
        ));
        fs::write(&path, b"12345").unwrap();
        assert!(matches!(read_limited(&path, 5).unwrap(), ReadLimited::Bytes(b) if b == b"12345"));
        assert!(matches!(
            read_limited(&path, 4).unwrap(),
            ReadLimited::TooLarge
        ));
    }
}
