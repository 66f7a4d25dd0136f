//! The ordinary update paths: first use, cached root, fully cached repository, target lookups.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod update_support;

use signet_tuf::role;
use signet_tuf::update::{FetchResult, Need, TrustedState, UpdateConfig, Updater, Warning};
use update_support::{GUN, Repo, apply, now, sha256_hex, update};

#[test]
fn first_use_fetches_root_then_the_chain_and_lists_what_to_cache() {
    let mut repo = Repo::new();
    repo.add_target(role::TARGETS, "v1", b"one");
    repo.publish(&[role::TARGETS]);

    let run = update(&TrustedState::default(), &repo.server, now());
    assert_eq!(
        run.log,
        vec![
            "root.json".to_owned(),
            "timestamp.json".into(),
            format!("snapshot.{}.json", sha256_hex(&repo.snapshot_file)),
            format!("targets.{}.json", sha256_hex(&repo.files["targets"])),
        ]
    );
    let out = run.ok();
    let writes: Vec<(&str, &[u8])> = out
        .cache_writes
        .iter()
        .map(|w| (w.role.as_str(), w.bytes.as_slice()))
        .collect();
    assert_eq!(
        writes,
        vec![
            ("root", repo.root_file.as_slice()),
            ("snapshot", repo.snapshot_file.as_slice()),
            ("targets", repo.files["targets"].as_slice()),
            ("timestamp", repo.timestamp_file.as_slice()),
        ]
    );
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let r = &out.trusted;
    assert_eq!(r.gun(), GUN);
    assert_eq!(r.root().version(), 1);
    assert_eq!(r.targets().unwrap().version(), 2);
    assert_eq!(r.snapshot().version(), 2);
    assert_eq!(r.timestamp().version(), 2);
    let t = r.get_target_by_name("v1", &[]).unwrap();
    assert_eq!(t.role, "targets");
    assert_eq!(t.meta.length, 3);
}

#[test]
fn requests_carry_limits_and_expected_digests() {
    let repo = Repo::new();
    let mut up = Updater::new(UpdateConfig::new(GUN, now())).unwrap();
    let Need::Fetch(root) = up.next_request() else {
        panic!()
    };
    assert_eq!((root.role.as_str(), root.name.as_str()), ("root", "root"));
    assert_eq!(root.max_len, 100 << 20);
    assert!(root.expected.is_none());
    up.provide(&root, repo.server.answer("root")).unwrap();
    let Need::Fetch(ts) = up.next_request() else {
        panic!()
    };
    assert_eq!(ts.path(), "timestamp.json");
    assert_eq!(ts.max_len, 1 << 20);
    up.provide(&ts, repo.server.answer("timestamp")).unwrap();
    let Need::Fetch(sn) = up.next_request() else {
        panic!()
    };
    let expected = sn.expected.clone().unwrap();
    assert_eq!(expected.length, repo.snapshot_file.len() as u64);
    assert_eq!(sn.max_len, expected.length);
    assert_eq!(
        hex::encode(expected.sha256.unwrap()),
        sha256_hex(&repo.snapshot_file)
    );
    assert!(expected.sha512.is_some());

    // Answering something else is refused and changes nothing.
    let err = up.provide(&ts, FetchResult::NotFound).unwrap_err();
    assert!(matches!(
        err,
        signet_tuf::update::Error::UnexpectedAnswer { ref got, .. } if got == "timestamp.json"
    ));
    assert!(matches!(up.next_request(), Need::Fetch(ref r) if r == &sn));
    let early = Updater::new(UpdateConfig::new(GUN, now()))
        .unwrap()
        .finish();
    assert!(
        matches!(early, Err(signet_tuf::update::Error::NotDone { ref pending, .. }) if pending == "root.json")
    );
}

#[test]
fn cached_root_is_not_fetched_and_unchanged_files_come_from_the_cache() {
    let mut repo = Repo::new();
    repo.add_target(role::TARGETS, "v1", b"one");
    repo.publish(&[role::TARGETS]);
    let mut cache = repo.cache_with_root();
    let first = update(&cache, &repo.server, now()).ok();
    assert!(first.cache_writes.iter().all(|w| w.role != "root"));
    apply(&mut cache, &first.cache_writes);

    // Nothing changed on the server: only the timestamp is fetched.
    let second = update(&cache, &repo.server, now());
    assert_eq!(second.log, vec!["timestamp.json".to_owned()]);
    let out = second.ok();
    assert_eq!(out.cache_writes.len(), 1);
    assert_eq!(out.cache_writes[0].role, "timestamp");
    assert_eq!(out.trusted.list_targets(&[]).len(), 1);

    // A new publish changes targets: snapshot and targets are fetched again.
    repo.add_target(role::TARGETS, "v2", b"two");
    repo.publish(&[role::TARGETS]);
    let third = update(&cache, &repo.server, now());
    assert_eq!(third.log.len(), 3);
    let names: Vec<String> = third
        .ok()
        .trusted
        .list_targets(&[])
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["v1", "v2"]);
}

#[test]
fn offline_with_a_full_cache_uses_the_cached_timestamp_with_a_warning() {
    let mut repo = Repo::new();
    repo.add_target(role::TARGETS, "v1", b"one");
    repo.publish(&[role::TARGETS]);
    let mut cache = TrustedState::default();
    let writes = update(&cache, &repo.server, now()).ok().cache_writes;
    apply(&mut cache, &writes);

    let mut offline = update_support::Server::default();
    offline.files.insert(
        "timestamp".into(),
        FetchResult::Unavailable("connection refused".into()),
    );
    let run = update(&cache, &offline, now());
    assert_eq!(run.log, vec!["timestamp.json".to_owned()]);
    let out = run.ok();
    assert_eq!(
        out.warnings,
        vec![Warning::UsingCachedTimestamp {
            reason: "connection refused".into()
        }]
    );
    assert!(out.cache_writes.is_empty());
    assert_eq!(
        out.trusted.get_target_by_name("v1", &[]).unwrap().role,
        "targets"
    );
}
