//! Keys for every role generated on a (mock) YubiHSM 2: generate, list, sign, verify.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use signet_signer::yubihsm::{
    Error as HsmError, FIRST_OBJECT_ID, LOCATION, MAX_ED25519_MESSAGE_LEN, YubiHsmKeyStore,
};
use signet_signer::{Error, KeyAlgorithm, KeyStore as _, Signer};
use signet_tuf::key::KeyType;
use yubihsm::{Client, Connector, Credentials};

fn mock_client() -> Client {
    Client::open(Connector::mockhsm(), Credentials::default(), true).unwrap()
}

fn mock_store() -> YubiHsmKeyStore {
    YubiHsmKeyStore::from_client(mock_client(), "mockhsm")
}

const GUN: &str = "docker.io/example/app";

/// (role, GUN passed in, GUN expected to be recorded)
const ROLES: [(&str, Option<&str>, Option<&str>); 5] = [
    ("root", Some(GUN), None),
    ("targets", Some(GUN), Some(GUN)),
    ("targets/releases", Some(GUN), None),
    ("snapshot", Some(GUN), Some(GUN)),
    ("timestamp", Some(GUN), Some(GUN)),
];

#[test]
fn every_role_and_algorithm_generates_lists_signs_and_verifies() {
    let store = mock_store();
    let msg = br#"{"_type":"Targets","expires":"2030-01-01T00:00:00Z","targets":{},"version":1}"#;
    let mut expected = Vec::new();
    for algorithm in [KeyAlgorithm::Ecdsa, KeyAlgorithm::Ed25519] {
        for (role, gun, recorded_gun) in ROLES {
            let signer = store.generate_key(algorithm, role, gun).unwrap();
            let public = signer.public_key();
            assert_eq!(public.keytype(), &algorithm.key_type());
            if algorithm == KeyAlgorithm::Ecdsa {
                // SubjectPublicKeyInfo DER of a P-256 key.
                assert_eq!(public.public().len(), 91);
            } else {
                assert_eq!(public.public().len(), 32);
            }
            let sig = signer.sign(msg).unwrap();
            assert_eq!(sig.keyid, public.key_id());
            assert_eq!(sig.method, algorithm.signature_method());
            assert_eq!(sig.sig.len(), 64);
            public.verify(&sig.method, msg, &sig.sig).unwrap();
            assert!(public.verify(&sig.method, b"tampered", &sig.sig).is_err());
            expected.push((public.key_id(), role, recorded_gun, algorithm));
        }
    }

    let listed = store.list_keys().unwrap();
    assert_eq!(listed.len(), expected.len());
    for (key_id, role, gun, _) in &expected {
        let info = listed.iter().find(|i| &i.key_id == key_id).unwrap();
        assert_eq!(info.role, *role);
        assert_eq!(info.gun.as_deref(), *gun);
        assert_eq!(info.location, LOCATION);
        assert_eq!(&store.key_info(key_id).unwrap(), info);
    }

    let details = store.device_keys().unwrap();
    let ids: BTreeSet<u16> = details.iter().map(|d| d.object_id).collect();
    assert_eq!(ids.len(), expected.len(), "object IDs must not collide");
    assert!(ids.iter().all(|id| *id >= FIRST_OBJECT_ID));
    for d in &details {
        assert!(d.generated_on_device, "{d:?}");
        assert!(d.exportable_under_wrap, "{d:?}");
        assert!(
            d.label.starts_with("signet:") && d.label.len() <= 40,
            "{d:?}"
        );
        let (_, _, _, algorithm) = expected.iter().find(|e| e.0 == d.info.key_id).unwrap();
        assert_eq!(d.algorithm, *algorithm);
    }
}

#[test]
fn a_fresh_store_reads_roles_back_from_the_device() {
    let client = mock_client();
    let first = YubiHsmKeyStore::from_client(client.clone(), "mockhsm");
    let long_role = "targets/a-delegation-name-longer-than-a-label-allows";
    let delegation = first
        .generate_key(KeyAlgorithm::Ecdsa, long_role, None)
        .unwrap();
    let timestamp = first
        .generate_key(KeyAlgorithm::Ed25519, "timestamp", Some(GUN))
        .unwrap();

    let second = YubiHsmKeyStore::from_client(client, "mockhsm");
    let info = second.key_info(&delegation.public_key().key_id()).unwrap();
    assert_eq!(info.role, long_role);
    assert_eq!(info.gun, None);
    let info = second.key_info(&timestamp.public_key().key_id()).unwrap();
    assert_eq!(
        (info.role.as_str(), info.gun.as_deref()),
        ("timestamp", Some(GUN))
    );

    // The signer found by key ID signs for the same key.
    let signer = second.signer(&timestamp.public_key().key_id()).unwrap();
    let sig = signer.sign(b"timestamp").unwrap();
    timestamp
        .public_key()
        .verify(&sig.method, b"timestamp", &sig.sig)
        .unwrap();
}

#[test]
fn foreign_objects_are_ignored_and_ids_skip_them() {
    let client = mock_client();
    // Another application's key at the first ID signet would pick.
    client
        .generate_asymmetric_key(
            FIRST_OBJECT_ID,
            "someone else's key".parse().unwrap(),
            yubihsm::Domain::DOM1,
            yubihsm::Capability::SIGN_ECDSA,
            yubihsm::asymmetric::Algorithm::EcP256,
        )
        .unwrap();
    let store = YubiHsmKeyStore::from_client(client, "mockhsm");
    assert!(store.list_keys().unwrap().is_empty());
    let signer = store.generate(KeyAlgorithm::Ecdsa, "root", None).unwrap();
    assert_eq!(signer.object_id(), FIRST_OBJECT_ID + 1);
    assert_eq!(store.list_keys().unwrap().len(), 1);
}

#[test]
fn remove_deletes_key_and_metadata() {
    let store = mock_store();
    let signer = store
        .generate_key(KeyAlgorithm::Ecdsa, "targets", Some(GUN))
        .unwrap();
    let key_id = signer.public_key().key_id();
    let object_id = store.device_key(&key_id).unwrap().object_id;
    store.remove_key(&key_id).unwrap();
    assert!(matches!(
        store.signer(&key_id),
        Err(Error::KeyNotFound { .. })
    ));
    assert!(matches!(
        store.remove_key(&key_id),
        Err(Error::KeyNotFound { .. })
    ));
    assert!(store.list_keys().unwrap().is_empty());
    let client = store.client();
    assert!(client.get_opaque(object_id).is_err());
    // The freed ID is reused.
    let again = store.generate(KeyAlgorithm::Ed25519, "root", None).unwrap();
    assert_eq!(again.object_id(), object_id);
}

#[test]
fn refuses_what_the_device_cannot_hold() {
    let store = mock_store();
    assert!(matches!(
        store.generate_key(KeyAlgorithm::Rsa, "root", None),
        Err(Error::UnsupportedKey { .. })
    ));
    assert!(matches!(
        store.generate(KeyAlgorithm::Ecdsa, "targets", None),
        Err(HsmError::MissingGun { .. })
    ));
    assert!(matches!(
        store.generate(KeyAlgorithm::Ecdsa, "", None),
        Err(HsmError::InvalidAttribute { field: "role", .. })
    ));
    assert!(matches!(
        store.generate(KeyAlgorithm::Ecdsa, "snapshot", Some("bad\ngun")),
        Err(HsmError::InvalidAttribute { field: "gun", .. })
    ));
    assert!(store.list_keys().unwrap().is_empty());
    assert!(matches!(
        store.change_passphrase(
            &store
                .generate(KeyAlgorithm::Ecdsa, "root", None)
                .unwrap()
                .public_key()
                .key_id(),
            &signet_signer::passphrase::ConstantRetriever::new("x"),
        ),
        Err(Error::Unsupported { .. })
    ));
}

#[test]
fn ed25519_messages_up_to_the_device_limit() {
    let store = mock_store();
    let signer = store
        .generate(KeyAlgorithm::Ed25519, "timestamp", Some(GUN))
        .unwrap();
    let largest = vec![b'x'; MAX_ED25519_MESSAGE_LEN];
    let sig = signer.sign_notary(&largest).unwrap();
    signer.public_key().verify("eddsa", &largest, &sig).unwrap();
    let too_long = vec![b'x'; MAX_ED25519_MESSAGE_LEN + 1];
    let err = signer.sign_notary(&too_long).unwrap_err();
    assert!(matches!(err, HsmError::MessageTooLong { .. }));
    assert!(err.to_string().contains(signer.key_id().as_str()));
    // Through the Signer trait the error names the key as a signing failure.
    let err = Signer::sign(&signer, &too_long).unwrap_err();
    assert!(matches!(err, Error::Signing { ref key_id, .. } if key_id == signer.key_id().as_str()));

    // ECDSA sends only a digest: large metadata is fine.
    let ecdsa = store
        .generate(KeyAlgorithm::Ecdsa, "targets", Some(GUN))
        .unwrap();
    let big = vec![b'y'; 1 << 20];
    let sig = Signer::sign(&ecdsa, &big).unwrap();
    assert_eq!(ecdsa.public_key().keytype(), &KeyType::Ecdsa);
    ecdsa.public_key().verify("ecdsa", &big, &sig.sig).unwrap();
}

#[test]
fn ecdsa_signatures_are_low_s() {
    let store = mock_store();
    let signer = store.generate(KeyAlgorithm::Ecdsa, "root", None).unwrap();
    for i in 0..16u8 {
        let sig = signer.sign_notary(&[i]).unwrap();
        let parsed = p256::ecdsa::Signature::from_slice(&sig).unwrap();
        assert!(parsed.normalize_s().is_none(), "signature {i} has a high S");
    }
}

#[test]
fn signers_are_shareable_across_threads() {
    let store = std::sync::Arc::new(mock_store());
    let signer = store
        .generate_key(KeyAlgorithm::Ecdsa, "snapshot", Some(GUN))
        .unwrap();
    let handles: Vec<_> = (0..4u8)
        .map(|i| {
            let signer = signer.clone();
            std::thread::spawn(move || {
                let msg = [i; 100];
                let sig = signer.sign(&msg).unwrap();
                signer.public_key().verify(&sig.method, &msg, &sig.sig)
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
}
