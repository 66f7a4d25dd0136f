//! Server keys in a YubiHSM 2, against the `yubihsm` crate's MockHsm: keys generated on the
//! device, publishing with device signatures, sealed keys still signing next to them, moving
//! sealed keys onto the device and back, and opening the device at start-up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;

use axum::http::StatusCode;
use common::TestServer;
use common::meta::{sign, targets_doc};
use common::publish::{ServerManaged, server_key};
use signet_server::config::{PasswordSource, YubiHsmSettings};
use signet_server::error::{HsmError, MoveKeysError};
use signet_server::hsm::{
    MoveAction, MoveOptions, ServerHsm, move_keys_off_device, move_keys_to_device,
};
use signet_server::service::KeyDevice;
use signet_server::store::{KeyState, ServerKey, Store};
use signet_signer::PrivateKey;
use signet_signer::seal::Kek;
use signet_signer::yubihsm::{ConnectorConfig, key_label};
use signet_tuf::metadata::{Envelope, Root, Snapshot, Timestamp};
use signet_tuf::verify::{verify_snapshot, verify_timestamp};
use yubihsm::object::{Filter, Type};
use yubihsm::{Client, Connector, Credentials, HttpConfig};

/// The key-encryption key of the tests' sealed keys.
const KEK: [u8; 32] = [7; 32];
/// Another key-encryption key: a server with it cannot open the sealed keys, so whatever it
/// signs was signed on the device.
const OTHER_KEK: [u8; 32] = [9; 32];
/// Password of the MockHsm's (factory default) authentication key 1.
const MOCK_PASSWORD: &str = "password";

/// A fresh MockHsm, in process.
fn mock_hsm() -> ServerHsm {
    let client = Client::open(Connector::mockhsm(), Credentials::default(), true).unwrap();
    ServerHsm::from_client(client, "mockhsm", 1, false).unwrap()
}

/// A fresh SQLite store in its own directory.
async fn sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    (Store::connect(&url).await.unwrap(), dir)
}

/// Runs each named `async fn(Store)` as two tests, on a fresh SQLite database and on a fresh
/// PostgreSQL schema (skipped when Postgres is down and `CI` unset).
macro_rules! on_both_stores {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, _dir) = super::sqlite_store().await;
                    super::$name(store.clone()).await;
                    store.close().await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(schema) = super::common::PgSchema::new().await else {
                        return;
                    };
                    let store = super::Store::connect(&schema.url).await.unwrap();
                    super::$name(store.clone()).await;
                    store.close().await;
                    drop(schema);
                }
            )+
        }
    };
}

on_both_stores!(
    new_keys_are_generated_on_the_device_and_sign_a_publish,
    sealed_keys_keep_signing_next_to_device_keys,
    sealed_keys_move_onto_the_device,
    an_interrupted_move_is_finished_without_a_second_import,
    moved_keys_with_their_sealed_copy_can_go_back,
    a_sealed_key_that_is_not_the_recorded_one_stops_the_move,
);

fn device(hsm: &ServerHsm, new_keys: bool) -> Option<KeyDevice> {
    Some(KeyDevice {
        hsm: hsm.clone(),
        new_keys,
    })
}

/// The one key of `role` of `gun`.
async fn only_key(store: &Store, gun: &str, role: &str) -> ServerKey {
    let mut keys = store.server_keys(gun, role).await.unwrap();
    assert_eq!(keys.len(), 1, "{gun} {role}: {keys:?}");
    keys.remove(0)
}

/// How many asymmetric keys and opaque objects the device holds.
fn device_objects(hsm: &ServerHsm) -> (usize, usize) {
    let client = hsm.key_store().client();
    let count = |t| client.list_objects(&[Filter::Type(t)]).unwrap().len();
    (count(Type::AsymmetricKey), count(Type::Opaque))
}

/// Fetches timestamp.json and snapshot.json of `gun` and verifies both against `root`;
/// returns the key IDs that signed the timestamp.
async fn verified_timestamp(s: &TestServer, gun: &str, root: &[u8]) -> Vec<String> {
    let root = Envelope::<Root>::parse(root).unwrap();
    let ts = s.get(&format!("/v2/{gun}/_trust/tuf/timestamp.json")).await;
    assert_eq!(ts.status, StatusCode::OK, "{}", ts.text());
    let ts = Envelope::<Timestamp>::parse(&ts.body).unwrap();
    verify_timestamp(&ts, root.signed()).unwrap();
    let snap = s.get(&format!("/v2/{gun}/_trust/tuf/snapshot.json")).await;
    assert_eq!(snap.status, StatusCode::OK, "{}", snap.text());
    verify_snapshot(
        &Envelope::<Snapshot>::parse(&snap.body).unwrap(),
        root.signed(),
    )
    .unwrap();
    ts.signatures()
        .iter()
        .map(|sig| sig.keyid.to_string())
        .collect()
}

/// Uploads targets `version` of a [`ServerManaged`] repository (the server signs snapshot and
/// timestamp).
async fn publish_targets(s: &TestServer, gun: &str, repo: &ServerManaged, version: i64) {
    let targets = sign(
        targets_doc(version, &["x", "y"]),
        &[repo.targets_key.as_ref()],
    );
    let r = s.upload(gun, &[("targets", &targets)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
}

async fn new_keys_are_generated_on_the_device_and_sign_a_publish(store: Store) {
    let gun = "example.com/hsm/generated";
    let hsm = mock_hsm();
    let s = TestServer::on_store_with_device(store.clone(), KEK, device(&hsm, true), None);

    let published = ServerManaged::publish(&s, gun, &["x"]).await;

    for role in ["timestamp", "snapshot"] {
        let row = only_key(&store, gun, role).await;
        assert_eq!(row.state, KeyState::Active, "{role}");
        assert!(
            !row.has_sealed_copy(),
            "{role}: the database holds no private key"
        );
        let location = row.hsm.clone().expect("held in the device");
        assert_eq!(location.label, key_label(role, Some(gun)));
        assert_eq!(row.algorithm, "ecdsa");
        let on_device = hsm
            .key_store()
            .device_key(&row.key_id.parse().unwrap())
            .unwrap();
        assert_eq!(on_device.object_id, location.object_id);
        assert_eq!(on_device.label, location.label);
        assert!(on_device.generated_on_device, "{role}");
        assert!(
            !on_device.exportable_under_wrap,
            "{role}: the private key can never leave the device"
        );
    }
    // One object per key: the database keeps role, GUN and key ID.
    assert_eq!(device_objects(&hsm), (2, 0));

    // The timestamp and snapshot the server signed verify against the root, and the only
    // copy of their keys is on the device.
    let signers = verified_timestamp(&s, gun, &published.root).await;
    assert_eq!(signers, [only_key(&store, gun, "timestamp").await.key_id]);

    // The next publish signs on the device again.
    publish_targets(&s, gun, &published, 2).await;
    verified_timestamp(&s, gun, &published.root).await;
    assert_eq!(device_objects(&hsm), (2, 0), "no key was added");

    // `GET timestamp.key` answers the device key listed in the root.
    let listed = server_key(&s, gun, "timestamp").await;
    assert_eq!(
        listed.key_id().to_string(),
        only_key(&store, gun, "timestamp").await.key_id
    );
}

async fn sealed_keys_keep_signing_next_to_device_keys(store: Store) {
    let (sealed_gun, device_gun) = ("example.com/hsm/sealed", "example.com/hsm/on-device");
    let hsm = mock_hsm();

    // Published before the device was configured: sealed keys.
    let before = TestServer::on_store_with_device(store.clone(), KEK, None, None);
    let sealed = ServerManaged::publish(&before, sealed_gun, &["x"]).await;

    // The server now makes new keys on the device.
    let s = TestServer::on_store_with_device(store.clone(), KEK, device(&hsm, true), None);
    let on_device = ServerManaged::publish(&s, device_gun, &["x"]).await;
    publish_targets(&s, sealed_gun, &sealed, 2).await;

    let sealed_ts = only_key(&store, sealed_gun, "timestamp").await;
    assert!(sealed_ts.hsm.is_none() && sealed_ts.has_sealed_copy());
    let device_ts = only_key(&store, device_gun, "timestamp").await;
    assert!(device_ts.hsm.is_some() && !device_ts.has_sealed_copy());
    assert_eq!(
        verified_timestamp(&s, sealed_gun, &sealed.root).await,
        [sealed_ts.key_id]
    );
    assert_eq!(
        verified_timestamp(&s, device_gun, &on_device.root).await,
        std::slice::from_ref(&device_ts.key_id)
    );
    assert_eq!(device_objects(&hsm).0, 2, "only the new GUN's keys");

    // A server without the device cannot sign with device keys: the upload fails and
    // changes nothing.
    let without = TestServer::on_store_with_device(store.clone(), KEK, None, None);
    let versions = store
        .latest(device_gun, "timestamp")
        .await
        .unwrap()
        .unwrap();
    let targets = sign(targets_doc(2, &["z"]), &[on_device.targets_key.as_ref()]);
    let r = without.upload(device_gun, &[("targets", &targets)]).await;
    assert!(r.status.is_server_error(), "{} {}", r.status, r.text());
    assert_eq!(
        store
            .latest(device_gun, "timestamp")
            .await
            .unwrap()
            .unwrap(),
        versions
    );
}

/// Two repositories with sealed server keys, a pending sealed key of a third, and a retired
/// key; returns the published repositories.
async fn sealed_fleet(store: &Store) -> Vec<(&'static str, ServerManaged)> {
    let s = TestServer::on_store_with_device(store.clone(), KEK, None, None);
    let mut out = Vec::new();
    for gun in ["example.com/fleet/a", "example.com/fleet/b"] {
        out.push((gun, ServerManaged::publish(&s, gun, &["x"]).await));
    }
    server_key(&s, "example.com/fleet/pending", "timestamp").await;
    // A retired key: rotate the timestamp key of b, then mark the new one retired.
    let r = s
        .request(
            axum::http::Method::POST,
            "/v2/example.com/fleet/b/_trust/tuf/timestamp.key",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let rotated: signet_tuf::PublicKey = serde_json::from_slice(&r.body).unwrap();
    store
        .mark_key_state(
            "example.com/fleet/b",
            "timestamp",
            rotated.key_id().as_str(),
            KeyState::Retired,
        )
        .await
        .unwrap();
    out
}

fn options(dry_run: bool, remove_sealed: bool) -> MoveOptions {
    MoveOptions {
        dry_run,
        remove_sealed,
        include_retired: false,
    }
}

async fn sealed_keys_move_onto_the_device(store: Store) {
    let hsm = mock_hsm();
    let kek = Kek::from_bytes(KEK);
    let fleet = sealed_fleet(&store).await;
    let all_before = store.all_server_keys().await.unwrap();
    assert_eq!(all_before.len(), 6);

    // A dry run reports and changes nothing.
    let dry = move_keys_to_device(&store, &kek, &hsm, &options(true, true))
        .await
        .unwrap();
    assert!(dry.dry_run);
    assert_eq!(dry.count(&MoveAction::Imported), 5);
    assert_eq!(dry.count(&MoveAction::SkippedRetired), 1);
    assert_eq!(dry.sealed_removed(), 5);
    assert!(dry.to_string().starts_with("dry run"), "{dry}");
    assert_eq!(store.all_server_keys().await.unwrap(), all_before);
    assert_eq!(device_objects(&hsm), (0, 0));

    // The move imports every pending and active key and keeps the sealed copies.
    let moved = move_keys_to_device(&store, &kek, &hsm, &options(false, false))
        .await
        .unwrap();
    assert_eq!(moved.count(&MoveAction::Imported), 5, "{moved}");
    assert_eq!(moved.count(&MoveAction::SkippedRetired), 1, "{moved}");
    assert_eq!(moved.sealed_removed(), 0);
    assert_eq!(device_objects(&hsm), (5, 0));
    for key in store.all_server_keys().await.unwrap() {
        assert!(key.has_sealed_copy(), "{key:?}: the sealed copy is kept");
        if key.state == KeyState::Retired {
            assert!(key.hsm.is_none(), "{key:?}");
            continue;
        }
        let location = key.hsm.clone().expect("recorded as held in the device");
        let on_device = hsm
            .key_store()
            .device_key(&key.key_id.parse().unwrap())
            .unwrap();
        assert_eq!(on_device.object_id, location.object_id);
        assert_eq!(on_device.label, key_label(&key.role, Some(&key.gun)));
        assert!(!on_device.generated_on_device);
        assert!(!on_device.exportable_under_wrap);
    }

    // A server that cannot open the sealed copies signs with the device.
    let s = TestServer::on_store_with_device(store.clone(), OTHER_KEK, device(&hsm, false), None);
    for (gun, repo) in &fleet {
        publish_targets(&s, gun, repo, 2).await;
        let ts_key = store
            .server_keys(gun, "timestamp")
            .await
            .unwrap()
            .into_iter()
            .find(|k| k.state == KeyState::Active)
            .unwrap();
        assert_eq!(
            verified_timestamp(&s, gun, &repo.root).await,
            [ts_key.key_id]
        );
    }

    // Running it again changes nothing.
    let again = move_keys_to_device(&store, &kek, &hsm, &options(false, false))
        .await
        .unwrap();
    assert!(!again.changed_anything(), "{again}");
    assert_eq!(again.count(&MoveAction::AlreadyOnDevice), 5);
    assert_eq!(device_objects(&hsm), (5, 0));

    // With --remove-sealed the sealed copies go, after a test signature.
    let removed = move_keys_to_device(&store, &kek, &hsm, &options(false, true))
        .await
        .unwrap();
    assert_eq!(removed.sealed_removed(), 5, "{removed}");
    assert!(
        removed.to_string().contains("sealed copy removed"),
        "{removed}"
    );
    for key in store.all_server_keys().await.unwrap() {
        assert_eq!(
            key.has_sealed_copy(),
            key.state == KeyState::Retired,
            "{key:?}"
        );
    }
    let final_again = move_keys_to_device(&store, &kek, &hsm, &options(false, true))
        .await
        .unwrap();
    assert!(!final_again.changed_anything(), "{final_again}");

    // Still signing, now with no sealed copy anywhere.
    for (gun, repo) in &fleet {
        publish_targets(&s, gun, repo, 3).await;
        verified_timestamp(&s, gun, &repo.root).await;
    }
    // Those keys cannot be exported to a Go notary-signer any more, and cannot go back.
    let back = move_keys_off_device(&store, &kek, false).await.unwrap();
    assert_eq!(back.count(&MoveAction::NoSealedCopy), 5, "{back}");
    assert_eq!(back.count(&MoveAction::NotOnDevice), 1, "{back}");
}

async fn an_interrupted_move_is_finished_without_a_second_import(store: Store) {
    let hsm = mock_hsm();
    let kek = Kek::from_bytes(KEK);
    let gun = "example.com/interrupted";
    let s = TestServer::on_store_with_device(store.clone(), KEK, None, None);
    ServerManaged::publish(&s, gun, &["x"]).await;

    // A run that imported the timestamp key and stopped before recording it.
    let ts = only_key(&store, gun, "timestamp").await;
    let private = signet_signer::seal::open_private_key(
        &kek,
        &ts.sealed_private_key,
        gun,
        "timestamp",
        &ts.key_id.parse().unwrap(),
    )
    .unwrap();
    hsm.key_store()
        .put_key(&private, "timestamp", Some(gun))
        .unwrap();
    assert_eq!(device_objects(&hsm).0, 1);

    let report = move_keys_to_device(&store, &kek, &hsm, &options(false, false))
        .await
        .unwrap();
    let entry = |role: &str| {
        report
            .entries
            .iter()
            .find(|e| e.role == role)
            .unwrap()
            .action
            .clone()
    };
    assert_eq!(entry("timestamp"), MoveAction::Recorded, "{report}");
    assert_eq!(entry("snapshot"), MoveAction::Imported, "{report}");
    assert_eq!(
        device_objects(&hsm).0,
        2,
        "no second copy of the timestamp key"
    );
}

async fn moved_keys_with_their_sealed_copy_can_go_back(store: Store) {
    let hsm = mock_hsm();
    let kek = Kek::from_bytes(KEK);
    let gun = "example.com/back";
    let s = TestServer::on_store_with_device(store.clone(), KEK, None, None);
    let repo = ServerManaged::publish(&s, gun, &["x"]).await;
    move_keys_to_device(&store, &kek, &hsm, &options(false, false))
        .await
        .unwrap();
    // A key generated on the device cannot go back.
    let with_device =
        TestServer::on_store_with_device(store.clone(), KEK, device(&hsm, true), None);
    server_key(&with_device, "example.com/back-new", "timestamp").await;

    let dry = move_keys_off_device(&store, &kek, true).await.unwrap();
    assert_eq!(dry.count(&MoveAction::BackToSealed), 2, "{dry}");
    assert!(
        only_key(&store, gun, "timestamp").await.hsm.is_some(),
        "a dry run changes nothing"
    );

    // The sealed copies must open with the key-encryption key given.
    let err = move_keys_off_device(&store, &Kek::from_bytes(OTHER_KEK), false)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MoveKeysError::Key { gun: g, .. } if g == gun),
        "{err}"
    );

    let back = move_keys_off_device(&store, &kek, false).await.unwrap();
    assert_eq!(back.count(&MoveAction::BackToSealed), 2, "{back}");
    assert_eq!(back.count(&MoveAction::NoSealedCopy), 1, "{back}");
    assert!(only_key(&store, gun, "timestamp").await.hsm.is_none());
    assert!(
        only_key(&store, "example.com/back-new", "timestamp")
            .await
            .hsm
            .is_some()
    );
    // A server without the device signs with the sealed copies again.
    publish_targets(&s, gun, &repo, 2).await;
    verified_timestamp(&s, gun, &repo.root).await;
}

async fn a_sealed_key_that_is_not_the_recorded_one_stops_the_move(store: Store) {
    let hsm = mock_hsm();
    let kek = Kek::from_bytes(KEK);
    let gun = "example.com/swapped";
    let s = TestServer::on_store_with_device(store.clone(), KEK, None, None);
    server_key(&s, gun, "timestamp").await;
    // A row whose sealed blob holds another key than the one it records (the seal binds GUN,
    // role and key ID, so it does not open under this row's key ID).
    let mut row = only_key(&store, gun, "timestamp").await;
    row.gun = "example.com/swapped-copy".to_owned();
    let other = PrivateKey::generate_ecdsa().unwrap();
    row.sealed_private_key =
        signet_signer::seal::seal_private_key(&kek, &other, &row.gun, "timestamp")
            .unwrap()
            .into();
    store.put_server_keys_if_absent(&[row]).await.unwrap();

    let err = move_keys_to_device(&store, &kek, &hsm, &options(false, true))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MoveKeysError::Key { gun: g, role, reason, .. }
            if g == "example.com/swapped-copy" && role == "timestamp"
                && reason.contains("cannot open it")),
        "{err}"
    );
    // The key handled before it was moved; the bad one was not imported.
    assert!(only_key(&store, gun, "timestamp").await.hsm.is_some());
    assert_eq!(device_objects(&hsm).0, 1);
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serves a fresh MockHsm on 127.0.0.1 the way yubihsm-connector serves a device; returns
/// the connector URL.
fn serve_mockhsm() -> String {
    let port = free_port();
    let config = HttpConfig {
        addr: "127.0.0.1".to_owned(),
        port,
        timeout_ms: 5_000,
    };
    let server = yubihsm::connector::http::Server::new(&config, Connector::mockhsm()).unwrap();
    std::thread::spawn(move || {
        loop {
            // A refused authentication ends only that request.
            let _ = server.handle_request();
        }
    });
    format!("http://127.0.0.1:{port}")
}

fn settings(connector: &str, auth_key_id: u16, password: PasswordSource) -> YubiHsmSettings {
    YubiHsmSettings {
        connector: connector.parse::<ConnectorConfig>().unwrap(),
        auth_key_id,
        password,
        domain: 1,
        exportable_under_wrap: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_the_device_authenticates_or_names_connector_and_key() {
    let connector = serve_mockhsm();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("password");
    std::fs::write(&good, format!("{MOCK_PASSWORD}\n")).unwrap();
    let bad = dir.path().join("wrong");
    std::fs::write(&bad, "not-the-password\n").unwrap();

    let hsm = ServerHsm::open(&settings(&connector, 1, PasswordSource::File(good.clone())))
        .await
        .unwrap();
    assert_eq!(hsm.connector(), connector);
    // Usable: a key generated over the connector signs.
    let store = sqlite_store().await;
    let s =
        TestServer::on_store_with_device(store.0.clone(), KEK, device(&hsm, true), Some(store.1));
    let repo = ServerManaged::publish(&s, "example.com/over-http", &["x"]).await;
    verified_timestamp(&s, "example.com/over-http", &repo.root).await;

    for (auth_key_id, password) in [
        (1, PasswordSource::File(bad)),
        (7, PasswordSource::File(good.clone())),
    ] {
        let err = ServerHsm::open(&settings(&connector, auth_key_id, password))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, HsmError::Connect { connector: c, auth_key_id: k, .. }
                if *c == connector && *k == auth_key_id),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&connector), "{message}");
        assert!(
            message.contains(&format!("authentication key {auth_key_id}")),
            "{message}"
        );
        assert!(!message.contains("not-the-password"), "{message}");
        assert!(!format!("{err:?}").contains("not-the-password"));
    }

    let unset = "SIGNET_TEST_YUBIHSM_PASSWORD_THAT_IS_NOT_SET";
    let err = ServerHsm::open(&settings(&connector, 1, PasswordSource::Env(unset.into())))
        .await
        .unwrap_err();
    assert!(matches!(err, HsmError::MissingPassword { .. }), "{err:?}");
    assert!(err.to_string().contains(unset), "{err}");

    let missing_file = dir.path().join("absent");
    let err = ServerHsm::open(&settings(&connector, 1, PasswordSource::File(missing_file)))
        .await
        .unwrap_err();
    assert!(matches!(err, HsmError::PasswordFile { .. }), "{err:?}");

    let nobody = format!("http://127.0.0.1:{}", free_port());
    let err = ServerHsm::open(&settings(&nobody, 1, PasswordSource::File(good)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, HsmError::Connect { connector: c, .. } if *c == nobody),
        "{err:?}"
    );
}

/// The binary: `move-keys-to-yubihsm` against a MockHsm served over HTTP, configured in the
/// TOML file with the password in the environment; a wrong password stops it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_move_subcommand_moves_reports_and_reruns_as_a_no_op() {
    let connector = serve_mockhsm();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("signet.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let kek_file = dir.path().join("kek");
    std::fs::write(&kek_file, format!("{}\n", hex::encode(KEK))).unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\nurl = \"{url}\"\n[keys]\nkek_file = \"kek\"\n\
             [keys.yubihsm]\nconnector = \"{connector}\"\nauth_key_id = 1\n\
             password_env = \"TEST_HSM_PASSWORD\"\n"
        ),
    )
    .unwrap();
    let gun = "example.com/cli";
    {
        let store = Store::connect(&url).await.unwrap();
        let s = TestServer::on_store_with_device(store.clone(), KEK, None, None);
        ServerManaged::publish(&s, gun, &["x"]).await;
        store.close().await;
    }

    let run = |args: &[&str], password: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_signet-server"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("TEST_HSM_PASSWORD", password)
            .env_remove("RUST_LOG")
            .env("SIGNET_SERVER_LOG_LEVEL", "warn")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (ok, _, stderr) = run(&["move-keys-to-yubihsm"], "wrong-password");
    assert!(!ok);
    assert!(stderr.contains(&connector), "{stderr}");
    assert!(stderr.contains("authentication key 1"), "{stderr}");
    assert!(!stderr.contains("wrong-password"), "{stderr}");

    let (ok, stdout, stderr) = run(&["move-keys-to-yubihsm", "--dry-run"], MOCK_PASSWORD);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("dry run"), "{stdout}");
    assert!(stdout.contains("2 key(s): 2 imported"), "{stdout}");

    let (ok, stdout, stderr) = run(&["move-keys-to-yubihsm"], MOCK_PASSWORD);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("2 key(s): 2 imported"), "{stdout}");
    assert!(
        stdout.contains("imported into the device (object 0x"),
        "{stdout}"
    );

    let (ok, stdout, stderr) = run(&["move-keys-to-yubihsm"], MOCK_PASSWORD);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("2 key(s): 0 imported, 0 recorded, 2 already on the device"),
        "{stdout}"
    );

    // What the key-compromise guide runs when the device is lost: the keys on it, by GUN,
    // role and key ID, with nothing changed.
    let on_device = {
        let store = Store::connect(&url).await.unwrap();
        let mut keys = Vec::new();
        for role in ["timestamp", "snapshot"] {
            keys.push((role, only_key(&store, gun, role).await.key_id));
        }
        store.close().await;
        keys
    };
    let (ok, stdout, stderr) = run(&["move-keys-off-yubihsm", "--dry-run"], MOCK_PASSWORD);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("dry run"), "{stdout}");
    for (role, id) in &on_device {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(gun) && l.contains(role) && l.contains(id.as_str())),
            "{role} key {id} of {gun} not listed: {stdout}"
        );
    }

    let (ok, stdout, stderr) = run(&["move-keys-to-yubihsm", "--remove-sealed"], MOCK_PASSWORD);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("2 sealed copies removed"), "{stdout}");

    let store = Store::connect(&url).await.unwrap();
    for role in ["timestamp", "snapshot"] {
        let key = only_key(&store, gun, role).await;
        assert!(key.hsm.is_some() && !key.has_sealed_copy(), "{key:?}");
    }
    store.close().await;
}
