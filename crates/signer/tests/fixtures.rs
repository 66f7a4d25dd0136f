//! Key files written by Go Notary (0.1, 0.3 and 0.7) decrypt, match their IDs and the fixture
//! metadata; legacy layouts migrate; the file store round-trips every key type.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use signet_signer::passphrase::ConstantRetriever;
use signet_signer::{
    CertifiedSigner, Error, FileKeyStore, KeyAlgorithm, KeyStore, PrivateKey, Signer, keyfile,
};
use signet_tuf::key::{KeyId, KeyType, PublicKey};
use signet_tuf::notary::pem::{self, PemBlock};

/// (directory under tests/data, passphrase, GUN path of its metadata)
const FIXTURES: [(&str, &str, &str); 3] = [
    ("notary0.1", "randompass", "docker.com/notary0.1/samplerepo"),
    ("notary0.3", "password", "docker.com/notary0.3/tst"),
    ("go-pkcs8", "password", ""),
];

fn key_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(key_files(&path));
        } else if path.extension().is_some_and(|e| e == "key")
            || path.to_string_lossy().ends_with("-key.pem")
        {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn read_block(path: &Path) -> PemBlock {
    pem::decode_first(&fs::read_to_string(path).unwrap()).unwrap()
}

/// The key ID in a key file name: `<id>.key` or legacy `<id>_<role>.key`.
fn id_from_name(path: &Path) -> Option<KeyId> {
    let stem = path.file_stem()?.to_str()?;
    stem.split('_').next()?.parse().ok()
}

/// Canonical IDs of every key in a metadata file's `signed.keys` and
/// `signed.delegations.keys`, checking that each key's content hashes to its listed ID.
fn metadata_keys(path: &Path) -> Vec<(KeyId, PublicKey)> {
    let doc: serde_json::Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    let signed = &doc["signed"];
    let mut keys = Vec::new();
    for map in [&signed["keys"], &signed["delegations"]["keys"]] {
        let Some(map) = map.as_object() else { continue };
        for (id, key) in map {
            let public = base64::engine::general_purpose::STANDARD
                .decode(key["keyval"]["public"].as_str().unwrap())
                .unwrap();
            let key = PublicKey::new(KeyType::parse(key["keytype"].as_str().unwrap()), public);
            assert_eq!(key.key_id().as_str(), id, "{}", path.display());
            keys.push((key.key_id(), key));
        }
    }
    keys
}

#[test]
fn every_fixture_key_decrypts_and_matches_its_file_name() {
    let mut checked = 0;
    for (dir, passphrase, _) in FIXTURES {
        for path in key_files(&common::data_dir().join(dir)) {
            let name = path.display().to_string();
            let block = read_block(&path);
            assert!(keyfile::is_encrypted(&block), "{name}");
            let key = keyfile::decode_key_block(&block, passphrase, &name)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                matches!(
                    keyfile::decode_key_block(&block, "not the passphrase", &name),
                    Err(Error::WrongPassphrase { key }) if key == name
                ),
                "{name}"
            );
            match id_from_name(&path) {
                Some(id) => assert_eq!(key.key_id(), &id, "{name}"),
                None => {
                    // alice-key.pem: compare with the public key Go wrote next to it.
                    let public = read_block(&path.with_file_name("alice.pem"));
                    assert_eq!(public.label, pem::PUBLIC_KEY);
                    assert_eq!(public.header("role"), Some("alice"));
                    let expected = PublicKey::from_spki_der(&public.contents).unwrap();
                    assert_eq!(key.key_id(), &expected.key_id(), "{name}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 3 + 4 + 5);
}

#[test]
fn go_written_keys_have_the_expected_formats() {
    let dir = common::data_dir().join("go-pkcs8");
    for path in key_files(&dir) {
        let block = read_block(&path);
        assert_eq!(
            block.label,
            pem::ENCRYPTED_PRIVATE_KEY,
            "{}",
            path.display()
        );
        let key = keyfile::decode_key_block(&block, "password", "go").unwrap();
        let expected = if block.header("role") == Some("targets/releases") {
            KeyAlgorithm::Rsa
        } else {
            KeyAlgorithm::Ecdsa
        };
        assert_eq!(key.algorithm(), expected);
        // Our writer produces the same inner structure as Go's (salt and IV aside).
        let inner =
            signet_signer::pkcs8::decrypt_to_der(&block.contents, b"password", "go").unwrap();
        assert_eq!(
            inner.as_slice(),
            signet_signer::pkcs8::encode_private_key_info(&key)
                .unwrap()
                .as_slice(),
            "{}",
            path.display()
        );
    }
}

#[test]
fn fixture_keys_are_the_keys_of_the_fixture_metadata() {
    for (dir, passphrase, gun) in FIXTURES.into_iter().take(2) {
        let base = common::data_dir().join(dir);
        let metadata = base.join("tuf").join(gun).join("metadata");
        let mut keys = metadata_keys(&metadata.join("root.json"));
        keys.extend(metadata_keys(&metadata.join("targets.json")));
        let canonical: BTreeSet<KeyId> = keys
            .iter()
            .map(|(_, k)| k.canonical_key_id().unwrap())
            .collect();
        let root_cert_key = keys
            .iter()
            .find(|(_, k)| k.keytype() == &KeyType::EcdsaX509)
            .map(|(_, k)| k.clone())
            .unwrap();

        for path in key_files(&base.join("private")) {
            let key = keyfile::decode_key_block(&read_block(&path), passphrase, "fixture").unwrap();
            assert!(
                canonical.contains(key.key_id()),
                "{} not in {dir} metadata",
                path.display()
            );
            if key.key_id() == &root_cert_key.canonical_key_id().unwrap() {
                // The root key signs under its certificate's TUF ID.
                let signer = CertifiedSigner::new(Arc::new(key), root_cert_key.clone()).unwrap();
                let sig = signer.sign(b"new root").unwrap();
                assert_eq!(sig.keyid, root_cert_key.key_id());
                root_cert_key
                    .verify(&sig.method, b"new root", &sig.sig)
                    .unwrap();
            }
        }
    }
}

fn header(path: &Path, name: &str) -> Option<String> {
    read_block(path).header(name).map(str::to_owned)
}

#[test]
fn notary01_layout_is_migrated_on_open() {
    let temp = tempfile::tempdir().unwrap();
    common::copy_tree(&common::data_dir().join("notary0.1"), temp.path());
    let store =
        FileKeyStore::open(temp.path(), Arc::new(ConstantRetriever::new("randompass"))).unwrap();
    let private = temp.path().join("private");
    assert!(!private.join("root_keys").exists());
    assert!(!private.join("tuf_keys").exists());
    assert!(
        temp.path().join("trusted_certificates").exists(),
        "top level is left alone"
    );
    assert_eq!(store.migration().migrated.len(), 3);
    assert!(store.migration().skipped.is_empty());

    let gun = "docker.com/notary0.1/samplerepo";
    let expected = [
        (
            "d0c623c8e70c70d42a8a8125c44a8598588b3f6e31d5c21a83cbc338dfde8a68",
            "root",
            None,
        ),
        (
            "7fc757801b9bab4ec9e35bfe7a6b61668ff6f4c81b5632af19e6c728ab799599",
            "targets",
            Some(gun),
        ),
        (
            "a55ccf652b0be4b6c4d356cbb02d9ea432bb84a2571665be3df7c7396af8e8b8",
            "snapshot",
            Some(gun),
        ),
    ];
    let mut names: Vec<String> = fs::read_dir(&private)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected_names: Vec<String> = expected
        .iter()
        .map(|(id, _, _)| format!("{id}.key"))
        .collect();
    expected_names.sort();
    assert_eq!(names, expected_names);

    for (id, role, gun) in expected {
        let path = private.join(format!("{id}.key"));
        // Legacy encryption is kept: nothing was decrypted.
        assert_eq!(header(&path, "Proc-Type").as_deref(), Some("4,ENCRYPTED"));
        assert_eq!(header(&path, "role").as_deref(), Some(role));
        assert_eq!(header(&path, "gun").as_deref(), gun);
        let id: KeyId = id.parse().unwrap();
        let info = store.key_info(&id).unwrap();
        assert_eq!((info.role.as_str(), info.gun.as_deref()), (role, gun));
        assert_eq!(store.signer(&id).unwrap().public_key().key_id(), id);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}

#[test]
fn notary03_layout_is_migrated_on_open() {
    let temp = tempfile::tempdir().unwrap();
    common::copy_tree(&common::data_dir().join("notary0.3"), temp.path());
    let store =
        FileKeyStore::open(temp.path(), Arc::new(ConstantRetriever::new("password"))).unwrap();
    let mut listed: Vec<(String, String, Option<String>)> = store
        .list_keys()
        .unwrap()
        .into_iter()
        .map(|i| (i.key_id.to_string(), i.role, i.gun))
        .collect();
    listed.sort();
    let gun = Some("docker.com/notary0.3/tst".to_owned());
    assert_eq!(
        listed,
        vec![
            (
                "041b64dab281324ef2b62fd2d04f4758269e120ff063b7bc78709272821a0a02".into(),
                "targets".into(),
                gun.clone()
            ),
            (
                "85559599cf3cf681ff193f432a7ca6d128182bd1cfa8ede2c70761deac8bc2dc".into(),
                "snapshot".into(),
                gun
            ),
            (
                "f4eaf871a74aa3b3a0ff95cef2455a1e4d461639f5625418e76756fc5c948690".into(),
                "root".into(),
                None
            ),
            (
                "fa842f66cac2dc898677a8660789dcff0e3b0b93b73f8952491f6493199936d3".into(),
                "targets/releases".into(),
                None
            ),
        ]
    );
    for info in store.list_keys().unwrap() {
        assert_eq!(info.location, store.private_dir().display().to_string());
        let signer = store.signer(&info.key_id).unwrap();
        let sig = signer.sign(b"msg").unwrap();
        signer
            .public_key()
            .verify(&sig.method, b"msg", &sig.sig)
            .unwrap();
    }
    // A second open finds nothing left to migrate.
    let again =
        FileKeyStore::open(temp.path(), Arc::new(ConstantRetriever::new("password"))).unwrap();
    assert!(again.migration().migrated.is_empty());
    assert_eq!(again.list_keys().unwrap().len(), 4);
}

#[test]
fn file_store_round_trips_every_key_type() {
    let temp = tempfile::tempdir().unwrap();
    let store =
        FileKeyStore::open(temp.path(), Arc::new(ConstantRetriever::new("pass-one"))).unwrap();
    let keys = [
        (PrivateKey::generate_ecdsa().unwrap(), "root", None),
        (
            PrivateKey::generate_ed25519().unwrap(),
            "timestamp",
            Some("example.com/app"),
        ),
        (PrivateKey::generate_rsa(2048).unwrap(), "alice", None),
        (
            PrivateKey::generate_ecdsa().unwrap(),
            "targets",
            Some("example.com/app"),
        ),
    ];
    for (key, role, gun) in &keys {
        let info = store.add_key(key, role, Some("example.com/app")).unwrap();
        assert_eq!(info.gun.as_deref(), *gun);
        let path = store.private_dir().join(format!("{}.key", key.key_id()));
        let block = read_block(&path);
        assert_eq!(block.label, pem::ENCRYPTED_PRIVATE_KEY);
        assert_eq!(block.header("role"), Some(*role));
        assert_eq!(block.header("gun"), *gun);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            assert_eq!(
                fs::metadata(store.private_dir())
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o700
            );
        }
    }

    // A fresh store (nothing cached) decrypts every key from disk.
    let reopened =
        FileKeyStore::open(temp.path(), Arc::new(ConstantRetriever::new("pass-one"))).unwrap();
    assert_eq!(reopened.list_keys().unwrap().len(), keys.len());
    for (key, _, _) in &keys {
        let signer = reopened.signer(key.key_id()).unwrap();
        assert_eq!(signer.public_key(), key.public_key());
        let sig = signer.sign(b"payload").unwrap();
        key.public_key()
            .verify(&sig.method, b"payload", &sig.sig)
            .unwrap();

        let exported = reopened.export_key(key.key_id()).unwrap();
        let block = pem::decode_first(&exported).unwrap();
        assert_eq!(block.header("path"), Some(key.key_id().as_str()));
        let back = keyfile::decode_key_block(&block, "pass-one", "export").unwrap();
        assert_eq!(back.key_id(), key.key_id());
    }

    // key passwd
    let (ecdsa, _, _) = &keys[0];
    reopened
        .change_passphrase(ecdsa.key_id(), &ConstantRetriever::new("pass-two"))
        .unwrap();
    let wrong =
        FileKeyStore::open(temp.path(), Arc::new(ConstantRetriever::new("pass-one"))).unwrap();
    assert!(matches!(
        wrong.signer(ecdsa.key_id()),
        Err(Error::WrongPassphrase { key }) if key == ecdsa.key_id().as_str()
    ));
    let right =
        FileKeyStore::open(temp.path(), Arc::new(ConstantRetriever::new("pass-two"))).unwrap();
    assert_eq!(
        right.signer(ecdsa.key_id()).unwrap().public_key(),
        ecdsa.public_key()
    );
    assert_eq!(right.key_info(ecdsa.key_id()).unwrap().role, "root");

    right.remove_key(ecdsa.key_id()).unwrap();
    assert!(
        !right
            .private_dir()
            .join(format!("{}.key", ecdsa.key_id()))
            .exists()
    );
    assert!(matches!(
        right.signer(ecdsa.key_id()),
        Err(Error::KeyNotFound { .. })
    ));
}

#[test]
fn empty_passphrase_writes_unencrypted_keys() {
    let temp = tempfile::tempdir().unwrap();
    let store = FileKeyStore::open(temp.path(), Arc::new(ConstantRetriever::new(""))).unwrap();
    let key = PrivateKey::generate_ecdsa().unwrap();
    store.add_key(&key, "targets/releases", None).unwrap();
    let path = store.private_dir().join(format!("{}.key", key.key_id()));
    assert_eq!(read_block(&path).label, pem::PRIVATE_KEY);
    let reopened = FileKeyStore::open(temp.path(), Arc::new(ConstantRetriever::new("x"))).unwrap();
    assert_eq!(
        reopened.signer(key.key_id()).unwrap().public_key(),
        key.public_key()
    );
}

#[cfg(unix)]
#[test]
fn store_ignores_symlinks_foreign_files_and_finds_nested_keys() {
    let temp = tempfile::tempdir().unwrap();
    let store = FileKeyStore::open(temp.path(), Arc::new(ConstantRetriever::new("pw"))).unwrap();
    let key = PrivateKey::generate_ecdsa().unwrap();
    store.add_key(&key, "root", None).unwrap();
    let private = store.private_dir().to_path_buf();
    let file = private.join(format!("{}.key", key.key_id()));
    let nested = PrivateKey::generate_ecdsa().unwrap();
    let nested_dir = private.join("some/sub/dir");
    fs::create_dir_all(&nested_dir).unwrap();
    fs::write(
        nested_dir.join(format!("{}.key", nested.key_id())),
        keyfile::encode_key_file(&nested, "alice", None, "pw").unwrap(),
    )
    .unwrap();
    let linked = PrivateKey::generate_ecdsa().unwrap();
    let outside = temp.path().join(format!("{}.key", linked.key_id()));
    fs::write(
        &outside,
        keyfile::encode_key_file(&linked, "bob", None, "pw").unwrap(),
    )
    .unwrap();
    std::os::unix::fs::symlink(&outside, private.join(format!("{}.key", linked.key_id()))).unwrap();
    fs::copy(&file, private.join("not-a-key-id.key")).unwrap();
    fs::copy(&file, private.join(format!("{}.pem", "a".repeat(64)))).unwrap();
    fs::write(private.join(format!("{}.key", "b".repeat(64))), "not pem").unwrap();

    let reopened = FileKeyStore::open(temp.path(), Arc::new(ConstantRetriever::new("pw"))).unwrap();
    let mut ids: Vec<KeyId> = reopened
        .list_keys()
        .unwrap()
        .into_iter()
        .map(|i| i.key_id)
        .collect();
    ids.sort();
    let mut expected = vec![key.key_id().clone(), nested.key_id().clone()];
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(
        reopened.signer(nested.key_id()).unwrap().public_key(),
        nested.public_key()
    );
    assert!(
        reopened
            .export_key(nested.key_id())
            .unwrap()
            .contains(&format!("path: some/sub/dir/{}", nested.key_id()))
    );
}

#[test]
fn exported_keys_import_into_another_store() {
    let source_dir = tempfile::tempdir().unwrap();
    let source =
        FileKeyStore::open(source_dir.path(), Arc::new(ConstantRetriever::new("pw"))).unwrap();
    let root = PrivateKey::generate_ecdsa().unwrap();
    let targets = PrivateKey::generate_ecdsa().unwrap();
    source.add_key(&root, "root", None).unwrap();
    source
        .add_key(&targets, "targets", Some("example.com/app"))
        .unwrap();
    let bundle =
        source.export_key(root.key_id()).unwrap() + &source.export_key(targets.key_id()).unwrap();

    let dest_dir = tempfile::tempdir().unwrap();
    let dest = FileKeyStore::open(dest_dir.path(), Arc::new(ConstantRetriever::new("pw"))).unwrap();
    let mut written = dest.import_keys(&bundle, Some("ignored"), None).unwrap();
    written.sort();
    let mut expected = vec![root.key_id().to_string(), targets.key_id().to_string()];
    expected.sort();
    assert_eq!(written, expected);
    let info = dest.key_info(targets.key_id()).unwrap();
    assert_eq!(
        (info.role.as_str(), info.gun.as_deref()),
        ("targets", Some("example.com/app"))
    );
    assert_eq!(
        dest.signer(root.key_id()).unwrap().public_key(),
        root.public_key()
    );
    assert!(
        !fs::read_to_string(dest.private_dir().join(format!("{}.key", root.key_id())))
            .unwrap()
            .contains("path:"),
        "the path header is dropped on import"
    );

    // An unencrypted key gets the fallback role and GUN and is encrypted on the way in.
    let plain = PrivateKey::generate_ed25519().unwrap();
    let text = keyfile::encode_key_file(&plain, "", None, "").unwrap();
    dest.import_keys(&text, Some("snapshot"), Some("example.com/app"))
        .unwrap();
    let path = dest.private_dir().join(format!("{}.key", plain.key_id()));
    assert_eq!(read_block(&path).label, pem::ENCRYPTED_PRIVATE_KEY);
    let info = dest.key_info(plain.key_id()).unwrap();
    assert_eq!(
        (info.role.as_str(), info.gun.as_deref()),
        ("snapshot", Some("example.com/app"))
    );

    // An encrypted key without a path header is decrypted for its ID (a wrong passphrase is
    // an error that writes nothing).
    let other = PrivateKey::generate_ed25519().unwrap();
    let wrong = keyfile::encode_key_file(&other, "alice", None, "not-pw").unwrap();
    assert!(dest.import_keys(&wrong, None, None).is_err());
    assert!(dest.key_info(other.key_id()).is_err());
    let encrypted_without_path = keyfile::encode_key_file(&other, "alice", None, "pw").unwrap();
    assert_eq!(
        dest.import_keys(&encrypted_without_path, None, None)
            .unwrap(),
        vec![other.key_id().to_string()]
    );
    assert_eq!(dest.key_info(other.key_id()).unwrap().role, "alice");

    // Nothing importable at all is an error naming the formats tried.
    for text in [
        "",
        "not a key",
        "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n",
    ] {
        match dest.import_keys(text, None, None) {
            Err(Error::Import { reasons }) => {
                assert!(
                    reasons.contains("EC PRIVATE KEY") || reasons.contains("CERTIFICATE"),
                    "{reasons}"
                );
            }
            result => panic!("{text:?}: {result:?}"),
        }
    }
}
