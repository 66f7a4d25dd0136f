//! Mix-and-match and endless-data attacks: files that do not match what the timestamp or
//! snapshot recorded, and answers longer than allowed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod update_support;

use signet_tuf::role;
use signet_tuf::update::{Error, FetchResult};
use update_support::{Repo, now, sha256_hex, tamper, update};

fn assert_mismatch(err: Error, role_name: &str, referrer: &str, algorithm: &str) {
    match err {
        Error::Mismatch {
            role: r,
            referrer: by,
            algorithm: a,
            expected,
            found,
            ..
        } => {
            assert_eq!((r.as_str(), by, a), (role_name, referrer, algorithm));
            assert_ne!(expected, found);
        }
        other => panic!("expected a {algorithm} mismatch of {role_name}, got {other:?}"),
    }
}

#[test]
fn snapshot_with_other_bytes_than_the_timestamp_records_is_refused() {
    let repo = Repo::new();
    let mut server = repo.server.clone();
    let name = format!("snapshot.{}", sha256_hex(&repo.snapshot_file));
    server.put(name, tamper(&repo.snapshot_file));
    let err = update(&repo.cache_with_root(), &server, now()).err();
    match &err {
        Error::Mismatch {
            expected, found, ..
        } => {
            assert_eq!(&**expected, sha256_hex(&repo.snapshot_file));
            assert_eq!(&**found, sha256_hex(&tamper(&repo.snapshot_file)));
        }
        other => panic!("{other:?}"),
    }
    assert_mismatch(err, "snapshot", "timestamp", "sha256");
}

#[test]
fn targets_with_other_bytes_than_the_snapshot_records_is_refused() {
    let repo = Repo::new();
    let mut server = repo.server.clone();
    let targets = &repo.files["targets"];
    server.put(format!("targets.{}", sha256_hex(targets)), tamper(targets));
    assert_mismatch(
        update(&repo.cache_with_root(), &server, now()).err(),
        "targets",
        "snapshot",
        "sha256",
    );
}

#[test]
fn targets_from_another_repository_version_is_refused() {
    let mut repo = Repo::new();
    let old = repo.files["targets"].clone();
    repo.add_target(role::TARGETS, "new", b"new");
    repo.publish(&[role::TARGETS]);
    let name = format!("targets.{}", sha256_hex(&repo.files["targets"]));
    repo.server.put(name, old);
    assert_mismatch(
        update(&repo.cache_with_root(), &repo.server, now()).err(),
        "targets",
        "snapshot",
        "length",
    );
}

#[test]
fn stale_cached_snapshot_is_not_used() {
    let mut repo = Repo::new();
    let cache = repo.synced_cache();
    repo.add_target(role::TARGETS, "new", b"new");
    repo.publish(&[role::TARGETS]);
    let run = update(&cache, &repo.server, now());
    assert_eq!(run.log.len(), 3, "{:?}", run.log);
    assert!(run.ok().trusted.get_target_by_name("new", &[]).is_ok());
}

#[test]
fn oversized_timestamp_is_refused() {
    let repo = Repo::new();
    let mut server = repo.server.clone();
    server.put("timestamp", vec![b' '; (1 << 20) + 1]);
    let run = update(&repo.cache_with_root(), &server, now());
    // Not retried: the answer is refused before parsing.
    assert_eq!(run.log, ["timestamp.json"]);
    match run.err() {
        Error::TooLarge {
            role,
            file,
            limit,
            found,
            ..
        } => {
            assert_eq!(
                (role.as_str(), file.as_str()),
                ("timestamp", "timestamp.json")
            );
            assert_eq!((limit, found), (1 << 20, (1 << 20) + 1));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn snapshot_longer_than_recorded_is_refused() {
    let repo = Repo::new();
    let mut server = repo.server.clone();
    let mut endless = repo.snapshot_file.clone();
    endless.extend_from_slice(&[b' '; 4096]);
    server.put(
        format!("snapshot.{}", sha256_hex(&repo.snapshot_file)),
        endless,
    );
    match update(&repo.cache_with_root(), &server, now()).err() {
        Error::TooLarge {
            role, limit, found, ..
        } => {
            assert_eq!(role, "snapshot");
            assert_eq!(limit, repo.snapshot_file.len() as u64);
            assert_eq!(found, limit + 4096);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn targets_longer_than_recorded_is_refused() {
    let repo = Repo::new();
    let mut server = repo.server.clone();
    let targets = &repo.files["targets"];
    let mut longer = targets.clone();
    longer.push(b'\n');
    server.put(format!("targets.{}", sha256_hex(targets)), longer);
    assert!(matches!(
        update(&repo.cache_with_root(), &server, now()).err(),
        Error::TooLarge { ref role, limit, found, .. } if role == "targets" && found == limit + 1
    ));
}

#[test]
fn unreachable_server_without_cached_timestamp_fails() {
    let repo = Repo::new();
    let mut server = repo.server.clone();
    server
        .files
        .insert("timestamp".into(), FetchResult::Unavailable("503".into()));
    let run = update(&repo.cache_with_root(), &server, now());
    assert_eq!(run.log, ["timestamp.json"]);
    assert!(matches!(
        run.err(),
        Error::Unavailable { ref role, ref reason, .. } if role == "timestamp" && reason == "503"
    ));
}

#[test]
fn missing_timestamp_fails_with_not_found() {
    let repo = Repo::new();
    let mut server = repo.server.clone();
    server.files.remove("timestamp");
    assert!(matches!(
        update(&repo.cache_with_root(), &server, now()).err(),
        Error::NotFound { ref role, ref file, .. } if role == "timestamp" && file == "timestamp.json"
    ));
}

#[test]
fn missing_repository_is_reported_as_such() {
    let server = update_support::Server::default();
    assert!(matches!(
        update(&Default::default(), &server, now()).err(),
        Error::RepositoryNotFound { ref gun } if gun == update_support::GUN
    ));
}
