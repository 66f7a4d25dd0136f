//! Migration of the Notary 0.1–0.4 private key layouts to the flat 0.5+ layout.
//!
//! Notary ≤ 0.2 kept `private/root_keys/<id>_root.key` and `private/tuf_keys/<gun>/<id>_<role>.key`;
//! 0.3–0.4 kept `private/root_keys/<id>.key`, `private/tuf_keys/<gun>/<id>.key` and delegation
//! keys in `private/tuf_keys/<id>.key` with a `role` header. On opening a key store, Notary
//! moves every such file to `private/<id>.key`:
//!
//! * the directory below `root_keys`/`tuf_keys` becomes a `gun` header;
//! * a `_<role>` file-name suffix becomes a `role` header and is removed from the ID (the part
//!   after the first `_` up to the next one is the role, exactly like Go's `strings.Split`);
//! * only the first PEM block is kept and re-encoded as it is — legacy `Proc-Type`/`DEK-Info`
//!   encryption stays, nothing is decrypted;
//! * `root_keys`, `tuf_keys` and `private/trusted_certificates` are then removed.
//!
//! One deliberate difference: Go deletes the old directories even when a file could not be
//! decoded or written (losing it). Here a directory whose files were not all migrated is left in
//! place and the files are reported in [`Migration::skipped`].

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::private_fs;
use signet_tuf::notary::pem;

/// Directory of root keys in Notary ≤ 0.4.
pub(crate) const ROOT_KEYS_SUBDIR: &str = "root_keys";
/// Directory of non-root keys in Notary ≤ 0.4.
pub(crate) const NON_ROOT_KEYS_SUBDIR: &str = "tuf_keys";
/// Unused certificate directory removed by the migration.
const TRUSTED_CERTIFICATES_SUBDIR: &str = "trusted_certificates";

/// What a legacy-layout migration did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migration {
    /// Key files written in the new layout, as names under `private/` (`<id>.key`).
    pub migrated: Vec<PathBuf>,
    /// Legacy files that could not be migrated (no PEM block, or a write failed); their
    /// directories were kept.
    pub skipped: Vec<PathBuf>,
}

/// Migrates the legacy layouts under `private_dir` (see the module documentation).
pub(crate) fn migrate_legacy_layout(private_dir: &Path) -> Result<Migration> {
    let mut migration = Migration::default();
    for subdir in [ROOT_KEYS_SUBDIR, NON_ROOT_KEYS_SUBDIR] {
        let dir = private_dir.join(subdir);
        if fs::symlink_metadata(&dir).is_err() {
            continue;
        }
        let skipped_before = migration.skipped.len();
        for relative in private_fs::list_files(&dir, "key") {
            let legacy_path = dir.join(&relative);
            match migrate_file(private_dir, &legacy_path, &relative) {
                Ok(new_name) => migration.migrated.push(new_name),
                Err(_) => migration.skipped.push(legacy_path),
            }
        }
        if migration.skipped.len() == skipped_before {
            remove_all(&dir)?;
        }
    }
    remove_all(&private_dir.join(TRUSTED_CERTIFICATES_SUBDIR))?;
    Ok(migration)
}

/// Moves one legacy file; `relative` is its path below `root_keys`/`tuf_keys`.
fn migrate_file(private_dir: &Path, legacy_path: &Path, relative: &Path) -> Result<PathBuf> {
    let text = fs::read_to_string(legacy_path).map_err(|e| Error::io(legacy_path, e))?;
    let mut block = pem::decode_first(&text).ok_or_else(|| Error::Pem {
        context: legacy_path.display().to_string(),
        reason: "no PEM block found".to_owned(),
    })?;
    let mut key_id = relative
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let gun_dir = relative
        .parent()
        .map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/")
        })
        .unwrap_or_default();
    if !gun_dir.is_empty() {
        block.set_header(pem::GUN_HEADER, gun_dir);
    }
    if key_id.contains('_') {
        let role = key_id.split('_').nth(1).unwrap_or_default().to_owned();
        if let Some(stripped) = key_id.strip_suffix(&format!("_{role}")) {
            key_id = stripped.to_owned();
        }
        block.set_header(pem::ROLE_HEADER, role);
    }
    let new_name = PathBuf::from(format!("{key_id}.key"));
    private_fs::write_private_file(&private_dir.join(&new_name), block.encode()?.as_bytes())?;
    Ok(new_name)
}

fn remove_all(path: &Path) -> Result<()> {
    let result = match fs::symlink_metadata(path) {
        Err(_) => return Ok(()),
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
    };
    result.map_err(|e| Error::io(path, e))
}
