//! The key-encryption key that seals server-held private keys in the database.

use std::io::Write as _;
use std::path::Path;

use zeroize::Zeroizing;

pub use signet_signer::seal::Kek;

pub use crate::error::KekError;

/// Reads a key-encryption key file (32 bytes as 64 hex digits, surrounding whitespace
/// ignored).
pub fn load(path: &Path) -> Result<Kek, KekError> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).map_err(|source| KekError::Io {
            path: path.to_owned(),
            source,
        })?,
    );
    let mut bytes = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), bytes.as_mut()).map_err(|_| KekError::Format {
        path: path.to_owned(),
    })?;
    Ok(Kek::from_bytes(*bytes))
}

/// Reads the key file, creating it (mode 0600, parent directories included) with a new
/// random key when it does not exist. Returns the key and whether it was created.
pub fn load_or_create(path: &Path) -> Result<(Kek, bool), KekError> {
    if path.exists() {
        return load(path).map(|k| (k, false));
    }
    let io = |source| KekError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), bytes.as_mut())
        .map_err(|_| KekError::Random)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(io)?;
    let text = Zeroizing::new(format!("{}\n", hex::encode(*bytes)));
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok((Kek::from_bytes(*bytes), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_then_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/kek");
        let (_, created) = load_or_create(&path).unwrap();
        assert!(created);
        let text = std::fs::read_to_string(&path).unwrap();
        let (_, created) = load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        assert_eq!(text.trim().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn malformed_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kek");
        std::fs::write(&path, "xyz").unwrap();
        assert!(matches!(load(&path), Err(KekError::Format { .. })));
    }
}
