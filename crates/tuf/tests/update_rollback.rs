//! Rollback attacks: the server offers a version older than one the client already trusts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod update_support;

use signet_tuf::role;
use signet_tuf::update::Error;
use update_support::{Repo, TestKey, now, sign_file, update};

fn assert_rollback(err: Error, role_name: &str, found: i64, trusted: i64) {
    match err {
        Error::Rollback {
            gun,
            role: r,
            found: f,
            trusted: t,
        } => {
            assert_eq!(gun, update_support::GUN);
            assert_eq!((r.as_str(), f, t), (role_name, found, trusted));
        }
        other => panic!("expected a rollback of {role_name}, got {other:?}"),
    }
}

#[test]
fn older_timestamp_than_cached_is_refused() {
    let mut repo = Repo::new();
    let old_timestamp = repo.timestamp_file.clone();
    repo.publish(&[role::TARGETS]);
    let cache = repo.synced_cache();

    repo.server.put("timestamp", old_timestamp);
    let run = update(&cache, &repo.server, now());
    // The first pass fails, the root is re-checked, the second pass fails the same way.
    assert_eq!(
        run.log,
        ["timestamp.json", "root.json", "timestamp.json"].map(String::from)
    );
    assert_rollback(run.err(), "timestamp", 1, 2);
}

#[test]
fn newer_timestamp_pointing_at_an_older_snapshot_is_refused() {
    let mut repo = Repo::new();
    let old_snapshot = repo.snapshot_file.clone();
    repo.publish(&[role::TARGETS]);
    let cache = repo.synced_cache();

    // A validly signed timestamp v3 that names snapshot v1 (still served by its checksum).
    repo.snapshot_file = old_snapshot;
    repo.publish_timestamp();
    assert_eq!(repo.timestamp.as_ref().unwrap().version, 3);
    assert_rollback(update(&cache, &repo.server, now()).err(), "snapshot", 1, 2);
}

#[test]
fn snapshot_pointing_at_older_targets_is_refused() {
    let mut repo = Repo::new();
    let old_targets = repo.files["targets"].clone();
    repo.publish(&[role::TARGETS]);
    let cache = repo.synced_cache();

    repo.files.insert(role::TARGETS.into(), old_targets);
    repo.publish(&[]);
    assert_rollback(update(&cache, &repo.server, now()).err(), "targets", 1, 2);
}

#[test]
fn snapshot_pointing_at_an_older_delegation_is_refused() {
    let mut repo = Repo::new();
    repo.add_delegation("targets/releases", &[""], 1, 1);
    repo.add_target("targets/releases", "v1", b"1");
    repo.publish(&[role::TARGETS, "targets/releases"]);
    let old = repo.files["targets/releases"].clone();
    repo.add_target("targets/releases", "v2", b"2");
    repo.publish(&["targets/releases"]);
    let cache = repo.synced_cache();
    assert!(cache.delegations.contains_key("targets/releases"));

    repo.files.insert("targets/releases".into(), old);
    repo.publish(&[]);
    assert_rollback(
        update(&cache, &repo.server, now()).err(),
        "targets/releases",
        1,
        2,
    );
}

#[test]
fn older_root_than_cached_is_refused() {
    let mut repo = Repo::new();
    let root_v1 = repo.root_file.clone();
    repo.sign_root(&[]);
    repo.publish(&[]);
    let cache = repo.synced_cache();
    assert_eq!(repo.root.version, 2);

    // A timestamp the client cannot verify forces a root refresh; the server answers with v1.
    let stranger = TestKey::ed25519();
    let ts = repo.timestamp.clone().unwrap();
    repo.server.put("timestamp", sign_file(ts, &[&stranger]));
    repo.server.put("root", root_v1);
    let run = update(&cache, &repo.server, now());
    assert_eq!(run.log, ["timestamp.json", "root.json"].map(String::from));
    assert_rollback(run.err(), "root", 1, 2);
}

#[test]
fn equal_versions_are_accepted() {
    let mut repo = Repo::new();
    let cache = repo.synced_cache();
    // Same version, re-signed bytes (a new signature): not a rollback.
    let ts = repo.timestamp.clone().unwrap();
    let key = &repo.timestamp_key;
    let again = sign_file(ts, &[key]);
    repo.server.put("timestamp", again);
    let out = update(&cache, &repo.server, now()).ok();
    assert_eq!(out.trusted.timestamp().version(), 1);
}
