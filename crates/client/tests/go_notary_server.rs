//! The client against the real Go `notary-server` (memory storage), cross-checked with the Go
//! `notary` client. Under CI the binaries are required; elsewhere the tests skip with a notice
//! when they are missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::{Digest as _, Sha256, Sha512};
use signet_client::changelist::{Action, Change, DelegationChange, TargetMeta};
use signet_client::config::TrustPinning;
use signet_client::error::PublishError;
use signet_client::remote::{Access, RemoteOptions, RemoteStore};
use signet_client::repository::{InitOptions, RepoWarning};
use signet_client::{Error, Gun, Repository, TrustDir};
use signet_e2e::{GoNotaryServer, NotaryCli, TargetRow, require_tool};
use signet_signer::passphrase::ConstantRetriever;
use signet_signer::{CryptoService, FileKeyStore, KeyAlgorithm};
use signet_tuf::update::Warning;

const PASSPHRASE: &str = "client-test-passphrase";

fn server() -> Option<GoNotaryServer> {
    require_tool("notary-server")?;
    require_tool("notary")?;
    Some(GoNotaryServer::start_memory().expect("start notary-server"))
}

fn crypto(trust: &TrustDir) -> CryptoService {
    let store = FileKeyStore::open(trust.path(), Arc::new(ConstantRetriever::new(PASSPHRASE)))
        .expect("key store");
    CryptoService::new(vec![Arc::new(store)])
}

async fn open(trust: &TrustDir, gun: &Gun, url: &str, access: Access) -> Repository {
    let remote = RemoteStore::connect(
        url,
        RemoteOptions {
            access,
            ..RemoteOptions::default()
        },
    )
    .await
    .unwrap();
    Repository::open(
        trust,
        gun.clone(),
        remote,
        TrustPinning::default(),
        crypto(trust),
    )
    .unwrap()
}

fn meta_of(contents: &[u8]) -> TargetMeta {
    let mut hashes = BTreeMap::new();
    hashes.insert("sha256".to_owned(), Sha256::digest(contents).to_vec());
    hashes.insert("sha512".to_owned(), Sha512::digest(contents).to_vec());
    TargetMeta {
        length: contents.len() as i64,
        hashes,
        custom: None,
    }
}

fn names(rows: &[TargetRow]) -> Vec<(String, String)> {
    rows.iter()
        .map(|r| (r.name.clone(), r.role.clone()))
        .collect()
}

#[tokio::test]
async fn publish_rotate_and_read_back_with_the_go_client() {
    let Some(server) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trust = TrustDir::new(tmp.path().join("trust"));
    let gun = Gun::new("example.com/signet/app").unwrap();
    let mut repo = open(&trust, &gun, server.url(), Access::PushPull).await;

    // Init + first publish with one target.
    repo.initialize(InitOptions::default()).await.unwrap();
    repo.stage(&Change::add_target("targets", "hello", &meta_of(b"hello")))
        .unwrap();
    let report = repo.publish().await.unwrap();
    assert!(report.initial);
    assert_eq!(report.roles, ["root", "targets", "snapshot"]);
    assert!(repo.changelist().list().unwrap().changes.is_empty());

    repo.update().await.unwrap();
    let listed = repo.list_targets(&[]).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "hello");
    assert_eq!(repo.verified().unwrap().targets().unwrap().version(), 2);

    // The Go client trusts what we published.
    let go = NotaryCli::new(server.url()).unwrap();
    assert_eq!(
        go.list(gun.as_str()).unwrap(),
        [TargetRow::for_contents("hello", b"hello", "targets")]
    );

    // A delegation with a key of ours, and a target signed into it.
    let delegate = repo
        .crypto()
        .create(KeyAlgorithm::Ecdsa, "targets/releases", None)
        .unwrap();
    repo.stage(&Change::delegation(
        Action::Create,
        "targets/releases",
        &DelegationChange {
            threshold: 1,
            add_keys: vec![delegate.public_key().clone()],
            add_paths: vec![String::new()],
            ..DelegationChange::default()
        },
    ))
    .unwrap();
    repo.stage(&Change::add_target(
        "targets/releases",
        "v1",
        &meta_of(b"release one"),
    ))
    .unwrap();
    let report = repo.publish().await.unwrap();
    assert!(!report.initial);
    assert_eq!(report.roles, ["targets", "targets/releases", "snapshot"]);

    repo.update().await.unwrap();
    assert_eq!(repo.lookup("v1", &[]).unwrap().role, "targets/releases");
    let delegations = repo.delegations().unwrap();
    assert_eq!(delegations.len(), 1);
    assert_eq!(delegations[0].name, "targets/releases");
    assert_eq!(delegations[0].paths, [""]);
    let go_rows = go.list(gun.as_str()).unwrap();
    assert_eq!(
        names(&go_rows),
        [
            ("hello".to_owned(), "targets".to_owned()),
            ("v1".to_owned(), "targets/releases".to_owned())
        ]
    );
    let go_delegations = go.delegation_list(gun.as_str()).unwrap();
    assert_eq!(go_delegations.len(), 1);
    assert_eq!(
        go_delegations[0].key_ids,
        [delegate.public_key().key_id().to_string()]
    );

    // Rotations: snapshot to the server, targets locally, root locally.
    let mut admin = open(&trust, &gun, server.url(), Access::Admin).await;
    let rotated = admin
        .rotate_key("snapshot", true, Vec::new(), 0)
        .await
        .unwrap();
    assert_eq!(rotated.publish.roles, ["root"]);
    let rotated = admin
        .rotate_key("targets", false, Vec::new(), 0)
        .await
        .unwrap();
    assert_eq!(rotated.publish.roles, ["root", "targets"]);
    let old_root = {
        admin.update().await.unwrap();
        admin.verified().unwrap().root().signed().roles["root"]
            .keyids
            .clone()
    };
    admin
        .rotate_key("root", false, Vec::new(), 0)
        .await
        .unwrap();
    admin.update().await.unwrap();
    let root = admin.verified().unwrap().root();
    assert_eq!(
        root.version(),
        4,
        "init, snapshot, targets and root rotations"
    );
    assert_ne!(root.signed().roles["root"].keyids, old_root);
    assert_eq!(
        root.signatures().len(),
        2,
        "signed by the old and the new root key"
    );
    assert_eq!(admin.list_targets(&[]).unwrap().len(), 2);

    // The Go client that trusted the first root follows every rotation.
    assert_eq!(names(&go.list(gun.as_str()).unwrap()).len(), 2);

    // Removing a target after the rotations still works (server-managed snapshot). A new
    // process sees the rotated keys.
    let mut repo = open(&trust, &gun, server.url(), Access::PushPull).await;
    repo.stage(&Change::remove_target("targets", "hello"))
        .unwrap();
    let report = repo.publish().await.unwrap();
    assert_eq!(
        report.roles,
        ["targets"],
        "the server signs the snapshot now"
    );
    repo.update().await.unwrap();
    assert!(repo.lookup("hello", &[]).is_err());
    assert_eq!(
        names(&go.list(gun.as_str()).unwrap()),
        [("v1".to_owned(), "targets/releases".to_owned())]
    );

    // Offline: the verified cache answers, with warnings.
    let offline = RemoteStore::offline(server.url(), "no network").unwrap();
    let mut cached = Repository::open(
        &trust,
        gun.clone(),
        offline,
        TrustPinning::default(),
        crypto(&trust),
    )
    .unwrap();
    let warnings = cached.update().await.unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| matches!(w, RepoWarning::Offline { .. }))
    );
    assert!(
        warnings
            .iter()
            .any(|w| matches!(w, RepoWarning::Update(Warning::UsingCachedTimestamp { .. })))
    );
    assert_eq!(cached.lookup("v1", &[]).unwrap().role, "targets/releases");
}

#[tokio::test]
async fn server_managed_snapshot_and_reading_go_published_data() {
    let Some(server) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();

    // Docker's way: snapshot key held by the server from the start.
    let trust = TrustDir::new(tmp.path().join("docker"));
    let gun = Gun::new("docker.io/signet/img").unwrap();
    let mut repo = open(&trust, &gun, server.url(), Access::PushPull).await;
    repo.initialize(InitOptions {
        server_managed_snapshot: true,
        ..InitOptions::default()
    })
    .await
    .unwrap();
    repo.stage(&Change::add_target(
        "targets",
        "latest",
        &meta_of(b"manifest"),
    ))
    .unwrap();
    let report = repo.publish().await.unwrap();
    assert_eq!(report.roles, ["root", "targets"]);
    repo.update().await.unwrap();
    assert_eq!(repo.lookup("latest", &[]).unwrap().meta.length, 8);
    let go = NotaryCli::new(server.url()).unwrap();
    assert_eq!(
        go.list(gun.as_str()).unwrap(),
        [TargetRow::for_contents("latest", b"manifest", "targets")]
    );

    // The other way round: the Go client publishes, we read.
    let go_gun = "example.com/go/published";
    go.init(go_gun, true).unwrap();
    let file = go.dirs().write_file("payload", b"from go").unwrap();
    go.add(go_gun, "payload", &file, &[], true).unwrap();
    let reader_trust = TrustDir::new(tmp.path().join("reader"));
    let mut reader = open(
        &reader_trust,
        &Gun::new(go_gun).unwrap(),
        server.url(),
        Access::Pull,
    )
    .await;
    reader.update().await.unwrap();
    let target = reader.lookup("payload", &[]).unwrap();
    assert_eq!(
        target.meta.sha256().unwrap(),
        &Sha256::digest(b"from go")[..]
    );
    assert!(
        reader_trust
            .repo(&Gun::new(go_gun).unwrap())
            .cache()
            .roles()
            .unwrap()
            .contains(&"timestamp".to_owned()),
        "verified downloads are cached"
    );

    // A publish with a target in a role nobody delegated is refused before any upload.
    repo.stage(&Change::add_target("targets/nobody", "x", &meta_of(b"x")))
        .unwrap();
    let err = repo.publish().await.unwrap_err();
    assert!(
        matches!(err, Error::Publish(PublishError::ChangeRejected { .. })),
        "{err}"
    );
    assert_eq!(
        repo.changelist().list().unwrap().changes.len(),
        1,
        "kept on failure"
    );

    // An unknown GUN: the server has no trust data.
    let mut unknown = open(
        &reader_trust,
        &Gun::new("example.com/nothing/here").unwrap(),
        server.url(),
        Access::Pull,
    )
    .await;
    let err = unknown.update().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("does not have trust data for example.com/nothing/here"),
        "{err}"
    );
}

#[tokio::test]
async fn update_after_init_says_the_server_has_no_trust_data() {
    let Some(server) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trust = TrustDir::new(tmp.path().join("trust"));
    let gun = Gun::new("example.com/signet/init-only").unwrap();
    let mut repo = open(&trust, &gun, server.url(), Access::PushPull).await;
    repo.initialize(InitOptions::default()).await.unwrap();

    let err = repo.update().await.unwrap_err();
    assert!(
        matches!(&err, Error::RepositoryNotExist { gun: g, .. } if g == gun.as_str()),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .ends_with("does not have trust data for example.com/signet/init-only"),
        "{err}"
    );
}

#[tokio::test]
async fn a_second_repository_finds_keys_created_after_its_store_was_opened() {
    let Some(server) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trust = TrustDir::new(tmp.path().join("trust"));
    let gun = Gun::new("example.com/signet/reload").unwrap();
    let store = Arc::new(
        FileKeyStore::open(trust.path(), Arc::new(ConstantRetriever::new(PASSPHRASE))).unwrap(),
    );
    let remote = RemoteStore::connect(server.url(), RemoteOptions::default())
        .await
        .unwrap();
    let mut late = Repository::open(
        &trust,
        gun.clone(),
        remote,
        TrustPinning::default(),
        CryptoService::new(vec![store]),
    )
    .unwrap();

    // Another repository on the same trust dir creates the keys and the cached metadata.
    let mut first = open(&trust, &gun, server.url(), Access::PushPull).await;
    first.initialize(InitOptions::default()).await.unwrap();

    late.stage(&Change::add_target("targets", "t", &meta_of(b"t")))
        .unwrap();
    let report = late.publish().await.unwrap();
    assert!(report.initial);
    late.update().await.unwrap();
    assert_eq!(late.lookup("t", &[]).unwrap().name, "t");
}

#[tokio::test]
async fn root_rotation_to_several_keys_signed_with_legacy_roots() {
    let Some(server) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trust = TrustDir::new(tmp.path().join("trust"));
    let gun = Gun::new("example.com/signet/legacy").unwrap();
    let mut repo = open(&trust, &gun, server.url(), Access::Admin).await;
    repo.initialize(InitOptions::default()).await.unwrap();
    repo.stage(&Change::add_target("targets", "t", &meta_of(b"t")))
        .unwrap();
    repo.publish().await.unwrap();
    repo.rotate_key("root", false, Vec::new(), 0).await.unwrap();

    let keys = vec![
        signet_signer::PrivateKey::generate_ecdsa().unwrap(),
        signet_signer::PrivateKey::generate_ecdsa().unwrap(),
    ];
    let new_ids: Vec<_> = keys.iter().map(|k| k.key_id().clone()).collect();
    let report = repo.rotate_key("root", false, keys, 1).await.unwrap();
    assert_eq!(report.new_keys.len(), 2);
    assert_eq!(report.publish.roles, ["root", "snapshot"]);

    repo.update().await.unwrap();
    let root = repo.verified().unwrap().root();
    assert_eq!(root.version(), 3);
    let listed: Vec<_> = root.signed().roles["root"]
        .keyids
        .iter()
        .map(|id| root.signed().keys[id].canonical_key_id().unwrap())
        .collect();
    assert_eq!(listed.len(), 2);
    for id in &new_ids {
        assert!(listed.contains(id), "{id} missing from {listed:?}");
    }
    // v2's root key (required), the two new keys, and v1's root key (legacy).
    assert_eq!(root.signatures().len(), 4);

    let go = NotaryCli::new(server.url()).unwrap();
    assert_eq!(names(&go.list(gun.as_str()).unwrap()).len(), 1);
}
