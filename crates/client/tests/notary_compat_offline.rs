//! Trust dirs written by old notary clients (fixtures shared with signet-tuf) read offline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use signet_client::config::TrustPinning;
use signet_client::remote::RemoteStore;
use signet_client::repository::RepoWarning;
use signet_client::{Gun, Repository, TrustDir};
use signet_signer::passphrase::ConstantRetriever;
use signet_signer::{CryptoService, FileKeyStore};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn notary_0_3_cache_lists_offline_with_an_expiry_warning() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tuf/tests/data/notary-compat/notary0.3");
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture, &tmp.path().join("trust"));
    let trust = TrustDir::new(tmp.path().join("trust"));
    let store =
        FileKeyStore::open(trust.path(), Arc::new(ConstantRetriever::new("password"))).unwrap();
    let mut repo = Repository::open(
        &trust,
        Gun::new("docker.com/notary0.3/tst").unwrap(),
        RemoteStore::offline("https://127.0.0.1:9", "no network").unwrap(),
        TrustPinning::default(),
        CryptoService::new(vec![Arc::new(store)]),
    )
    .unwrap();
    let warnings = repo.update().await.unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| matches!(w, RepoWarning::ExpiredCache { .. })),
        "{warnings:?}"
    );
    let names: Vec<(String, String)> = repo
        .list_targets(&[])
        .unwrap()
        .into_iter()
        .map(|t| (t.name, t.role))
        .collect();
    assert_eq!(
        names,
        [
            ("LICENSE".to_owned(), "targets".to_owned()),
            ("change".to_owned(), "targets".to_owned()),
            ("hello".to_owned(), "targets/releases".to_owned()),
        ]
    );
}
