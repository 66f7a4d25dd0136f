//! Key rotation across several key stores (a trust directory plus another store, as with a
//! YubiHSM 2 in front of the disk), against the Go `notary-server`. Under CI the server is
//! required; elsewhere the tests skip with a notice when it is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use signet_client::changelist::{Change, TargetMeta};
use signet_client::config::TrustPinning;
use signet_client::remote::{Access, RemoteOptions, RemoteStore};
use signet_client::repository::InitOptions;
use signet_client::{Error, Gun, Repository, TrustDir};
use signet_e2e::{GoNotaryServer, require_tool};
use signet_signer::passphrase::ConstantRetriever;
use signet_signer::rotation::NewKey;
use signet_signer::{
    CryptoService, FileKeyStore, KeyAlgorithm, KeyInfo, KeyStore, MemoryKeyStore, PrivateKey,
    Signer,
};
use signet_tuf::key::KeyId;

const PASSPHRASE: &str = "client-test-passphrase";

fn server() -> Option<GoNotaryServer> {
    require_tool("notary-server")?;
    Some(GoNotaryServer::start_memory().expect("start notary-server"))
}

async fn open(trust: &TrustDir, gun: &Gun, url: &str, crypto: CryptoService) -> Repository {
    let remote = RemoteStore::connect(
        url,
        RemoteOptions {
            access: Access::Admin,
            ..RemoteOptions::default()
        },
    )
    .await
    .unwrap();
    Repository::open(trust, gun.clone(), remote, TrustPinning::default(), crypto).unwrap()
}

fn file_store(trust: &TrustDir) -> Arc<FileKeyStore> {
    Arc::new(
        FileKeyStore::open(trust.path(), Arc::new(ConstantRetriever::new(PASSPHRASE))).unwrap(),
    )
}

fn meta_of(contents: &[u8]) -> TargetMeta {
    let mut hashes = BTreeMap::new();
    hashes.insert("sha256".to_owned(), Sha256::digest(contents).to_vec());
    TargetMeta {
        length: contents.len() as i64,
        hashes,
        custom: None,
    }
}

/// The targets key IDs of the published root.
async fn targets_key_ids(repo: &mut Repository) -> Vec<KeyId> {
    repo.update().await.unwrap();
    repo.verified().unwrap().root().signed().roles["targets"]
        .keyids
        .clone()
}

/// A store that holds nothing and refuses new keys, like a device that only takes root keys.
struct RefusingStore;

impl KeyStore for RefusingStore {
    fn name(&self) -> &str {
        "refusing"
    }

    fn add_key(
        &self,
        _key: &PrivateKey,
        role: &str,
        _gun: Option<&str>,
    ) -> signet_signer::Result<KeyInfo> {
        Err(signet_signer::Error::Unsupported {
            store: format!("refusing ({role} key)"),
            operation: "adding keys",
        })
    }

    fn generate_key(
        &self,
        _algorithm: KeyAlgorithm,
        role: &str,
        _gun: Option<&str>,
    ) -> signet_signer::Result<Arc<dyn Signer>> {
        Err(signet_signer::Error::Unsupported {
            store: format!("refusing ({role} key)"),
            operation: "creating keys",
        })
    }

    fn signer(&self, key_id: &KeyId) -> signet_signer::Result<Arc<dyn Signer>> {
        Err(signet_signer::Error::KeyNotFound {
            key_id: key_id.to_string(),
        })
    }

    fn key_info(&self, key_id: &KeyId) -> signet_signer::Result<KeyInfo> {
        Err(signet_signer::Error::KeyNotFound {
            key_id: key_id.to_string(),
        })
    }

    fn list_keys(&self) -> signet_signer::Result<Vec<KeyInfo>> {
        Ok(Vec::new())
    }

    fn remove_key(&self, key_id: &KeyId) -> signet_signer::Result<()> {
        Err(signet_signer::Error::KeyNotFound {
            key_id: key_id.to_string(),
        })
    }
}

#[tokio::test]
async fn rotation_to_a_key_held_by_the_second_store() {
    let Some(server) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trust = TrustDir::new(tmp.path().join("trust"));
    let gun = Gun::new("example.com/signet/held").unwrap();
    let disk = file_store(&trust);
    let second = Arc::new(MemoryKeyStore::new());
    let held = second
        .generate_key(KeyAlgorithm::Ecdsa, "targets", Some(gun.as_str()))
        .unwrap();
    let held_id = held.public_key().key_id();
    let crypto = CryptoService::new(vec![disk.clone(), second.clone()]);
    let mut repo = open(&trust, &gun, server.url(), crypto).await;
    repo.initialize(InitOptions::default()).await.unwrap();
    repo.publish().await.unwrap();
    let old_targets = targets_key_ids(&mut repo).await;
    assert_ne!(old_targets, std::slice::from_ref(&held_id));

    let report = repo
        .rotate_key_with("targets", false, vec![NewKey::Held(held_id.clone())], 0)
        .await
        .unwrap();
    assert_eq!(report.new_key.key_id(), held_id);
    assert_eq!(
        targets_key_ids(&mut repo).await,
        std::slice::from_ref(&held_id)
    );
    // The replaced disk key is retired; the held key stays where it was.
    assert!(disk.key_info(&old_targets[0]).is_err());
    assert_eq!(second.key_info(&held_id).unwrap().role, "targets");

    // Later publishes sign targets with the second store's key.
    repo.stage(&Change::add_target("targets", "t", &meta_of(b"t")))
        .unwrap();
    let published = repo.publish().await.unwrap();
    assert!(
        published.roles.iter().any(|r| r == "targets"),
        "{published:?}"
    );
    repo.update().await.unwrap();
    assert_eq!(repo.lookup("t", &[]).unwrap().name, "t");

    // A key no store holds is refused with the key ID and the stores searched.
    let missing = PrivateKey::generate_ecdsa().unwrap().key_id().clone();
    let err = repo
        .rotate_key_with("targets", false, vec![NewKey::Held(missing.clone())], 0)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Key { .. }), "{err}");
    let message = format!("{err} {:?}", std::error::Error::source(&err));
    assert!(message.contains(missing.as_str()), "{message}");
}

#[tokio::test]
async fn generated_rotation_keys_go_to_the_first_store_that_takes_them() {
    let Some(server) = server() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let trust = TrustDir::new(tmp.path().join("trust"));
    let gun = Gun::new("example.com/signet/fallthrough").unwrap();
    let mut repo = open(
        &trust,
        &gun,
        server.url(),
        CryptoService::new(vec![file_store(&trust)]),
    )
    .await;
    repo.initialize(InitOptions::default()).await.unwrap();
    repo.publish().await.unwrap();

    // The first store refuses new keys: the generated key lands in the second one, and a
    // supplied key too.
    let second = Arc::new(MemoryKeyStore::new());
    let crypto = CryptoService::new(vec![
        Arc::new(RefusingStore),
        second.clone(),
        file_store(&trust),
    ]);
    let mut repo = open(&trust, &gun, server.url(), crypto).await;
    let report = repo
        .rotate_key("snapshot", false, Vec::new(), 0)
        .await
        .unwrap();
    let generated = report.new_key.key_id();
    assert_eq!(second.key_info(&generated).unwrap().role, "snapshot");
    let supplied = PrivateKey::generate_ecdsa().unwrap();
    let supplied_id = supplied.key_id().clone();
    repo.rotate_key("targets", false, vec![supplied], 0)
        .await
        .unwrap();
    assert_eq!(
        second.key_info(&supplied_id).unwrap().gun.as_deref(),
        Some(gun.as_str())
    );
    assert_eq!(targets_key_ids(&mut repo).await, [supplied_id]);
}
