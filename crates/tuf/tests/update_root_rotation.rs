//! Root rotation: walking `<v>.root.json` from the cached version to the newest, and the
//! attacks on it (a gap not signed by the previous keys, a version file with another version).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod update_support;

use signet_tuf::role;
use signet_tuf::update::{Error, TrustedState, Warning};
use update_support::{GUN, Repo, TestKey, now, sha256_hex, update};

/// A repository at root v1, and a client cache synced to it.
fn synced() -> (Repo, TrustedState) {
    let mut repo = Repo::new();
    repo.add_target(role::TARGETS, "app", b"app");
    repo.publish(&[role::TARGETS]);
    let cache = repo.synced_cache();
    (repo, cache)
}

#[test]
fn rotation_1_2_3_is_followed_version_by_version() {
    let (mut repo, cache) = synced();
    repo.rotate_root(vec![TestKey::root(GUN)], true); // v2: signed by k1 and k2
    repo.rotate_root(vec![TestKey::root(GUN)], true); // v3: signed by k2 and k3
    repo.publish(&[]);
    let root_v3 = repo.root_file.clone();

    let run = update(&cache, &repo.server, now());
    assert_eq!(
        run.log,
        [
            "timestamp.json".to_owned(),
            format!("snapshot.{}.json", sha256_hex(&repo.snapshot_file)),
            format!("root.{}.json", sha256_hex(&root_v3)),
            "2.root.json".into(),
            "timestamp.json".into(),
            format!("snapshot.{}.json", sha256_hex(&repo.snapshot_file)),
        ]
    );
    let out = run.ok();
    assert_eq!(out.trusted.root().version(), 3);
    assert_eq!(
        out.cache_writes
            .iter()
            .find(|w| w.role == "root")
            .map(|w| &*w.bytes),
        Some(&root_v3)
    );
    assert!(matches!(
        &out.warnings[..],
        [Warning::Retried { error }] if error.starts_with("length of root of")
    ));
    assert!(out.trusted.get_target_by_name("app", &[]).is_ok());

    // The next update starts from v3 and fetches no root.
    let mut cache = cache;
    update_support::apply(&mut cache, &out.cache_writes);
    let again = update(&cache, &repo.server, now());
    assert_eq!(again.log, ["timestamp.json"]);
}

#[test]
fn one_step_rotation_needs_no_walk() {
    let (mut repo, cache) = synced();
    repo.rotate_root(vec![TestKey::root(GUN)], true);
    repo.publish(&[]);
    let run = update(&cache, &repo.server, now());
    assert!(
        run.log
            .iter()
            .all(|f| !f.ends_with(".root.json") || f.starts_with("root."))
    );
    assert_eq!(run.ok().trusted.root().version(), 2);
}

#[test]
fn first_use_trusts_the_newest_root_directly() {
    let (mut repo, _) = synced();
    repo.rotate_root(vec![TestKey::root(GUN)], true);
    repo.rotate_root(vec![TestKey::root(GUN)], true);
    repo.publish(&[]);
    let run = update(&TrustedState::default(), &repo.server, now());
    assert_eq!(run.log[0], "root.json");
    assert_eq!(run.log.len(), 4);
    assert_eq!(run.ok().trusted.root().version(), 3);
}

#[test]
fn a_gap_signed_by_the_wrong_key_fails() {
    let (mut repo, cache) = synced();
    repo.rotate_root(vec![TestKey::root(GUN)], false); // v2: only the new key signs
    repo.rotate_root(vec![TestKey::root(GUN)], true); // v3: v2's and v3's keys
    repo.publish(&[]);
    let run = update(&cache, &repo.server, now());
    assert_eq!(run.log.last().map(String::as_str), Some("2.root.json"));
    match run.err() {
        Error::RootRotation {
            gun,
            version,
            trusted_version,
            source,
        } => {
            assert_eq!(gun, GUN);
            assert_eq!((version, trusted_version), (2, 1));
            assert!(
                matches!(*source, signet_tuf::Error::ThresholdNotMet { valid: 0, .. }),
                "{source:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn newest_root_not_signed_by_the_previous_keys_fails() {
    let (mut repo, cache) = synced();
    repo.rotate_root(vec![TestKey::root(GUN)], false);
    repo.publish(&[]);
    assert!(matches!(
        update(&cache, &repo.server, now()).err(),
        Error::RootRotation {
            version: 2,
            trusted_version: 1,
            ..
        }
    ));
}

#[test]
fn a_version_file_holding_another_version_fails() {
    let (mut repo, cache) = synced();
    repo.rotate_root(vec![TestKey::root(GUN)], true);
    repo.rotate_root(vec![TestKey::root(GUN)], true);
    repo.publish(&[]);
    let v3 = repo.root_file.clone();
    repo.server.put("2.root", v3);
    assert!(matches!(
        update(&cache, &repo.server, now()).err(),
        Error::RootVersion { ref file, expected: 2, found: 3, .. } if file == "2.root.json"
    ));
}

#[test]
fn a_missing_intermediate_root_fails() {
    let (mut repo, cache) = synced();
    repo.rotate_root(vec![TestKey::root(GUN)], true);
    repo.rotate_root(vec![TestKey::root(GUN)], true);
    repo.publish(&[]);
    repo.server.files.remove("2.root");
    assert!(matches!(
        update(&cache, &repo.server, now()).err(),
        Error::NotFound { ref role, ref file, .. } if role == "root" && file == "2.root.json"
    ));
}

#[test]
fn a_root_swapped_on_the_server_is_caught_by_the_snapshot() {
    // The server swaps root.json for one signed by an attacker's key; the snapshot still names
    // the real root, so a client bootstrapping from scratch notices the mismatch.
    let (repo, _) = synced();
    let mut server = repo.server.clone();
    let attacker = TestKey::root(GUN);
    let mut fake = repo.root.clone();
    signet_tuf::authoring::replace_base_keys(
        &mut fake,
        role::ROOT,
        std::slice::from_ref(attacker.public()),
    )
    .unwrap();
    server.put("root", update_support::sign_file(fake, &[&attacker]));
    let run = update(&TrustedState::default(), &server, now());
    // The fake root is trusted on first use, the snapshot names another root, the real root
    // is fetched by its checksum and is not signed by the fake root's key.
    assert_eq!(
        run.log[3..],
        [format!("root.{}.json", sha256_hex(&repo.root_file))]
    );
    assert!(matches!(
        run.err(),
        Error::RootRotation {
            version: 1,
            trusted_version: 1,
            ..
        }
    ));
}
