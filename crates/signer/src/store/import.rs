//! Preparing PEM blocks for `notary key import`.
//!
//! Per block, in order (Notary's `trustmanager.ImportKeys`):
//! 1. A legacy `path` header with directories (`tuf_keys/<gun>/<id>`) gives the GUN from the
//!    directories after `tuf_keys`, and is reduced to its base name.
//! 2. A missing `gun` is taken from the fallback GUN; a missing `role` from the fallback role,
//!    else `delegation`.
//! 3. `targets`, `snapshot` and `timestamp` keys must have a GUN (else the block is skipped);
//!    for every other role the `gun` header is dropped.
//! 4. The file location is the `path` header; without one it is the key's ID, for which an
//!    encrypted key is decrypted with the passphrase of its role (Notary skips such blocks, so
//!    that it cannot import the files its own `key generate -o` writes). The `path` header is
//!    then removed.
//! 5. Unencrypted keys are encrypted with a passphrase asked for the key's role; encrypted
//!    blocks are kept as they are, without checking their passphrase.
//!
//! Unlike Notary, only private key blocks are considered, and a `path` that would leave the
//! `private/` directory is refused.

use std::path::{Component, Path};

use crate::error::Result;
use crate::keyfile;
use crate::passphrase::{self, PassphraseRetriever};
use signet_tuf::notary::pem::{self, PemBlock};

/// Role given to imported keys without `role` header or fallback (Notary's `DefaultImportRole`).
pub const DEFAULT_IMPORT_ROLE: &str = "delegation";
const NON_ROOT_KEYS_SUBDIR: &str = "tuf_keys";

/// A block ready to be written: its location under `private/` (without `.key`) and its text.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) location: String,
    pub(crate) text: String,
}

/// Applies steps 1–5 to `block`. `Ok(Err(reason))` means the block is skipped.
pub(crate) fn prepare(
    mut block: PemBlock,
    fallback_role: Option<&str>,
    fallback_gun: Option<&str>,
    retriever: &dyn PassphraseRetriever,
) -> Result<Result<Prepared, String>> {
    if !keyfile::is_private_key_label(&block.label) {
        return Ok(Err(format!("{} block is not a private key", block.label)));
    }
    handle_legacy_path(&mut block);
    if block.header(pem::GUN_HEADER).unwrap_or_default().is_empty()
        && let Some(gun) = fallback_gun.filter(|g| !g.is_empty())
    {
        block.set_header(pem::GUN_HEADER, gun);
    }
    if block
        .header(pem::ROLE_HEADER)
        .unwrap_or_default()
        .is_empty()
    {
        let role = fallback_role
            .filter(|r| !r.is_empty())
            .unwrap_or(DEFAULT_IMPORT_ROLE);
        block.set_header(pem::ROLE_HEADER, role);
    }
    let role = block
        .header(pem::ROLE_HEADER)
        .unwrap_or_default()
        .to_owned();
    if keyfile::role_keeps_gun(&role) {
        if block.header(pem::GUN_HEADER).unwrap_or_default().is_empty() {
            return Ok(Err(format!("{role} key without a GUN")));
        }
    } else {
        block.headers.remove(pem::GUN_HEADER);
    }

    let unencrypted = if keyfile::is_encrypted(&block) {
        None
    } else {
        keyfile::decode_key_block(&block, "", "imported key").ok()
    };
    let location = match block
        .headers
        .remove(pem::PATH_HEADER)
        .filter(|p| !p.is_empty())
    {
        Some(path) => path,
        None => match &unencrypted {
            Some(key) => key.key_id().to_string(),
            // An encrypted key without a `path` (as `key generate -o` writes it): its ID is
            // learnt by decrypting it with the passphrase of its role.
            None if keyfile::is_encrypted(&block) => {
                let context = format!("{role} key to import");
                passphrase::decrypt_with_retries(retriever, &context, &role, |pass| {
                    keyfile::decode_key_block(&block, pass, &context)
                })?
                .key_id()
                .to_string()
            }
            None => return Ok(Err(format!("{role} key cannot be decoded"))),
        },
    };
    if !is_inside_store(&location) {
        return Ok(Err(format!("path {location:?} is outside the key store")));
    }

    let text = match unencrypted {
        Some(key) => {
            let pass = passphrase::new_key_passphrase(retriever, &location, &role)?;
            let gun = block.header(pem::GUN_HEADER);
            keyfile::encode_key_file(&key, &role, gun, &pass)?
        }
        None => block.encode()?,
    };
    Ok(Ok(Prepared { location, text }))
}

/// Step 1: a `path` with directories comes from an old export.
fn handle_legacy_path(block: &mut PemBlock) {
    let Some(raw) = block.header(pem::PATH_HEADER).map(str::to_owned) else {
        return;
    };
    let path = Path::new(&raw);
    let Some(base) = path.file_name().map(|b| b.to_string_lossy().into_owned()) else {
        return;
    };
    if raw.is_empty() || base == raw {
        return;
    }
    let dir = path
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(rest) = dir.strip_prefix(NON_ROOT_KEYS_SUBDIR) {
        let gun = rest.trim_matches('/');
        if !gun.is_empty() {
            block.set_header(pem::GUN_HEADER, gun);
        }
    }
    block.set_header(pem::PATH_HEADER, base);
}

/// Whether `location` names a file below the store directory.
fn is_inside_store(location: &str) -> bool {
    let path = Path::new(location);
    path.components().count() > 0 && path.components().all(|c| matches!(c, Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passphrase::ConstantRetriever;
    use crate::private_key::PrivateKey;

    fn prepared(
        block: PemBlock,
        role: Option<&str>,
        gun: Option<&str>,
    ) -> Result<Prepared, String> {
        prepare(block, role, gun, &ConstantRetriever::new("pw")).unwrap()
    }

    #[test]
    fn unencrypted_keys_are_encrypted_under_their_id() {
        let key = PrivateKey::generate_ecdsa().unwrap();
        let block = keyfile::encode_key_block(&key, "", None, "").unwrap();
        let out = prepared(block, None, Some("ignored")).unwrap();
        assert_eq!(out.location, key.key_id().as_str());
        let written = pem::decode_first(&out.text).unwrap();
        assert_eq!(written.label, pem::ENCRYPTED_PRIVATE_KEY);
        assert_eq!(written.header("role"), Some(DEFAULT_IMPORT_ROLE));
        assert_eq!(written.header("gun"), None);
        assert_eq!(
            keyfile::decode_key_block(&written, "pw", "t")
                .unwrap()
                .key_id(),
            key.key_id()
        );
    }

    #[test]
    fn encrypted_keys_without_a_path_are_decrypted_for_their_id() {
        let key = PrivateKey::generate_ecdsa().unwrap();
        let block = keyfile::encode_key_block(&key, "targets/bob", None, "pw").unwrap();
        let out = prepared(block.clone(), Some("targets/bob"), Some("g")).unwrap();
        assert_eq!(out.location, key.key_id().as_str());
        let written = pem::decode_first(&out.text).unwrap();
        assert_eq!(written.contents, block.contents, "kept as it was encrypted");
        assert_eq!(written.header("role"), Some("targets/bob"));
        let wrong = prepare(block, None, None, &ConstantRetriever::new("other"));
        assert!(wrong.is_err(), "a wrong passphrase is an error, not a skip");
    }

    #[test]
    fn encrypted_keys_with_a_path_are_kept_verbatim() {
        let key = PrivateKey::generate_ecdsa().unwrap();
        let mut block = keyfile::encode_key_block(&key, "targets", Some("g"), "other").unwrap();
        let without_path = prepare(block.clone(), None, None, &ConstantRetriever::new("other"))
            .unwrap()
            .unwrap();
        assert_eq!(without_path.location, key.key_id().as_str());
        block.set_header(
            pem::PATH_HEADER,
            format!("tuf_keys/example.com/app/{}", key.key_id()),
        );
        block.headers.remove(pem::GUN_HEADER);
        let out = prepared(block.clone(), None, None).unwrap();
        assert_eq!(out.location, key.key_id().as_str());
        let written = pem::decode_first(&out.text).unwrap();
        assert_eq!(written.header("gun"), Some("example.com/app"));
        assert_eq!(written.header("path"), None);
        assert_eq!(written.contents, block.contents);
    }

    #[test]
    fn canonical_roles_need_a_gun_and_paths_stay_inside() {
        let key = PrivateKey::generate_ecdsa().unwrap();
        let block = keyfile::encode_key_block(&key, "snapshot", None, "").unwrap();
        assert!(prepared(block.clone(), None, None).is_err());
        assert_eq!(
            pem::decode_first(&prepared(block, None, Some("g")).unwrap().text)
                .unwrap()
                .header("gun"),
            Some("g")
        );
        let mut escaping = keyfile::encode_key_block(&key, "root", None, "x").unwrap();
        escaping.set_header(pem::PATH_HEADER, "../../etc/evil");
        // The legacy-path rule reduces it to its base name, which is harmless.
        assert_eq!(prepared(escaping, None, None).unwrap().location, "evil");
        assert!(!is_inside_store(".."));
        assert!(!is_inside_store("/abs"));
        assert!(is_inside_store("sub/id"));
        let cert = PemBlock::new(pem::CERTIFICATE, vec![1]);
        assert!(prepared(cert, None, None).is_err());
    }
}
