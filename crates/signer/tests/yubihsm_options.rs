//! Store options for applications that keep their own record of device keys (signet-server):
//! keys that never leave the device, no metadata objects, signers by object ID, and imports
//! that add a new object without looking for an old one.
#![allow(clippy::unwrap_used)]

use signet_signer::yubihsm::{Error as HsmError, YubiHsmKeyStore, key_label};
use signet_signer::{KeyAlgorithm, PrivateKey, Signer as _};
use yubihsm::object::{Filter, Type};
use yubihsm::{Capability, Client, Connector, Credentials};

fn store() -> YubiHsmKeyStore {
    let client = Client::open(Connector::mockhsm(), Credentials::default(), true).unwrap();
    YubiHsmKeyStore::from_client(client, "mockhsm")
        .with_exportable_keys(false)
        .with_metadata_objects(false)
}

fn objects(store: &YubiHsmKeyStore, t: Type) -> usize {
    store
        .client()
        .list_objects(&[Filter::Type(t)])
        .unwrap()
        .len()
}

#[test]
fn generated_keys_are_not_exportable_and_take_one_object() {
    let store = store();
    let gun = "example.com/app";
    let signer = store
        .generate(KeyAlgorithm::Ecdsa, "timestamp", Some(gun))
        .unwrap();
    assert_eq!(objects(&store, Type::AsymmetricKey), 1);
    assert_eq!(objects(&store, Type::Opaque), 0, "no metadata object");
    let info = store
        .client()
        .get_object_info(signer.object_id(), Type::AsymmetricKey)
        .unwrap();
    assert_eq!(info.capabilities, Capability::SIGN_ECDSA);
    assert_eq!(info.label.to_string(), key_label("timestamp", Some(gun)));

    // Listed from its label: role known, GUN only as the label's tag.
    let listed = store.device_key(signer.key_id()).unwrap();
    assert_eq!(listed.info.role, "timestamp");
    assert!(!listed.exportable_under_wrap);
    assert!(listed.generated_on_device);
    // Not exportable, even under a wrap key.
    let wrap = store.generate_wrap_key("backup").unwrap();
    assert!(store.export_wrapped(signer.key_id(), wrap).is_err());
}

#[test]
fn signers_by_object_id_check_the_key() {
    let store = store();
    let a = store
        .generate(KeyAlgorithm::Ed25519, "timestamp", Some("example.com/a"))
        .unwrap();
    let b = store
        .generate(KeyAlgorithm::Ecdsa, "snapshot", Some("example.com/b"))
        .unwrap();
    let signer = store.signer_for_object(a.object_id(), a.key_id()).unwrap();
    let sig = signer.sign(b"message").unwrap();
    a.public_key()
        .verify(&sig.method, b"message", &sig.sig)
        .unwrap();

    let err = store
        .signer_for_object(b.object_id(), a.key_id())
        .unwrap_err();
    assert!(
        matches!(&err, HsmError::ObjectHoldsOtherKey { object_id, .. } if *object_id == b.object_id()),
        "{err}"
    );
    assert_eq!(err.key_id(), Some(a.key_id().as_str()));
    let err = store.signer_for_object(0x7000, a.key_id()).unwrap_err();
    assert!(
        matches!(err, HsmError::ObjectNotFound { object_id: 0x7000 }),
        "{err}"
    );
}

#[test]
fn put_key_adds_an_object_and_import_key_replaces_one() {
    let store = store();
    let key = PrivateKey::generate(KeyAlgorithm::Ecdsa).unwrap();
    let first = store
        .put_key(&key, "timestamp", Some("example.com/app"))
        .unwrap();
    assert_eq!(first.info.key_id, *key.key_id());
    assert!(!first.generated_on_device);
    assert!(!first.exportable_under_wrap);
    let second = store
        .put_key(&key, "timestamp", Some("example.com/app"))
        .unwrap();
    assert_ne!(first.object_id, second.object_id);
    assert_eq!(objects(&store, Type::AsymmetricKey), 2);

    // import_key replaces the copy it finds.
    let third = store
        .import_key(&key, "timestamp", Some("example.com/app"))
        .unwrap();
    assert_eq!(third.info.key_id, *key.key_id());
    assert_eq!(objects(&store, Type::AsymmetricKey), 2);
}
