//! Signer keys as sigstore uses them: ECDSA P-256 public keys, written as the SubjectPublicKeyInfo
//! PEM (`-----BEGIN PUBLIC KEY-----`) that `cosign verify --key` and `containers-policy.json`
//! `keyPath` take.

use std::collections::BTreeSet;

use p256::pkcs8::{DecodePublicKey as _, EncodePublicKey as _};
use signet_signer::{CryptoService, KeyInfo};
use signet_tuf::PublicKey;
use signet_tuf::notary::pem;

use super::error::SigstoreError;
use crate::error::{Error, Result};

/// The ECDSA P-256 verifying key of a TUF key (plain or x509).
///
/// # Errors
///
/// [`SigstoreError::UnsupportedKey`] for Ed25519 and RSA keys, and ECDSA keys on other curves.
pub fn verifying_key(key: &PublicKey) -> Result<p256::ecdsa::VerifyingKey> {
    let unsupported = |keytype: String| {
        Error::Sigstore(SigstoreError::UnsupportedKey {
            key_id: key
                .canonical_key_id()
                .unwrap_or_else(|_| key.key_id())
                .to_string(),
            keytype,
        })
    };
    let plain = key
        .canonical_key()
        .map_err(|e| unsupported(format!("{} (unreadable: {e})", key.keytype().as_str())))?;
    if plain.keytype().as_str() != "ecdsa" {
        return Err(unsupported(plain.keytype().as_str().to_owned()));
    }
    p256::ecdsa::VerifyingKey::from_public_key_der(plain.public())
        .map_err(|_| unsupported("ECDSA key that is not on P-256".to_owned()))
}

/// The `PUBLIC KEY` PEM of a P-256 key.
///
/// # Errors
///
/// As [`verifying_key`].
pub fn public_key_pem(key: &PublicKey) -> Result<String> {
    let verifying = verifying_key(key)?;
    let der = verifying.to_public_key_der().map_err(|e| {
        Error::Sigstore(SigstoreError::UnsupportedKey {
            key_id: key.key_id().to_string(),
            keytype: format!("ecdsa (cannot encode: {e})"),
        })
    })?;
    Ok(pem::encode_plain(pem::PUBLIC_KEY, der.as_bytes()))
}

/// The key held here named `name`: the key whose name (its `role` label, which `trust key
/// generate NAME` and `trust key load --name NAME` set) is `name`, or whose canonical key ID
/// is `name`.
///
/// # Errors
///
/// [`SigstoreError::KeyNotFound`], [`SigstoreError::SeveralKeys`] when several keys have the
/// name, key store errors.
pub fn find_named_key(crypto: &CryptoService, name: &str) -> Result<KeyInfo> {
    crypto.reload();
    let keys = crypto.list_keys().map_err(|e| Error::Key {
        gun: String::new(),
        role: name.to_owned(),
        source: Box::new(e),
    })?;
    let mut seen = BTreeSet::new();
    let mut found: Vec<KeyInfo> = keys
        .into_iter()
        .filter(|info| info.role == name || info.key_id.as_str() == name)
        .filter(|info| seen.insert(info.key_id.clone()))
        .collect();
    match found.len() {
        0 => Err(Error::Sigstore(SigstoreError::KeyNotFound {
            name: name.to_owned(),
        })),
        1 => Ok(found.remove(0)),
        _ => Err(Error::Sigstore(SigstoreError::SeveralKeys {
            name: name.to_owned(),
            key_ids: found.iter().map(|k| k.key_id.to_string()).collect(),
        })),
    }
}

/// The `PUBLIC KEY` PEM of the signer key `name` (see [`find_named_key`]), with its
/// description. Reading the key may ask for its passphrase (or open the YubiHSM 2 holding it).
///
/// # Errors
///
/// As [`find_named_key`] and [`public_key_pem`], key store errors.
pub fn export_public_key(crypto: &CryptoService, name: &str) -> Result<(KeyInfo, String)> {
    let info = find_named_key(crypto, name)?;
    let signer = crypto
        .require_signer_by_id(&info.key_id)
        .map_err(|e| Error::Key {
            gun: info.gun.clone().unwrap_or_default(),
            role: info.role.clone(),
            source: Box::new(e),
        })?;
    let text = public_key_pem(signer.public_key())?;
    Ok((info, text))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use signet_signer::{KeyAlgorithm, KeyStore as _, MemoryKeyStore, PrivateKey};

    use super::*;

    #[test]
    fn pem_is_the_p256_spki_and_other_keys_are_refused() {
        let key = PrivateKey::generate(KeyAlgorithm::Ecdsa).unwrap();
        let text = public_key_pem(key.public_key()).unwrap();
        assert!(text.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{text}");
        assert!(text.ends_with("-----END PUBLIC KEY-----\n"), "{text}");
        let parsed = p256::ecdsa::VerifyingKey::from_public_key_pem(&text).unwrap();
        assert_eq!(parsed, verifying_key(key.public_key()).unwrap());

        let ed25519 = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let rsa = PublicKey::new(signet_tuf::KeyType::parse("rsa"), vec![1; 16]);
        for (key, expected) in [(ed25519.public_key(), "ed25519"), (&rsa, "rsa")] {
            let error = public_key_pem(key).unwrap_err();
            assert!(
                matches!(
                    error,
                    Error::Sigstore(SigstoreError::UnsupportedKey { ref keytype, .. })
                        if keytype == expected
                ),
                "{error}"
            );
            assert!(error.to_string().contains("ECDSA P-256"), "{error}");
        }
    }

    #[test]
    fn named_keys_are_found_by_name_or_id() {
        let store = Arc::new(MemoryKeyStore::new());
        let alice = PrivateKey::generate(KeyAlgorithm::Ecdsa).unwrap();
        store.add_key(&alice, "alice", None).unwrap();
        let crypto = CryptoService::new(vec![store.clone()]);
        let (info, text) = export_public_key(&crypto, "alice").unwrap();
        assert_eq!(info.key_id, alice.public_key().key_id());
        assert_eq!(text, public_key_pem(alice.public_key()).unwrap());
        let by_id = find_named_key(&crypto, alice.public_key().key_id().as_str()).unwrap();
        assert_eq!(by_id.key_id, info.key_id);

        let error = find_named_key(&crypto, "bob").unwrap_err();
        assert!(error.to_string().contains("no key named bob"), "{error}");

        let second = PrivateKey::generate(KeyAlgorithm::Ecdsa).unwrap();
        store.add_key(&second, "alice", None).unwrap();
        let error = find_named_key(&crypto, "alice").unwrap_err();
        assert!(
            matches!(error, Error::Sigstore(SigstoreError::SeveralKeys { ref key_ids, .. }) if key_ids.len() == 2),
            "{error}"
        );
    }
}
