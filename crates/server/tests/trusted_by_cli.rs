//! `signet-server trusted-by`: text and JSON answers for a key ID, a certificate file and a
//! public key file, read from the database the server settings name; bad input fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::meta::{RootKey, delegate, plain_key, root_doc, sign, targets_doc};
use signet_server::store::{FileUpdate, Store};

fn trusted_by(dir: &Path, args: &[&str]) -> Output {
    let url = format!("sqlite://{}?mode=rwc", dir.join("signet.db").display());
    std::process::Command::new(env!("CARGO_BIN_EXE_signet-server"))
        .env_clear()
        .env("RUST_LOG", "warn")
        .arg("--database-url")
        .arg(url)
        .arg("--data-dir")
        .arg(dir)
        .arg("trusted-by")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[tokio::test]
async fn lists_the_repositories_of_a_key_id_or_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("signet.db").display()
    );
    let store = Store::connect(&url).await.unwrap();
    let root_key = RootKey::new("example.com/app");
    let (targets, snapshot, timestamp, signer) =
        (plain_key(), plain_key(), plain_key(), plain_key());
    let root = sign(
        root_doc(
            1,
            &[&root_key.public],
            targets.public_key(),
            snapshot.public_key(),
            timestamp.public_key(),
        ),
        &[root_key.signer.as_ref()],
    );
    let mut t = targets_doc(1, &[]);
    delegate(&mut t, "targets/releases", signer.public_key(), &[""]);
    let t = sign(t, &[targets.as_ref()]);
    for gun in ["example.com/app", "example.com/lib"] {
        store
            .update_many(
                gun,
                &[
                    FileUpdate::new("root", 1, root.clone()),
                    FileUpdate::new("targets", 1, t.clone()),
                ],
            )
            .await
            .unwrap();
    }
    store.close().await;

    // A key ID: one table.
    let signer_id = signer.public_key().key_id().to_string();
    let text = stdout(&trusted_by(dir.path(), &[&signer_id]));
    assert_eq!(
        text,
        format!(
            "Key {signer_id} (argument): trusted by 2 roles\n\
             GUN              ROLE              LISTED KEY ID\n\
             example.com/app  targets/releases  {signer_id}\n\
             example.com/lib  targets/releases  {signer_id}\n"
        )
    );

    // JSON.
    let json: serde_json::Value = serde_json::from_str(&stdout(&trusted_by(
        dir.path(),
        &[&signer_id, "--output", "json"],
    )))
    .unwrap();
    assert_eq!(
        json,
        serde_json::json!([{
            "key_id": signer_id,
            "source": "argument",
            "repositories": [
                {"gun": "example.com/app", "role": "targets/releases", "key_id": signer_id},
                {"gun": "example.com/lib", "role": "targets/releases", "key_id": signer_id},
            ],
        }])
    );

    // The root certificate: its certificate ID and its canonical ID both find root.
    let cert_file = dir.path().join("root.crt");
    std::fs::write(&cert_file, root_key.public.public()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&stdout(&trusted_by(
        dir.path(),
        &[
            "--key-file",
            cert_file.to_str().unwrap(),
            "--output",
            "json",
        ],
    )))
    .unwrap();
    let cert_id = root_key.id().to_string();
    let canonical = root_key.public.canonical_key_id().unwrap().to_string();
    let root_entries = serde_json::json!([
        {"gun": "example.com/app", "role": "root", "key_id": cert_id},
        {"gun": "example.com/lib", "role": "root", "key_id": cert_id},
    ]);
    assert_eq!(
        json,
        serde_json::json!([
            {"key_id": cert_id, "source": "certificate", "repositories": root_entries},
            {"key_id": canonical, "source": "canonical", "repositories": root_entries},
        ])
    );

    // A public key file.
    let pub_file = dir.path().join("targets.pub");
    let pem = signet_tuf::notary::pem::encode_plain(
        signet_tuf::notary::pem::PUBLIC_KEY,
        targets.public_key().public(),
    );
    std::fs::write(&pub_file, pem).unwrap();
    let text = stdout(&trusted_by(
        dir.path(),
        &["--key-file", pub_file.to_str().unwrap()],
    ));
    let targets_id = targets.public_key().key_id();
    assert!(
        text.starts_with(&format!(
            "Key {targets_id} (public key): trusted by 2 roles\n"
        )),
        "{text}"
    );

    // Nothing trusts it.
    let text = stdout(&trusted_by(dir.path(), &[&"0".repeat(64)]));
    assert_eq!(
        text,
        format!(
            "Key {} (argument): no repository trusts it\n",
            "0".repeat(64)
        )
    );

    // Bad input: an error naming it, nothing on standard output.
    for (args, says) in [
        (vec!["not-a-key-id"], "invalid key ID \"not-a-key-id\""),
        (
            vec!["--key-file", "/nonexistent/key.pem"],
            "cannot read the key file",
        ),
    ] {
        let out = trusted_by(dir.path(), &args);
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let out = trusted_by(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
}
