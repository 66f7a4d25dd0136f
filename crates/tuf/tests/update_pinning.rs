//! Trust pinning of the first root: pinned certificate IDs, wildcard pins, a CA hook, TOFU
//! disabled, and root certificates that do not fit the GUN.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod update_support;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use signet_tuf::update::{CaValidator, Error, TrustPinning, TrustedState};
use signet_tuf::x509::Certificate;
use update_support::{GUN, Repo, TestKey, config, drive, now};

fn pinned(repo: &Repo, cache: &TrustedState, pinning: TrustPinning) -> update_support::Run {
    let mut c = config(cache, now());
    c.pinning = pinning;
    drive(c, &repo.server)
}

fn root_key_id(repo: &Repo) -> String {
    repo.root_keys[0].id().to_string()
}

fn assert_pin_rejected(err: Error, reason: &str) {
    assert!(
        matches!(err, Error::TrustPinning { ref gun, reason: ref r } if gun == GUN && r == reason),
        "{err:?}"
    );
}

#[test]
fn pinned_certificate_id_is_accepted() {
    let repo = Repo::new();
    let pin = TrustPinning::tofu().with_certs(GUN, vec![root_key_id(&repo)]);
    pinned(&repo, &TrustedState::default(), pin).ok();
}

#[test]
fn other_pinned_certificate_id_is_refused() {
    let repo = Repo::new();
    let other = TestKey::root(GUN).id().to_string();
    let pin = TrustPinning::tofu().with_certs(GUN, vec![other]);
    let run = pinned(&repo, &TrustedState::default(), pin);
    assert_eq!(run.log, ["root.json"]);
    assert_pin_rejected(
        run.err(),
        "unable to match any certificates to trust_pinning config",
    );
}

#[test]
fn wildcard_pin_applies_to_matching_guns() {
    let repo = Repo::new();
    let good = TrustPinning::tofu().with_certs("example.com/*", vec![root_key_id(&repo)]);
    pinned(&repo, &TrustedState::default(), good).ok();
    let bad = TrustPinning::tofu()
        .with_certs("example.com/*", vec![root_key_id(&repo)])
        .with_certs("example.com/signet/*", vec!["0".repeat(64)]);
    assert_pin_rejected(
        pinned(&repo, &TrustedState::default(), bad).err(),
        "unable to match any certificates to trust_pinning config",
    );
}

struct Fixed(bool, std::sync::Mutex<Vec<String>>);

impl CaValidator for Fixed {
    fn chains_to_ca(&self, leaf: &Certificate, ints: &[&Certificate], at: DateTime<Utc>) -> bool {
        assert!(ints.is_empty());
        assert_eq!(at, now());
        self.1.lock().unwrap().push(leaf.common_name().unwrap());
        self.0
    }
}

#[test]
fn ca_pin_asks_the_validator() {
    let repo = Repo::new();
    let yes = Arc::new(Fixed(true, Default::default()));
    pinned(
        &repo,
        &TrustedState::default(),
        TrustPinning::tofu().with_ca("example.com/", yes.clone()),
    )
    .ok();
    assert_eq!(*yes.1.lock().unwrap(), [GUN]);
    let no = Arc::new(Fixed(false, Default::default()));
    assert_pin_rejected(
        pinned(
            &repo,
            &TrustedState::default(),
            TrustPinning::tofu().with_ca("example.com/", no),
        )
        .err(),
        "unable to match any certificates to trust_pinning config",
    );
}

#[test]
fn disabled_tofu_refuses_a_first_download() {
    let repo = Repo::new();
    let run = pinned(
        &repo,
        &TrustedState::default(),
        TrustPinning::tofu().with_tofu_disabled(true),
    );
    assert!(run.log.is_empty());
    assert_pin_rejected(run.err(), "invalid trust pinning specified");
}

#[test]
fn disabled_tofu_still_allows_a_cached_root() {
    let repo = Repo::new();
    pinned(
        &repo,
        &repo.cache_with_root(),
        TrustPinning::tofu().with_tofu_disabled(true),
    )
    .ok();
}

#[test]
fn pinning_does_not_apply_to_a_valid_cached_root() {
    let repo = Repo::new();
    let pin = TrustPinning::tofu().with_certs(GUN, vec!["0".repeat(64)]);
    pinned(&repo, &repo.cache_with_root(), pin).ok();
}

#[test]
fn root_certificate_for_another_gun_is_refused() {
    let mut repo = Repo::new();
    repo.rotate_root(vec![TestKey::root("example.com/other")], false);
    repo.publish(&[]);
    match pinned(&repo, &TrustedState::default(), TrustPinning::tofu()).err() {
        Error::Invalid {
            role,
            version,
            source,
            ..
        } => {
            assert_eq!((role.as_str(), version), ("root", Some(2)));
            assert!(
                matches!(*source, signet_tuf::Error::RootRejected { ref reason, .. }
                    if reason.ends_with("unable to retrieve valid leaf certificates")),
                "{source:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn expired_root_certificate_is_refused_on_first_use() {
    let mut repo = Repo::new();
    repo.rotate_root(
        vec![TestKey::root_valid(GUN, (2020, 1, 1), (2025, 1, 1))],
        true,
    );
    repo.publish(&[]);
    assert!(matches!(
        pinned(&repo, &TrustedState::default(), TrustPinning::tofu()).err(),
        Error::Invalid { ref role, ref source, .. }
            if role == "root" && matches!(**source, signet_tuf::Error::RootRejected { .. })
    ));
}

#[test]
fn a_cached_root_that_is_not_self_signed_is_fatal() {
    let repo = Repo::new();
    let mut cache = repo.cache_with_root();
    cache.root = Some(update_support::tamper(&repo.root_file));
    let err = drive(config(&cache, now()), &repo.server).err();
    assert!(
        matches!(err, Error::CachedRoot { ref source, .. }
            if matches!(**source, signet_tuf::Error::ThresholdNotMet { .. })),
        "{err:?}"
    );
}
