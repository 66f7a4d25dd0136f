//! `trust key generate` and `trust key load`: signer keys in the trust directory's key store
//! (role = the key name, no GUN, encrypted with the passphrase the retriever gives for that
//! role; with docker's environment variables that is the repository passphrase).

use std::path::{Path, PathBuf};

use signet_signer::keyfile;
use signet_signer::passphrase::decrypt_with_retries;
use signet_signer::{CryptoService, KeyAlgorithm, KeyStore, PassphraseRetriever};
use signet_tuf::notary::pem::{self, PemBlock};
use signet_tuf::{KeyId, PublicKey};

use super::validate_key_name;
use crate::error::{Error, Result, TrustError};
use crate::fsutil;

/// Largest key file `key load` reads.
pub const MAX_KEY_FILE_SIZE: u64 = 1 << 20;

/// The alias passphrases of encrypted files given to `key load` are asked under: the
/// environment's `SIGNET_KEY_FILE_PASSPHRASE` when set, else docker's repository passphrase.
pub const ENCRYPTED_ALIAS: &str = signet_signer::passphrase::KEY_FILE_ALIAS;

/// What `key generate` produced.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    /// The canonical ID of the new key.
    pub key_id: KeyId,
    /// The public key file written.
    pub public_path: PathBuf,
}

/// The `PUBLIC KEY` PEM of `key` with a `role: <role>` header (what `key generate` writes).
///
/// # Errors
///
/// [`TrustError::KeyFile`] for a key that is not a plain SubjectPublicKeyInfo key.
pub fn public_key_pem(key: &PublicKey, role: &str, path: &Path) -> Result<String> {
    let spki = match key.keytype().as_str() {
        "ecdsa" | "rsa" => key.public().to_vec(),
        other => {
            return Err(Error::Trust(TrustError::KeyFile {
                path: path.to_path_buf(),
                reason: format!("cannot write a {other} key as a PUBLIC KEY PEM"),
            }));
        }
    };
    let mut block = PemBlock::new(pem::PUBLIC_KEY, spki);
    block.set_header(pem::ROLE_HEADER, role);
    block.encode().map_err(|e| {
        Error::Trust(TrustError::KeyFile {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    })
}

/// `trust key generate NAME --dir DIR`: an ECDSA P-256 key stored with role `name` (no GUN),
/// and `DIR/NAME.pub` (0600, never overwritten).
///
/// # Errors
///
/// [`TrustError::InvalidName`], [`TrustError::KeyFile`] when `dir` does not exist or the
/// public key file exists, key store errors.
pub fn generate(crypto: &CryptoService, name: &str, dir: &Path) -> Result<GeneratedKey> {
    validate_key_name(name)?;
    if !dir.is_dir() {
        return Err(Error::Trust(TrustError::KeyFile {
            path: dir.to_path_buf(),
            reason: format!("public key path does not exist: \"{}\"", dir.display()),
        }));
    }
    let public_path = dir.join(format!("{name}.pub"));
    if public_path.exists() {
        return Err(Error::Trust(TrustError::KeyFile {
            reason: format!(
                "public key file already exists: \"{}\"",
                public_path.display()
            ),
            path: public_path,
        }));
    }
    let signer = crypto
        .create(KeyAlgorithm::Ecdsa, name, None)
        .map_err(|e| Error::Key {
            gun: String::new(),
            role: name.to_owned(),
            source: Box::new(e),
        })?;
    let key = signer.public_key().clone();
    let key_id = key.canonical_key_id().map_err(|e| Error::Metadata {
        gun: String::new(),
        role: name.to_owned(),
        source: Box::new(e),
    })?;
    let text = public_key_pem(&key, name, &public_path)?;
    fsutil::write_new_file(&public_path, text.as_bytes())?;
    Ok(GeneratedKey {
        key_id,
        public_path,
    })
}

/// Refuses key files that the group or others may read or write.
///
/// # Errors
///
/// [`TrustError::KeyFile`] naming the file, [`Error::Io`].
pub fn check_private_permissions(path: &Path) -> Result<()> {
    let metadata = std::fs::metadata(path).map_err(|e| Error::io("read", path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if metadata.permissions().mode() & 0o077 != 0 {
            return Err(Error::Trust(TrustError::KeyFile {
                path: path.to_path_buf(),
                reason: format!(
                    "refusing to load key from {}: private key file must not be readable or writable by others",
                    path.display()
                ),
            }));
        }
    }
    if metadata.len() > MAX_KEY_FILE_SIZE {
        return Err(Error::Trust(TrustError::KeyFile {
            path: path.to_path_buf(),
            reason: format!(
                "{} is larger than {MAX_KEY_FILE_SIZE} bytes and cannot be a key file",
                path.display()
            ),
        }));
    }
    Ok(())
}

/// `trust key load --name NAME FILE`: reads one private key PEM (PKCS#8, encrypted PKCS#8 or a
/// legacy EC / RSA key, with or without a `path` header), decrypting it with a passphrase
/// asked under [`ENCRYPTED_ALIAS`] when it is encrypted, and stores it with role `name` (no
/// GUN), encrypted again with the passphrase the store's retriever gives for `name`.
///
/// # Errors
///
/// [`TrustError::InvalidName`], [`TrustError::KeyFile`] for permissions or a file without a
/// private key, [`TrustError::KeyFileUnreadable`] for a key that cannot be decrypted or
/// decoded; key store errors.
pub fn load(
    store: &dyn KeyStore,
    retriever: &dyn PassphraseRetriever,
    path: &Path,
    name: &str,
) -> Result<KeyId> {
    validate_key_name(name)?;
    check_private_permissions(path)?;
    let bytes = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
    let not_a_key = || {
        Error::Trust(TrustError::KeyFile {
            path: path.to_path_buf(),
            reason: format!(
                "provided file {} is not a supported private key - to add a signer's public key use 'signet trust signer add'",
                path.display()
            ),
        })
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| not_a_key())?;
    let block = pem::decode_first(text).ok_or_else(not_a_key)?;
    if !keyfile::is_private_key_label(&block.label) {
        return Err(not_a_key());
    }
    let context = path.display().to_string();
    let cannot_load = |e: signet_signer::Error| {
        Error::Trust(TrustError::KeyFileUnreadable {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
    };
    let key = if keyfile::is_encrypted(&block) {
        decrypt_with_retries(retriever, &context, ENCRYPTED_ALIAS, |passphrase| {
            keyfile::decode_key_block(&block, passphrase, &context)
        })
        .map_err(cannot_load)?
    } else {
        keyfile::decode_key_block(&block, "", &context).map_err(cannot_load)?
    };
    let info = store.add_key(&key, name, None).map_err(|e| Error::Key {
        gun: String::new(),
        role: name.to_owned(),
        source: Box::new(e),
    })?;
    Ok(info.key_id)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use signet_signer::passphrase::ConstantRetriever;
    use signet_signer::{FileKeyStore, PrivateKey};

    use super::*;

    fn write_mode(path: &Path, text: &str, mode: u32) {
        std::fs::write(path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
    }

    fn store(dir: &Path) -> Arc<FileKeyStore> {
        Arc::new(FileKeyStore::open(dir, Arc::new(ConstantRetriever::new("repo-pass"))).unwrap())
    }

    #[test]
    fn generate_writes_public_key_and_stores_private_key() {
        let trust = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let store = store(trust.path());
        let crypto = CryptoService::new(vec![store.clone() as Arc<dyn KeyStore>]);
        let generated = generate(&crypto, "alice", out.path()).unwrap();
        let text = std::fs::read_to_string(&generated.public_path).unwrap();
        assert!(
            text.starts_with("-----BEGIN PUBLIC KEY-----\nrole: alice\n"),
            "{text}"
        );
        let public = crate::delegation_keys::parse_public_key(
            &generated.public_path,
            &text,
            chrono::Utc::now(),
        )
        .unwrap();
        assert_eq!(public.canonical_key_id().unwrap(), generated.key_id);
        let info = store.key_info(&generated.key_id).unwrap();
        assert_eq!(info.role, "alice");
        assert_eq!(info.gun, None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&generated.public_path)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let err = generate(&crypto, "alice", out.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("already exists"), "{err}");
        assert!(generate(&crypto, "Alice", out.path()).is_err());
        assert!(generate(&crypto, "bob", &out.path().join("missing")).is_err());
    }

    fn load_and_check(text: &str, retriever: &dyn PassphraseRetriever, expected: &KeyId) {
        let trust = tempfile::tempdir().unwrap();
        let files = tempfile::tempdir().unwrap();
        let path = files.path().join("key.pem");
        write_mode(&path, text, 0o600);
        let store = store(trust.path());
        let id = load(store.as_ref(), retriever, &path, "signer").unwrap();
        assert_eq!(&id, expected);
        let info = store.key_info(&id).unwrap();
        assert_eq!(info.role, "signer");
        let stored =
            std::fs::read_to_string(trust.path().join("private").join(format!("{id}.key")))
                .unwrap();
        assert!(stored.contains("ENCRYPTED PRIVATE KEY"), "{stored}");
        assert!(!stored.contains("gun:"), "{stored}");
        // Stored under the repository passphrase.
        keyfile::decode_key_file(&stored, "repo-pass", "stored").unwrap();
    }

    #[test]
    fn load_accepts_unencrypted_and_encrypted_keys() {
        let key = PrivateKey::generate_ecdsa().unwrap();
        let id = key.public_key().canonical_key_id().unwrap();
        let plain = keyfile::encode_key_file(&key, "", None, "").unwrap();
        load_and_check(&plain, &ConstantRetriever::new("unused"), &id);

        let encrypted = keyfile::encode_key_file(&key, "alice", None, "file-pass").unwrap();
        load_and_check(&encrypted, &ConstantRetriever::new("file-pass"), &id);

        let mut block = pem::decode_first(&encrypted).unwrap();
        block.set_header(pem::PATH_HEADER, id.as_str());
        let with_path = block.encode().unwrap();
        load_and_check(&with_path, &ConstantRetriever::new("file-pass"), &id);
    }

    #[test]
    fn load_refuses_bad_files() {
        let trust = tempfile::tempdir().unwrap();
        let files = tempfile::tempdir().unwrap();
        let store = store(trust.path());
        let retriever = ConstantRetriever::new("x");
        let key = PrivateKey::generate_ecdsa().unwrap();
        let plain = keyfile::encode_key_file(&key, "", None, "").unwrap();

        #[cfg(unix)]
        {
            let open = files.path().join("open.pem");
            write_mode(&open, &plain, 0o644);
            let err = load(store.as_ref(), &retriever, &open, "signer").unwrap_err();
            assert!(
                err.to_string()
                    .contains("must not be readable or writable by others")
            );
        }

        let public = files.path().join("pub.pem");
        let text = public_key_pem(key.public_key(), "x", &public).unwrap();
        write_mode(&public, &text, 0o600);
        let err = load(store.as_ref(), &retriever, &public, "signer").unwrap_err();
        assert!(
            err.to_string().contains("not a supported private key"),
            "{err}"
        );

        let encrypted = keyfile::encode_key_file(&key, "alice", None, "right").unwrap();
        let enc = files.path().join("enc.pem");
        write_mode(&enc, &encrypted, 0o600);
        let err = load(store.as_ref(), &retriever, &enc, "signer").unwrap_err();
        assert!(err.to_string().contains("cannot load key"), "{err}");

        write_mode(&enc, &plain, 0o600);
        assert!(load(store.as_ref(), &retriever, &enc, "Bad").is_err());
    }
}
