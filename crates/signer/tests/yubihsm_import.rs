//! Importing existing keys (notary key files) into a (mock) YubiHSM 2 and signing with them.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use signet_signer::keyfile::decode_key_file;
use signet_signer::yubihsm::YubiHsmKeyStore;
use signet_signer::{Error, KeyAlgorithm, KeyStore as _, PrivateKey};
use yubihsm::{Client, Connector, Credentials};

fn mock_store() -> YubiHsmKeyStore {
    let client = Client::open(Connector::mockhsm(), Credentials::default(), true).unwrap();
    YubiHsmKeyStore::from_client(client, "mockhsm")
}

fn fixture(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tuf/tests/data/notary-compat")
        .join(relative)
}

/// Decrypts a notary fixture key: the notary 0.1 keys use `randompass`, the notary 0.3 keys
/// `password` (as notary's own backwards-compatibility tests use them).
fn notary_key(relative: &str) -> PrivateKey {
    let path = fixture(relative);
    let text = std::fs::read_to_string(&path).unwrap();
    let passphrase = if relative.starts_with("notary0.1/") {
        "randompass"
    } else {
        "password"
    };
    decode_key_file(&text, passphrase, &path.display().to_string()).unwrap()
}

/// The key ID a notary fixture file is named after.
fn file_key_id(relative: &str) -> String {
    let name = fixture(relative)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    name.split('_').next().unwrap().to_owned()
}

const GUN_01: &str = "docker.com/notary0.1/samplerepo";
const GUN_03: &str = "docker.com/notary0.3/tst";

#[test]
fn notary_fixture_keys_sign_from_the_device() {
    let store = mock_store();
    let cases = [
        (
            "notary0.1/private/root_keys/d0c623c8e70c70d42a8a8125c44a8598588b3f6e31d5c21a83cbc338dfde8a68_root.key",
            "root",
            None,
        ),
        (
            "notary0.1/private/tuf_keys/docker.com/notary0.1/samplerepo/7fc757801b9bab4ec9e35bfe7a6b61668ff6f4c81b5632af19e6c728ab799599_targets.key",
            "targets",
            Some(GUN_01),
        ),
        (
            "notary0.3/private/tuf_keys/docker.com/notary0.3/tst/85559599cf3cf681ff193f432a7ca6d128182bd1cfa8ede2c70761deac8bc2dc.key",
            "snapshot",
            Some(GUN_03),
        ),
    ];
    for (file, role, gun) in cases {
        let key = notary_key(file);
        assert_eq!(key.algorithm(), KeyAlgorithm::Ecdsa);
        assert_eq!(key.key_id().as_str(), file_key_id(file), "{file}");

        let info = store.add_key(&key, role, gun).unwrap();
        assert_eq!(
            &info.key_id,
            key.key_id(),
            "device key ID must match the file's"
        );
        assert_eq!(info.role, role);
        assert_eq!(info.gun.as_deref(), gun);

        let device = store.device_key(key.key_id()).unwrap();
        assert!(!device.generated_on_device);

        let signer = store.signer(key.key_id()).unwrap();
        assert_eq!(signer.public_key(), key.public_key());
        let msg = br#"{"_type":"Root","version":2}"#;
        let sig = signer.sign(msg).unwrap();
        assert_eq!(&sig.keyid, key.key_id());
        key.public_key().verify(&sig.method, msg, &sig.sig).unwrap();
    }
    assert_eq!(store.list_keys().unwrap().len(), cases.len());
}

#[test]
fn rsa_notary_keys_are_refused() {
    let store = mock_store();
    let key = notary_key(
        "notary0.3/private/tuf_keys/fa842f66cac2dc898677a8660789dcff0e3b0b93b73f8952491f6493199936d3.key",
    );
    assert_eq!(key.algorithm(), KeyAlgorithm::Rsa);
    let err = store.add_key(&key, "targets/releases", None).unwrap_err();
    assert!(matches!(err, Error::UnsupportedKey { .. }), "{err}");
    assert!(err.to_string().contains(key.key_id().as_str()), "{err}");
    assert!(store.list_keys().unwrap().is_empty());
}

#[test]
fn imported_ed25519_seed_signs_exactly_like_the_software_key() {
    let store = mock_store();
    let key = PrivateKey::from_ed25519_seed(&[42u8; 32]).unwrap();
    store.add_key(&key, "timestamp", Some(GUN_03)).unwrap();
    let signer = store.signer(key.key_id()).unwrap();
    let msg = b"timestamp metadata";
    // Ed25519 is deterministic: the device must produce the software key's signature.
    assert_eq!(signer.sign(msg).unwrap(), key.sign(msg).unwrap());
}

#[test]
fn importing_a_key_again_replaces_the_device_copy() {
    let store = mock_store();
    let key = PrivateKey::generate_ecdsa().unwrap();
    let first = store.import_key(&key, "targets", Some(GUN_01)).unwrap();
    let second = store.import_key(&key, "snapshot", Some(GUN_01)).unwrap();
    assert_ne!(first.object_id, second.object_id);
    let listed = store.list_keys().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].role, "snapshot");
    assert!(store.client().get_public_key(first.object_id).is_err());
    let sig = store.signer(key.key_id()).unwrap().sign(b"m").unwrap();
    key.public_key()
        .verify(&sig.method, b"m", &sig.sig)
        .unwrap();
}
