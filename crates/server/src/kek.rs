//! The key-encryption key that seals server-held private keys in the database.

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use bytes::Bytes;
use signet_signer::seal::{key_aad, open, open_private_key, seal};
use signet_tuf::key::KeyId;
use zeroize::Zeroizing;

pub use signet_signer::seal::Kek;

pub use crate::error::{KekError, RotateKekError};
use crate::store::{KeyState, ResealedKey, Store};

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

/// One server key of a [`RotateReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotatedKey {
    /// The GUN.
    pub gun: String,
    /// The role (`timestamp` or `snapshot`).
    pub role: String,
    /// The key ID.
    pub key_id: String,
    /// The key's state.
    pub state: KeyState,
    /// Whether the key has a sealed copy (re-sealed); `false` for a key only a YubiHSM 2
    /// holds, which no key-encryption key protects.
    pub sealed: bool,
}

/// What `signet-server rotate-kek` did (or, dry, would do), key by key in the order of the
/// store (GUN, role, creation).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RotateReport {
    /// Whether nothing was changed.
    pub dry_run: bool,
    /// Whether the new key file was created by this run.
    pub created_new_kek: bool,
    /// Every server key.
    pub keys: Vec<RotatedKey>,
}

impl RotateReport {
    /// How many keys were (or would be) re-sealed.
    #[must_use]
    pub fn resealed(&self) -> usize {
        self.keys.iter().filter(|k| k.sealed).count()
    }
}

impl fmt::Display for RotateReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.dry_run {
            writeln!(
                f,
                "dry run: nothing was changed; this is what would be done"
            )?;
        }
        if self.created_new_kek {
            writeln!(f, "new key-encryption key file created")?;
        }
        for k in &self.keys {
            let action = if k.sealed {
                "re-sealed"
            } else {
                "held in the YubiHSM 2 only, no sealed copy"
            };
            writeln!(
                f,
                "{:<9} {:<8} {} {}: {action}",
                k.role, k.state, k.gun, k.key_id
            )?;
        }
        let verb = if self.dry_run {
            "would be re-sealed"
        } else {
            "re-sealed"
        };
        writeln!(
            f,
            "{} server key(s) {verb} under the new key-encryption key, {} left on the YubiHSM 2",
            self.resealed(),
            self.keys.len() - self.resealed()
        )?;
        if !self.dry_run && self.resealed() > 0 {
            writeln!(
                f,
                "now point keys.kek_file (or --kek-file) at the new file before starting the server"
            )?;
        }
        Ok(())
    }
}

/// Opens every sealed server key of `store` with `current` and seals it again under the key
/// of `new_path` (created, mode 0600, once every key opened, when it does not exist, unless
/// `dry_run`), then
/// replaces them all in one transaction. The plaintext is sealed again byte for byte, with
/// the same associated data (GUN, role and key ID). Keys held only by a YubiHSM 2 are listed
/// and left alone.
///
/// Every server using the database must be stopped first: a running server keeps the
/// current key and could not open the re-sealed keys.
///
/// # Errors
///
/// Nothing is changed on any error: [`RotateKekError::Open`] when a key does not open with
/// `current` (every key is tried before anything is written), [`RotateKekError::SameKek`]
/// when the new key opens the keys too, [`RotateKekError::Changed`] when the keys changed
/// meanwhile, [`RotateKekError::Kek`], [`RotateKekError::Seal`], [`RotateKekError::Store`].
pub async fn rotate(
    store: &Store,
    current: &Kek,
    new_path: &Path,
    dry_run: bool,
) -> Result<RotateReport, RotateKekError> {
    let rows = store
        .all_server_keys()
        .await
        .map_err(|source| RotateKekError::Store {
            context: "read of every server key".to_owned(),
            source,
        })?;
    let mut report = RotateReport {
        dry_run,
        created_new_kek: false,
        keys: Vec::with_capacity(rows.len()),
    };
    // Every key is opened before anything is written, the new key file included.
    let mut opened = Vec::with_capacity(rows.len());
    for row in &rows {
        let sealed = row.has_sealed_copy();
        report.keys.push(RotatedKey {
            gun: row.gun.clone(),
            role: row.role.clone(),
            key_id: row.key_id.clone(),
            state: row.state,
            sealed,
        });
        if !sealed {
            continue;
        }
        let failed = |reason: String| RotateKekError::Open {
            gun: row.gun.clone(),
            role: row.role.clone(),
            key_id: row.key_id.clone(),
            reason,
        };
        let key_id: KeyId = row
            .key_id
            .parse()
            .map_err(|e| failed(format!("invalid key ID: {e}")))?;
        // Checks the blob opens and holds the row's key; the plaintext below is what is
        // sealed again, so that the PKCS#8 bytes stay exactly as they were.
        open_private_key(
            current,
            &row.sealed_private_key,
            &row.gun,
            &row.role,
            &key_id,
        )
        .map_err(|e| failed(e.to_string()))?;
        let aad = key_aad(&row.gun, &row.role, &key_id);
        let plaintext =
            open(current, &row.sealed_private_key, &aad).map_err(|e| failed(e.to_string()))?;
        opened.push((row, aad, plaintext));
    }
    let new = if dry_run && !new_path.exists() {
        None
    } else if dry_run {
        Some(load(new_path)?)
    } else {
        let (kek, created) = load_or_create(new_path)?;
        report.created_new_kek = created;
        Some(kek)
    };
    let mut resealed = Vec::with_capacity(opened.len());
    for (row, aad, plaintext) in opened {
        let Some(new) = &new else { break };
        if open(new, &row.sealed_private_key, &aad).is_ok() {
            return Err(RotateKekError::SameKek {
                path: new_path.to_owned(),
                gun: row.gun.clone(),
                role: row.role.clone(),
                key_id: row.key_id.clone(),
            });
        }
        let bytes = seal(new, &plaintext, &aad).map_err(|e| RotateKekError::Seal {
            gun: row.gun.clone(),
            role: row.role.clone(),
            key_id: row.key_id.clone(),
            reason: e.to_string(),
        })?;
        resealed.push(ResealedKey {
            gun: row.gun.clone(),
            role: row.role.clone(),
            key_id: row.key_id.clone(),
            current: row.sealed_private_key.clone(),
            resealed: Bytes::from(bytes),
        });
    }
    if dry_run {
        return Ok(report);
    }
    let done = store
        .reseal_server_keys(&resealed)
        .await
        .map_err(|source| RotateKekError::Store {
            context: format!("re-sealing of {} server keys", resealed.len()),
            source,
        })?;
    if !done {
        return Err(RotateKekError::Changed);
    }
    tracing::info!(
        keys = resealed.len(),
        "server keys re-sealed under the new key-encryption key"
    );
    Ok(report)
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
