//! A (mock) YubiHSM 2 in front of the trust-directory store: the device wins, misses are
//! explained.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use signet_signer::passphrase::ConstantRetriever;
use signet_signer::yubihsm::{LOCATION, YubiHsmKeyStore};
use signet_signer::{
    CryptoService, FileKeyStore, KeyAlgorithm, KeyInfo, KeyStore, PrivateKey, Result, Signer,
};
use signet_tuf::key::KeyId;
use yubihsm::{Client, Connector, Credentials};

fn mock_store() -> YubiHsmKeyStore {
    let client = Client::open(Connector::mockhsm(), Credentials::default(), true).unwrap();
    YubiHsmKeyStore::from_client(client, "mockhsm")
}

/// A store that counts the signer lookups it answers.
struct Counting<S> {
    inner: S,
    lookups: AtomicUsize,
}

impl<S: KeyStore> KeyStore for Counting<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn add_key(&self, key: &PrivateKey, role: &str, gun: Option<&str>) -> Result<KeyInfo> {
        self.inner.add_key(key, role, gun)
    }
    fn signer(&self, key_id: &KeyId) -> Result<Arc<dyn Signer>> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.signer(key_id)
    }
    fn key_info(&self, key_id: &KeyId) -> Result<KeyInfo> {
        self.inner.key_info(key_id)
    }
    fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        self.inner.list_keys()
    }
    fn remove_key(&self, key_id: &KeyId) -> Result<()> {
        self.inner.remove_key(key_id)
    }
}

#[test]
fn a_key_on_the_device_and_on_disk_is_used_from_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let file_store =
        FileKeyStore::open(dir.path(), Arc::new(ConstantRetriever::new("passphrase"))).unwrap();
    let disk = Arc::new(Counting {
        inner: file_store,
        lookups: AtomicUsize::new(0),
    });
    let device = Arc::new(mock_store());

    let key = PrivateKey::generate_ecdsa().unwrap();
    disk.add_key(&key, "root", None).unwrap();
    device.add_key(&key, "root", None).unwrap();

    let service = CryptoService::new(vec![device.clone(), disk.clone()]);
    let listed = service.list_keys().unwrap();
    let locations: Vec<&str> = listed
        .iter()
        .filter(|i| &i.key_id == key.key_id())
        .map(|i| i.location.as_str())
        .collect();
    assert_eq!(locations.len(), 2);
    assert_eq!(locations[0], LOCATION);

    let signer = service.signer_for(key.public_key()).unwrap().unwrap();
    let sig = signer.sign(b"root.json").unwrap();
    key.public_key()
        .verify(&sig.method, b"root.json", &sig.sig)
        .unwrap();
    assert_eq!(
        disk.lookups.load(Ordering::SeqCst),
        0,
        "the disk store was asked"
    );

    // Once the device copy is gone, the disk copy is used.
    device.remove_key(key.key_id()).unwrap();
    let signer = service.require_signer_by_id(key.key_id()).unwrap();
    let sig = signer.sign(b"root.json").unwrap();
    key.public_key()
        .verify(&sig.method, b"root.json", &sig.sig)
        .unwrap();
    assert_eq!(disk.lookups.load(Ordering::SeqCst), 1);
}

#[test]
fn a_missing_key_names_the_key_and_every_store_searched() {
    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(
        FileKeyStore::open(dir.path(), Arc::new(ConstantRetriever::new("passphrase"))).unwrap(),
    );
    let device = Arc::new(mock_store());
    device
        .generate_key(KeyAlgorithm::Ecdsa, "targets", Some("example.com/app"))
        .unwrap();
    let service = CryptoService::new(vec![device, disk.clone()]);

    let missing = PrivateKey::generate_ecdsa().unwrap();
    assert!(service.signer_for(missing.public_key()).unwrap().is_none());
    let err = service
        .require_signer_for(missing.public_key())
        .err()
        .unwrap();
    assert!(matches!(err, signet_signer::Error::KeyNotInStores { .. }));
    let message = err.to_string();
    assert!(message.contains(missing.key_id().as_str()), "{message}");
    assert!(message.contains(LOCATION), "{message}");
    assert!(message.contains(disk.name()), "{message}");
    assert!(
        message.find(LOCATION) < message.find(disk.name()),
        "stores are named in lookup order: {message}"
    );
    assert!(message.contains("import it with"), "{message}");
}

#[test]
fn a_device_failure_while_signing_is_a_device_error_naming_the_key() {
    let device = mock_store();
    let signer = device
        .generate(KeyAlgorithm::Ecdsa, "targets", Some("example.com/app"))
        .unwrap();
    // The object disappears behind the store's back (another client deleted it).
    device
        .client()
        .delete_object(signer.object_id(), yubihsm::object::Type::AsymmetricKey)
        .unwrap();
    let err = Signer::sign(&signer, b"targets.json").unwrap_err();
    let signet_signer::Error::Device { store, key_id, .. } = &err else {
        panic!("expected a device error, got {err:?}");
    };
    assert_eq!(store, LOCATION);
    assert_eq!(key_id.as_deref(), Some(signer.key_id().as_str()));
    let message = err.to_string();
    assert!(message.contains(signer.key_id().as_str()), "{message}");
    assert!(message.contains("ECDSA sign"), "{message}");
    let source = std::error::Error::source(&err).unwrap();
    let hsm = source
        .downcast_ref::<signet_signer::yubihsm::Error>()
        .unwrap();
    assert_eq!(
        hsm.device_error(),
        Some(yubihsm::device::ErrorKind::ObjectNotFound)
    );
}

#[test]
fn a_root_only_device_takes_new_root_keys_and_passes_the_others_on() {
    use signet_signer::rotation::{self, NewKey};
    use signet_signer::yubihsm::NewKeyRoles;

    let dir = tempfile::tempdir().unwrap();
    let disk = Arc::new(
        FileKeyStore::open(dir.path(), Arc::new(ConstantRetriever::new("passphrase"))).unwrap(),
    );
    let device = Arc::new(mock_store().with_new_keys(NewKeyRoles::Root));
    let service = CryptoService::new(vec![device.clone(), disk.clone()]);
    let gun = "example.com/app";

    let root = service.create(KeyAlgorithm::Ecdsa, "root", None).unwrap();
    let targets = service
        .create(KeyAlgorithm::Ecdsa, "targets", Some(gun))
        .unwrap();
    assert_eq!(
        device.key_info(&root.public_key().key_id()).unwrap().role,
        "root"
    );
    assert!(disk.key_info(&root.public_key().key_id()).is_err());
    assert_eq!(
        disk.key_info(&targets.public_key().key_id()).unwrap().role,
        "targets"
    );
    assert!(device.key_info(&targets.public_key().key_id()).is_err());

    // Rotations put the new root key on the device (with a certificate it signed) and the
    // new targets key on disk, generated or supplied.
    let new_root = rotation::rotate(&service, gun, "root", NewKey::default()).unwrap();
    let new_root_id = new_root.public_key.canonical_key_id().unwrap();
    assert_eq!(device.key_info(&new_root_id).unwrap().location, LOCATION);
    let sig = new_root.signer.sign(b"root.json").unwrap();
    new_root
        .public_key
        .verify(&sig.method, b"root.json", &sig.sig)
        .unwrap();
    let supplied = PrivateKey::generate_ecdsa().unwrap();
    let supplied_id = supplied.key_id().clone();
    rotation::rotate(
        &service,
        gun,
        "targets",
        NewKey::Supplied(Box::new(supplied)),
    )
    .unwrap();
    assert_eq!(
        disk.key_info(&supplied_id).unwrap().gun.as_deref(),
        Some(gun)
    );
    // A key already on the device can be rotated to, whatever the policy.
    let held = device
        .generate(KeyAlgorithm::Ecdsa, "snapshot", Some(gun))
        .unwrap();
    let rotated = rotation::rotate(
        &service,
        gun,
        "snapshot",
        NewKey::Held(held.public_key().key_id()),
    )
    .unwrap();
    assert_eq!(rotated.public_key.key_id(), held.public_key().key_id());

    // Reloading the service forgets the device index; keys are still found.
    service.reload();
    assert!(service.signer_by_id(&new_root_id).unwrap().is_some());
}
