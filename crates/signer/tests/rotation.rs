//! Key rotation against real stores: a trust directory and a (mock) YubiHSM 2. New keys are
//! checked by verifying their signatures with signet-tuf's threshold verifier.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use signet_signer::passphrase::ConstantRetriever;
use signet_signer::rotation::{self, NewKey, RotatedKey};
use signet_signer::yubihsm::{LOCATION, YubiHsmKeyStore};
use signet_signer::{
    CryptoService, Error, FileKeyStore, KeyAlgorithm, KeyStore, PrivateKey, Signer, keyfile,
};
use signet_tuf::key::{KeyId, KeyType, PublicKey};
use signet_tuf::verify::RoleKeySet;
use x509_cert::Certificate;
use x509_cert::der::Decode as _;
use yubihsm::{Client, Connector, Credentials};

const GUN: &str = "example.com/org/app";
const PASSPHRASE: &str = "rotation passphrase";
const MSG: &[u8] = br#"{"_type":"Root","version":2}"#;

fn file_store(dir: &std::path::Path) -> Arc<FileKeyStore> {
    Arc::new(FileKeyStore::open(dir, Arc::new(ConstantRetriever::new(PASSPHRASE))).unwrap())
}

fn mock_store() -> Arc<YubiHsmKeyStore> {
    let client = Client::open(Connector::mockhsm(), Credentials::default(), true).unwrap();
    Arc::new(YubiHsmKeyStore::from_client(client, "mockhsm"))
}

/// Verifies signatures by every one of `signers` over [`MSG`] with signet-tuf against a role
/// listing exactly `keys`, requiring all of them.
fn assert_all_sign(keys: &[&PublicKey], signers: &[Arc<dyn Signer>]) {
    let keys: BTreeMap<KeyId, PublicKey> =
        keys.iter().map(|k| (k.key_id(), (*k).clone())).collect();
    let threshold = i64::try_from(keys.len()).unwrap();
    let set = RoleKeySet {
        role: "root".to_owned(),
        keys,
        threshold,
    };
    let signatures: Vec<_> = signers.iter().map(|s| s.sign(MSG).unwrap()).collect();
    assert_eq!(set.verify(MSG, &signatures).unwrap(), threshold as u64);
}

fn common_name(rotated: &RotatedKey) -> String {
    let cert = Certificate::from_der(&rotated.certificate.as_ref().unwrap().der).unwrap();
    let atv = cert.tbs_certificate.subject.0[0].0.iter().next().unwrap();
    assert_eq!(atv.oid.to_string(), "2.5.4.3");
    String::from_utf8(atv.value.value().to_vec()).unwrap()
}

#[test]
fn root_rotation_makes_a_new_key_and_certificate_and_keeps_the_old_key_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path());
    let service = CryptoService::new(vec![store.clone()]);
    let old = rotation::rotate(&service, GUN, "root", NewKey::default()).unwrap();
    let old_id = old.public_key.canonical_key_id().unwrap();

    let new = rotation::rotate(&service, GUN, "root", NewKey::default()).unwrap();
    let new_id = new.public_key.canonical_key_id().unwrap();
    assert_ne!(new_id, old_id);
    assert_eq!(new.public_key.keytype(), &KeyType::EcdsaX509);
    assert_eq!(common_name(&new), GUN);
    assert_eq!(
        new.certificate.as_ref().unwrap().public_key,
        new.public_key,
        "root.json lists the certificate key"
    );
    // Signatures carry the certificate key's ID; the private key is stored under the
    // canonical ID.
    assert_eq!(new.signer.sign(MSG).unwrap().keyid, new.public_key.key_id());
    assert!(store.private_dir().join(format!("{new_id}.key")).is_file());

    // The old root key is kept (it must sign the rotated root) even when retiring.
    rotation::retire_old_keys(store.as_ref(), "root", std::slice::from_ref(&old_id)).unwrap();
    let old_file = store.private_dir().join(format!("{old_id}.key"));
    assert!(old_file.is_file(), "old root key kept on disk");
    let reopened = file_store(dir.path());
    let info = reopened.key_info(&old_id).unwrap();
    assert_eq!((info.role.as_str(), info.gun), ("root", None));

    // The new root is signed by the old and the new root keys, found again from disk.
    let service = CryptoService::new(vec![reopened]);
    let old_signer = service.require_signer_for(&old.public_key).unwrap();
    let new_signer = service.require_signer_for(&new.public_key).unwrap();
    assert_all_sign(
        &[&old.public_key, &new.public_key],
        &[old_signer, new_signer],
    );
}

#[test]
fn targets_rotation_to_a_user_supplied_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path());
    let service = CryptoService::new(vec![store.clone()]);
    let old = rotation::rotate(&service, GUN, "targets", NewKey::default()).unwrap();

    // The user's key file lives outside the trust directory, encrypted with its own
    // passphrase and without role headers.
    let supplied = PrivateKey::generate_ecdsa().unwrap();
    let path = dir.path().join("new-targets.pem");
    std::fs::write(
        &path,
        keyfile::encode_key_file(&supplied, "", None, "file passphrase").unwrap(),
    )
    .unwrap();
    let read = rotation::read_key_file(
        &path,
        GUN,
        "targets",
        &ConstantRetriever::new("file passphrase"),
    )
    .unwrap();
    assert_eq!(read.key_id(), supplied.key_id());

    let new = rotation::rotate(&service, GUN, "targets", NewKey::Supplied(Box::new(read))).unwrap();
    assert_eq!(new.public_key, *supplied.public_key());
    assert!(new.certificate.is_none());
    let info = store.key_info(supplied.key_id()).unwrap();
    assert_eq!(info.role, "targets");
    assert_eq!(info.gun.as_deref(), Some(GUN));
    assert_all_sign(&[supplied.public_key()], std::slice::from_ref(&new.signer));

    // Stored encrypted with the store's passphrase, readable by a fresh store.
    let reopened = CryptoService::new(vec![file_store(dir.path())]);
    assert_all_sign(
        &[supplied.public_key()],
        &[reopened.require_signer_for(supplied.public_key()).unwrap()],
    );

    rotation::retire_old_keys(store.as_ref(), "targets", &[old.public_key.key_id()]).unwrap();
    let ids: Vec<KeyId> = store
        .list_keys()
        .unwrap()
        .into_iter()
        .map(|i| i.key_id)
        .collect();
    assert_eq!(ids, vec![supplied.key_id().clone()]);
}

#[test]
fn unencrypted_root_key_files_are_refused_and_others_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate_ecdsa().unwrap();
    let path = dir.path().join("plain.pem");
    std::fs::write(&path, keyfile::encode_key_file(&key, "", None, "").unwrap()).unwrap();
    let retriever = ConstantRetriever::new("unused");
    let err = rotation::read_key_file(&path, GUN, "root", &retriever).unwrap_err();
    assert!(matches!(err, Error::Rotation { .. }), "{err:?}");
    assert!(
        err.to_string().contains("only encrypted root keys"),
        "{err}"
    );
    let read = rotation::read_key_file(&path, GUN, "snapshot", &retriever).unwrap();
    assert_eq!(read.key_id(), key.key_id());

    std::fs::write(&path, "not a key").unwrap();
    assert!(matches!(
        rotation::read_key_file(&path, GUN, "snapshot", &retriever),
        Err(Error::Pem { .. })
    ));
}

#[test]
fn snapshot_rotation_to_a_key_held_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path());
    let held = PrivateKey::generate_ed25519().unwrap();
    store.add_key(&held, "snapshot", Some(GUN)).unwrap();
    let service = CryptoService::new(vec![store]);

    let new = rotation::rotate(
        &service,
        GUN,
        "snapshot",
        NewKey::Held(held.key_id().clone()),
    )
    .unwrap();
    assert_eq!(new.public_key, *held.public_key());
    assert_eq!(new.public_key.keytype(), &KeyType::Ed25519);
    assert_all_sign(&[held.public_key()], &[new.signer]);

    let missing = PrivateKey::generate_ecdsa().unwrap();
    let err = rotation::rotate(
        &service,
        GUN,
        "snapshot",
        NewKey::Held(missing.key_id().clone()),
    )
    .unwrap_err();
    assert!(matches!(err, Error::KeyNotInStores { .. }), "{err:?}");
    assert!(err.to_string().contains(missing.key_id().as_str()));
    // Timestamp keys are the server's.
    assert!(matches!(
        rotation::rotate(&service, GUN, "timestamp", NewKey::default()),
        Err(Error::Rotation { .. })
    ));
}

#[test]
fn targets_and_snapshot_rotation_to_yubihsm_objects() {
    let dir = tempfile::tempdir().unwrap();
    let disk = file_store(dir.path());
    let device = mock_store();
    let service = CryptoService::new(vec![device.clone(), disk.clone()]);

    for (role, algorithm) in [
        ("targets", KeyAlgorithm::Ecdsa),
        ("snapshot", KeyAlgorithm::Ed25519),
    ] {
        // The operator created the key on the device and names it by object ID.
        let generated = device.generate(algorithm, role, Some(GUN)).unwrap();
        let details = device
            .device_key_by_object_id(generated.object_id())
            .unwrap();
        assert_eq!(&details.info.key_id, generated.key_id());

        let new = rotation::rotate(
            &service,
            GUN,
            role,
            NewKey::Held(details.info.key_id.clone()),
        )
        .unwrap();
        assert_eq!(&new.public_key, generated.public_key());
        assert_eq!(new.public_key.keytype(), &algorithm.key_type());
        assert_all_sign(&[generated.public_key()], std::slice::from_ref(&new.signer));
        let info = device.key_info(generated.key_id()).unwrap();
        assert_eq!(
            (
                info.role.as_str(),
                info.gun.as_deref(),
                info.location.as_str()
            ),
            (role, Some(GUN), LOCATION)
        );
    }
    assert!(disk.list_keys().unwrap().is_empty(), "nothing went to disk");
    assert!(device.device_key_by_object_id(0x7777).is_err());
    let err: Error = device.device_key_by_object_id(0x7777).unwrap_err().into();
    assert!(matches!(err, Error::KeyNotFound { .. }), "{err:?}");
}

#[test]
fn root_rotation_generates_on_the_yubihsm_first_in_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let disk = file_store(dir.path());
    let device = mock_store();
    let service = CryptoService::new(vec![device.clone(), disk.clone()]);
    let old_key = PrivateKey::generate_ecdsa().unwrap();
    disk.add_key(&old_key, "root", None).unwrap();
    let old_cert = signet_signer::cert::generate_root_certificate(&old_key, GUN).unwrap();

    let new = rotation::rotate(&service, GUN, "root", NewKey::default()).unwrap();
    assert_eq!(common_name(&new), GUN);
    let canonical = new.public_key.canonical_key_id().unwrap();
    assert_eq!(device.key_info(&canonical).unwrap().role, "root");
    assert!(
        disk.key_info(&canonical).is_err(),
        "generated on the device"
    );
    assert!(disk.key_info(old_key.key_id()).is_ok(), "old root key kept");
    assert_all_sign(
        &[&old_cert.public_key, &new.public_key],
        &[
            service.require_signer_for(&old_cert.public_key).unwrap(),
            new.signer,
        ],
    );
}

#[test]
fn quarantined_keys_leave_the_trust_dir_and_device_keys_stay() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(dir.path());
    let key = PrivateKey::generate_ecdsa().unwrap();
    let info = store.add_key(&key, "targets", Some(GUN)).unwrap();
    let quarantine = dir.path().join("quarantine").join("now");

    let moved = store
        .quarantine_key(&info.key_id, &quarantine)
        .unwrap()
        .unwrap();
    assert_eq!(moved, quarantine.join(format!("{}.key", info.key_id)));
    assert!(moved.is_file());
    assert!(store.key_info(&info.key_id).is_err(), "no longer listed");
    assert!(
        !dir.path()
            .join("private")
            .join(format!("{}.key", info.key_id))
            .exists()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&quarantine).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    // A fresh store of the same trust dir does not see it either.
    assert!(file_store(dir.path()).key_info(&info.key_id).is_err());
    assert!(matches!(
        store.quarantine_key(&info.key_id, &quarantine),
        Err(Error::KeyNotFound { .. })
    ));

    // A device cannot hand its keys over: the key stays, and the caller is told so.
    let device = mock_store();
    let signer = device
        .generate_key(KeyAlgorithm::Ecdsa, "targets", Some(GUN))
        .unwrap();
    let id = signer.public_key().canonical_key_id().unwrap();
    assert_eq!(device.quarantine_key(&id, &quarantine).unwrap(), None);
    assert!(device.key_info(&id).is_ok());
}
