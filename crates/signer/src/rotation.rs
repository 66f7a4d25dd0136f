//! New keys for a role (`notary key rotate`), the key-store side of it.
//!
//! Rotation replaces every key of a base role with a new one: generated (ECDSA P-256) or
//! supplied by the user. A new root key always gets a fresh self-signed certificate, and the
//! new root must then be signed by the old *and* the new root keys, so old root keys are never
//! removed from the store. For targets and snapshot the old private keys can be retired once
//! the new root is published ([`retire_old_keys`]), as Notary does.
//!
//! Which rotations are allowed follows Notary ([`check_rotation`]): root and targets only
//! locally, snapshot locally or by the server, timestamp only by the server, delegations never.
//!
//! The new key comes from a [`NewKey`]: generated, supplied by the user (a key file read with
//! [`read_key_file`], as `notary key rotate -k` does), or a key a store already holds, by key
//! ID — for example a key on a YubiHSM 2, found by its object ID with
//! [`YubiHsmKeyStore::device_key_by_object_id`](crate::yubihsm::YubiHsmKeyStore::device_key_by_object_id).
//! [`rotate`] takes it from or puts it into the stores of a [`CryptoService`], in order.

use std::path::Path;
use std::sync::Arc;

use signet_tuf::key::{KeyId, PublicKey};

use crate::CryptoService;
use crate::cert::{self, RootCertificate};
use crate::error::{Error, Result};
use crate::keyfile;
use crate::passphrase::{self, PassphraseRetriever};
use crate::private_key::{KeyAlgorithm, PrivateKey};
use crate::signer::{CertifiedSigner, Signer};
use crate::store::KeyStore;
use signet_tuf::notary::pem;

/// Where the new key of a rotation comes from.
#[derive(Debug)]
pub enum NewKey {
    /// A key generated in the first store that accepts it (Notary generates ECDSA P-256).
    Generate(KeyAlgorithm),
    /// A key supplied by the user (for example read from a file with [`read_key_file`]); it is
    /// added to the first store that accepts it, for the rotated role (and GUN).
    Supplied(Box<PrivateKey>),
    /// A key one of the stores already holds, by canonical key ID (a trust-directory key, or
    /// a YubiHSM 2 key). The key is used as it is stored; its recorded role is not changed.
    Held(KeyId),
}

impl Default for NewKey {
    /// A generated ECDSA P-256 key, as Notary makes.
    fn default() -> Self {
        Self::Generate(KeyAlgorithm::Ecdsa)
    }
}

/// The result of rotating a role's key.
pub struct RotatedKey {
    /// Signs under [`public_key`](Self::public_key).
    pub signer: Arc<dyn Signer>,
    /// The key to list in `root.json` (`ecdsa-x509` for root, the plain key otherwise).
    pub public_key: PublicKey,
    /// The new root certificate (root rotations only).
    pub certificate: Option<RootCertificate>,
    /// The ID of the private key this rotation added to a key store (generated, or supplied
    /// and not held before); `None` for a key a store already held. When the rotation is
    /// abandoned (its publish failed), remove this key with [`discard`], or it stays behind
    /// as an orphan.
    pub created: Option<KeyId>,
}

impl std::fmt::Debug for RotatedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatedKey")
            .field("public_key", &self.public_key)
            .field("certificate", &self.certificate.is_some())
            .finish_non_exhaustive()
    }
}

/// Checks that rotating `role` of `gun` is allowed, locally (`server_managed == false`) or by
/// the server, with Notary's error messages.
pub fn check_rotation(gun: &str, role: &str, server_managed: bool) -> Result<()> {
    let refuse = |reason: String| Error::Rotation {
        gun: gun.to_owned(),
        role: role.to_owned(),
        reason,
    };
    match (role, server_managed) {
        ("root" | "targets", true) => Err(refuse(format!(
            "notary does not permit the server managing the {role} key"
        ))),
        ("timestamp", false) => Err(refuse(
            "notary does not permit the client managing the timestamp key".to_owned(),
        )),
        ("root" | "targets" | "snapshot", false) | ("snapshot" | "timestamp", true) => Ok(()),
        _ => Err(refuse(format!(
            "notary does not currently permit rotating the {role} key"
        ))),
    }
}

/// Reads a key file given for a rotation (`notary key rotate -k FILE`) or `init --rootkey`:
/// the first private key PEM block of `path`, decrypted with a passphrase from `retriever`
/// asked for alias `role`. Root keys must be encrypted, as Notary requires.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read, [`Error::Pem`] when it holds no private key,
/// [`Error::Rotation`] for an unencrypted root key, passphrase and format errors.
pub fn read_key_file(
    path: &Path,
    gun: &str,
    role: &str,
    retriever: &dyn PassphraseRetriever,
) -> Result<PrivateKey> {
    let context = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let block = pem::decode_all(&text)
        .into_iter()
        .find(|b| keyfile::is_private_key_label(&b.label))
        .ok_or_else(|| Error::Pem {
            context: context.clone(),
            reason: "no private key block".to_owned(),
        })?;
    if !keyfile::is_encrypted(&block) {
        if role == "root" {
            return Err(Error::Rotation {
                gun: gun.to_owned(),
                role: role.to_owned(),
                reason: format!("only encrypted root keys may be imported ({context})"),
            });
        }
        return keyfile::decode_key_block(&block, "", &context);
    }
    passphrase::decrypt_with_retries(retriever, &context, role, |pass| {
        keyfile::decode_key_block(&block, pass, &context)
    })
}

/// Creates or finds the new local key for `role` of `gun` among the stores of `service`
/// (searched and tried in order) and, for root, issues its certificate (CN = `gun`).
///
/// Old keys stay in their stores; remove replaced targets and snapshot keys with
/// [`retire_old_keys`] once the new root is published.
///
/// # Errors
///
/// [`Error::Rotation`] when Notary would refuse a local rotation of `role`;
/// [`Error::KeyNotInStores`] for a [`NewKey::Held`] key no store holds;
/// [`Error::Unsupported`] when every store refuses a generated or supplied key (or there are
/// no stores), and the first other store failure at once (as
/// [`CryptoService::create`]); certificate errors (root keys must be ECDSA P-256).
pub fn rotate(
    service: &CryptoService,
    gun: &str,
    role: &str,
    new_key: NewKey,
) -> Result<RotatedKey> {
    check_rotation(gun, role, false)?;
    let (signer, created): (Arc<dyn Signer>, Option<KeyId>) = match new_key {
        NewKey::Generate(algorithm) => {
            let signer = service.create(algorithm, role, Some(gun))?;
            let id = signer.public_key().key_id();
            (signer, Some(id))
        }
        NewKey::Supplied(key) => {
            let id = key.key_id().clone();
            let held_before = service.signer_by_id(&id).ok().flatten().is_some();
            let mut last_error = Error::Unsupported {
                store: "(none)".to_owned(),
                operation: "adding keys",
            };
            let mut added = false;
            for store in service.stores() {
                match store.add_key(&key, role, Some(gun)) {
                    Ok(_) => {
                        added = true;
                        break;
                    }
                    Err(e @ Error::Unsupported { .. }) => last_error = e,
                    Err(e) => return Err(e),
                }
            }
            if !added {
                return Err(last_error);
            }
            (Arc::new(*key), (!held_before).then_some(id))
        }
        NewKey::Held(key_id) => (service.require_signer_by_id(&key_id)?, None),
    };
    match finish_rotation(signer, gun, role) {
        Ok(rotated) => Ok(RotatedKey { created, ..rotated }),
        Err(e) => {
            if let Some(id) = &created {
                discard_key(service, id);
            }
            Err(e)
        }
    }
}

/// Removes the keys that abandoned rotations added to the stores of `service` (their
/// [`RotatedKey::created`] IDs), so that a failed rotation leaves no new key behind. A key no
/// store holds any more is skipped; a store that fails to remove one is passed over, as the
/// rotation's own error is the one to report.
pub fn discard(service: &CryptoService, created: &[KeyId]) {
    for id in created {
        discard_key(service, id);
    }
}

fn discard_key(service: &CryptoService, id: &KeyId) {
    // Best effort: the caller is already failing with the error that matters.
    let _ = service.remove_key(id);
}

/// Creates the new local key for `role` of `gun` in `store`: `new_key` if given, else a fresh
/// ECDSA P-256 key; for root also a new certificate (CN = `gun`).
///
/// # Errors
///
/// [`Error::Rotation`] when Notary would refuse a local rotation of `role`; store and
/// certificate errors.
pub fn rotate_key(
    store: &dyn KeyStore,
    gun: &str,
    role: &str,
    new_key: Option<PrivateKey>,
) -> Result<RotatedKey> {
    check_rotation(gun, role, false)?;
    let (signer, created): (Arc<dyn Signer>, Option<KeyId>) = match new_key {
        Some(key) => {
            let id = key.key_id().clone();
            let held_before = store.key_info(&id).is_ok();
            store.add_key(&key, role, Some(gun))?;
            (Arc::new(key), (!held_before).then_some(id))
        }
        None => {
            let signer = store.generate_key(KeyAlgorithm::Ecdsa, role, Some(gun))?;
            let id = signer.public_key().key_id();
            (signer, Some(id))
        }
    };
    match finish_rotation(signer, gun, role) {
        Ok(rotated) => Ok(RotatedKey { created, ..rotated }),
        Err(e) => {
            if let Some(id) = &created {
                // Best effort: the certificate error is the one to report.
                let _ = store.remove_key(id);
            }
            Err(e)
        }
    }
}

/// The rotation result for `signer`: for root with a new certificate.
fn finish_rotation(signer: Arc<dyn Signer>, gun: &str, role: &str) -> Result<RotatedKey> {
    if role != "root" {
        let public_key = signer.public_key().clone();
        return Ok(RotatedKey {
            signer,
            public_key,
            certificate: None,
            created: None,
        });
    }
    let certificate = cert::generate_root_certificate(signer.as_ref(), gun)?;
    let certified = CertifiedSigner::new(signer, certificate.public_key.clone())?;
    Ok(RotatedKey {
        public_key: certificate.public_key.clone(),
        signer: Arc::new(certified),
        certificate: Some(certificate),
        created: None,
    })
}

/// Removes the private keys a rotation of `role` replaced (canonical IDs), once the new root is
/// published. Root keys are always kept (they sign the next root rotation); keys the store no
/// longer holds are skipped.
pub fn retire_old_keys(store: &dyn KeyStore, role: &str, old_key_ids: &[KeyId]) -> Result<()> {
    if role == "root" {
        return Ok(());
    }
    for key_id in old_key_ids {
        match store.remove_key(key_id) {
            Ok(()) | Err(Error::KeyNotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use signet_tuf::key::KeyType;

    use super::*;
    use crate::store::MemoryKeyStore;

    #[test]
    fn allowed_combinations_match_notary() {
        for (role, server, ok) in [
            ("root", false, true),
            ("root", true, false),
            ("targets", false, true),
            ("targets", true, false),
            ("snapshot", false, true),
            ("snapshot", true, true),
            ("timestamp", false, false),
            ("timestamp", true, true),
            ("targets/releases", false, false),
            ("targets/releases", true, false),
        ] {
            assert_eq!(
                check_rotation("g", role, server).is_ok(),
                ok,
                "{role} {server}"
            );
        }
        let err = check_rotation("g", "timestamp", false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("notary does not permit the client managing the timestamp key"));
    }

    #[test]
    fn root_rotation_makes_a_certified_key_and_keeps_old_root_keys() {
        let store = MemoryKeyStore::new();
        let old = rotate_key(&store, "example.com/app", "root", None).unwrap();
        let new = rotate_key(&store, "example.com/app", "root", None).unwrap();
        assert_eq!(new.public_key.keytype(), &KeyType::EcdsaX509);
        let sig = new.signer.sign(b"root").unwrap();
        assert_eq!(sig.keyid, new.public_key.key_id());
        new.public_key
            .verify(&sig.method, b"root", &sig.sig)
            .unwrap();
        let old_id = old.public_key.canonical_key_id().unwrap();
        retire_old_keys(&store, "root", std::slice::from_ref(&old_id)).unwrap();
        assert_eq!(store.list_keys().unwrap().len(), 2, "old root key kept");
        let info = store.key_info(&old_id).unwrap();
        assert_eq!((info.role.as_str(), info.gun), ("root", None));
    }

    #[test]
    fn targets_rotation_with_a_supplied_key_and_retirement() {
        let store = MemoryKeyStore::new();
        let old = rotate_key(&store, "g", "targets", None).unwrap();
        let supplied = PrivateKey::generate_ecdsa().unwrap();
        let supplied_id = supplied.key_id().clone();
        let new = rotate_key(&store, "g", "targets", Some(supplied)).unwrap();
        assert_eq!(new.public_key.key_id(), supplied_id);
        assert!(new.certificate.is_none());
        assert_eq!(
            store.key_info(&supplied_id).unwrap().gun.as_deref(),
            Some("g")
        );
        retire_old_keys(&store, "targets", &[old.public_key.key_id()]).unwrap();
        assert_eq!(store.list_keys().unwrap().len(), 1);
        assert!(rotate_key(&store, "g", "timestamp", None).is_err());
    }
}
