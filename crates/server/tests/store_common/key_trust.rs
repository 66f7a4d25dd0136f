//! The key index (`Store::trusted_by`): kept by every write and delete, for root, targets,
//! snapshot, timestamp and delegation keys, paged, and built for copied metadata.

use bytes::Bytes;
use chrono::Utc;
use sha2::{Digest, Sha256};
use signet_server::store::{CopiedFile, FileUpdate, Store, TrustCursor, TrustingRole};

/// A key ID made from a name.
pub fn kid(name: &str) -> String {
    hex::encode(Sha256::digest(name.as_bytes()))
}

/// A root listing the keys (by name) of each top-level role.
pub fn root_doc(version: i64, root: &[&str], targets: &[&str], snapshot: &[&str]) -> Vec<u8> {
    let ids = |names: &[&str]| names.iter().map(|n| kid(n)).collect::<Vec<_>>();
    let keys: serde_json::Map<String, serde_json::Value> = root
        .iter()
        .chain(targets)
        .chain(snapshot)
        .chain(&["timestamp"])
        .map(|n| {
            (
                kid(n),
                serde_json::json!({"keytype": "ecdsa", "keyval": {"private": null, "public": "AA=="}}),
            )
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "signed": {
            "_type": "Root", "version": version, "keys": keys,
            "roles": {
                "root": {"keyids": ids(root), "threshold": 1},
                "targets": {"keyids": ids(targets), "threshold": 1},
                "snapshot": {"keyids": ids(snapshot), "threshold": 1},
                "timestamp": {"keyids": ids(&["timestamp"]), "threshold": 1},
            },
        },
        "signatures": [],
    }))
    .unwrap()
}

/// A targets (or delegation) file delegating to `(role, key names)`.
pub fn targets_doc(version: i64, delegations: &[(&str, &[&str])]) -> Vec<u8> {
    let roles: Vec<serde_json::Value> = delegations
        .iter()
        .map(|(name, keys)| {
            let ids: Vec<String> = keys.iter().map(|k| kid(k)).collect();
            serde_json::json!({"name": name, "keyids": ids, "paths": [""], "threshold": 1})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "signed": {"_type": "Targets", "version": version, "targets": {},
                   "delegations": {"keys": {}, "roles": roles}},
        "signatures": [],
    }))
    .unwrap()
}

/// `(gun, role)` of every role trusting the key named `name`.
pub async fn trusting(store: &Store, name: &str) -> Vec<(String, String)> {
    let page = store.trusted_by(&kid(name), None, 1000).await.unwrap();
    assert!(page.next.is_none());
    page.roles.into_iter().map(|r| (r.gun, r.role)).collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(g, r)| ((*g).to_owned(), (*r).to_owned()))
        .collect()
}

fn file(role: &str, version: i64, data: Vec<u8>) -> FileUpdate {
    FileUpdate::new(role, version, data)
}

pub async fn key_trust_follows_writes(store: Store) {
    let (a, b) = ("example.com/a", "example.com/b");
    store
        .update_many(
            a,
            &[
                file("root", 1, root_doc(1, &["r1"], &["t1"], &["s1"])),
                file(
                    "targets",
                    1,
                    targets_doc(
                        1,
                        &[("targets/releases", &["d1"]), ("targets/alice", &["d2"])],
                    ),
                ),
                file("snapshot", 1, b"{}".to_vec()),
                file("timestamp", 1, b"{}".to_vec()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(trusting(&store, "r1").await, pairs(&[(a, "root")]));
    assert_eq!(trusting(&store, "t1").await, pairs(&[(a, "targets")]));
    assert_eq!(trusting(&store, "s1").await, pairs(&[(a, "snapshot")]));
    assert_eq!(
        trusting(&store, "timestamp").await,
        pairs(&[(a, "timestamp")])
    );
    assert_eq!(
        trusting(&store, "d1").await,
        pairs(&[(a, "targets/releases")])
    );
    assert_eq!(trusting(&store, "d2").await, pairs(&[(a, "targets/alice")]));
    assert!(trusting(&store, "unknown").await.is_empty());

    // One key in two repositories and two roles, ordered by GUN and role.
    store
        .update_many(
            b,
            &[
                file("root", 1, root_doc(1, &["r1"], &["r1"], &["s2"])),
                file("targets", 1, targets_doc(1, &[])),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        trusting(&store, "r1").await,
        pairs(&[(a, "root"), (b, "root"), (b, "targets")])
    );
    let page = store.trusted_by(&kid("r1"), None, 10).await.unwrap();
    assert_eq!(
        page.roles[0],
        TrustingRole {
            gun: a.to_owned(),
            role: "root".to_owned(),
            listed_key_id: kid("r1"),
        }
    );

    // A nested delegation, then the server re-signing the timestamp: nothing else moves.
    store
        .update_many(
            a,
            &[file(
                "targets/alice",
                1,
                targets_doc(1, &[("targets/alice/ci", &["d3"])]),
            )],
        )
        .await
        .unwrap();
    store
        .update_many(a, &[file("timestamp", 2, b"{}".to_vec())])
        .await
        .unwrap();
    assert_eq!(
        trusting(&store, "d3").await,
        pairs(&[(a, "targets/alice/ci")])
    );
    assert_eq!(trusting(&store, "d2").await, pairs(&[(a, "targets/alice")]));

    // Rotating the targets key: the old key no longer lists the repository.
    store
        .update_many(
            a,
            &[file("root", 2, root_doc(2, &["r1"], &["t2"], &["s1"]))],
        )
        .await
        .unwrap();
    assert!(trusting(&store, "t1").await.is_empty());
    assert_eq!(trusting(&store, "t2").await, pairs(&[(a, "targets")]));
    assert_eq!(
        trusting(&store, "d3").await,
        pairs(&[(a, "targets/alice/ci")])
    );

    // Removing targets/alice drops its whole subtree; listing it again brings back the
    // delegations of its stored file.
    store
        .update_many(
            a,
            &[file(
                "targets",
                2,
                targets_doc(2, &[("targets/releases", &["d1"])]),
            )],
        )
        .await
        .unwrap();
    assert!(trusting(&store, "d2").await.is_empty());
    assert!(trusting(&store, "d3").await.is_empty());
    store
        .update_many(
            a,
            &[file(
                "targets",
                3,
                targets_doc(
                    3,
                    &[("targets/releases", &["d1"]), ("targets/alice", &["d4"])],
                ),
            )],
        )
        .await
        .unwrap();
    assert_eq!(trusting(&store, "d4").await, pairs(&[(a, "targets/alice")]));
    assert_eq!(
        trusting(&store, "d3").await,
        pairs(&[(a, "targets/alice/ci")])
    );

    // A refused write changes nothing.
    let refused = store
        .update_many(
            a,
            &[file(
                "root",
                1,
                root_doc(1, &["evil"], &["evil"], &["evil"]),
            )],
        )
        .await;
    assert!(refused.is_err());
    assert!(trusting(&store, "evil").await.is_empty());

    // Deleting the repository removes all of it, and only it.
    assert!(store.delete(a).await.unwrap());
    assert_eq!(
        trusting(&store, "r1").await,
        pairs(&[(b, "root"), (b, "targets")])
    );
    for name in ["t2", "s1", "d1", "d3", "d4"] {
        assert!(trusting(&store, name).await.is_empty(), "{name}");
    }
    assert_eq!(
        trusting(&store, "timestamp").await,
        pairs(&[(b, "timestamp")])
    );
}

pub async fn key_trust_pages(store: Store) {
    let guns: Vec<String> = (0..5).map(|i| format!("example.com/p{i}")).collect();
    for gun in &guns {
        store
            .update_many(
                gun,
                &[file("root", 1, root_doc(1, &["shared"], &["t"], &["s"]))],
            )
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after: Option<TrustCursor> = None;
    let mut sizes = Vec::new();
    loop {
        let page = store
            .trusted_by(&kid("shared"), after.as_ref(), 2)
            .await
            .unwrap();
        sizes.push(page.roles.len());
        seen.extend(page.roles.into_iter().map(|r| r.gun));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(seen, guns);
    // Nonsense IDs find nothing and fail nothing.
    for id in ["", "x", "\0", &"f".repeat(300)] {
        assert!(
            store
                .trusted_by(id, None, 10)
                .await
                .unwrap()
                .roles
                .is_empty()
        );
    }
}

pub async fn key_trust_of_certificates(store: Store) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["example.com/x509".to_owned()])
        .unwrap()
        .self_signed(&pair)
        .unwrap();
    let key = signet_tuf::PublicKey::from_certificate_pem(&cert.pem()).unwrap();
    let (id, canonical) = (
        key.key_id().to_string(),
        key.canonical_key_id().unwrap().to_string(),
    );
    let root = serde_json::to_vec(&serde_json::json!({
        "signed": {"_type": "Root", "version": 1, "keys": {id.clone(): key},
                   "roles": {"root": {"keyids": [id.clone()], "threshold": 1}}},
        "signatures": [],
    }))
    .unwrap();
    store
        .update_many("example.com/x509", &[file("root", 1, root)])
        .await
        .unwrap();
    for searched in [&id, &canonical] {
        let page = store.trusted_by(searched, None, 10).await.unwrap();
        assert_eq!(
            page.roles,
            [TrustingRole {
                gun: "example.com/x509".to_owned(),
                role: "root".to_owned(),
                listed_key_id: id.clone(),
            }]
        );
    }
}

fn copied(gun: &str, role: &str, version: i64, data: Vec<u8>) -> CopiedFile {
    let t = chrono::DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
    CopiedFile {
        gun: gun.to_owned(),
        role: role.to_owned(),
        version,
        sha256: hex::encode(Sha256::digest(&data)),
        data: Bytes::from(data),
        created_at: Some(t),
        updated_at: Some(t),
        deleted_at: None,
    }
}

pub async fn key_trust_of_copied_metadata(store: Store) {
    let gun = "example.com/copied";
    let mut s = store.copy_session(false).await.unwrap();
    s.files(vec![
        copied(gun, "root", 1, root_doc(1, &["old"], &["ct"], &["cs"])),
        copied(gun, "root", 2, root_doc(2, &["cr"], &["ct"], &["cs"])),
        copied(
            gun,
            "targets",
            1,
            targets_doc(1, &[("targets/releases", &["cd"])]),
        ),
    ])
    .await
    .unwrap();
    s.finish().await.unwrap();
    assert_eq!(trusting(&store, "cr").await, pairs(&[(gun, "root")]));
    assert_eq!(
        trusting(&store, "cd").await,
        pairs(&[(gun, "targets/releases")])
    );
    // Only the latest root counts.
    assert!(trusting(&store, "old").await.is_empty());
    // Running the backfill again finds it done.
    assert_eq!(store.backfill_key_trust().await.unwrap(), 0);
    // Indexing a repository again changes nothing.
    store.reindex_keys(gun).await.unwrap();
    assert_eq!(trusting(&store, "cr").await, pairs(&[(gun, "root")]));
}
