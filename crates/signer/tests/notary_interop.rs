//! Interoperability with the Go `notary` CLI: it reads the keys we write, and we read what it
//! writes and migrates. Fails when `CI` is set and the CLI is missing; skips otherwise.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use signet_signer::passphrase::ConstantRetriever;
use signet_signer::{FileKeyStore, KeyStore, PrivateKey, keyfile, pem, pkcs8};

const PASSPHRASE: &str = "randompass";

/// `notary key list` shows GUNs left-truncated to 25 characters with a leading `...`.
fn displayed_gun(gun: &str) -> String {
    if gun.len() > 25 {
        format!("...{}", &gun[gun.len() - 22..])
    } else {
        gun.to_owned()
    }
}

fn notary(binary: &Path, trust_dir: &Path, args: &[&str], passphrase: &str) -> Output {
    let output = Command::new(binary)
        .arg("-d")
        .arg(trust_dir)
        .args(args)
        .env("NOTARY_ROOT_PASSPHRASE", passphrase)
        .env("NOTARY_TARGETS_PASSPHRASE", passphrase)
        .env("NOTARY_SNAPSHOT_PASSPHRASE", passphrase)
        .env("NOTARY_DELEGATION_PASSPHRASE", passphrase)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "notary {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Rows of `notary key list`: (role, gun, key id, location).
fn key_list(binary: &Path, trust_dir: &Path) -> Vec<(String, String, String, String)> {
    let output = notary(binary, trust_dir, &["key", "list"], PASSPHRASE);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut rows: Vec<_> = text
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let id_at = cols
                .iter()
                .position(|c| c.len() == 64 && c.parse::<signet_tuf::key::KeyId>().is_ok())?;
            let role = cols.first()?.to_string();
            let gun = if id_at == 2 {
                cols[1].to_owned()
            } else {
                String::new()
            };
            Some((
                role,
                gun,
                cols[id_at].to_owned(),
                cols.get(id_at + 1)?.to_string(),
            ))
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn go_notary_lists_decrypts_and_rewrites_our_keys() {
    let Some(binary) = common::notary_binary() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let trust_dir = temp.path().join("trust");
    let store =
        FileKeyStore::open(&trust_dir, Arc::new(ConstantRetriever::new(PASSPHRASE))).unwrap();
    let gun = "registry.local:5000/team/app";
    let keys = [
        (PrivateKey::generate_ecdsa().unwrap(), "root", ""),
        (PrivateKey::generate_ecdsa().unwrap(), "targets", gun),
        (PrivateKey::generate_ed25519().unwrap(), "snapshot", gun),
        (
            PrivateKey::generate_rsa(2048).unwrap(),
            "targets/releases",
            "",
        ),
        (PrivateKey::generate_ecdsa().unwrap(), "alice", ""),
    ];
    for (key, role, _) in &keys {
        store.add_key(key, role, Some(gun)).unwrap();
    }

    let location = store.private_dir().display().to_string();
    let mut expected: Vec<_> = keys
        .iter()
        .map(|(key, role, gun)| {
            (
                (*role).to_owned(),
                displayed_gun(gun),
                key.key_id().to_string(),
                location.clone(),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(key_list(&binary, &trust_dir), expected);

    for (key, _, _) in &keys {
        let id = key.key_id().as_str();
        let path = store.private_dir().join(format!("{id}.key"));
        let ours = std::fs::read_to_string(&path).unwrap();

        // `key export` decrypts nothing but must find and re-emit the block.
        let export = temp.path().join(format!("{id}.pem"));
        notary(
            &binary,
            &trust_dir,
            &["key", "export", "--key", id, "-o", export.to_str().unwrap()],
            PASSPHRASE,
        );
        let exported = std::fs::read_to_string(&export).unwrap();
        let block = pem::decode_first(&exported).unwrap();
        assert_eq!(block.header("path"), Some(id));
        assert_eq!(
            keyfile::decode_key_block(&block, PASSPHRASE, id)
                .unwrap()
                .key_id(),
            key.key_id()
        );

        // `key passwd` decrypts our file and writes its own encoding back.
        let output = notary(&binary, &trust_dir, &["key", "passwd", id], PASSPHRASE);
        assert!(
            String::from_utf8_lossy(&output.stdout)
                .contains(&format!("Successfully updated passphrase for key ID: {id}"))
        );
        let theirs = std::fs::read_to_string(&path).unwrap();
        assert_ne!(theirs, ours, "Go re-encrypted with a new salt and IV");
        let block = pem::decode_first(&theirs).unwrap();
        let back = keyfile::decode_key_block(&block, PASSPHRASE, id).unwrap();
        assert_eq!(back.key_id(), key.key_id());
        // Same inner PKCS#8 bytes as we write: the formats agree exactly.
        assert_eq!(
            pkcs8::decrypt_to_der(&block.contents, PASSPHRASE.as_bytes(), id)
                .unwrap()
                .as_slice(),
            pkcs8::encode_private_key_info(key).unwrap().as_slice()
        );
    }
    // Roles and GUNs survive Go's rewrite.
    assert_eq!(key_list(&binary, &trust_dir), expected);
}

#[test]
fn legacy_migration_matches_go_byte_for_byte() {
    let Some(binary) = common::notary_binary() else {
        return;
    };
    for (fixture, passphrase) in [("notary0.1", "randompass"), ("notary0.3", "password")] {
        let temp = tempfile::tempdir().unwrap();
        let theirs = temp.path().join("go");
        let ours = temp.path().join("rust");
        common::copy_tree(&common::data_dir().join(fixture), &theirs);
        common::copy_tree(&common::data_dir().join(fixture), &ours);

        let rows = key_list(&binary, &theirs);
        let store =
            FileKeyStore::open(&ours, Arc::new(ConstantRetriever::new(passphrase))).unwrap();

        assert_eq!(
            common::tree_contents(&ours.join("private")),
            common::tree_contents(&theirs.join("private")),
            "{fixture}"
        );
        assert_eq!(
            ours.join("trusted_certificates").exists(),
            theirs.join("trusted_certificates").exists()
        );
        let mut listed: Vec<_> = store
            .list_keys()
            .unwrap()
            .into_iter()
            .map(|i| {
                (
                    i.role,
                    displayed_gun(&i.gun.unwrap_or_default()),
                    i.key_id.to_string(),
                )
            })
            .collect();
        listed.sort();
        let mut go_rows: Vec<_> = rows.into_iter().map(|(r, g, id, _)| (r, g, id)).collect();
        go_rows.sort();
        assert_eq!(listed, go_rows, "{fixture}");
    }
}

#[test]
fn keys_move_between_go_and_us_through_export_and_import() {
    let Some(binary) = common::notary_binary() else {
        return;
    };
    let temp = tempfile::tempdir().unwrap();
    let ours_dir = temp.path().join("ours");
    let ours = FileKeyStore::open(&ours_dir, Arc::new(ConstantRetriever::new(PASSPHRASE))).unwrap();
    let key = PrivateKey::generate_ecdsa().unwrap();
    ours.add_key(&key, "targets", Some("example.com/app"))
        .unwrap();
    let bundle = temp.path().join("bundle.pem");
    std::fs::write(&bundle, ours.export_key(key.key_id()).unwrap()).unwrap();

    // Go imports our export and lists it with role and GUN.
    let go_dir = temp.path().join("go");
    notary(
        &binary,
        &go_dir,
        &["key", "import", bundle.to_str().unwrap()],
        PASSPHRASE,
    );
    let rows = key_list(&binary, &go_dir);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str(), rows[0].2.as_str()),
        ("targets", "example.com/app", key.key_id().as_str())
    );

    // Go generates a key and exports it; we import that export.
    notary(
        &binary,
        &go_dir,
        &["key", "generate", "ecdsa", "--role", "alice"],
        PASSPHRASE,
    );
    let go_export = temp.path().join("go-export.pem");
    notary(
        &binary,
        &go_dir,
        &["key", "export", "-o", go_export.to_str().unwrap()],
        PASSPHRASE,
    );
    let text = std::fs::read_to_string(&go_export).unwrap();
    let imported = ours.import_keys(&text, None, None).unwrap();
    assert_eq!(imported.len(), 2);
    let alice = ours
        .list_keys()
        .unwrap()
        .into_iter()
        .find(|info| info.role == "alice")
        .unwrap();
    let signer = ours.signer(&alice.key_id).unwrap();
    let sig = signer.sign(b"m").unwrap();
    signer
        .public_key()
        .verify(&sig.method, b"m", &sig.sig)
        .unwrap();
}
