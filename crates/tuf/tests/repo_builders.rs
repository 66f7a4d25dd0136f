//! Repository-side builders: snapshot and timestamp from exact bytes, version and expiry
//! bookkeeping, key replacement, rotation signing rules and the server's consistency checks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod update_support;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use signet_tuf::authoring::{self, SnapshotBuilder};
use signet_tuf::metadata::{Envelope, Expires, FileMeta, Metadata as _, Root, Snapshot, Timestamp};
use signet_tuf::{Error, role, verify};
use update_support::{GUN, Repo, TestKey, sign_file};

/// The instant of the spec's example: 2026-11-23T15:13:27.103855892Z.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 15, 13, 27).unwrap() + Duration::nanoseconds(103_855_892)
}

#[test]
fn default_expiries_are_notarys_with_nanoseconds() {
    let e = |r| {
        authoring::default_expires(r, t0())
            .unwrap()
            .as_str()
            .to_owned()
    };
    assert_eq!(e(role::ROOT), "2036-11-20T15:13:27.103855892Z");
    assert_eq!(e(role::TARGETS), "2029-11-22T15:13:27.103855892Z");
    assert_eq!(e("targets/releases"), "2029-11-22T15:13:27.103855892Z");
    assert_eq!(e(role::SNAPSHOT), "2029-11-22T15:13:27.103855892Z");
    assert_eq!(e(role::TIMESTAMP), "2026-12-07T15:13:27.103855892Z");
    assert!(matches!(
        authoring::default_expires("mirror", t0()),
        Err(Error::InvalidRole { ref role, .. }) if role == "mirror"
    ));
}

#[test]
fn bump_increments_the_version_and_resets_the_expiry() {
    let mut t = signet_tuf::metadata::Targets::new(0, Expires::from_utc(t0()));
    authoring::bump(&mut t, "targets/x", t0()).unwrap();
    assert_eq!(t.version, 1);
    assert_eq!(t.expires.utc(), t0() + authoring::TARGETS_EXPIRY);
    authoring::bump(&mut t, "targets/x", t0() + Duration::days(1)).unwrap();
    assert_eq!(t.version, 2);
    assert_eq!(
        t.expires.utc(),
        t0() + Duration::days(1) + authoring::TARGETS_EXPIRY
    );
    let env = authoring::prepare(t.clone(), "targets/x", t0()).unwrap();
    assert_eq!(env.signed().version, 3);
    assert!(env.signatures().is_empty());
    assert_eq!(
        env.signing_bytes(),
        signet_tuf::metadata::signing_bytes(env.signed()).unwrap()
    );
    t.version = i64::MAX;
    assert!(matches!(
        authoring::bump(&mut t, "targets/x", t0()),
        Err(Error::InvalidMetadata { .. })
    ));
}

#[test]
fn near_expiry_means_within_six_calendar_months() {
    let now = Utc.with_ymd_and_hms(2030, 8, 31, 0, 0, 0).unwrap();
    let at = |y, m, d| Expires::from_utc(Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap());
    // Six months after Aug 31 is Feb 28 (clamped).
    assert!(authoring::near_expiry(&at(2031, 2, 27), now));
    assert!(!authoring::near_expiry(&at(2031, 2, 28), now));
    assert!(!authoring::near_expiry(&at(2031, 6, 1), now));
    assert!(authoring::near_expiry(&at(2030, 1, 1), now));
    assert!(at(2030, 1, 1).is_expired(now));
}

#[test]
fn first_snapshot_records_exact_bytes_and_starts_at_version_one() {
    let root = b"{\"signed\":\"root\"}".to_vec();
    let targets = b"{\"signed\":\"targets\"}".to_vec();
    let mut b = SnapshotBuilder::new(None);
    b.set_file(role::ROOT, &root).unwrap();
    b.set_file(role::TARGETS, &targets).unwrap();
    let env = b.build(t0()).unwrap();
    let s = env.signed();
    assert_eq!(s.version, 1);
    assert_eq!(s.expires.as_str(), "2029-11-22T15:13:27.103855892Z");
    assert_eq!(s.meta[role::ROOT], FileMeta::from_bytes(&root));
    assert_eq!(s.meta[role::TARGETS], FileMeta::from_bytes(&targets));
    assert_eq!(s.meta[role::TARGETS].length, targets.len() as i64);
    assert!(env.signatures().is_empty());
    // The signing bytes are the canonical form of the document.
    assert_eq!(
        env.signing_bytes(),
        signet_tuf::metadata::signing_bytes(s).unwrap()
    );
    authoring::check_snapshot_matches(s, [(role::ROOT, &root[..]), (role::TARGETS, &targets[..])])
        .unwrap();
}

#[test]
fn refreshed_snapshot_keeps_old_entries_and_drops_deleted_delegations() {
    let mut b = SnapshotBuilder::new(None);
    b.set_file(role::ROOT, b"r").unwrap();
    b.set_file(role::TARGETS, b"t").unwrap();
    b.set_file("targets/a", b"a").unwrap();
    b.set_file("targets/b", b"b").unwrap();
    b.set_file("targets/b/c", b"c").unwrap();
    let first = b.build(t0()).unwrap().signed().clone();

    let mut b = SnapshotBuilder::new(Some(&first));
    b.set_file(role::TARGETS, b"t2").unwrap();
    b.remove_role("targets/a").unwrap();
    b.retain_delegations(|name| !name.starts_with("targets/b/"));
    let second = b.build(t0() + Duration::hours(1)).unwrap().signed().clone();
    assert_eq!(second.version, 2);
    let names: Vec<&str> = second.meta.keys().map(String::as_str).collect();
    assert_eq!(names, ["root", "targets", "targets/b"]);
    assert_eq!(second.meta[role::ROOT], first.meta[role::ROOT]);
    assert_eq!(second.meta[role::TARGETS], FileMeta::from_bytes(b"t2"));

    let mut b = SnapshotBuilder::new(Some(&second));
    assert!(matches!(
        b.remove_role(role::TARGETS),
        Err(Error::InvalidRole { .. })
    ));
    assert!(matches!(
        b.set_file(role::TIMESTAMP, b"x"),
        Err(Error::InvalidRole { .. })
    ));
    assert!(matches!(
        b.set_file("targets/Bad", b"x"),
        Err(Error::InvalidRole { .. })
    ));
}

#[test]
fn snapshot_without_targets_is_refused() {
    let mut b = SnapshotBuilder::new(None);
    b.set_file(role::ROOT, b"r").unwrap();
    assert!(matches!(
        b.build(t0()),
        Err(Error::InvalidMetadata { ref role, ref reason })
            if role == "snapshot" && reason == "missing targets sha256 checksum information"
    ));
}

#[test]
fn timestamp_records_the_snapshot_bytes() {
    let snapshot = b"snapshot bytes".to_vec();
    let first = authoring::build_timestamp(None, &snapshot, t0()).unwrap();
    let ts = first.signed();
    assert_eq!(ts.version, 1);
    assert_eq!(ts.expires.as_str(), "2026-12-07T15:13:27.103855892Z");
    assert_eq!(ts.snapshot_meta(), Some(&FileMeta::from_bytes(&snapshot)));
    authoring::check_timestamp_matches(ts, &snapshot).unwrap();
    assert!(matches!(
        authoring::check_timestamp_matches(ts, b"other"),
        Err(Error::ChecksumMismatch { .. })
    ));

    let mut prev = ts.clone();
    prev.version = 41;
    prev.unknown.insert("x-extra".into(), serde_json::json!(1));
    let next = authoring::build_timestamp(Some(&prev), b"new", t0()).unwrap();
    assert_eq!(next.signed().version, 42);
    assert_eq!(next.signed().meta.len(), 1);
    assert_eq!(next.signed().unknown["x-extra"], 1);
    assert_eq!(
        next.signed().snapshot_meta(),
        Some(&FileMeta::from_bytes(b"new"))
    );
}

#[test]
fn built_documents_verify_once_signed() {
    let repo = Repo::new();
    let snapshot = Envelope::<Snapshot>::parse(&repo.snapshot_file).unwrap();
    verify::verify_snapshot(&snapshot, &repo.root).unwrap();
    let ts = Envelope::<Timestamp>::parse(&repo.timestamp_file).unwrap();
    verify::verify_timestamp(&ts, &repo.root).unwrap();
    authoring::check_timestamp_matches(ts.signed(), &repo.snapshot_file).unwrap();
    authoring::check_snapshot_matches(
        snapshot.signed(),
        [
            (role::ROOT, repo.root_file.as_slice()),
            (role::TARGETS, repo.files["targets"].as_slice()),
        ],
    )
    .unwrap();
    // A snapshot that does not describe the uploaded targets would leave the repository
    // unverifiable.
    assert!(matches!(
        authoring::check_snapshot_matches(snapshot.signed(), [(role::TARGETS, &b"other"[..])]),
        Err(Error::ChecksumMismatch { ref role, .. }) if role == "targets"
    ));
    assert!(matches!(
        authoring::check_snapshot_matches(snapshot.signed(), [("targets/x", &b"x"[..])]),
        Err(Error::InvalidMetadata { .. })
    ));
}

#[test]
fn root_version_must_stay_or_step_by_one() {
    authoring::check_root_version_step(None, 1).unwrap();
    authoring::check_root_version_step(None, 2).unwrap();
    authoring::check_root_version_step(Some(3), 3).unwrap();
    authoring::check_root_version_step(Some(3), 4).unwrap();
    for (cur, new) in [(None, 3), (Some(3), 5), (Some(3), 2)] {
        let err = authoring::check_root_version_step(cur, new).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "root metadata invalid: Root modifications must increment the version. Current {}, new {new}",
                cur.unwrap_or(1)
            )
        );
    }
}

#[test]
fn server_can_sign_only_with_enough_listed_keys() {
    let repo = Repo::new();
    let held: BTreeSet<_> = [repo.timestamp_key.id()].into();
    authoring::check_can_sign(&repo.root, role::TIMESTAMP, &held).unwrap();
    assert!(matches!(
        authoring::check_can_sign(&repo.root, role::SNAPSHOT, &held),
        Err(Error::ThresholdNotMet { ref role, threshold: 1, valid: 0 }) if role == "snapshot"
    ));
    let mut root = repo.root;
    root.roles.get_mut(role::TIMESTAMP).unwrap().threshold = 2;
    assert!(matches!(
        authoring::check_can_sign(&root, role::TIMESTAMP, &held),
        Err(Error::ThresholdNotMet {
            threshold: 2,
            valid: 1,
            ..
        })
    ));
    root.roles.get_mut(role::TIMESTAMP).unwrap().threshold = 0;
    assert!(matches!(
        authoring::check_can_sign(&root, role::TIMESTAMP, &held),
        Err(Error::InvalidThreshold { .. })
    ));
    assert!(authoring::check_can_sign(&root, "mirror", &held).is_err());
}

#[test]
fn replacing_keys_removes_unused_keys_but_keeps_old_root_keys() {
    let repo = Repo::new();
    let mut root: Root = repo.root.clone();
    let old_targets = repo.targets_keys[0].id();
    let new_targets = TestKey::ecdsa();
    let removed =
        authoring::replace_base_keys(&mut root, role::TARGETS, &[new_targets.public().clone()])
            .unwrap();
    assert_eq!(removed, std::slice::from_ref(&old_targets));
    assert!(!root.keys.contains_key(&old_targets));
    assert_eq!(root.roles[role::TARGETS].keyids, [new_targets.id()]);

    let old_root = repo.root_keys[0].id();
    let new_root = TestKey::root(GUN);
    let removed =
        authoring::replace_base_keys(&mut root, role::ROOT, &[new_root.public().clone()]).unwrap();
    assert!(removed.is_empty());
    assert!(root.keys.contains_key(&old_root));
    assert_eq!(root.roles[role::ROOT].keyids, [new_root.id()]);
    root.validate().unwrap();

    // A key still used by another role stays.
    let shared = repo.snapshot_key.public().clone();
    let removed = authoring::replace_base_keys(&mut root, role::TARGETS, &[shared]).unwrap();
    assert_eq!(removed, [new_targets.id()]);
    let removed =
        authoring::replace_base_keys(&mut root, role::TARGETS, &[new_targets.public().clone()])
            .unwrap();
    assert!(
        removed.is_empty(),
        "the snapshot key is still the snapshot role's"
    );

    assert!(authoring::replace_base_keys(&mut root, "targets/a", &[]).is_err());
    assert!(authoring::replace_base_keys(&mut root, role::TARGETS, &[]).is_err());
}

#[test]
fn a_rotated_root_needs_the_old_and_the_new_root_keys() {
    let repo = Repo::new();
    let loaded = repo.root.clone();
    let same = authoring::root_signing_requirements(&loaded, &loaded).unwrap();
    assert_eq!(same.len(), 1);

    let mut new = loaded.clone();
    let new_key = TestKey::root(GUN);
    authoring::replace_base_keys(&mut new, role::ROOT, &[new_key.public().clone()]).unwrap();
    authoring::bump(&mut new, role::ROOT, t0()).unwrap();
    let reqs = authoring::root_signing_requirements(&loaded, &new).unwrap();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[0].keys.contains_key(&repo.root_keys[0].id()));
    assert!(reqs[1].keys.contains_key(&new_key.id()));

    let both =
        Envelope::<Root>::parse(&sign_file(new.clone(), &[&repo.root_keys[0], &new_key])).unwrap();
    for r in &reqs {
        authoring::check_requirement(role::ROOT, &both, r).unwrap();
    }
    let only_new = Envelope::<Root>::parse(&sign_file(new.clone(), &[&new_key])).unwrap();
    assert!(matches!(
        authoring::check_requirement(role::ROOT, &only_new, &reqs[0]),
        Err(Error::ThresholdNotMet {
            threshold: 1,
            valid: 0,
            ..
        })
    ));
    authoring::check_requirement(role::ROOT, &only_new, &reqs[1]).unwrap();
    let unsigned = Envelope::from_signed(new.clone()).unwrap();
    assert!(matches!(
        authoring::check_requirement(role::ROOT, &unsigned, &reqs[1]),
        Err(Error::NoSignatures { .. })
    ));

    // A threshold change alone also requires the old role.
    let mut stricter = loaded.clone();
    stricter.roles.get_mut(role::ROOT).unwrap().threshold = 2;
    assert_eq!(
        authoring::root_signing_requirements(&loaded, &stricter)
            .unwrap()
            .len(),
        2
    );
    assert!(new.version() > loaded.version());
}
