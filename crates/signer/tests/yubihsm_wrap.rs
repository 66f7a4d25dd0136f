//! Wrapped backups of device keys: export, restore, move between devices.
#![allow(clippy::unwrap_used)]

use signet_signer::yubihsm::{Error as HsmError, WRAPPED_KEY_LABEL, WrappedKey, YubiHsmKeyStore};
use signet_signer::{KeyAlgorithm, KeyStore as _};
use yubihsm::{Client, Connector, Credentials};
use zeroize::Zeroizing;

fn mock_store() -> YubiHsmKeyStore {
    let client = Client::open(Connector::mockhsm(), Credentials::default(), true).unwrap();
    YubiHsmKeyStore::from_client(client, "mockhsm")
}

const GUN: &str = "example.com/app";

#[test]
fn export_remove_restore_round_trip() {
    let store = mock_store();
    let wrap_key = store.generate_wrap_key("signet backup").unwrap();
    for (role, gun) in [("root", None), ("targets", Some(GUN))] {
        let signer = store.generate(KeyAlgorithm::Ecdsa, role, gun).unwrap();
        let key_id = signer.key_id().clone();
        let object_id = signer.object_id();

        let backup = store.export_wrapped(&key_id, wrap_key).unwrap();
        assert_eq!(backup.key_id(), &key_id);
        assert_eq!(backup.object_id(), object_id);
        assert_eq!(backup.algorithm(), KeyAlgorithm::Ecdsa);
        assert_eq!(backup.role(), role);
        assert_eq!(backup.gun(), gun);
        assert!(backup.ciphertext().len() > 13);
        let pem = backup.to_pem().unwrap();
        let backup = WrappedKey::from_pem(&pem).unwrap();

        // Restoring over the live key is refused: the object ID is taken.
        assert!(matches!(
            store.import_wrapped(&backup, wrap_key),
            Err(HsmError::ObjectExists { .. })
        ));

        store.remove_key(&key_id).unwrap();
        assert!(store.signer(&key_id).is_err());

        let restored = store.import_wrapped(&backup, wrap_key).unwrap();
        assert_eq!(restored.info.key_id, key_id);
        assert_eq!(restored.object_id, object_id);
        assert_eq!(restored.info.role, role);
        assert_eq!(restored.info.gun.as_deref(), gun);
        assert!(restored.generated_on_device);

        let msg = b"signed after restore";
        let sig = store.signer(&key_id).unwrap().sign(msg).unwrap();
        signer
            .public_key()
            .verify(&sig.method, msg, &sig.sig)
            .unwrap();
    }
    assert_eq!(store.list_keys().unwrap().len(), 2);
}

#[test]
fn ed25519_backups_are_checked_on_restore() {
    let store = mock_store();
    let wrap_key = store.generate_wrap_key("signet backup").unwrap();
    let signer = store
        .generate(KeyAlgorithm::Ed25519, "timestamp", Some(GUN))
        .unwrap();
    let backup = store.export_wrapped(signer.key_id(), wrap_key).unwrap();
    assert_eq!(backup.algorithm(), KeyAlgorithm::Ed25519);
    assert_eq!((backup.role(), backup.gun()), ("timestamp", Some(GUN)));
    let backup = WrappedKey::from_pem(&backup.to_pem().unwrap()).unwrap();
    store.remove_key(signer.key_id()).unwrap();

    // MockHsm 0.42.1 wraps an Ed25519 key's public half instead of its seed, so what it
    // restores is a different key (a real YubiHSM 2 restores the same one). The store must
    // notice from the public key, refuse, and leave nothing behind.
    let err = store.import_wrapped(&backup, wrap_key).unwrap_err();
    assert!(matches!(err, HsmError::WrappedKey { .. }), "{err}");
    assert!(err.to_string().contains(signer.key_id().as_str()), "{err}");
    assert!(store.list_keys().unwrap().is_empty());
    assert!(store.client().get_public_key(backup.object_id()).is_err());
}

#[test]
fn backups_move_between_devices_sharing_a_wrap_key() {
    let aes_key = Zeroizing::new([7u8; 32]);
    let source = mock_store();
    let target = mock_store();
    let source_wrap = source.put_wrap_key("shared backup key", &aes_key).unwrap();
    let target_wrap = target.put_wrap_key("shared backup key", &aes_key).unwrap();

    let signer = source
        .generate(KeyAlgorithm::Ecdsa, "targets", Some(GUN))
        .unwrap();
    let backup = source.export_wrapped(signer.key_id(), source_wrap).unwrap();
    let restored = target.import_wrapped(&backup, target_wrap).unwrap();
    assert_eq!(&restored.info.key_id, signer.key_id());
    assert_eq!(restored.info.role, "targets");
    assert_eq!(restored.info.gun.as_deref(), Some(GUN));

    let msg = b"same key, other device";
    let sig = target.signer(signer.key_id()).unwrap().sign(msg).unwrap();
    signer
        .public_key()
        .verify(&sig.method, msg, &sig.sig)
        .unwrap();
}

#[test]
fn restore_needs_the_right_wrap_key_and_an_honest_backup() {
    let store = mock_store();
    let right = store
        .put_wrap_key("right", &Zeroizing::new([1u8; 32]))
        .unwrap();
    let wrong = store
        .put_wrap_key("wrong", &Zeroizing::new([2u8; 32]))
        .unwrap();
    assert_ne!(right, wrong);
    let signer = store.generate(KeyAlgorithm::Ecdsa, "root", None).unwrap();
    let other = store.generate(KeyAlgorithm::Ecdsa, "root", None).unwrap();
    let backup = store.export_wrapped(signer.key_id(), right).unwrap();
    store.remove_key(signer.key_id()).unwrap();

    let err = store.import_wrapped(&backup, wrong).unwrap_err();
    assert!(matches!(err, HsmError::Device { .. }), "{err}");
    assert!(err.to_string().contains(signer.key_id().as_str()), "{err}");

    // A backup whose header names another key is rejected after the device restores it, and
    // nothing is left behind.
    let pem = backup
        .to_pem()
        .unwrap()
        .replace(signer.key_id().as_str(), other.key_id().as_str());
    let forged = WrappedKey::from_pem(&pem).unwrap();
    let err = store.import_wrapped(&forged, right).unwrap_err();
    assert!(matches!(err, HsmError::WrappedKey { .. }), "{err}");
    assert!(store.signer(signer.key_id()).is_err());
    assert_eq!(store.list_keys().unwrap().len(), 1);

    // The genuine backup still restores.
    store.import_wrapped(&backup, right).unwrap();
    assert_eq!(store.list_keys().unwrap().len(), 2);
}

#[test]
fn wrap_key_labels_are_bounded() {
    let store = mock_store();
    assert!(matches!(
        store.generate_wrap_key(&"l".repeat(41)),
        Err(HsmError::InvalidAttribute { field: "label", .. })
    ));
    let a = store.generate_wrap_key(&"l".repeat(40)).unwrap();
    let b = store.generate_wrap_key("second").unwrap();
    assert_ne!(a, b);
}

#[test]
fn oversized_backups_are_refused_before_reaching_the_device() {
    let store = mock_store();
    let wrap_key = store.generate_wrap_key("signet backup").unwrap();
    let mut block = signet_tuf::notary::pem::PemBlock::new(WRAPPED_KEY_LABEL, vec![0u8; 4096]);
    block.set_header("key_id", "ab".repeat(32));
    block.set_header("object_id", "0x0100");
    block.set_header("algorithm", "ecdsa");
    block.set_header("role", "root");
    let backup = WrappedKey::from_pem(&block.encode().unwrap()).unwrap();
    let err = store.import_wrapped(&backup, wrap_key).unwrap_err();
    assert!(matches!(err, HsmError::WrappedKey { .. }), "{err}");
    // The session is still usable.
    store.generate(KeyAlgorithm::Ecdsa, "root", None).unwrap();
}
