//! Freeze attacks: the server keeps serving metadata past its expiry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod update_support;

use chrono::Duration;
use signet_tuf::role;
use signet_tuf::update::{Error, SkipReason, TrustedState, Warning};
use update_support::{Repo, expires_at, now, signed_at, update};

fn assert_expired(err: Error, role_name: &str, version: i64) {
    match err {
        Error::Expired {
            role: r,
            version: v,
            expires,
            ..
        } => {
            assert_eq!((r.as_str(), v), (role_name, version));
            assert!(!expires.is_empty());
        }
        other => panic!("expected {role_name} to be expired, got {other:?}"),
    }
}

#[test]
fn expired_timestamp_is_refused() {
    let repo = Repo::new();
    // The timestamp lives 14 days.
    let later = signed_at() + Duration::days(14) + Duration::seconds(1);
    let run = update(&repo.cache_with_root(), &repo.server, later);
    assert_expired(run.err(), "timestamp", 1);
}

#[test]
fn timestamp_at_exactly_its_expiry_is_still_valid() {
    let repo = Repo::new();
    let at = repo.timestamp.as_ref().unwrap().expires.utc();
    update(&repo.cache_with_root(), &repo.server, at).ok();
}

#[test]
fn expired_snapshot_is_refused() {
    let mut repo = Repo::new();
    repo.publish_snapshot_edit(|s| s.expires = expires_at(signed_at() + Duration::hours(1)));
    assert_expired(
        update(&repo.cache_with_root(), &repo.server, now()).err(),
        "snapshot",
        2,
    );
}

#[test]
fn expired_targets_is_refused() {
    let mut repo = Repo::new();
    repo.sign_targets_edit(role::TARGETS, |t| {
        t.expires = expires_at(signed_at() + Duration::hours(1));
    });
    repo.publish(&[]);
    assert_expired(
        update(&repo.cache_with_root(), &repo.server, now()).err(),
        "targets",
        2,
    );
}

#[test]
fn expired_root_is_refused_on_first_use() {
    let mut repo = Repo::new();
    repo.sign_root_edit(&[], |r| {
        r.expires = expires_at(signed_at() + Duration::hours(1))
    });
    repo.publish(&[]);
    let run = update(&TrustedState::default(), &repo.server, now());
    assert_eq!(run.log, ["root.json"]);
    assert_expired(run.err(), "root", 2);
}

#[test]
fn expired_cached_root_is_replaced_by_the_newest_root() {
    let mut repo = Repo::new();
    repo.sign_root_edit(&[], |r| {
        r.expires = expires_at(signed_at() + Duration::hours(1))
    });
    repo.publish(&[]);
    let cache = repo.cache_with_root();
    // The publisher re-signs root (same keys) with the normal lifetime.
    repo.sign_root(&[]);
    repo.publish(&[]);
    let run = update(&cache, &repo.server, now());
    assert_eq!(run.log[0], "root.json");
    let out = run.ok();
    assert_eq!(out.trusted.root().version(), 3);
    assert!(out.cache_writes.iter().any(|w| w.role == "root"));
}

#[test]
fn expired_cached_root_with_no_newer_root_fails() {
    let mut repo = Repo::new();
    repo.sign_root_edit(&[], |r| {
        r.expires = expires_at(signed_at() + Duration::hours(1))
    });
    repo.publish(&[]);
    assert_expired(
        update(&repo.cache_with_root(), &repo.server, now()).err(),
        "root",
        2,
    );
}

#[test]
fn expired_delegation_is_skipped_with_a_warning() {
    let mut repo = Repo::new();
    repo.add_delegation("targets/old", &[""], 1, 1);
    repo.add_delegation("targets/new", &[""], 1, 1);
    repo.add_target("targets/old", "stale", b"s");
    repo.add_target("targets/new", "fresh", b"f");
    repo.sign_targets_edit("targets/old", |t| {
        t.expires = expires_at(signed_at() + Duration::hours(1));
    });
    repo.publish(&[role::TARGETS, "targets/new"]);
    let out = update(&repo.cache_with_root(), &repo.server, now()).ok();
    let expires = repo.targets["targets/old"].expires.as_str().to_owned();
    assert_eq!(
        out.warnings,
        vec![Warning::DelegationSkipped {
            role: "targets/old".into(),
            reason: SkipReason::Expired {
                version: 1,
                expires
            },
        }]
    );
    assert!(out.trusted.targets_role("targets/old").is_none());
    assert!(out.trusted.get_target_by_name("stale", &[]).is_err());
    assert_eq!(
        out.trusted.get_target_by_name("fresh", &[]).unwrap().role,
        "targets/new"
    );
    assert!(out.cache_writes.iter().all(|w| w.role != "targets/old"));
}

#[test]
fn roles_and_root_certificates_near_expiry_are_reported() {
    let mut repo = Repo::new();
    repo.rotate_root(
        vec![update_support::TestKey::root_valid(
            update_support::GUN,
            (2020, 1, 1),
            (2030, 4, 1),
        )],
        true,
    );
    let soon = signed_at() + Duration::days(90);
    repo.sign_targets_edit(role::TARGETS, |t| t.expires = expires_at(soon));
    repo.publish(&[]);
    let out = update(&repo.cache_with_root(), &repo.server, now()).ok();
    let cert_key = repo.root_keys[0].id();
    match out.warnings.as_slice() {
        [
            Warning::NearExpiry { role, expires },
            Warning::CertificateNearExpiry { key_id, not_after },
        ] => {
            assert_eq!(role, "targets");
            assert_eq!(expires, expires_at(soon).as_str());
            assert_eq!(key_id, &cert_key);
            assert_eq!(*not_after, update_support::at(2030, 4, 1));
        }
        other => panic!("{other:?}"),
    }
}
