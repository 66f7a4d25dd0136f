//! `signet-server rotate-kek`: every sealed server key is sealed again under the new
//! key-encryption key in one transaction, on SQLite and Postgres; the server restarted with
//! the new key still signs timestamps and snapshots, the old key opens nothing any more, and a
//! wrong current key (or the current key given as the new one) changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use axum::http::StatusCode;
use common::meta::{sign, targets_doc};
use common::publish::{ClientRepo, ServerManaged};
use common::{PgSchema, TestServer};
use signet_server::error::RotateKekError;
use signet_server::kek::{self, Kek};
use signet_server::store::{ServerKey, Store, StoreOptions};
use signet_signer::seal::open_private_key;

/// The key-encryption key the test servers start with (as in `common`).
const OLD: [u8; 32] = [7; 32];
/// The key the keys are re-sealed under.
const NEW: [u8; 32] = [8; 32];

fn sealed(keys: &[ServerKey]) -> Vec<(String, String, String, Vec<u8>)> {
    keys.iter()
        .map(|k| {
            (
                k.gun.clone(),
                k.role.clone(),
                k.key_id.clone(),
                k.sealed_private_key.to_vec(),
            )
        })
        .collect()
}

fn opens(kek: [u8; 32], key: &ServerKey) -> bool {
    open_private_key(
        &Kek::from_bytes(kek),
        &key.sealed_private_key,
        &key.gun,
        &key.role,
        &key.key_id.parse().unwrap(),
    )
    .is_ok()
}

/// Publishes a docker-style repository (server-held snapshot and timestamp) and a
/// notary-style one (server-held timestamp) through a server with the old key.
async fn publish_both(server: &TestServer) -> (ServerManaged, ClientRepo) {
    let docker = ServerManaged::publish(server, "example.com/kek/docker", &["v1"]).await;
    let notary = ClientRepo::init(server, "example.com/kek/notary").await;
    notary
        .publish(server, "example.com/kek/notary", 1, &["v1"])
        .await;
    (docker, notary)
}

/// Publishes version 2 of both repositories through `server`, which must sign a new
/// timestamp for each (and a new snapshot for the docker-style one); returns the statuses.
async fn publish_again(
    server: &TestServer,
    docker: &ServerManaged,
    notary: &ClientRepo,
) -> (StatusCode, StatusCode) {
    let targets = sign(targets_doc(2, &["v2"]), &[docker.targets_key.as_ref()]);
    let first = server
        .upload("example.com/kek/docker", &[("targets", &targets)])
        .await;
    let targets = notary.targets_v(2, &["v2"]);
    let snapshot = notary.snapshot_for(2, &[("root", &notary.root), ("targets", &targets)]);
    let second = server
        .upload(
            "example.com/kek/notary",
            &[("targets", &targets), ("snapshot", &snapshot)],
        )
        .await;
    (first.status, second.status)
}

/// The whole rotation on `store`, with routers built by `server_on(kek)`.
async fn rotate_on(store: Store, dir: &Path, server_on: impl Fn([u8; 32]) -> TestServer) {
    let before_server = server_on(OLD);
    let (docker, notary) = publish_both(&before_server).await;
    let before = store.all_server_keys().await.unwrap();
    // Timestamp and snapshot of the docker-style repository, timestamp of the other.
    assert_eq!(before.len(), 3, "{before:?}");
    assert!(before.iter().all(|k| opens(OLD, k)));

    // A wrong current key: refused, nothing changed, no new key file written.
    let new_file = dir.join("kek.new");
    let wrong = kek::rotate(&store, &Kek::from_bytes([9; 32]), &new_file, false).await;
    assert!(
        matches!(wrong, Err(RotateKekError::Open { .. })),
        "{wrong:?}"
    );
    assert!(
        wrong
            .unwrap_err()
            .to_string()
            .contains("nothing was changed")
    );
    assert!(
        !new_file.exists(),
        "a refused rotation wrote the new key file"
    );
    assert_eq!(
        sealed(&store.all_server_keys().await.unwrap()),
        sealed(&before)
    );

    // A dry run lists the keys and changes nothing.
    std::fs::write(&new_file, format!("{}\n", hex::encode(NEW))).unwrap();
    let dry = kek::rotate(&store, &Kek::from_bytes(OLD), &new_file, true)
        .await
        .unwrap();
    assert_eq!((dry.resealed(), dry.keys.len()), (3, 3));
    assert!(
        dry.to_string()
            .contains("3 server key(s) would be re-sealed")
    );
    assert_eq!(
        sealed(&store.all_server_keys().await.unwrap()),
        sealed(&before)
    );

    let report = kek::rotate(&store, &Kek::from_bytes(OLD), &new_file, false)
        .await
        .unwrap();
    assert_eq!(report.resealed(), 3);
    assert!(!report.created_new_kek);
    let text = report.to_string();
    assert!(
        text.contains("3 server key(s) re-sealed under the new key-encryption key"),
        "{text}"
    );
    for k in &before {
        assert!(
            text.contains(&format!("{} {}: re-sealed", k.gun, k.key_id)),
            "{text}"
        );
    }
    let after = store.all_server_keys().await.unwrap();
    assert_eq!(after.len(), 3);
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(
            (&old.gun, &old.role, &old.key_id, old.state),
            (&new.gun, &new.role, &new.key_id, new.state)
        );
        assert_ne!(old.sealed_private_key, new.sealed_private_key);
        assert!(opens(NEW, new), "{new:?} does not open with the new key");
        assert!(!opens(OLD, new), "{new:?} still opens with the old key");
    }

    // The server restarted with the new key signs; one still on the old key cannot.
    let stale = server_on(OLD);
    let (first, second) = publish_again(&stale, &docker, &notary).await;
    assert!(
        !first.is_success() && !second.is_success(),
        "{first} {second}"
    );
    let restarted = server_on(NEW);
    assert_eq!(
        publish_again(&restarted, &docker, &notary).await,
        (StatusCode::OK, StatusCode::OK)
    );
    for gun in ["example.com/kek/docker", "example.com/kek/notary"] {
        let timestamp = restarted
            .get(&format!("/v2/{gun}/_trust/tuf/timestamp.json"))
            .await;
        assert_eq!(timestamp.status, StatusCode::OK);
        let snapshot = restarted
            .get(&format!("/v2/{gun}/_trust/tuf/snapshot.json"))
            .await;
        assert_eq!(snapshot.json()["signed"]["version"], 2, "{gun}");
    }

    // The new key given as the new one again: refused, nothing changed.
    let resealed = sealed(&store.all_server_keys().await.unwrap());
    let same = kek::rotate(&store, &Kek::from_bytes(NEW), &new_file, false).await;
    assert!(
        matches!(same, Err(RotateKekError::SameKek { .. })),
        "{same:?}"
    );
    assert_eq!(sealed(&store.all_server_keys().await.unwrap()), resealed);
}

#[tokio::test]
async fn reseals_every_key_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let store = Store::connect(&url).await.unwrap();
    let on = store.clone();
    rotate_on(store.clone(), dir.path(), move |kek| {
        TestServer::on_store_with_device(on.clone(), kek, None, None)
    })
    .await;
    store.close().await;
}

#[tokio::test]
async fn reseals_every_key_on_postgres() {
    let Some(schema) = PgSchema::new().await else {
        return;
    };
    let schema = std::sync::Arc::new(schema);
    let store = Store::connect_with(
        &schema.url,
        &StoreOptions {
            max_connections: 4,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let on = store.clone();
    rotate_on(store.clone(), dir.path(), move |kek| {
        TestServer::on_store_with_device(on.clone(), kek, None, None)
    })
    .await;
    store.close().await;
}

/// The subcommand: a wrong `--kek-file` fails and changes nothing; the right one re-seals,
/// creating the new key file (mode 0600) when it does not exist.
#[tokio::test]
async fn the_subcommand_reseals_and_refuses_a_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let store = Store::connect(&url).await.unwrap();
    let server = TestServer::on_store_with_device(store.clone(), OLD, None, None);
    publish_both(&server).await;
    let before = sealed(&store.all_server_keys().await.unwrap());
    let old_file = dir.path().join("kek.old");
    std::fs::write(&old_file, hex::encode(OLD)).unwrap();
    let wrong_file = dir.path().join("kek.wrong");
    std::fs::write(&wrong_file, hex::encode([9u8; 32])).unwrap();
    let new_file = dir.path().join("kek.new");
    let run = |current: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_signet-server"))
            .env_clear()
            .env("RUST_LOG", "warn")
            .arg("--database-url")
            .arg(&url)
            .arg("--kek-file")
            .arg(current)
            .arg("rotate-kek")
            .arg("--new-kek-file")
            .arg(&new_file)
            .output()
            .unwrap()
    };

    let wrong = run(&wrong_file);
    assert!(!wrong.status.success());
    assert!(
        !new_file.exists(),
        "a refused rotation wrote the new key file"
    );
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains("does not open with the current key-encryption key"),
        "{stderr}"
    );
    assert_eq!(sealed(&store.all_server_keys().await.unwrap()), before);

    let done = run(&old_file);
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(
        stdout.contains("new key-encryption key file created"),
        "{stdout}"
    );
    assert!(stdout.contains("3 server key(s) re-sealed"), "{stdout}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&new_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let new = kek::load(&new_file).unwrap();
    for k in store.all_server_keys().await.unwrap() {
        assert!(!opens(OLD, &k));
        assert!(
            open_private_key(
                &new,
                &k.sealed_private_key,
                &k.gun,
                &k.role,
                &k.key_id.parse().unwrap()
            )
            .is_ok()
        );
    }
    store.close().await;
}
